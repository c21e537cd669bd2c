//! The Redis token store (`oauth-redis`) against a real `redis-server` on loopback:
//!
//! 1. the per-request cost of a session with the store attached while its token is valid, as
//!    a ratio to the same session without a store (both on one keep-alive connection to a stub
//!    resource, interleaved rounds): the hot path never touches Redis, so the goal is ≥ 0.98;
//! 2. the renewal latency a waiting replica sees: replica A renews (its token endpoint answers
//!    after 200 ms), replica B's token has expired and it waits for A; from the moment A has
//!    its new token (its update hook) to the moment B adopts it (B's hook), over 20 rounds.
//!
//! `cargo bench -p oauth-tests --bench store`

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth_core::store::StoreKey;
use oauth_core::{Token, UpdateKind};
use oauth_redis::RedisStore;
use oauth_tests::bench::interleaved;
use oauth_tests::fault::{Fault, FaultServer};
use oauth_tests::redis_server::RedisServer;
use oauth_ureq::OAuth2Session;

fn key() -> StoreKey {
    StoreKey::from_bytes([9; 32])
}

fn get(session: &OAuth2Session, url: &str) -> Vec<u8> {
    let mut response = session.get(url).call().expect("response");
    response.body_mut().read_to_vec().expect("body")
}

fn hot_path(redis: &RedisServer) {
    let server = FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub");
    let url = server.url("/users/count");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(oauth_ureq::DEFAULT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let token = || Token::bearer("static-benchmark-token");
    let plain = OAuth2Session::builder("bench")
        .agent(agent.clone())
        .token(token())
        .build()
        .expect("session");
    let stored = OAuth2Session::builder("bench")
        .agent(agent)
        .token(token())
        .store(RedisStore::open(&redis.url(), "bench-hot", key()).expect("url"))
        .build()
        .expect("session");
    let r = interleaved(
        20,
        200,
        || drop(black_box(get(&plain, &url))),
        || drop(black_box(get(&stored, &url))),
    );
    println!(
        "hot path (token valid): no store {:.0} req/s, Redis store attached {:.0} req/s, ratio {:.3}",
        r.baseline_per_sec, r.candidate_per_sec, r.ratio
    );
}

/// A token that expired a minute ago, with a refresh token.
fn expired() -> Token {
    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
        - 60;
    serde_json::from_value(serde_json::json!({
        "access_token": "expired", "token_type": "Bearer", "expires_at": past,
        "issued_at": past - 60, "refresh_token": "rt"
    }))
    .expect("token")
}

/// Replica `name` on record `record`, recording when its token changed and how.
fn replica(
    redis: &RedisServer,
    token_endpoint: &str,
    record: &str,
    seen: &Arc<Mutex<Vec<(UpdateKind, Instant)>>>,
) -> OAuth2Session {
    let seen = Arc::clone(seen);
    OAuth2Session::builder("bench")
        .token_endpoint(token_endpoint)
        .token(expired())
        .store(RedisStore::open(&redis.url(), record, key()).expect("url"))
        .on_token_update(move |update| {
            seen.lock()
                .expect("updates")
                .push((update.kind(), Instant::now()));
        })
        .build()
        .expect("session")
}

fn renewal_latency(redis: &RedisServer) {
    let token = FaultServer::with_default(Fault::slow(Duration::from_millis(200), Fault::token()))
        .expect("stub");
    let resource = FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub");
    let url = resource.url("/users/count");
    let mut latencies = Vec::new();
    for round in 0..20 {
        let (a_seen, b_seen) = (Arc::default(), Arc::default());
        let record = format!("bench-renewal-{round}");
        let a = replica(redis, &token.url("/token"), &record, &a_seen);
        let b = replica(redis, &token.url("/token"), &record, &b_seen);
        let renewing = std::thread::spawn({
            let (a, url) = (a.clone(), url.clone());
            move || drop(get(&a, &url))
        });
        // A takes the lease first; B finds it busy, its token expired: it waits for A.
        std::thread::sleep(Duration::from_millis(50));
        get(&b, &url);
        renewing.join().expect("replica A");
        let at = |seen: &Arc<Mutex<Vec<(UpdateKind, Instant)>>>, kind| {
            let seen = seen.lock().expect("updates");
            seen.iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, at)| *at)
                .expect("the update")
        };
        let renewed = at(&a_seen, UpdateKind::Refreshed);
        let adopted = at(&b_seen, UpdateKind::Adopted);
        latencies.push(adopted.duration_since(renewed));
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "renewal latency a waiting replica sees (A has its token → B adopted it), 20 rounds: \
         median {:.2} ms, p90 {:.2} ms, max {:.2} ms; {} token requests for 20 renewals",
        ms(latencies[10]),
        ms(latencies[18]),
        ms(latencies[19]),
        token
            .requests()
            .iter()
            .filter(|r| r.form_value("grant_type").as_deref() == Some("refresh_token"))
            .count()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let redis = RedisServer::start().expect("redis-server");
    hot_path(&redis);
    renewal_latency(&redis);
}
