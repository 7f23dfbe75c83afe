//! In-process Teleport auth server for tests.
