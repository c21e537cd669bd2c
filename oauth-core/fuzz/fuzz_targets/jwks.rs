#![no_main]
//! A JWK Set document, then every key's use for verification.

use libfuzzer_sys::fuzz_target;
use oauth_core::jose::{Jwks, Jws};

fuzz_target!(|input: (&[u8], &str)| {
    let (document, compact) = input;
    if let Ok(keys) = Jwks::from_json(document) {
        if let Ok(jws) = Jws::parse(compact) {
            let _ = jws.verify_with_set(&keys);
        }
    }
});
