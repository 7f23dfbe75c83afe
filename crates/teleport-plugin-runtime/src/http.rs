//! Outbound HTTPS clients (reqwest, hyper) built on the runtime's rustls configuration.
