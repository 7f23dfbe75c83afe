//! The command line every plugin binary shares: `start`, `configure`, `version`.
