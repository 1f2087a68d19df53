//! certwire: which certificate did each Kubernetes component present in its TLS handshake,
//! and why was it accepted or rejected?
//!
//! The modules follow the data: [`source`] (captures) → [`wire`] (link/IP/TCP views) →
//! [`flow`] (per-connection reassembly) → [`tls`] (records, handshake messages, connection
//! facts) → [`x509`] (certificate summaries) → [`local`] (the node's files) → [`correlate`]
//! (which file, which role) → [`diagnose`] (findings) → [`model`] (the owned,
//! serialisable result) → [`report`] (renderers). [`analyze`] wires them together.

pub mod analyze;
pub mod cli;
pub mod correlate;
pub mod diagnose;
pub mod error;
pub mod evidence;
pub mod export;
pub mod flow;
pub mod local;
pub mod metrics;
pub mod model;
pub mod node;
pub mod output;
#[cfg(target_os = "linux")]
pub mod process_keys;
pub mod report;
pub mod run;
pub mod source;
pub mod tls;
pub mod wire;
pub mod x509;
