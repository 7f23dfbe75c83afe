//! The shared plugin runtime.
