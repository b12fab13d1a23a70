//! SIOCSWG/SIOCGWG buffers (`wg_interface_io` and what follows it, ioctl/codec.rs)
//! and `wg_data_io` itself, as wgd receives them: decoding never panics; a decoded
//! buffer encodes back to one that decodes to the same model (both directions);
//! an SIOCSWG is applied to an interface the way wgd applies it (driver/apply.rs),
//! and the SIOCGWG answers for root and for others decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgif::ioctl::codec::{decode, encode, needed_size, DataIo, Dir};
use wgif::ioctl::model::InterfaceIo;
use wgif_fuzz::WgState;

/// An SIOCGWG answer carries every description (empty = none) and no
/// WG_PEER_SET_DESCRIPTION bit; a buffer that sets the bit anyway decodes an empty
/// description as `Some("")`, which means the same as `None` and encodes as it.
fn canonical(mut m: InterfaceIo, dir: Dir) -> InterfaceIo {
    if dir == Dir::Get {
        for p in &mut m.peers {
            if p.description.as_deref() == Some("") {
                p.description = None;
            }
        }
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };

    if let Ok(d) = DataIo::decode(buf) {
        // A name that is not UTF-8 is decoded lossily (U+FFFD is three bytes), so it
        // may no longer fit; wgd never decodes a wg_data_io (the name travels in the
        // frame's envelope), so only the names that are text must round-trip.
        let end = buf[..16].iter().position(|&c| c == 0).unwrap_or(16);
        if std::str::from_utf8(&buf[..end]).is_ok() {
            let bytes = d.encode().expect("a decoded name fits");
            assert_eq!(DataIo::decode(&bytes).unwrap(), d, "wg_data_io round trip");
        }
    }

    for dir in [Dir::Set, Dir::Get] {
        if let Ok(m) = decode(buf, dir) {
            // A description that is not UTF-8 is decoded lossily (U+FFFD is three
            // bytes), so it may no longer fit its 63 bytes and encodes cut; the engine
            // keeps at most 63 bytes of it (Interface::set_description) either way.
            let lossy = m.peers.iter().any(|p| {
                p.description
                    .as_ref()
                    .is_some_and(|d| d.contains('\u{fffd}'))
            });
            if lossy {
                continue;
            }
            let again = encode(&m, dir);
            assert_eq!(again.len(), needed_size(&m), "needed_size of {dir:?}");
            let back = decode(&again, dir)
                .unwrap_or_else(|e| panic!("re-encoded {dir:?} buffer does not decode: {e:?}"));
            assert_eq!(back, canonical(m, dir), "{dir:?} round trip");
        }
    }

    let mut wg = WgState::default();
    let _ = wg.set_wg_buffer(buf);
    let _ = wg.get_wg(u64::from(sel) << 8, sel & 1 == 1);
    let _ = wg.get_wg(u64::MAX, true);
    let _ = wg.get_wg(u64::MAX, false);
});
