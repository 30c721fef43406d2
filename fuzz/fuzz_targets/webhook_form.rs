//! A webhook as it reaches the node: any URL, form body and signature. Checking must never
//! panic; a forged signature never passes; a form signed with the token always does, and then
//! reads back the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::providers::twilio::{signature, webhook::SignedForm};

const TOKEN: &str = "fuzz-auth-token";

fuzz_target!(|input: (&str, &[u8], &str)| {
    let (url, body, given) = input;
    if let Some(form) = SignedForm::verify(TOKEN, url, body, given) {
        // Only the real signature can have passed.
        assert_eq!(signature::sign(TOKEN, url, &form.params), given);
        read_all(&form);
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let signed = signature::sign(TOKEN, url, &params);
    let form = SignedForm::verify(TOKEN, url, body, &signed).expect("a genuine signature passes");
    assert_eq!(form.params, params);
    assert!(SignedForm::verify("another-token", url, body, &signed).is_none());
    read_all(&form);
});

/// Every reading of a signed form the routes make; none may panic.
fn read_all(form: &SignedForm) {
    let _ = (
        form.call(),
        form.sms(),
        form.digits(),
        form.speech(),
        form.turn(),
        form.outage_since(),
    );
}
