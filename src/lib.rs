//! certwire: which certificate did each Kubernetes component present in its TLS handshake,
//! and why was it accepted or rejected?
//!
//! The modules follow the data: [`source`] (captures) → [`wire`] (link/IP/TCP views) →
//! [`flow`] (per-connection reassembly) → [`tls`] (records, handshake messages, connection
//! facts) → [`x509`] (certificate summaries) → [`report`] (owned model and renderers).
//! [`analyze`] wires them together.

pub mod analyze;
pub mod cli;
pub mod correlate;
pub mod diagnose;
pub mod error;
pub mod flow;
pub mod local;
pub mod report;
pub mod run;
pub mod source;
pub mod tls;
pub mod wire;
pub mod x509;
