//! ID token validation (every §3.1.3.7 check) against the signature verification of `ring`
//! alone, for RS256 and ES256: the claim checks should cost little next to the signature.
//!
//! `cargo bench -p oauth-core --bench id_token`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use oauth_core::jose::{Algorithm, Jwks};
use oauth_core::oidc::{IdTokenExpectations, IdTokenVerifier};
use oauth_core::{ClientConfig, IdToken};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};

const RSA_PK8: &[u8] = include_bytes!("../tests/fixtures/keys/rsa-2048.pk8");
const EC_PK8: &[u8] = include_bytes!("../tests/fixtures/keys/ec-p256.pk8");
const JWKS: &[u8] = include_bytes!("../tests/fixtures/keys/test-keys.jwks.json");

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_771_834_670)
}

/// A realistic ID token: the claims oidc-provider sends for the seed's admin user.
fn signing_input(alg: &str, kid: &str) -> String {
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
    let claims = r#"{"sub":"admin","email":"admin@example.test","email_verified":true,"name":"Admin User","preferred_username":"admin","nonce":"n-0S6_WzA2Mj","at_hash":"x","aud":"admin-cli","exp":1771838270,"iat":1771834670,"auth_time":1771834660,"iss":"https://as.example"}"#;
    format!("{}.{}", B64.encode(header), B64.encode(claims))
}

#[allow(clippy::disallowed_methods, reason = "the benchmark signs its inputs")]
fn tokens() -> (String, Vec<u8>, String, Vec<u8>) {
    let rng = ring::rand::SystemRandom::new();
    let rsa = RsaKeyPair::from_pkcs8(RSA_PK8).expect("rsa key");
    let rs_input = signing_input("RS256", "test-rsa");
    let mut rs_sig = vec![0; rsa.public().modulus_len()];
    rsa.sign(&RSA_PKCS1_SHA256, &rng, rs_input.as_bytes(), &mut rs_sig)
        .expect("signs");
    let ec =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, EC_PK8, &rng).expect("ec key");
    let es_input = signing_input("ES256", "test-ec");
    let es_sig = ec
        .sign(&rng, es_input.as_bytes())
        .expect("signs")
        .as_ref()
        .to_vec();
    (rs_input, rs_sig, es_input, es_sig)
}

fn validation(c: &mut Criterion) {
    let (rs_input, rs_sig, es_input, es_sig) = tokens();
    let keys = Jwks::from_json(JWKS).expect("jwks");
    let config = ClientConfig::new("admin-cli")
        .issuer("https://as.example")
        .id_token_algorithms([Algorithm::RS256, Algorithm::ES256]);
    let verifier = IdTokenVerifier::new(&config).expect("verifier");
    let expectations = IdTokenExpectations {
        nonce: Some("n-0S6_WzA2Mj".into()),
        max_age: Some(3600),
    };
    let jwks: serde_json::Value = serde_json::from_slice(JWKS).expect("json");
    let component = |name: &str| {
        B64.decode(jwks["keys"][0][name].as_str().expect("member"))
            .expect("base64url")
    };
    let rsa_components = ring::signature::RsaPublicKeyComponents {
        n: component("n"),
        e: component("e"),
    };
    let ec_public = {
        #[allow(
            clippy::disallowed_methods,
            reason = "key loading needs an rng in ring"
        )]
        let rng = ring::rand::SystemRandom::new();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, EC_PK8, &rng)
            .expect("ec key")
            .public_key()
            .as_ref()
            .to_vec()
    };
    for (name, input, sig) in [("RS256", &rs_input, &rs_sig), ("ES256", &es_input, &es_sig)] {
        let token = IdToken::new(format!("{input}.{}", B64.encode(sig)));
        verifier
            .validate(&token, &keys, &expectations, None, now())
            .expect("the benchmark token is valid");
        let mut group = c.benchmark_group(format!("id_token/{name}"));
        group.bench_function("raw_signature_verify", |b| {
            b.iter(|| match name {
                "RS256" => rsa_components
                    .verify(
                        &RSA_PKCS1_2048_8192_SHA256,
                        black_box(input.as_bytes()),
                        black_box(sig),
                    )
                    .expect("verifies"),
                _ => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &ec_public)
                    .verify(black_box(input.as_bytes()), black_box(sig))
                    .expect("verifies"),
            })
        });
        group.bench_function("full_validation", |b| {
            b.iter(|| {
                verifier
                    .validate(black_box(&token), &keys, &expectations, None, now())
                    .expect("valid")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, validation);
criterion_main!(benches);
