//! Both directions of a TLS connection as reassembly hands them over (data chunks and
//! gaps; layout in src/lib.rs), through `tls::conn::TlsConnection`: record framing,
//! handshake message joining, the message parsers, TLS 1.3 and 1.2 decryption where the
//! input keeps a ClientHello random of the sample key logs. The same chunks also go
//! through a bare `RecordReader` → `HandshakeJoiner` per direction, whose events are
//! checked against the caps they promise.
#![no_main]

use std::sync::{Arc, OnceLock};

use certwire::tls::conn::TlsConnection;
use certwire::tls::handshake::{HandshakeEvent, HandshakeJoiner, MAX_MESSAGE_LEN};
use certwire::tls::keylog::KeyLog;
use certwire::tls::record::{RecordEvent, RecordReader, CT_HANDSHAKE, MAX_RECORD_LEN};
use certwire_fuzz::{chunks, StreamChunk};
use libfuzzer_sys::fuzz_target;

const RECORD_HEADER: usize = 5;
const MESSAGE_HEADER: usize = 4;

fn keylog() -> Arc<KeyLog> {
    static KEYS: OnceLock<Arc<KeyLog>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys = KeyLog::default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/keylogs");
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut files: Vec<_> = rd.filter_map(|e| Some(e.ok()?.path())).collect();
            files.sort();
            for f in files {
                if let Ok(text) = std::fs::read_to_string(f) {
                    keys.add_text(&text, certwire::tls::keylog::KeySource::KeylogFile);
                }
            }
        }
        Arc::new(keys)
    })
    .clone()
}

fn on_message(ev: HandshakeEvent<'_>) {
    match ev {
        HandshakeEvent::Message { body, .. } => assert!(body.len() <= MAX_MESSAGE_LEN),
        HandshakeEvent::Partial {
            declared_len, have, ..
        } => assert!(have.len() < declared_len, "a partial message that is whole"),
        HandshakeEvent::Oversize { declared_len, .. } => assert!(declared_len > MAX_MESSAGE_LEN),
    }
}

fn on_record_event(joiner: &mut HandshakeJoiner, ev: RecordEvent<'_>) {
    match ev {
        RecordEvent::Record {
            content_type,
            payload,
            ..
        } => {
            assert!(
                payload.len() <= MAX_RECORD_LEN,
                "record over the length cap"
            );
            if content_type == CT_HANDSHAKE {
                joiner.on_record(payload, &mut on_message);
            }
        }
        RecordEvent::Damaged {
            content_type,
            len,
            prefix,
        } => {
            assert!(prefix.len() < len, "a damaged record that is whole");
            if content_type == CT_HANDSHAKE {
                joiner.on_damaged(prefix, &mut on_message);
            }
        }
        RecordEvent::Lost => joiner.on_lost(&mut on_message),
    }
}

fuzz_target!(|data: &[u8]| {
    let input = chunks(data);
    let mut conn = TlsConnection::new(input.at_record_boundary, Some(keylog()));
    let mut bare: [(RecordReader, HandshakeJoiner); 2] = [0, 1].map(|d| {
        (
            RecordReader::new(input.at_record_boundary[d]),
            HandshakeJoiner::default(),
        )
    });
    let midstream = input.midstream;
    let mut started = [false; 2];
    let mut offset = [0u64; 2];
    for c in input {
        let d = match c {
            StreamChunk::Data { dir, .. } | StreamChunk::Gap { dir, .. } => dir,
        };
        if !started[d] {
            started[d] = true;
            if midstream[d] {
                conn.start_midstream(d);
                bare[d].0 = RecordReader::new(false);
            }
        }
        let (reader, joiner) = &mut bare[d];
        match c {
            StreamChunk::Data {
                bytes,
                segment_start,
                ..
            } => {
                conn.on_data(d, bytes, segment_start);
                reader.on_data(bytes, segment_start, &mut |ev| on_record_event(joiner, ev));
                offset[d] += bytes.len() as u64;
            }
            StreamChunk::Gap { len, .. } => {
                conn.on_gap(d, offset[d], len);
                reader.on_gap(len, &mut |ev| on_record_event(joiner, ev));
                offset[d] += len;
            }
        }
        // Per-direction buffers are capped (a Vec may have grown to twice what it holds).
        assert!(reader.buffered_bytes() <= 2 * (RECORD_HEADER + MAX_RECORD_LEN));
        assert!(joiner.buffered_bytes() <= 2 * (MESSAGE_HEADER + MAX_MESSAGE_LEN));
        assert!(
            conn.buffered_bytes()
                <= 2 * 2 * (RECORD_HEADER + MAX_RECORD_LEN + MESSAGE_HEADER + MAX_MESSAGE_LEN)
        );
    }
    let _ = conn.is_done();
    let f = &conn.facts;
    let _ = (f.handshake_over(0), f.handshake_over(1), f.server_dir());
    assert!(f.client_dir.is_none_or(|d| d < 2));
    conn.release();
    assert_eq!(conn.buffered_bytes(), 0);
});
