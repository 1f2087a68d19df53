//! NSS key log text (`--keylog` files, pcapng Decryption Secrets Blocks) into a `KeyLog`,
//! then looked up by the client random of the first line that has one.
#![no_main]

use certwire::tls::keylog::{KeyLog, MAX_SESSIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As the analyzer reads a secrets block (a --keylog file is read as text too).
    let text = String::from_utf8_lossy(data);
    let keys = KeyLog::default();
    keys.add_text(&text, certwire::tls::keylog::KeySource::KeylogFile);
    let lines = text.lines().count();
    assert!(keys.good_lines() + keys.bad_lines() <= lines);
    assert!(keys.sessions() <= keys.good_lines().min(MAX_SESSIONS));
    // Adding the same text again changes no session count.
    let sessions = keys.sessions();
    keys.add_text(&text, certwire::tls::keylog::KeySource::KeylogFile);
    assert_eq!(keys.sessions(), sessions);
    let snap = keys.snapshot();
    assert_eq!(snap.sessions(), sessions);
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        if let (Some(_), Some(random)) = (fields.next(), fields.next()) {
            if let Ok(r) = data_encoding::HEXLOWER_PERMISSIVE.decode(random.as_bytes()) {
                if let Ok(r) = <[u8; 32]>::try_from(r) {
                    let _ = keys.get(&r);
                }
            }
            break;
        }
    }
});
