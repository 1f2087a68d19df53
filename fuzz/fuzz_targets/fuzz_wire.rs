//! One captured frame decoded down to TCP (`wire::decode`): the first byte picks the link
//! type (every one certwire knows, and one it does not), the rest is the frame.
#![no_main]

use certwire::wire::{decode, Skip};
use certwire_fuzz::linktype_of;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let lt = linktype_of(selector);
    match decode(lt, frame) {
        Ok(seg) => {
            // The payload is a part of the frame, and never more than the sender sent.
            let (f, p) = (frame.as_ptr_range(), seg.payload.as_ptr_range());
            assert!(seg.payload.is_empty() || (f.start <= p.start && p.end <= f.end));
            assert!(seg.payload.len() as u64 <= u64::from(seg.payload_len));
            assert_eq!(seg.src.is_ipv4(), seg.dst.is_ipv4());
        }
        Err(Skip::UnsupportedLink) => assert_eq!(lt, 147),
        Err(_) => {}
    }
});
