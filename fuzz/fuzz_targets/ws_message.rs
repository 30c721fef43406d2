//! Whatever a page (or anyone holding its cookie) sends over the socket: parsing never panics,
//! and only the two documented messages are ever accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::channels::protocol::ClientMsg;

fuzz_target!(|text: &str| {
    if let Some(msg) = ClientMsg::parse(text) {
        assert!(text.contains("type"), "{msg:?} from {text:?}");
    }
});
