//! Outbound TLS configuration: system roots plus an optional extra CA, ring provider.
