//! `tls-alert`: every fatal alert, with the most likely cause among the other findings and
//! what each stack means by it. Sources: RFC 8446 §6.2 / RFC 5246 §7.2.2; Go crypto/tls
//! (`alert.String()`, what the receiving Go peer logs after "remote error: tls: "; since
//! Go 1.20 servers send unknown_ca / certificate_expired / certificate_required for a bad
//! client certificate, before that bad_certificate; Go clients send bad_certificate for
//! every server verification failure); OpenSSL (unknown_ca, certificate_expired,
//! unsupported_certificate by the X509_V_ERR_* of the failure).

use super::{other, side_name, Context, Finding, Layer, Observed, Severity};
use crate::model::Side;

/// Go crypto/tls `alert.String()`.
fn go_alert_text(code: u8) -> &'static str {
    match code {
        0 => "close notify",
        10 => "unexpected message",
        20 => "bad record MAC",
        21 => "decryption failed",
        22 => "record overflow",
        30 => "decompression failure",
        40 => "handshake failure",
        42 => "bad certificate",
        43 => "unsupported certificate",
        44 => "revoked certificate",
        45 => "expired certificate",
        46 => "unknown certificate",
        47 => "illegal parameter",
        48 => "unknown certificate authority",
        49 => "access denied",
        50 => "error decoding message",
        51 => "error decrypting message",
        70 => "protocol version not supported",
        71 => "insufficient security level",
        80 => "internal error",
        86 => "inappropriate fallback",
        90 => "user canceled",
        100 => "no renegotiation",
        109 => "missing extension",
        110 => "unsupported extension",
        112 => "unrecognized name",
        116 => "certificate required",
        120 => "no application protocol",
        _ => "alert",
    }
}

/// What the sender of `code` usually means, by stack.
fn meaning(code: u8, from: Side) -> Option<&'static str> {
    Some(match (code, from) {
        (42, Side::Client) => "Go clients send bad_certificate for every failed check of the server's certificate (chain, name, usage, validity)",
        (42, Side::Server) => "Go servers before 1.20 send bad_certificate for every rejected client certificate",
        (48, _) => "OpenSSL and Go ≥ 1.20 send unknown_ca when the chain does not lead to a trusted CA",
        (45, _) => "OpenSSL and Go ≥ 1.20 send certificate_expired for a certificate outside its validity",
        (43, _) => "OpenSSL sends unsupported_certificate when the certificate's (extended) key usage does not allow its use",
        (116, _) => "TLS 1.3: the server requires a client certificate and got none",
        (40, Side::Server) => "a TLS 1.2 server that requires a client certificate and got none, or no common cipher suite",
        (80, Side::Server) => "a Go server whose GetCertificate failed: the kubelet with serverTLSBootstrap and no approved serving certificate",
        _ => return None,
    })
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut new = Vec::new();
    for a in ctx.conn.alerts.iter().filter(|a| a.level == Some("fatal")) {
        let Some(code) = a.code else { continue };
        let from = side_name(a.from);
        let about = side_name(other(a.from));
        let cause = match code {
            42..=46 | 48 | 49 => out.iter().find(|f| {
                f.verifier == Some(a.from)
                    && f.subject.starts_with(about)
                    && f.severity != Severity::Info
            }),
            40 | 116 => out.iter().find(|f| f.code == "no-client-certificate"),
            80 => out.iter().find(|f| f.code == "no-serving-certificate"),
            _ => None,
        }
        .or_else(|| {
            out.iter()
                .find(|f| f.verifier == Some(a.from) && f.severity == Severity::Error)
        });
        let name = a.description.unwrap_or("unknown");
        let mut f = Finding::new(
            "tls-alert",
            Severity::Error,
            from,
            match cause {
                Some(c) => format!("{from} sent fatal alert {name} ({code}); most likely cause: {} ({})", c.code, c.message),
                None => format!("{from} sent fatal alert {name} ({code}); no finding explains it from the files searched (the {from}'s trust store or configuration may differ)"),
            },
        )
        .logged(format!("remote error: tls: {}", go_alert_text(code)));
        // A fact of the capture, not a prediction: nothing to reconcile.
        f.layer = Some(Layer::Tls);
        f.observed = Some(Observed::Confirmed);
        if let Some(m) = meaning(code, a.from) {
            f.evidence.push(m.into());
        }
        new.push(f);
    }
    out.extend(new);
}
