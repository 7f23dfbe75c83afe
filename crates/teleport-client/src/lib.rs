//! Teleport's access-request API over gRPC, for plugins: no plugin logic here.

pub mod wire;
