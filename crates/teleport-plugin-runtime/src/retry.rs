//! The shared send policy: backoff, retry classification and the retry loop.
