//! The crate's integration tests, one module per file, linked as one test binary:
//! one link of the crate and its dependencies instead of one per file keeps the
//! build's time and disk small. Files that change process-wide state stay
//! binaries of their own (`[[test]]` in Cargo.toml).

mod common;

mod binary;
mod compliance;
mod config;
mod lifecycle;
mod lookup;
mod render;
mod startup;
mod tokens;
