//! `expired`, `not-yet-valid`, `expires-soon`: every presented certificate, judged at the
//! capture time. Source: Go crypto/x509 `Certificate.isValid` (CertificateInvalidError,
//! reason Expired), message "x509: certificate has expired or is not yet valid: current
//! time %s is after %s" / "is before %s", times in RFC 3339.

use super::verifiers::Verifiers;
use super::{other, side_name, Context, Finding, Severity};
use crate::model::Side;
use crate::x509::rfc3339;

/// Days before expiry (at capture time) from which `expires-soon` warns (when less than
/// 30 % of the lifetime is left, too). kubeadm renews control-plane certificates on
/// upgrade; the kubelet rotates its own at 70–90 % of their lifetime.
const EXPIRES_SOON_DAYS: i64 = 30;

pub fn run(ctx: &Context<'_>, verifiers: &Verifiers, out: &mut Vec<Finding>) {
    let t = ctx.capture_time;
    // Formatted once per connection, and only when some certificate needs it.
    let mut now: Option<String> = None;
    for side in [Side::Server, Side::Client] {
        let v = verifiers.of(side);
        for (i, c) in ctx.presented(side).into_iter().flatten().enumerate() {
            let Some((nb, na)) = c.validity_unix else {
                continue;
            };
            let left = na.saturating_sub(t);
            // Short-lived certificates (the kubelet's) are rotated at 70–90 % of their
            // life: warn only when less than 30 % is left as well.
            let expires_soon = left < EXPIRES_SOON_DAYS * 86400
                && left.saturating_mul(10) < na.saturating_sub(nb).saturating_mul(3);
            if t <= na && t >= nb && !expires_soon {
                continue;
            }
            let now = now.get_or_insert_with(|| rfc3339(t)).as_str();
            let subject = format!("{}[{i}]", side_name(side));
            let name = c.subject.as_deref().unwrap_or_default();
            let not_after = c.not_after.as_deref().unwrap_or_default();
            let not_before = c.not_before.as_deref().unwrap_or_default();
            let f = if t > na {
                Finding::new(
                    "expired",
                    Severity::Error,
                    subject,
                    format!("{name} had expired at capture time ({} days after its notAfter {not_after})", (t - na) / 86400),
                )
                .evidence(format!("capture time {now}, notAfter {not_after}"))
                .rejection_logged(ctx, v, side, &format!("x509: certificate has expired or is not yet valid: current time {now} is after {not_after}"))
                .rejected_by(other(side), v.layer)
            } else if t < nb {
                Finding::new(
                    "not-yet-valid",
                    Severity::Error,
                    subject,
                    format!("{name} was not yet valid at capture time (notBefore {not_before}); check the clocks"),
                )
                .evidence(format!("capture time {now}, notBefore {not_before}"))
                .rejection_logged(ctx, v, side, &format!("x509: certificate has expired or is not yet valid: current time {now} is before {not_before}"))
                .rejected_by(other(side), v.layer)
            } else {
                Finding::new(
                    "expires-soon",
                    Severity::Warning,
                    subject,
                    format!(
                        "{name} expires in {} day(s) after the capture ({not_after})",
                        left / 86400
                    ),
                )
                .evidence(format!("capture time {now}, notAfter {not_after}"))
            };
            out.push(f);
        }
    }
}
