#![no_main]
//! A private key as a user hands it over: a private JWK, or PEM.

use libfuzzer_sys::fuzz_target;
use oauth_core::jose::{Algorithm, SigningKey};

// The first byte picks the form (high bit: JWK) and the algorithm; the rest is the text.
fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let (as_jwk, alg) = (head & 0x80 != 0, head & 0x7f);
    let text = &*String::from_utf8_lossy(rest);
    let algs = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ];
    let alg = algs[usize::from(alg) % algs.len()];
    let loaded = if as_jwk {
        SigningKey::from_jwk(text, None)
    } else {
        SigningKey::from_pem(text, alg)
    };
    match loaded {
        Ok(key) => {
            // Debug shows the algorithm and the `kid` (public, whatever text it holds), nothing
            // else: no key material can slip in beside them.
            let shown = format!("{key:?}");
            let expected = format!(
                "SigningKey {{ alg: {:?}, kid: {:?}, .. }}",
                key.algorithm(),
                key.kid()
            );
            assert_eq!(shown, expected, "Debug shows more than alg and kid");
        }
        Err(error) => {
            let shown = error.to_string();
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
        }
    }
});
