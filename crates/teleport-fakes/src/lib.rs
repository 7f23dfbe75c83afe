//! Fake upstream APIs on loopback.
