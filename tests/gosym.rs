//! certwire finds `crypto/tls.(*Config).writeKeyLog` in Go executables with or without a
//! symbol table: in a stripped build (`-ldflags=-s -w`) and a stripped PIE, through Go's
//! own function table, at the address Go's `go tool nm` gives for the same program built
//! with its symbols (stripping does not move code). Needs Debian's golang-go; says SKIPPED
//! without it.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

use certwire::process_keys::{gosym, FUNCTION};

fn go() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn build(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/scripts/goclient");
    let status = Command::new("go")
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(".")
        .current_dir(src)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .status()
        .unwrap();
    assert!(status.success(), "go build {flags:?}");
    out
}

/// `go tool nm` on a binary with symbols: the address of FUNCTION.
fn nm(bin: &Path) -> u64 {
    let out = Command::new("go")
        .args(["tool", "nm"])
        .arg(bin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" T {FUNCTION}")))
        .unwrap_or_else(|| panic!("{FUNCTION} not in go tool nm {}", bin.display()));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

fn locate(bin: &Path) -> gosym::GoFunction {
    gosym::locate(&std::fs::read(bin).unwrap(), FUNCTION)
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
}

#[test]
fn stripped_and_pie_builds_are_found_where_go_says() {
    if !go() {
        eprintln!("SKIPPED: no `go` on PATH (install Debian's golang-go)");
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gosym");
    std::fs::create_dir_all(&dir).unwrap();
    for (plain_flags, stripped_flags, what) in [
        (&[][..], &["-ldflags=-s -w"][..], "static"),
        (
            &["-buildmode=pie"][..],
            &["-buildmode=pie", "-ldflags=-s -w"][..],
            "PIE",
        ),
    ] {
        let plain = build(&dir, &format!("goclient-{what}"), plain_flags);
        let stripped = build(&dir, &format!("goclient-{what}-stripped"), stripped_flags);
        let expected = nm(&plain);
        let a = locate(&plain);
        assert_eq!((a.address, a.found_in), (expected, ".symtab"), "{what}");
        let b = locate(&stripped);
        assert_eq!(
            (b.address, b.found_in),
            (expected, ".gopclntab"),
            "{what} stripped"
        );
        assert!(b
            .go_version
            .as_deref()
            .is_some_and(|v| v.starts_with("go1.")));
        // The file offset holds the function's first bytes in both builds.
        let (pa, pb) = (
            std::fs::read(&plain).unwrap(),
            std::fs::read(&stripped).unwrap(),
        );
        let (oa, ob) = (a.file_offset as usize, b.file_offset as usize);
        assert_eq!(
            pa[oa..oa + 64],
            pb[ob..ob + 64],
            "{what}: code differs at the offsets"
        );
    }
}

#[test]
fn installed_go_programs_are_found_or_refused_with_a_reason() {
    // Whatever the machine has: Debian's etcd (external linking, stripped), kubectl.
    let mut checked = 0;
    for bin in ["/usr/bin/etcd", "/usr/bin/etcdctl", "/usr/bin/kubectl"] {
        let Ok(bytes) = std::fs::read(bin) else {
            continue;
        };
        match gosym::locate(&bytes, FUNCTION) {
            Ok(f) => {
                // A Go function's first instruction: the stack-bound check
                // (cmp 0x10(%r14),%rsp or lea -N(%rsp),%r12; cmp 0x10(%r14),%r12).
                let code = &bytes[f.file_offset as usize..f.file_offset as usize + 12];
                let window: Vec<u8> = code.to_vec();
                assert!(
                    window
                        .windows(4)
                        .any(|w| w == [0x49, 0x3b, 0x66, 0x10] || w == [0x4d, 0x3b, 0x66, 0x10]),
                    "{bin}: no Go prologue at 0x{:x}: {code:02x?}",
                    f.file_offset
                );
                checked += 1;
            }
            Err(e) => eprintln!("{bin}: {e}"),
        }
    }
    if checked == 0 {
        eprintln!("SKIPPED: no installed Go program (etcd, kubectl) to check");
    }
}

/// A root tool reads whatever executable a container holds: a planted one with a crafted
/// function table must give an error, never a panic or a runaway walk. Bytes flipped in
/// the ELF header, the section headers and Go's function table of a real stripped build.
#[test]
fn damaged_executables_give_errors_not_panics() {
    if !go() {
        eprintln!("SKIPPED: no `go` on PATH (install Debian's golang-go)");
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gosym");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = build(&dir, "goclient-static-stripped", &["-ldflags=-s -w"]);
    let original = std::fs::read(&bin).unwrap();
    let table = original
        .windows(8)
        .position(|w| {
            matches!(w[..4], [0xf0 | 0xf1 | 0xfa, 0xff, 0xff, 0xff]) && w[4..] == [0, 0, 1, 8]
        })
        .expect("a .gopclntab header");
    let shoff = u64::from_le_bytes(original[0x28..0x30].try_into().unwrap()) as usize;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut ok, mut errors) = (0, 0);
    for round in 0..600 {
        let mut data = original.clone();
        let (start, len) = match round % 3 {
            0 => (0, 64),                     // ELF header
            1 => (shoff, data.len() - shoff), // section headers
            _ => (table, 64 * 1024),          // pclntab header, functab, _funcs
        };
        for _ in 0..1 + next() % 8 {
            let i = start + (next() as usize) % len;
            data[i] ^= 1 << (next() % 8);
        }
        match gosym::locate(&data, FUNCTION) {
            Ok(_) => ok += 1,
            Err(_) => errors += 1,
        }
    }
    eprintln!("damaged executables: {ok} still located, {errors} refused with an error");
    assert!(errors > 0, "no mutation was noticed");
}
