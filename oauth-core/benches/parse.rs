//! Token-response parsing against plain serde and the `oauth2` crate, side by side in one run,
//! and the build of a password-grant request.
//!
//! Parsers are timed without dropping their result (`iter_with_large_drop`, the same for all
//! three): our token wipes its secrets on drop (`zeroize`), a deliberate cost of a few hundred
//! nanoseconds for a Keycloak-sized token that is paid once per token, not per parse. The
//! `*_with_drop` rows show the figure with the drop included.
//!
//! `cargo bench -p oauth-core --bench parse`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_core::{ClientConfig, Grant, parse_token_response, token_request};
use serde::Deserialize;

const SMALL: &[u8] = include_bytes!("token_215.json");
const KEYCLOAK: &[u8] = include_bytes!("../tests/fixtures/keycloak/password_grant.json");

/// The least a client must read from a token response: what a hand-written client would parse.
#[derive(Deserialize)]
#[allow(dead_code, reason = "fields are read by serde only")]
struct Minimal {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

fn parsing(c: &mut Criterion) {
    let sent_at = UNIX_EPOCH + Duration::from_secs(1_771_834_670);
    for (name, body) in [("215B", SMALL), ("keycloak_1.6KB", KEYCLOAK)] {
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .expect("response");
        let mut group = c.benchmark_group(format!("parse_token_response/{name}"));
        group.bench_function("plain_serde_minimal_struct", |b| {
            b.iter_with_large_drop(|| {
                serde_json::from_slice::<Minimal>(black_box(body)).expect("parses")
            })
        });
        group.bench_function("oauth_core", |b| {
            b.iter_with_large_drop(|| {
                parse_token_response(black_box(&response), sent_at).expect("parses")
            })
        });
        group.bench_function("oauth2_5_basic_token_response", |b| {
            b.iter_with_large_drop(|| {
                serde_json::from_slice::<oauth2::basic::BasicTokenResponse>(black_box(body))
                    .expect("parses")
            })
        });
        group.bench_function("plain_serde_minimal_struct_with_drop", |b| {
            b.iter(|| serde_json::from_slice::<Minimal>(black_box(body)).expect("parses"))
        });
        group.bench_function("oauth_core_with_drop", |b| {
            b.iter(|| parse_token_response(black_box(&response), sent_at).expect("parses"))
        });
        group.finish();
    }
}

fn building(c: &mut Criterion) {
    let config = ClientConfig::new("admin-cli")
        .token_endpoint("http://localhost:8080/realms/master/protocol/openid-connect/token")
        .expect("url");
    c.bench_function("token_request/password", |b| {
        b.iter(|| {
            token_request(black_box(&config), &Grant::password("admin", "admin")).expect("builds")
        })
    });
}

criterion_group!(benches, parsing, building);
criterion_main!(benches);
