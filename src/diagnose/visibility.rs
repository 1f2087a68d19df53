//! `capture-incomplete`, `encrypted-handshake` and `probably-rejected`: what the capture
//! could not show, and what would let it be judged.

use super::{Context, Finding, Layer, Observed, Severity};
use crate::model::{Side, Visibility};

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    incomplete(ctx, out);
    encrypted(ctx, out);
}

/// Missing bytes matter only where they touch the handshake (or cut a Certificate
/// message); a gap in the application data after both Finished messages changes nothing.
fn incomplete(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let c = ctx.conn;
    let touching: Vec<_> = c.gaps.iter().filter(|g| g.during_handshake).collect();
    if touching.is_empty() && c.truncated_certificate_messages.is_empty() {
        return;
    }
    let missing: u64 = touching.iter().map(|g| g.missing_bytes).sum();
    let mut f = Finding::new(
        "capture-incomplete",
        Severity::Warning,
        "connection",
        format!(
            "{missing} bytes of this connection's handshake are missing from the capture{}",
            if c.truncated_certificate_messages.is_empty() {
                ""
            } else {
                "; a certificate chain is incomplete and was not judged whole"
            }
        ),
    );
    for g in touching {
        f.evidence.push(format!(
            "{} bytes missing {} at offset {}",
            g.missing_bytes, g.direction, g.offset
        ));
    }
    f.evidence.push(
        "capture with the full snaplen (tcpdump -s 0) and without the tcp[...] = 0x16 filter, and check tcpdump's \"packets dropped by kernel\"".into(),
    );
    out.push(f);
}

fn encrypted(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let c = ctx.conn;
    if c.visibility != Visibility::Encrypted {
        return;
    }
    out.push(
        Finding::new(
            "encrypted-handshake",
            Severity::Info,
            "connection",
            "TLS 1.3: the certificates and the outcome are encrypted and were not judged".into(),
        )
        .evidence("certwire needs the handshake secrets (an SSLKEYLOGFILE key log, or a pcapng with a decryption secrets block) to read them, or a TLS 1.2 handshake of the same client"),
    );
    let rejected = c.inference.as_ref().and_then(|i| i.flights.outcome) == Some("failed");
    if rejected {
        let mut f = Finding::new(
            "probably-rejected",
            Severity::Warning,
            "connection",
            "inferred from record lengths: the server answered the client's encrypted flight with an alert-sized record, so it probably rejected the handshake (which alert, and why, is encrypted)".into(),
        )
        .evidence("an encrypted TLS 1.3 record of 19 bytes (2-byte alert + content type + 16-byte tag) right after the client's Finished")
        .rejected_by(Side::Server, Layer::Tls);
        f.observed = Some(Observed::Unknown);
        out.push(f);
    }
}
