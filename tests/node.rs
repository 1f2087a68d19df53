//! `certwire node` (issue 16) against the node trees of captures/: the healthy kubeadm-style
//! node `node/` and its broken copies `node-broken/<problem>/` (made by
//! captures/scripts/node-broken.sh, one known problem each). What each tree must yield is
//! written beside it (`expected.json`, `node/expected-node.json`) from how it was made, not
//! from certwire's output. Every audit is judged at the same fixed time, `--at AT`.
//!
//! Checked: each broken tree yields, beyond the healthy tree's findings, exactly its
//! problem's findings (code, severity, the file in `subject`, the certificate's role); the
//! healthy tree has no error and exactly its expected warnings; the JSON's shape; every
//! certificate's sha256 is openssl's (DER | sha256sum); no private key material in any
//! output format; `--at` moves the validity findings.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{certwire, json_of, root, s};
use serde_json::Value;

/// The audit time of every fixture (captures/scripts/node-broken.sh).
const AT: &str = "2026-11-29T12:00:00Z";

// ------------------------------------------------------------------ running certwire node

/// `certwire node --root TREE --at AT --format FORMAT [EXTRA...]` in captures/.
fn node_run(tree: &str, at: &str, format: &str, extra: &[&str]) -> Output {
    let mut args = vec!["node", "--root", tree, "--at", at, "--format", format];
    args.extend_from_slice(extra);
    certwire(&args)
}

fn node_json(tree: &str, at: &str) -> Value {
    let out = node_run(tree, at, "json", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "certwire node --root {tree} --at {at}: exit status without --fail-on; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out, &format!("certwire node --root {tree} --at {at}"))
}

/// The broken trees, sorted: names of the directories of captures/node-broken/.
fn broken_trees() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("node-broken"))
        .expect("captures/node-broken/ (captures/scripts/node-broken.sh)")
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type()
                .ok()?
                .is_dir()
                .then(|| e.file_name().to_string_lossy().to_string())
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 15,
        "captures/node-broken/ holds {} trees",
        v.len()
    );
    v
}

// ------------------------------------------------------------------ expected findings

#[derive(Debug, Clone)]
struct Want {
    code: String,
    severity: String,
    /// Relative to the tree's root, with `#users[NAME]` for a kubeconfig user.
    file: String,
    role: String,
}

fn wants(path: &Path) -> Vec<Want> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no findings array", path.display()))
        .iter()
        .map(|f| Want {
            code: s(&f["code"]),
            severity: s(&f["severity"]),
            file: s(&f["file"]),
            role: s(&f["role"]),
        })
        .collect()
}

// ------------------------------------------------------------------ files and subjects

/// Every path under `dir` (relative, '/'-separated), symlinks not followed.
fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(&e.path(), &r, out);
        }
        out.push(r);
    }
}

/// Where the symlink `rel` of the tree points, relative to the tree's root (absolute
/// targets resolve against the root, as the node's own paths do).
fn link_target(tree: &Path, rel: &str) -> Option<String> {
    let t = std::fs::read_link(tree.join(rel)).ok()?;
    let t = t.to_string_lossy().to_string();
    Some(match t.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => match rel.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{t}"),
            None => t,
        },
    })
}

/// The names of the same file in the tree: `rel`, the target if `rel` is a symlink, and
/// every symlink pointing at `rel` (kubelet-client-current.pem and its target are one file).
fn aliases(tree: &Path, rel: &str) -> Vec<String> {
    let mut out = vec![rel.to_string()];
    if let Some(t) = link_target(tree, rel) {
        out.push(t);
    }
    let mut all = Vec::new();
    walk(tree, "", &mut all);
    for p in all {
        if link_target(tree, &p).as_deref() == Some(rel) {
            out.push(p);
        }
    }
    out
}

/// Does `path` (however certwire spells it: /etc/..., node-broken/x/etc/..., an absolute
/// host path) name the tree file `rel`?
fn names_file(path: &str, rel: &str) -> bool {
    path == rel || path.ends_with(&format!("/{rel}"))
}

/// Does a finding's subject name `file` (`rel` or `rel#users[NAME]`) of the tree? Without
/// a `#` part in `file`, a subject naming any part of that file (`rel#...`) matches too.
fn subject_names(tree: &Path, subject: &str, file: &str) -> bool {
    let (want_path, want_frag) = split_frag(file);
    let (path, frag) = split_frag(subject);
    if want_frag.is_some() && frag != want_frag {
        return false;
    }
    aliases(tree, want_path).iter().any(|a| names_file(path, a))
}

fn split_frag(s: &str) -> (&str, Option<&str>) {
    match s.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (s, None),
    }
}

/// The certificate entries of the report a `file` names (`#users[NAME]` picks the entries
/// of that kubeconfig user).
fn entries_for<'a>(v: &'a Value, tree: &Path, file: &str) -> Vec<&'a Value> {
    let (want_path, want_frag) = split_frag(file);
    let names = aliases(tree, want_path);
    certificates(v)
        .iter()
        .filter(|c| {
            let path = s(&c["path"]);
            names.iter().any(|a| names_file(&path, a))
                && match want_frag {
                    None => true,
                    Some(frag) => c["entry"].as_str().is_some_and(|e| e.starts_with(frag)),
                }
        })
        .collect()
}

fn certificates(v: &Value) -> &Vec<Value> {
    v["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no certificates array in {v}"))
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no top-level findings array in {v}"))
}

fn roles(c: &Value) -> Vec<String> {
    c["roles"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default()
}

/// Not info: what the expected files speak of.
fn judged(f: &Value) -> bool {
    f["severity"] == "error" || f["severity"] == "warning"
}

fn matches(tree: &Path, f: &Value, w: &Want) -> bool {
    f["code"] == w.code.as_str()
        && f["severity"] == w.severity.as_str()
        && subject_names(tree, &s(&f["subject"]), &w.file)
}

fn show(f: &Value) -> String {
    format!(
        "{} {} subject={} ({})",
        s(&f["severity"]),
        s(&f["code"]),
        s(&f["subject"]),
        s(&f["message"])
    )
}

/// Is the file of `w` a certificate (or a kubeconfig holding one), so that the finding's
/// certificate entry must carry the role?
fn about_a_certificate(w: &Want) -> bool {
    let (p, _) = split_frag(&w.file);
    !(p.ends_with(".key") || p.ends_with(".pub"))
}

/// Check one tree's report against the findings it must have beyond `baseline` (the
/// healthy tree's expected findings); `tolerated` are findings the healthy tree really
/// has (reported by the healthy tree's own test, not again here). Returns the problems.
fn check_tree(
    name: &str,
    tree: &Path,
    v: &Value,
    want: &[Want],
    baseline: &[Want],
    tolerated: &[Value],
) -> Vec<String> {
    let mut problems = Vec::new();
    for w in want {
        let hit: Vec<&Value> = findings(v).iter().filter(|f| matches(tree, f, w)).collect();
        if hit.is_empty() {
            problems.push(format!(
                "{name}: missing {} {} on {} (role {})",
                w.severity, w.code, w.file, w.role
            ));
            continue;
        }
        if about_a_certificate(w) {
            let entries = entries_for(v, tree, &w.file);
            if entries.is_empty() {
                problems.push(format!(
                    "{name}: {} found, but no certificate entry for {}",
                    w.code, w.file
                ));
            } else if !entries.iter().any(|c| roles(c).contains(&w.role)) {
                problems.push(format!(
                    "{name}: {} on {}: certificate roles {:?}, want {}",
                    w.code,
                    w.file,
                    entries.iter().map(|c| roles(c)).collect::<Vec<_>>(),
                    w.role
                ));
            }
        }
    }
    for f in findings(v).iter().filter(|f| judged(f)) {
        let expected = want.iter().chain(baseline).any(|w| matches(tree, f, w));
        let healthy_too = tolerated.iter().any(|t| {
            t["code"] == f["code"]
                && t["severity"] == f["severity"]
                && same_subject(&s(&t["subject"]), &s(&f["subject"]))
        });
        if !expected && !healthy_too {
            problems.push(format!("{name}: unexpected {}", show(f)));
        }
    }
    problems
}

/// Two subjects from two trees naming the same tree file (the tree's own prefix aside).
fn same_subject(a: &str, b: &str) -> bool {
    let strip = |x: &str| -> String {
        for marker in ["/etc/kubernetes/", "/var/lib/kubelet/", "/root/", "/home/"] {
            if let Some(i) = x.find(marker) {
                return x[i + 1..].to_string();
            }
        }
        x.trim_start_matches('/').to_string()
    };
    strip(a) == strip(b)
}

// ------------------------------------------------------------------ the tests

/// The healthy tree: no error, and exactly the warnings expected-node.json lists.
#[test]
fn the_healthy_node_has_no_error_and_exactly_its_expected_warnings() {
    let tree = root().join("node");
    let want = wants(&tree.join("expected-node.json"));
    let v = node_json("node", AT);
    let problems = check_tree("node", &tree, &v, &want, &[], &[]);
    let errors: Vec<String> = findings(&v)
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(show)
        .collect();
    assert!(
        errors.is_empty(),
        "the healthy node has errors at {AT}:\n{}",
        errors.join("\n")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every broken tree yields exactly its problem's findings beyond the healthy tree's.
#[test]
fn every_broken_tree_yields_exactly_its_problems_findings() {
    let healthy_tree = root().join("node");
    let baseline = wants(&healthy_tree.join("expected-node.json"));
    let healthy = node_json("node", AT);
    let tolerated: Vec<Value> = findings(&healthy)
        .iter()
        .filter(|f| judged(f))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    let mut codes = BTreeSet::new();
    for name in broken_trees() {
        let tree = root().join("node-broken").join(&name);
        let want = wants(&tree.join("expected.json"));
        assert!(!want.is_empty(), "{name}: expected.json lists no finding");
        codes.extend(want.iter().map(|w| w.code.clone()));
        let v = node_json(&format!("node-broken/{name}"), AT);
        problems.extend(check_tree(&name, &tree, &v, &want, &baseline, &tolerated));
    }
    // Every file-judged code of the contract has a tree (served-differs needs --probe).
    for code in [
        "expired",
        "expires-soon",
        "not-yet-valid",
        "unknown-authority",
        "key-mismatch",
        "incompatible-key-usage",
        "no-ip-san",
        "name-mismatch",
        "identity",
        "front-proxy-ca",
        "kubeconfig-ca",
        "stale-rotation",
        "sa-key-mismatch",
        "ca-expires-first",
    ] {
        assert!(codes.contains(code), "no broken tree expects {code}");
    }
    assert!(
        problems.is_empty(),
        "{} mismatch(es):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The JSON's shape: the header, every certificate's fields, the findings in the
/// certificates are in the top-level list, and the summary counts them.
#[test]
fn the_json_has_certificates_findings_and_a_summary() {
    let tree = root().join("node");
    for (name, dir) in [
        ("node", "node".to_string()),
        ("expired", "node-broken/expired".to_string()),
    ] {
        let v = node_json(&dir, AT);
        assert!(v["certwire"].is_object(), "{name}: no certwire header");
        assert!(!certificates(&v).is_empty(), "{name}: no certificates");
        for c in certificates(&v) {
            for field in [
                "path",
                "entry",
                "routes",
                "roles",
                "sha256",
                "not_after",
                "days_left",
                "findings",
            ] {
                assert!(
                    c.get(field).is_some(),
                    "{name}: certificate without {field}: {c}"
                );
            }
            assert!(c["path"].is_string(), "{name}: {c}");
            assert!(
                c["entry"].is_null() || c["entry"].is_string(),
                "{name}: {c}"
            );
            assert!(
                c["routes"].is_array() && c["roles"].is_array() && c["findings"].is_array(),
                "{name}: {c}"
            );
            let sha = s(&c["sha256"]);
            assert!(
                sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: sha256 {sha}"
            );
            for f in c["findings"].as_array().unwrap() {
                assert!(
                    findings(&v).iter().any(|t| t["code"] == f["code"]
                        && t["subject"] == f["subject"]
                        && t["severity"] == f["severity"]),
                    "{name}: a certificate's finding is not in the top-level findings: {f}"
                );
            }
        }
        let count = |sev: &str| findings(&v).iter().filter(|f| f["severity"] == sev).count() as u64;
        assert_eq!(
            v["summary"]["errors"].as_u64(),
            Some(count("error")),
            "{name}: summary.errors"
        );
        assert_eq!(
            v["summary"]["warnings"].as_u64(),
            Some(count("warning")),
            "{name}: summary.warnings"
        );
        let mut by_code = BTreeMap::<String, u64>::new();
        for f in findings(&v) {
            *by_code.entry(s(&f["code"])).or_default() += 1;
        }
        let summary: BTreeMap<String, u64> = v["summary"]["findings"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: summary.findings"))
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect();
        assert_eq!(summary, by_code, "{name}: summary.findings by code");
        for f in findings(&v) {
            assert!(
                f["subject"].is_string(),
                "{name}: finding without subject: {f}"
            );
        }
    }
    // The roles of the healthy node's files, as kubeadm gives them.
    let v = node_json("node", AT);
    let pki = "etc/kubernetes/pki";
    let table = [
        (format!("{pki}/apiserver.crt"), "kube-apiserver"),
        (
            format!("{pki}/apiserver-kubelet-client.crt"),
            "apiserver-to-kubelet",
        ),
        (
            format!("{pki}/apiserver-etcd-client.crt"),
            "apiserver-to-etcd",
        ),
        (format!("{pki}/front-proxy-client.crt"), "front-proxy"),
        (format!("{pki}/etcd/server.crt"), "etcd-server"),
        (format!("{pki}/etcd/peer.crt"), "etcd-peer"),
        (
            format!("{pki}/etcd/healthcheck-client.crt"),
            "etcd-healthcheck",
        ),
        (format!("{pki}/ca.crt"), "cluster-ca"),
        (format!("{pki}/etcd/ca.crt"), "etcd-ca"),
        (format!("{pki}/front-proxy-ca.crt"), "front-proxy-ca"),
        ("var/lib/kubelet/pki/kubelet.crt".into(), "kubelet-serving"),
        (
            "var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem".into(),
            "kubelet-client",
        ),
        (
            "etc/kubernetes/admin.conf#users[kubernetes-admin]".into(),
            "admin",
        ),
        (
            "etc/kubernetes/controller-manager.conf#users[system:kube-controller-manager]".into(),
            "controller-manager",
        ),
        (
            "etc/kubernetes/scheduler.conf#users[system:kube-scheduler]".into(),
            "scheduler",
        ),
    ];
    let mut wrong = Vec::new();
    for (file, role) in &table {
        let entries = entries_for(&v, &tree, file);
        if !entries.iter().any(|c| roles(c).iter().any(|r| r == role)) {
            wrong.push(format!(
                "{file}: want role {role}, entries: {:?}",
                entries
                    .iter()
                    .map(|c| (s(&c["path"]), s(&c["entry"]), roles(c)))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(wrong.is_empty(), "roles:\n{}", wrong.join("\n"));
}

/// The PEM text of a certificate entry, read without certwire: the file (a node path
/// resolved under the tree), or the kubeconfig field `entry` names.
fn entry_pem(tree: &Path, c: &Value) -> Option<String> {
    let path = s(&c["path"]);
    // a node path, symlinks (absolute, as the kubelet makes them) resolved inside the tree
    let mut rel = path.trim_start_matches('/').to_string();
    for _ in 0..8 {
        match link_target(tree, &rel) {
            Some(t) => rel = t,
            None => break,
        }
    }
    let file = [tree.join(&rel), root().join(&path), PathBuf::from(&path)]
        .into_iter()
        .find(|p| p.is_file())?;
    let text = std::fs::read_to_string(&file).ok()?;
    match c["entry"].as_str() {
        None => Some(text),
        Some(entry) => kubeconfig_field(&text, entry),
    }
}

/// `users[NAME].FIELD` / `clusters[NAME].FIELD` of a kubeconfig as written by pki.sh
/// (a line scan: each list item starts with "- ", its `name:` anywhere in it), decoded.
fn kubeconfig_field(text: &str, entry: &str) -> Option<String> {
    let (list, rest) = entry.split_once('[')?;
    let (name, field) = rest.split_once("].")?;
    let mut in_list = false;
    let mut items: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            in_list = line.trim_end() == format!("{list}:");
            continue;
        }
        if !in_list {
            continue;
        }
        if line.starts_with("- ") {
            items.push(Vec::new());
        }
        if let Some(item) = items.last_mut() {
            item.push(line);
        }
    }
    let item = items.into_iter().find(|item| {
        item.iter().any(|l| {
            let l = l.trim_start_matches(['-', ' ']);
            l.strip_prefix("name: ").is_some_and(|n| n.trim() == name)
        })
    })?;
    let b64 = item.iter().find_map(|l| {
        l.trim()
            .strip_prefix(&format!("{field}: "))
            .map(str::to_string)
    })?;
    let out = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    pipe(out, b64.as_bytes()).ok()
}

fn pipe(mut child: std::process::Child, input: &[u8]) -> std::io::Result<String> {
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input)?;
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// `openssl x509 -outform DER | sha256sum` of the first certificate of a PEM text.
fn openssl_sha256(pem: &str) -> String {
    let child = Command::new("sh")
        .args(["-c", "openssl x509 -outform DER | sha256sum"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh, openssl, sha256sum");
    pipe(child, pem.as_bytes())
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// `openssl x509 -enddate -dateopt iso_8601` → Unix seconds.
fn openssl_not_after(pem: &str) -> i64 {
    let child = Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-dateopt", "iso_8601"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = pipe(child, pem.as_bytes()).unwrap();
    // notAfter=2027-10-25 08:00:00Z
    let t = out
        .trim()
        .trim_start_matches("notAfter=")
        .replacen(' ', "T", 1);
    rfc3339(&t)
}

fn rfc3339(t: &str) -> i64 {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("not RFC 3339: {t}: {e}"))
        .unix_timestamp()
}

/// Every certificate's sha256 is openssl's for the bytes of its file; not_after and
/// days_left agree with openssl's notAfter at the audit time.
#[test]
fn every_certificates_sha256_and_not_after_are_openssls() {
    let at = rfc3339(AT);
    let mut trees = vec!["node".to_string()];
    trees.extend(
        broken_trees()
            .into_iter()
            .map(|n| format!("node-broken/{n}")),
    );
    let mut checked = 0;
    for dir in trees {
        let tree = root().join(&dir);
        let v = node_json(&dir, AT);
        for c in certificates(&v) {
            let pem = entry_pem(&tree, c)
                .unwrap_or_else(|| panic!("{dir}: cannot read the certificate of {}", c));
            assert_eq!(
                s(&c["sha256"]),
                openssl_sha256(&pem),
                "{dir}: sha256 of {} {}",
                s(&c["path"]),
                s(&c["entry"])
            );
            let not_after = openssl_not_after(&pem);
            assert_eq!(
                rfc3339(&s(&c["not_after"])),
                not_after,
                "{dir}: not_after of {} {}",
                s(&c["path"]),
                s(&c["entry"])
            );
            let days = (not_after - at) as f64 / 86400.0;
            let got = c["days_left"]
                .as_f64()
                .unwrap_or_else(|| panic!("{dir}: days_left {c}"));
            assert!(
                (got - days).abs() < 1.0,
                "{dir}: days_left of {}: {got}, openssl: {days:.2}",
                s(&c["path"])
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} certificates checked");
}

/// The base64 body lines (16 characters or more) of the private key blocks of a PEM text.
fn pem_key_lines(text: &str, out: &mut Vec<String>) {
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("-----BEGIN") && line.contains("PRIVATE KEY") {
            inside = true;
        } else if line.starts_with("-----END") {
            inside = false;
        } else if inside && line.len() >= 16 && !line.contains(':') {
            out.push(line.to_string());
        }
    }
}

/// The private keys of a tree, as the base64 lines of their PEM bodies (and the one-line
/// base64 of kubeconfig client-key-data): none may appear in any report.
fn key_material(tree: &Path) -> Vec<String> {
    let mut files = Vec::new();
    walk(tree, "", &mut files);
    let mut out = Vec::new();
    for rel in &files {
        let p = tree.join(rel);
        if !p.is_file() || p.is_symlink() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        pem_key_lines(&text, &mut out);
        for line in text.lines() {
            if let Some(b64) = line.trim().strip_prefix("client-key-data: ") {
                let child = Command::new("base64")
                    .arg("-d")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                pem_key_lines(&pipe(child, b64.as_bytes()).unwrap(), &mut out);
                out.push(b64[b64.len() / 2..b64.len() / 2 + 60].to_string());
            }
        }
    }
    out
}

#[test]
fn no_private_key_material_in_any_output_format() {
    for dir in [
        "node",
        "node-broken/key-mismatch",
        "node-broken/sa-key-mismatch",
        "node-broken/identity-kubelet",
    ] {
        let tree = root().join(dir);
        let keys = key_material(&tree);
        // sa.key, every .key, the kubelet's cert+key PEMs, the four kubeconfigs
        assert!(
            keys.len() > 200,
            "{dir}: only {} key lines found",
            keys.len()
        );
        for format in ["table", "json", "markdown", "html"] {
            let out = node_run(dir, AT, format, &[]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{dir} {format}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                text.len() > 500,
                "{dir} {format}: output too short:\n{text}"
            );
            for k in &keys {
                assert!(
                    !text.contains(k.as_str()),
                    "{dir} {format}: private key material in stdout: {k}"
                );
                assert!(
                    !err.contains(k.as_str()),
                    "{dir} {format}: private key material in stderr: {k}"
                );
            }
            assert!(
                !text.contains("PRIVATE KEY-----"),
                "{dir} {format}: a PEM private key header in stdout"
            );
        }
    }
}

/// `--at` judges validity at that time: before the leaves' notBefore, near and after their
/// notAfter, after the CAs' (kubeadm's dates in scripts/pki.sh).
#[test]
fn at_moves_the_validity_findings() {
    let tree = root().join("node");
    let pki = "etc/kubernetes/pki";
    let cas = [
        format!("{pki}/ca.crt"),
        format!("{pki}/etcd/ca.crt"),
        format!("{pki}/front-proxy-ca.crt"),
    ];
    let leaves = [
        format!("{pki}/apiserver.crt"),
        format!("{pki}/apiserver-kubelet-client.crt"),
        format!("{pki}/apiserver-etcd-client.crt"),
        format!("{pki}/front-proxy-client.crt"),
        format!("{pki}/etcd/server.crt"),
        format!("{pki}/etcd/peer.crt"),
        format!("{pki}/etcd/healthcheck-client.crt"),
        "var/lib/kubelet/pki/kubelet.crt".to_string(),
    ];
    let has = |v: &Value, code: &str, sev: &str, file: &str| {
        findings(v).iter().any(|f| {
            f["code"] == code
                && f["severity"] == sev
                && subject_names(&tree, &s(&f["subject"]), file)
        })
    };
    let codes =
        |v: &Value| -> BTreeSet<String> { findings(v).iter().map(|f| s(&f["code"])).collect() };

    // The audit time: nothing expired or not yet valid.
    let now = node_json("node", AT);
    for code in ["expired", "not-yet-valid"] {
        assert!(!codes(&now).contains(code), "{code} at {AT}");
    }

    // 2035-11-01: the CAs (until 2035-10-28) and everything they signed have expired.
    let late = node_json("node", "2035-11-01T00:00:00Z");
    for f in cas.iter().chain(&leaves) {
        assert!(
            has(&late, "expired", "error", f),
            "2035: no expired error on {f}"
        );
    }
    let ca_roles = [
        ("cluster-ca", &cas[0]),
        ("etcd-ca", &cas[1]),
        ("front-proxy-ca", &cas[2]),
    ];
    for (role, f) in ca_roles {
        assert!(
            entries_for(&late, &tree, f)
                .iter()
                .any(|c| roles(c).iter().any(|r| r == role)),
            "{f}: role {role}"
        );
    }

    // 2027-11-01: the leaves (until 2027-10-25) have expired, the CAs have not.
    let leaves_gone = node_json("node", "2027-11-01T00:00:00Z");
    for f in &leaves {
        assert!(
            has(&leaves_gone, "expired", "error", f),
            "2027-11: no expired error on {f}"
        );
    }
    for f in &cas {
        assert!(
            !has(&leaves_gone, "expired", "error", f),
            "2027-11: expired error on the CA {f}"
        );
    }

    // 2027-10-10: 15 days of 365 left: expires-soon (a warning), not expired.
    let soon = node_json("node", "2027-10-10T00:00:00Z");
    for f in &leaves {
        assert!(
            has(&soon, "expires-soon", "warning", f),
            "2027-10-10: no expires-soon on {f}"
        );
        assert!(
            !has(&soon, "expired", "error", f),
            "2027-10-10: expired on {f}"
        );
    }

    // 2026-10-01: before the leaves' notBefore (2026-10-25), after the CAs'.
    let early = node_json("node", "2026-10-01T00:00:00Z");
    for f in &leaves {
        assert!(
            has(&early, "not-yet-valid", "error", f),
            "2026-10-01: no not-yet-valid on {f}"
        );
    }
    for f in &cas {
        assert!(
            !has(&early, "not-yet-valid", "error", f),
            "2026-10-01: not-yet-valid on the CA {f}"
        );
    }
}

/// Each broken tree is node/ with only the files its expected.json names as changed (the
/// script checks it when it makes them; this keeps hand edits honest).
#[test]
fn each_broken_tree_differs_from_the_healthy_one_only_where_its_problem_was_made() {
    let node = root().join("node");
    let mut base = Vec::new();
    walk(&node, "", &mut base);
    for name in broken_trees() {
        let tree = root().join("node-broken").join(&name);
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(tree.join("expected.json")).unwrap())
                .unwrap();
        let changed: BTreeSet<String> = v["changed"].as_array().unwrap().iter().map(s).collect();
        assert!(!changed.is_empty(), "{name}: nothing changed");
        let mut files = Vec::new();
        walk(&tree, "", &mut files);
        let all: BTreeSet<&String> = base.iter().chain(&files).collect();
        let mut differ = BTreeSet::new();
        for rel in all {
            if rel == "expected.json" || rel == "expected-node.json" {
                continue;
            }
            let (a, b) = (node.join(rel), tree.join(rel));
            let same = match (std::fs::read_link(&a), std::fs::read_link(&b)) {
                (Ok(x), Ok(y)) => x == y,
                (Err(_), Err(_)) if a.is_dir() && b.is_dir() => true,
                (Err(_), Err(_)) => {
                    std::fs::read(&a).ok() == std::fs::read(&b).ok() && a.exists() && b.exists()
                }
                _ => false,
            };
            if !same {
                differ.insert(rel.clone());
            }
        }
        assert_eq!(differ, changed, "{name}: files that differ from node/");
    }
}

/// `--fail-on error`: status 4 when an error finding exists, 0 on the healthy node.
#[test]
fn fail_on_error_is_the_exit_status() {
    let healthy = node_run("node", AT, "json", &["--fail-on", "error"]);
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    let broken = node_run("node-broken/expired", AT, "json", &["--fail-on", "error"]);
    assert_eq!(
        broken.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}
