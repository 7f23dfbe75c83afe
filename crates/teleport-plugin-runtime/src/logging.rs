//! Log setup from the `[log]` section.
