//! TLS: record framing, handshake message joining and parsing, and the per-connection facts.

pub mod compressed;
pub mod conn;
pub mod decrypt;
pub mod handshake;
pub mod held;
pub mod http_status;
pub mod infer;
pub mod keylog;
pub mod messages;
pub mod names;
pub mod record;
