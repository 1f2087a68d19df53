//! The README's examples are real output: each block marked with
//! `<!-- example: ARGS -->` is what `certwire ARGS` prints (run from the repository root,
//! `COLUMNS=100`), exactly; a block marked `<!-- excerpt: ARGS -->` shows lines of that
//! output, in order, with `...` where lines are left out. The test fails when the output
//! drifts from the README; `CERTWIRE_README=update cargo test --test readme` rewrites the
//! exact examples (excerpts are edited by hand, the failure says which line is gone).

use std::path::Path;
use std::process::Command;

fn run(args: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(args.split_whitespace())
        .current_dir(root)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// (line index of the marker, kind, args, block start, block end): the fenced block right
/// after each marker.
fn examples(readme: &str) -> Vec<(usize, String, String, usize, usize)> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(rest) = l.trim().strip_prefix("<!-- ") else {
            continue;
        };
        let Some(rest) = rest.strip_suffix(" -->") else {
            continue;
        };
        let Some((kind, args)) = rest.split_once(": ") else {
            continue;
        };
        if kind != "example" && kind != "excerpt" {
            continue;
        }
        let start = (i + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or_else(|| panic!("README line {}: no block after the marker", i + 1));
        let end = (start + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or_else(|| panic!("README line {}: unclosed block", start + 1));
        out.push((i, kind.to_string(), args.to_string(), start, end));
    }
    out
}

#[test]
fn readme_examples_are_the_real_output() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let found = examples(&readme);
    assert!(
        found.len() >= 3,
        "the README has {} marked examples",
        found.len()
    );
    let update = std::env::var("CERTWIRE_README").is_ok_and(|v| v == "update");
    let mut problems = Vec::new();
    let mut rewritten: Vec<String> = Vec::new();
    let mut copied = 0;
    for (marker, kind, args, start, end) in found {
        let real = run(&args);
        let shown: Vec<&str> = lines[start + 1..end]
            .iter()
            .copied()
            .filter(|l| !l.starts_with("$ certwire"))
            .collect();
        if kind == "example" {
            let real_lines: Vec<&str> = real.lines().collect();
            if shown != real_lines {
                let first = shown
                    .iter()
                    .zip(&real_lines)
                    .position(|(a, b)| a != b)
                    .unwrap_or(shown.len().min(real_lines.len()));
                problems.push(format!(
                    "README line {}: `certwire {args}` differs from line {} of the block: README {:?}, real {:?}",
                    marker + 1,
                    first + 1,
                    shown.get(first),
                    real_lines.get(first)
                ));
                rewritten.extend(lines[copied..=start].iter().map(|s| s.to_string()));
                rewritten.push(format!("$ certwire {args}"));
                rewritten.extend(real_lines.iter().map(|s| s.to_string()));
                copied = end;
            }
        } else {
            let real_lines: Vec<&str> = real.lines().collect();
            let mut at = 0;
            for l in shown.iter().filter(|l| l.trim() != "...") {
                match real_lines[at..].iter().position(|r| r == l) {
                    Some(p) => at += p + 1,
                    None => problems.push(format!(
                        "README line {}: the excerpt of `certwire {args}` shows a line the output no longer has (or not in this order): {l:?}",
                        marker + 1
                    )),
                }
            }
        }
    }
    if update && !rewritten.is_empty() {
        rewritten.extend(lines[copied..].iter().map(|s| s.to_string()));
        std::fs::write(&path, rewritten.join("\n") + "\n").unwrap();
        eprintln!("README.md rewritten: {} example(s) updated", problems.len());
        return;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
