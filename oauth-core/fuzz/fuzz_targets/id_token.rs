#![no_main]
//! A compact JWS as an ID token, through the whole validation with the test key set.

use libfuzzer_sys::fuzz_target;
use oauth_core::jose::{Algorithm, Jwks};
use oauth_core::oidc::{IdTokenExpectations, IdTokenVerifier};
use oauth_core::{ClientConfig, IdToken};
use oauth_core_fuzz::now;

const KEYS: &[u8] = include_bytes!("../../tests/fixtures/keys/test-keys.jwks.json");

fuzz_target!(|compact: &str| {
    let config = ClientConfig::new("admin-cli")
        .issuer("https://as.example")
        .client_secret_basic("a-client-secret-of-32-bytes-or-more!")
        .id_token_algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::HS256]);
    let verifier = IdTokenVerifier::new(&config).expect("issuer set");
    let keys = Jwks::from_json(KEYS).expect("test keys");
    let expectations = IdTokenExpectations {
        nonce: Some("n-0S6_WzA2Mj".into()),
        max_age: None,
    };
    if let Err(error) = verifier.validate(&IdToken::new(compact), &keys, &expectations, None, now())
    {
        let shown = error.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }
});
