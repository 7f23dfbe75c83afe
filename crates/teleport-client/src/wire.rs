//! Generated prost/tonic code for the wire protos. Plugin code uses the typed
//! API instead; this module is public for the testkit, which serves the same wire.

#![allow(clippy::all, missing_docs)]

/// Teleport package `wrappers`.
pub mod wrappers {
    tonic::include_proto!("wrappers");
}

/// Teleport package `types`.
pub mod types {
    tonic::include_proto!("types");
}

/// Teleport package `proto` (AuthService, events).
pub mod proto {
    tonic::include_proto!("proto");
}

/// Teleport's `teleport.*` packages (nested so generated `super::` paths resolve).
pub mod teleport {
    /// `teleport.users.v1`
    pub mod users {
        /// `teleport.users.v1`
        pub mod v1 {
            tonic::include_proto!("teleport.users.v1");
        }
    }
    /// `teleport.header.v1`
    pub mod header {
        /// `teleport.header.v1`
        pub mod v1 {
            tonic::include_proto!("teleport.header.v1");
        }
    }
    /// `teleport.accesslist.v1`
    pub mod accesslist {
        /// `teleport.accesslist.v1`
        pub mod v1 {
            tonic::include_proto!("teleport.accesslist.v1");
        }
    }
    /// `teleport.accessmonitoringrules.v1`
    pub mod accessmonitoringrules {
        /// `teleport.accessmonitoringrules.v1`
        pub mod v1 {
            tonic::include_proto!("teleport.accessmonitoringrules.v1");
        }
    }
}
