//! The crate's integration tests, one module per file, linked as one test binary:
//! one link of the crate and its dependencies instead of one per file keeps the
//! build's time and disk small. Files that change process-wide state stay
//! binaries of their own (`[[test]]` in Cargo.toml).

mod support;

mod api;
mod catch_up;
mod connect;
mod dial_modes;
mod governance;
mod resources;
mod tunnel;
mod tunnel_find;
