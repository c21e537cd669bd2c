//! A fleet of OS processes sharing one token through Redis (`oauth-redis`), against the real
//! server with refresh-token rotation and reuse detection (`admin-cli-rotating`: oidc-provider
//! revokes the whole grant when a used refresh token comes back). Each process is the
//! `fleet_replica` example of this crate, on one of the three adapters; each test starts its
//! own `redis-server` on a free port with persistence off.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth_core::store::{StoreKey, Unreachable};
use oauth_core::{Grant, Token};
use oauth_redis::RedisStore;
use oauth_tests::fault::{Fault, FaultServer};
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::redis_server::{RedisServer, Resp};
use serde_json::Value;

use crate::start_server;

const CLIENT: &str = "admin-cli-rotating";
const NAME: &str = "fleet";
/// The fleet's key (base64url of 32 bytes), as a secret manager would hand it out.
const KEY: &str = "c3RvcmUta2V5LWZvci10aGUtZmxlZXQtdGVzdHMtMzI";
/// Short access tokens: due after 2 s (the leeway is clamped to half the lifetime).
const TTL: Duration = Duration::from_secs(4);

fn key() -> StoreKey {
    StoreKey::from_base64url(KEY).expect("a 32-byte key")
}

fn redis() -> RedisServer {
    RedisServer::start().unwrap_or_else(|e| panic!("{e}"))
}

/// A blocking session of the fleet, in this process.
fn member(server: &AuthServer, redis: &RedisServer) -> oauth_ureq::OAuth2Session {
    let store = RedisStore::open(&redis.url(), NAME, key()).expect("url");
    oauth_ureq::OAuth2Session::builder(CLIENT)
        .token_endpoint(&server.token_endpoint())
        .store(store)
        .build()
        .expect("session")
}

/// The fleet's first login, by a process of its own: the store holds version 1.
fn log_in(server: &AuthServer, redis: &RedisServer) -> Token {
    let token = member(server, redis)
        .fetch_token(Grant::password("admin", "admin"))
        .expect("login stored");
    assert_eq!(stored_version(redis), Some(1));
    token
}

/// The record's version in Redis, read raw.
fn stored_version(redis: &RedisServer) -> Option<u64> {
    match redis.command(&["HGET", &format!("{{{NAME}}}:record"), "v"]) {
        Ok(Resp::Bulk(Some(v))) => String::from_utf8_lossy(&v).parse().ok(),
        _ => None,
    }
}

fn lease_held(redis: &RedisServer) -> bool {
    matches!(
        redis.command(&["EXISTS", &format!("{{{NAME}}}:lease")]),
        Ok(Resp::Integer(1))
    )
}

/// One replica's settings.
struct Replica {
    adapter: &'static str,
    workers: u32,
    pace_ms: u64,
    seconds: u64,
    lease_ms: u64,
    token_endpoint: String,
}

impl Replica {
    fn new(server: &AuthServer, adapter: &'static str, workers: u32, pace_ms: u64) -> Self {
        Self {
            adapter,
            workers,
            pace_ms,
            seconds: 10,
            lease_ms: 30_000,
            token_endpoint: server.token_endpoint(),
        }
    }

    fn spawn(&self, server: &AuthServer, redis_url: &str) -> Running {
        let path = crate::examples::example_path("fleet_replica");
        let child = Command::new(path)
            .env("REPLICA_ADAPTER", self.adapter)
            .env("REPLICA_WORKERS", self.workers.to_string())
            .env("REPLICA_SECONDS", self.seconds.to_string())
            .env("REPLICA_PACE_MS", self.pace_ms.to_string())
            .env("REDIS_URL", redis_url)
            .env("STORE_NAME", NAME)
            .env("STORE_KEY", KEY)
            .env("STORE_LEASE_MS", self.lease_ms.to_string())
            .env("STORE_POLICY", "fail")
            .env("CLIENT_ID", CLIENT)
            .env("TOKEN_ENDPOINT", &self.token_endpoint)
            .env("RESOURCE_URL", server.resource_url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fleet_replica");
        Running::new(self.adapter, child)
    }
}

struct Running {
    name: &'static str,
    child: Child,
    /// Its output lines so far, read by a thread of their own.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn new(name: &'static str, mut child: Child) -> Self {
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Self { name, child, lines }
    }

    fn count(&self, prefix: &str) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines.iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// Waits (at most 60 s) until it printed `prefix` `n` times.
    fn wait_for(&self, prefix: &str, n: usize) {
        let started = Instant::now();
        while self.count(prefix) < n {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} never printed {prefix} {n} times",
                self.name
            );
            let lines = self.lines.lock().expect("lines").clone();
            assert!(
                lines.iter().all(|l| !l.starts_with('{')),
                "{} ended early: {lines:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for its `READY` line (it has the fleet's token and sent its first request).
    fn ready(&mut self) {
        self.wait_for("READY", 1);
    }

    /// Waits (at most 90 s) for its report: `(ok, failed, errors)`.
    fn finish(mut self) -> (u64, u64, Value) {
        let started = Instant::now();
        while self.child.try_wait().expect("wait").is_none() || self.count("{") == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{} did not end within 90 s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let lines = self.lines.lock().expect("lines").clone();
        let report: Value = lines
            .iter()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("{} printed no report: {lines:?}", self.name));
        let count = |k: &str| report[k].as_u64().unwrap_or(u64::MAX);
        (count("ok"), count("failed"), report["errors"].clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every refresh the server answered was committed once, none was refused.
fn assert_one_refresh_per_commit(server: &AuthServer, redis: &RedisServer) -> u64 {
    let stats = server.stats().expect("stats");
    let refreshes = stats.token_requests("refresh_token");
    assert_eq!(
        stats.token_errors("invalid_grant"),
        0,
        "no refresh was refused"
    );
    let version = stored_version(redis).expect("a record");
    assert_eq!(
        refreshes,
        version - 1,
        "each refresh is one committed version"
    );
    refreshes
}

#[test]
fn four_processes_on_three_adapters_make_one_refresh_per_expiry() {
    let server = start_server(TTL);
    let redis = redis();
    log_in(&server, &redis);
    let started = Instant::now();
    let mut fleet: Vec<Running> = [
        Replica::new(&server, "ureq", 16, 50),
        Replica::new(&server, "reqwest", 250, 500),
        Replica::new(&server, "async-std", 64, 200),
        Replica::new(&server, "ureq", 4, 50),
    ]
    .iter()
    .map(|replica| replica.spawn(&server, &redis.url()))
    .collect();
    fleet.iter_mut().for_each(Running::ready);
    let mut total = 0;
    for replica in fleet {
        let name = replica.name;
        let (ok, failed, errors) = replica.finish();
        assert_eq!(failed, 0, "{name}: {errors}");
        assert!(ok > 10, "{name} sent requests ({ok})");
        total += ok;
    }
    let elapsed = started.elapsed();
    let refreshes = assert_one_refresh_per_commit(&server, &redis);
    // A token is due every 2 s: one refresh per expiry over the run, give or take the edges.
    let expiries = elapsed.as_secs() / 2;
    assert!(
        (expiries.saturating_sub(2)..=expiries + 1).contains(&refreshes),
        "{refreshes} refreshes in {elapsed:?} ({total} requests)"
    );
    assert_eq!(server.stats().expect("stats").token_requests("password"), 1);
    eprintln!("fleet: {refreshes} refreshes in {elapsed:?}, {total} requests, 0 failed");

    // What Redis holds: the record and nothing in clear.
    let latest = adopt(&server, &redis);
    let contents = redis.raw_contents().expect("contents");
    assert!(
        contents.iter().any(|(k, _)| k == "{fleet}:record"),
        "{contents:?}"
    );
    let secrets = [
        latest.access_token().secret().to_owned(),
        latest
            .refresh_token()
            .expect("refresh token")
            .secret()
            .to_owned(),
    ];
    for (key, value) in &contents {
        let text = String::from_utf8_lossy(value);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{key} holds a token in clear"
            );
        }
        assert!(
            !text.contains("access_token"),
            "{key} holds token JSON in clear"
        );
    }
}

/// The fleet's current token, as a new replica adopts it.
fn adopt(server: &AuthServer, redis: &RedisServer) -> Token {
    let session = member(server, redis);
    let response = session.get(server.resource_url()).call().expect("adopted");
    assert_eq!(response.status(), 200);
    session.token().expect("token")
}

#[test]
fn a_lease_holder_killed_during_its_renewal_is_replaced_after_its_lease() {
    let server = start_server(TTL);
    let redis = redis();
    log_in(&server, &redis);
    // The victim's token endpoint never answers: it takes the lease when the token is due
    // and hangs in its refresh, which never reaches the server.
    let stub = FaultServer::with_default(Fault::slow(Duration::from_secs(60), Fault::html_500()))
        .expect("stub");
    let mut victim = Replica::new(&server, "ureq", 2, 100);
    victim.token_endpoint = stub.url("/token");
    victim.lease_ms = 3_000;
    victim.seconds = 30;
    let mut victim = victim.spawn(&server, &redis.url());
    victim.ready();
    let started = Instant::now();
    while !lease_held(&redis) || stub.requests().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the victim never renewed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(victim); // kill -9, mid-renewal, lease held

    let mut healthy = Replica::new(&server, "reqwest", 16, 50);
    healthy.lease_ms = 3_000;
    healthy.seconds = 8;
    let mut healthy = healthy.spawn(&server, &redis.url());
    healthy.ready();
    let (ok, failed, errors) = healthy.finish();
    assert_eq!(failed, 0, "{errors}");
    assert!(ok > 10);
    let refreshes = assert_one_refresh_per_commit(&server, &redis);
    assert!(refreshes >= 2, "the healthy replica renewed ({refreshes})");
}

#[test]
fn redis_restarted_mid_run_the_fleet_carries_on() {
    let server = start_server(TTL);
    let mut redis = redis();
    log_in(&server, &redis);
    let mut fleet: Vec<Running> = [
        Replica::new(&server, "reqwest", 32, 100),
        Replica::new(&server, "async-std", 32, 100),
    ]
    .iter()
    .map(|replica| {
        let mut replica = replica.spawn(&server, &redis.url());
        replica.ready();
        replica
    })
    .collect();
    // Once every replica holds the token of the first renewal (its second token change),
    // Redis loses everything (no persistence) and comes back empty.
    for replica in &fleet {
        replica.wait_for("UPDATE", 2);
    }
    let before = server
        .stats()
        .expect("stats")
        .token_requests("refresh_token");
    redis.restart().expect("restart");
    assert_eq!(stored_version(&redis), None, "the restart lost the record");
    for replica in fleet.drain(..) {
        let name = replica.name;
        let (ok, failed, errors) = replica.finish();
        assert_eq!(failed, 0, "{name}: {errors}");
        assert!(ok > 10);
    }
    let stats = server.stats().expect("stats");
    assert_eq!(stats.token_errors("invalid_grant"), 0);
    let after = stats.token_requests("refresh_token");
    assert!(after >= before + 2, "renewals went on ({before} → {after})");
    let version = stored_version(&redis).expect("the record is back");
    assert_eq!(
        version - 1,
        after,
        "versions went on from the replicas' own"
    );
}

#[test]
fn redis_unreachable_at_start_is_a_typed_error_or_a_local_renewal_as_configured() {
    let server = start_server(TTL);
    // A port where nothing listens (a server started and killed).
    let mut gone = redis();
    let url = gone.url();
    let port = gone.port();
    gone.kill();

    // Fail while unusable (the default): no token to serve, a typed error.
    let store = RedisStore::open(&url, NAME, key()).expect("url");
    let strict = oauth_ureq::OAuth2Session::builder(CLIENT)
        .token_endpoint(&server.token_endpoint())
        .store(store)
        .build()
        .expect("session");
    let error = strict
        .get(server.resource_url())
        .call()
        .expect_err("no store");
    assert!(error.store_error().is_some(), "a store error, not {error}");
    assert!(
        error.to_string().starts_with("token store unreachable: "),
        "{error}"
    );

    // Renew locally: the login is the session's even though the store could not take it
    // (the fetch says so), requests go on, renewals go alone, and the store gets the token
    // once it is back.
    let store = RedisStore::open(&url, NAME, key())
        .expect("url")
        .unreachable(Unreachable::RenewLocally)
        .timeout(Duration::from_millis(500));
    let alone = oauth_ureq::OAuth2Session::builder(CLIENT)
        .token_endpoint(&server.token_endpoint())
        .store(store)
        .build()
        .expect("session");
    let error = alone
        .fetch_token(Grant::password("admin", "admin"))
        .expect_err("not stored");
    assert!(error.store_error().is_some(), "{error}");
    assert!(alone.token().is_some(), "the session keeps its login");
    let deadline = Instant::now() + Duration::from_secs(5);
    while server
        .stats()
        .expect("stats")
        .token_requests("refresh_token")
        == 0
    {
        assert!(Instant::now() < deadline, "no renewal alone");
        let response = alone.get(server.resource_url()).call().expect("served");
        assert_eq!(response.status(), 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    let redis = RedisServer::start_on(port).expect("redis back");
    let deadline = Instant::now() + Duration::from_secs(10);
    while stored_version(&redis).is_none() {
        assert!(Instant::now() < deadline, "the store never got the token");
        let response = alone.get(server.resource_url()).call().expect("served");
        assert_eq!(response.status(), 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.stats().expect("stats").token_errors("invalid_grant"),
        0
    );
}

#[test]
fn a_store_refuses_a_dpop_key_generated_per_session() {
    // Nothing connects: the builder refuses the pair first.
    let store = RedisStore::open("redis://127.0.0.1:1/", NAME, key()).expect("url");
    let built = oauth_ureq::OAuth2Session::builder(CLIENT)
        .token_endpoint("http://127.0.0.1:1/token")
        .dpop()
        .store(store)
        .build();
    let error = built.expect_err("refused");
    assert!(error.to_string().contains("dpop_key"), "{error}");
}
