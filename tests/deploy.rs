//! deploy/: the manifests against Kubernetes' schemas, offline (PyPI's kubernetes-validate,
//! which bundles them; installed into target/ when missing, SKIPPED when it cannot be), and
//! against what the issue asks of them (read-only hostPath mounts of `type: Directory` or
//! `File`, no private key in the certificates-only variant, writable emptyDirs next to a
//! read-only root, the arguments certwire's own parser accepts); the image built from the
//! static binary with the machine's Docker engine and run as the DaemonSet runs it (SKIPPED
//! without a working engine: `docker info` must answer).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;

fn visible(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { repo().join(p) })
        .unwrap_or_else(|| repo().join("target"))
}

const MANIFESTS: [&str; 2] = ["deploy/daemonset.yaml", "deploy/daemonset-certs-only.yaml"];

fn manifest(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn strs(v: &Value) -> Vec<String> {
    arr(v)
        .iter()
        .map(|s| match s {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// kubernetes-validate: on the PATH, or in target/kubernetes-validate (a venv made here).
fn kubernetes_validate() -> Result<PathBuf, String> {
    if let Ok(o) = Command::new("kubernetes-validate")
        .arg("--version")
        .output()
    {
        if o.status.success() {
            return Ok(PathBuf::from("kubernetes-validate"));
        }
    }
    let venv = target_dir().join("kubernetes-validate");
    let exe = venv.join("bin/kubernetes-validate");
    if exe.exists() {
        return Ok(exe);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?}: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or_default()
            ))
        }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "kubernetes-validate==1.37.0",
    ]))?;
    Ok(exe)
}

#[test]
fn manifests_pass_an_offline_schema_check() {
    let exe = match kubernetes_validate() {
        Ok(exe) => exe,
        Err(why) => {
            visible(&format!(
                "manifests_pass_an_offline_schema_check: SKIPPED: kubernetes-validate could not be installed: {why}"
            ));
            return;
        }
    };
    let check = |path: &Path| {
        Command::new(&exe)
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .arg(path)
            .output()
            .unwrap()
    };
    for m in MANIFESTS {
        let o = check(&repo().join(m));
        let said =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && said.contains("passed"), "{m}: {said}");
        visible(&format!("{m}: {}", said.trim()));
    }
    // The validator does check: a mount without its path, a field of no such name.
    let text = std::fs::read_to_string(repo().join(MANIFESTS[0])).unwrap();
    let dir = target_dir().join("tmp");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (from, to)) in [
        ("mountPath:", "mountPth:"),
        ("readOnly: true", "readOnly: \"yes\""),
    ]
    .into_iter()
    .enumerate()
    {
        let bad = dir.join(format!("daemonset-broken-{}-{i}.yaml", std::process::id()));
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let o = check(&bad);
        let _ = std::fs::remove_file(&bad);
        assert!(!o.status.success(), "{from} -> {to} passed");
    }
}

/// A manifest's pod template, containers and volumes (by name).
struct Pod {
    containers: Vec<Value>,
    volumes: Vec<Value>,
    spec: Value,
}

fn pod(path: &str) -> Pod {
    let m = manifest(path);
    assert_eq!(m["kind"], "DaemonSet", "{path}");
    let spec = m["spec"]["template"]["spec"].clone();
    Pod {
        containers: arr(&spec["containers"]).to_vec(),
        volumes: arr(&spec["volumes"]).to_vec(),
        spec,
    }
}

impl Pod {
    fn volume(&self, name: &str) -> &Value {
        self.volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    }
}

#[test]
fn manifests_mount_only_what_is_needed_read_only() {
    for path in MANIFESTS {
        let pod = pod(path);
        assert_eq!(pod.spec["hostNetwork"], true, "{path}");
        for v in &pod.volumes {
            if let Some(h) = v.get("hostPath") {
                let t = h["type"].as_str().unwrap_or_default();
                assert!(
                    t == "Directory" || t == "File",
                    "{path}: volume {} is hostPath type {t:?}: Directory or File, never *OrCreate",
                    v["name"]
                );
            } else {
                assert!(v.get("emptyDir").is_some(), "{path}: {v}");
            }
        }
        for c in &pod.containers {
            let name = c["name"].as_str().unwrap();
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{path} {name}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{path} {name}");
            assert_eq!(strs(&sc["capabilities"]["drop"]), ["ALL"], "{path} {name}");
            let mut writable = Vec::new();
            for m in arr(&c["volumeMounts"]) {
                let v = pod.volume(m["name"].as_str().unwrap());
                if v.get("hostPath").is_some() {
                    assert_eq!(m["readOnly"], true, "{path} {name}: {m}");
                    // Mounted where --root /host finds it.
                    assert_eq!(
                        m["mountPath"].as_str().unwrap(),
                        format!("/host{}", v["hostPath"]["path"].as_str().unwrap()),
                        "{path} {name}"
                    );
                } else {
                    writable.push(m["mountPath"].as_str().unwrap().to_string());
                }
            }
            // A read-only root, but somewhere to spill reports (TMPDIR) and to --write.
            assert!(writable.iter().any(|w| w == "/tmp"), "{path} {name}");
            let args = strs(&c["args"]);
            let cli = certwire::cli::Cli::try_parse_from(
                std::iter::once("certwire".to_string()).chain(args.iter().cloned()),
            )
            .unwrap_or_else(|e| panic!("{path} {name}: certwire refuses {args:?}: {e}"));
            let port = |flag: &str| -> String {
                let i = args.iter().position(|a| a == flag).unwrap();
                args[i + 1].rsplit(':').next().unwrap().to_string()
            };
            let container_ports: Vec<String> = arr(&c["ports"])
                .iter()
                .map(|p| p["containerPort"].to_string())
                .collect();
            assert!(
                container_ports.contains(&port("--metrics-listen")),
                "{path} {name}"
            );
            let added = strs(&sc["capabilities"]["add"]);
            match cli.command {
                certwire::cli::Command::Node(n) => {
                    assert!(n.probe && n.interval.is_some() && n.metrics_listen.is_some());
                    assert_eq!(n.root.as_deref(), Some(Path::new("/host")));
                    assert!(
                        added.is_empty(),
                        "{path} {name}: the node audit needs no capability"
                    );
                }
                certwire::cli::Command::Analyze(a) => {
                    assert_eq!(a.live.as_deref(), Some("any"));
                    assert!(a.metrics_listen.is_some());
                    assert_eq!(a.root.as_deref(), Some(Path::new("/host")));
                    assert_eq!(added, ["NET_RAW", "SETUID", "SETGID", "SETPCAP"], "{path}");
                    // --write goes to an emptyDir (commented out in the manifest).
                    let text = std::fs::read_to_string(repo().join(path)).unwrap();
                    if text.contains("- /evidence/") || text.contains("--write") {
                        assert!(writable.iter().any(|w| w == "/evidence"), "{path} {name}");
                    }
                }
                other => panic!("{path} {name}: {other:?}"),
            }
        }
    }
    // The certificates-only variant mounts no private key and no admin credentials.
    let pod = pod(MANIFESTS[1]);
    for v in &pod.volumes {
        if let Some(p) = v["hostPath"]["path"].as_str() {
            assert!(
                !p.ends_with(".key")
                    && !p.ends_with("admin.conf")
                    && p != "/etc/kubernetes"
                    && p != "/etc/kubernetes/pki"
                    && p != "/etc/kubernetes/pki/etcd",
                "{p}"
            );
        }
    }
}

fn docker_works() -> Result<(), String> {
    let o = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map_err(|e| format!("no docker command ({e})"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("docker info failed")
            .trim()
            .to_string())
    }
}

fn docker(args: &[&str]) -> std::process::Output {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "docker {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Removed at the end, whatever happens.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "--force", &self.0])
            .output();
    }
}

/// deploy/build-image.sh (a static release build: minutes on 2 cores, once), then the image
/// runs: --version, `node --help`, the node audit of captures/node mounted read-only, and a
/// live capture with the DaemonSet's security settings serving its metrics.
#[test]
fn image_builds_and_runs() {
    if let Err(why) = docker_works() {
        visible(&format!(
            "image_builds_and_runs: SKIPPED: no working Docker engine: {why}"
        ));
        return;
    }
    let tag = format!("certwire:test-{}", std::process::id());
    let started = Instant::now();
    let o = Command::new("bash")
        .arg(repo().join("deploy/build-image.sh"))
        .arg(&tag)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let image = Image(tag.clone());
    assert!(
        o.status.success(),
        "build-image.sh: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    visible(&format!(
        "image_builds_and_runs: built {tag} in {} s",
        started.elapsed().as_secs()
    ));
    // Nothing but the binary and /tmp.
    let created = docker(&["create", &image.0]);
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let exported = Command::new("docker")
        .args(["export", &id])
        .output()
        .unwrap();
    docker(&["rm", &id]);
    let listing = Command::new("tar")
        .arg("tvf")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut t| {
            t.stdin.take().unwrap().write_all(&exported.stdout)?;
            t.wait_with_output()
        })
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("usr/local/bin/certwire"), "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("drwxrwxrwt") && l.ends_with(" tmp/")),
        "{listing}"
    );
    assert!(!listing.contains("bin/sh"), "{listing}");

    let version = docker(&["run", "--rm", &image.0, "--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("certwire {}", env!("CARGO_PKG_VERSION"))
    );
    let help = docker(&["run", "--rm", &image.0, "node", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--probe"));

    // The node audit, as the DaemonSet mounts the node (read-only, below /host).
    let node = repo().join("captures/node");
    let mount = format!("{}:/host:ro", node.display());
    let audit = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--cap-drop",
            "ALL",
        ])
        .args([
            "-v", &mount, &image.0, "node", "--root", "/host", "--format", "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&audit.stdout).unwrap_or_else(|e| {
        panic!(
            "node in the image: {e}: {}",
            String::from_utf8_lossy(&audit.stderr)
        )
    });
    assert!(
        report["summary"]["certificates"].as_u64().unwrap_or(0) > 10,
        "{report}"
    );

    // The live container: host network, read-only root, only the DaemonSet's capabilities.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let run = docker(&[
        "run",
        "-d",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_RAW",
        "--cap-add",
        "SETUID",
        "--cap-add",
        "SETGID",
        "--cap-add",
        "SETPCAP",
        "--tmpfs",
        "/tmp",
        &image.0,
        "analyze",
        "--live",
        "lo",
        "--duration",
        "60s",
        "--no-default-certs",
        "--format",
        "jsonl",
        "--metrics-listen",
        &listen,
    ]);
    let container = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let mut got = String::new();
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
            let _ = s.read_to_string(&mut got);
        }
        if got.starts_with("HTTP/1.1 200") || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let logs = Command::new("docker")
        .args(["logs", &container])
        .output()
        .unwrap();
    let _ = Command::new("docker")
        .args(["rm", "--force", &container])
        .output();
    let stderr = String::from_utf8_lossy(&logs.stderr);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}\n{stderr}");
    assert!(answer.contains("certwire_build_info{version="), "{answer}");
    assert!(stderr.contains("capturing on lo"), "{stderr}");
    assert!(stderr.contains("uid 0 (now 65534, nobody)"), "{stderr}");
}
