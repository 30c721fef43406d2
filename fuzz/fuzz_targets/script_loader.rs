//! A flow file as an operator might write it: loading reports problems and never panics, and
//! a file that loads is accepted again by the one-problem loader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::script::model::Script;

fuzz_target!(|text: &str| {
    let all = Script::parse_all("fuzz.json", text);
    let first = Script::parse("fuzz.json", text);
    assert_eq!(all.is_ok(), first.is_ok());
    if let Err(problems) = all {
        assert!(!problems.is_empty());
    }
});
