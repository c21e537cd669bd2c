//! Minting and signing an ES256 client assertion (`private_key_jwt`: claims, a fresh `jti`,
//! base64url, the signature) against ring's ES256 signature of an input of the same length
//! alone: the minting should cost little next to the signature.
//!
//! `cargo bench -p oauth-core --bench assertion`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_core::ClientConfig;
use oauth_core::jose::{Algorithm, SigningKey};
use oauth_core::rfc7523::{Mint, client_assertion};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

const EC_PK8: &[u8] = include_bytes!("../tests/fixtures/keys/ec-p256.pk8");

#[allow(
    clippy::disallowed_methods,
    reason = "the benchmark is the caller: it brings the entropy"
)]
fn rng() -> ring::rand::SystemRandom {
    ring::rand::SystemRandom::new()
}

fn bench(c: &mut Criterion) {
    let rng = rng();
    let now = UNIX_EPOCH + Duration::from_secs(1_771_834_670);
    let key = SigningKey::from_pkcs8_der(EC_PK8, Algorithm::ES256)
        .expect("key")
        .with_kid("test-ec");
    let config = ClientConfig::new("private-key-client")
        .token_endpoint("https://as.example/realms/master/protocol/openid-connect/token")
        .expect("url")
        .private_key_jwt(key);
    let sample = client_assertion(&config, &Mint::new(now, &rng)).expect("assertion");
    let signing_input = sample.rsplit_once('.').expect("jws").0.to_owned();
    let raw =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, EC_PK8, &rng).expect("key");

    let mut group = c.benchmark_group("es256_client_assertion");
    group.bench_function("ring_sign_alone", |b| {
        b.iter(|| {
            raw.sign(&rng, black_box(signing_input.as_bytes()))
                .expect("signs")
        });
    });
    group.bench_function("minted_and_signed", |b| {
        b.iter(|| client_assertion(black_box(&config), &Mint::new(now, &rng)).expect("assertion"));
    });
    group.finish();

    let dpop = oauth_core::rfc9449::DpopKey::generate(&rng).expect("key");
    let uri: http::Uri = "http://127.0.0.1:8080/users/count".parse().expect("uri");
    let token = oauth_core::AccessToken::new("static-benchmark-token");
    let mut group = c.benchmark_group("es256_dpop_proof");
    group.bench_function("proof_for_a_resource_request", |b| {
        b.iter(|| {
            dpop.proof(
                &http::Method::GET,
                black_box(&uri),
                now,
                &rng,
                Some(&token),
                None,
            )
            .expect("proof")
        });
    });
    // The same proof through a session's bearer (what the adapters sign resource requests
    // with): the key, entropy and nonces it holds.
    let token: oauth_core::Token = serde_json::from_value(serde_json::json!({
        "access_token": "static-benchmark-token", "token_type": "DPoP"
    }))
    .expect("token");
    let mut session = oauth_core::TokenSession::new(ClientConfig::new("c"))
        .with_entropy(std::sync::Arc::new(rng.clone()))
        .with_dpop(dpop.clone());
    let _ = session.set_token(token);
    let oauth_core::Authorization::Ready(bearer) = session.poll_authorization(now) else {
        panic!("ready");
    };
    group.bench_function("proof_through_the_sessions_bearer", |b| {
        b.iter(|| {
            bearer
                .dpop_proof(&http::Method::GET, black_box(&uri), now)
                .expect("proof")
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
