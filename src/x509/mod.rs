//! X.509: from the DER a peer sent to an owned, report-ready summary.
//!
//! Summaries are computed once per distinct DER and shared: the same apiserver certificate
//! appears in every handshake of a capture.

mod dn;
mod keys;
mod summary;

pub use dn::{der_name_to_rfc2253, der_name_to_rfc2253_cached, rfc2253};
pub use keys::{cert_keys, CertKeys};
pub use summary::{hex, rfc3339, sha256_hex, summarize, CertCache, CertSummary, EXPLICIT_CURVE};
