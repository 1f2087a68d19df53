//! Shared harness: run the real binary from captures/, parse its JSON, read the
//! independent expected values.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// Run certwire in captures/; fails the test on a panic, printing the command and stderr.
pub fn certwire(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run certwire");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "certwire {args:?} panicked:\n{stderr}"
    );
    out
}

pub fn json_of(out: &Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn analyze(args: &[&str]) -> Value {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    json_of(&certwire(&all), &format!("{args:?}"))
}

/// expected/files.json: openssl's view of every certificate file, keyed by path under
/// captures/ (`#users[NAME].client-certificate-data` for kubeconfig data).
pub fn files() -> BTreeMap<String, Value> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("expected/files.json")).unwrap())
            .unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn sha_of(file_key: &str) -> String {
    files()
        .get(file_key)
        .unwrap_or_else(|| panic!("{file_key} not in expected/files.json"))["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every expected/<capture><suffix> file, as (capture name, parsed JSON), sorted.
pub fn expected_with_suffix(suffix: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(root().join("expected"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().to_string();
            let capture = name.strip_suffix(suffix)?.to_string();
            let v = serde_json::from_str(
                &std::fs::read_to_string(root().join("expected").join(&name)).ok()?,
            )
            .ok()?;
            Some((capture, v))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
