//! oauth-reqwest against the real test authorization server: the seed scenario, the blocking
//! adapter's list, and 1,000 tasks across the expiry moment. The fault-injection stub's tests
//! (faults, redirects, cancelled callers, a runtime shutting down under a refresh) are in
//! `stub`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use oauth_reqwest::{Error, Grant, OAuth2Session, Token, TokenRef, UpdateKind};
use oauth_tests::fault::FaultServer;
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::{DriverError, SeedDriver, next_pause, run_seed_scenario};
use tokio::runtime::Runtime;

use crate::start_server;

mod stub;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The seed driver: the scenario is synchronous, so each call blocks on the session's future.
struct ReqwestDriver {
    runtime: Runtime,
    session: OAuth2Session,
}

fn driver_error(e: Error) -> DriverError {
    DriverError {
        display: e.to_string(),
        oauth_error: e.oauth_error().map(|o| o.error().to_owned()),
    }
}

impl SeedDriver for ReqwestDriver {
    fn fetch_password(&mut self, username: &str, password: &str) -> Result<(), DriverError> {
        self.runtime
            .block_on(
                self.session
                    .fetch_token(Grant::password(username, password)),
            )
            .map(drop)
            .map_err(driver_error)
    }

    fn get(&mut self, url: &str) -> Result<u16, DriverError> {
        self.runtime
            .block_on(self.session.get(url).send())
            .map(|r| r.status().as_u16())
            .map_err(driver_error)
    }

    fn refresh(&mut self) -> Result<(), DriverError> {
        self.runtime
            .block_on(self.session.refresh_token())
            .map(drop)
            .map_err(driver_error)
    }

    fn token(&self) -> Option<Token> {
        self.session.token()
    }

    fn refresh_at(&self) -> Option<SystemTime> {
        self.session.refresh_at()
    }
}

fn session(server: &AuthServer, client_id: &str) -> oauth_reqwest::SessionBuilder {
    OAuth2Session::builder(client_id)
        .token_endpoint(&server.token_endpoint())
        .revocation_endpoint(&server.revocation_endpoint())
        .introspection_endpoint(&server.introspection_endpoint())
}

/// Waits until the wall clock reaches `at`, polling it, for at most `bound`.
async fn wait_until(at: SystemTime, bound: Duration) {
    let started = Instant::now();
    while let Some(pause) = next_pause(at, started, bound).unwrap_or_else(|e| panic!("{e}")) {
        tokio::time::sleep(pause).await;
    }
}

async fn wait_for_refresh(session: &OAuth2Session) {
    let at = session.refresh_at().expect("token has a refresh time");
    wait_until(at, Duration::from_secs(30)).await;
}

/// Polls `done` every 10 ms for at most 10 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// A token that expired a minute ago, with a refresh token.
fn expired_token() -> Token {
    let now = SystemTime::now();
    Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(
            now - Duration::from_secs(120),
            now - Duration::from_secs(60),
        )
}

fn token_requests(stub: &FaultServer) -> usize {
    stub.requests()
        .iter()
        .filter(|r| r.path == "/token")
        .count()
}

#[test]
fn seed_scenario() {
    let server = start_server(Duration::from_secs(4));
    // The seed's leeway of 60 s on a 4 s token: clamped to 2 s, so the token is used for 2 s.
    let session = session(&server, "admin-cli")
        .leeway(Duration::from_secs(60))
        .build()
        .expect("session");
    let mut driver = ReqwestDriver {
        runtime: runtime(),
        session,
    };
    run_seed_scenario(&server, &mut driver, &mut |line| {
        eprintln!("reqwest seed: {line}")
    })
    .expect("seed scenario");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_invalid_grant() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "admin-cli").build().expect("session");
    let error = session
        .fetch_token(Grant::password("admin", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
    assert!(error.requires_reauthentication());
    assert!(session.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_clients_basic_post_and_form_encoded_secret() {
    let server = start_server(Duration::from_secs(30));
    for (client, builder) in [
        (
            "basic-client",
            session(&server, "basic-client").client_secret_basic("basic-secret"),
        ),
        (
            "post-client",
            session(&server, "post-client").client_secret_post("post-secret"),
        ),
        (
            "odd-secret-client",
            session(&server, "odd-secret-client")
                .client_secret_basic("s3cr3t:with+special&chars/="),
        ),
    ] {
        let session = builder.build().expect("session");
        session
            .fetch_token(Grant::client_credentials())
            .await
            .unwrap_or_else(|e| panic!("{client}: {e}"));
        let response = session
            .get(server.resource_url())
            .send()
            .await
            .expect("resource");
        assert_eq!(response.status(), 200, "{client}");
    }
    let wrong = session(&server, "basic-client")
        .client_secret_basic("nope")
        .build()
        .expect("session");
    let error = wrong
        .fetch_token(Grant::client_credentials())
        .await
        .unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_client")
    );
    assert!(
        error
            .oauth_error()
            .and_then(|e| e.www_authenticate())
            .is_some_and(|c| c.starts_with("Basic"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_token_is_fetched_again_when_due() {
    let server = start_server(Duration::from_secs(2));
    let updates = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&updates);
    let session = session(&server, "cc-client")
        .client_secret_basic("cc-secret")
        .leeway(Duration::from_secs(1))
        .on_token_update(move |u| seen.lock().expect("lock").push(u.kind()))
        .build()
        .expect("session");
    session
        .fetch_token(Grant::client_credentials())
        .await
        .expect("token");
    wait_for_refresh(&session).await;
    let response = session
        .get(server.resource_url())
        .send()
        .await
        .expect("resource");
    assert_eq!(response.status(), 200);
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("client_credentials"),
        2
    );
    assert_eq!(
        *updates.lock().expect("lock"),
        [UpdateKind::Fetched, UpdateKind::Refetched]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_keeps_and_reports_the_new_refresh_token_and_off_keeps_the_old() {
    let server = start_server(Duration::from_secs(30));
    for (client, rotates) in [("admin-cli-rotating", true), ("admin-cli", false)] {
        // The async hook, slow on purpose: each call must still have finished by the time the
        // call that caused its change returns.
        let reported = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reported);
        let session = session(&server, client)
            .on_token_update_async(move |u| {
                let seen = Arc::clone(&seen);
                async move {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let rt = u.new_token().refresh_token().map(|t| t.secret().to_owned());
                    seen.lock().expect("lock").push((u.kind(), rt));
                }
            })
            .build()
            .expect("session");
        let first = session
            .fetch_token(Grant::password("admin", "admin"))
            .await
            .expect("token");
        assert_eq!(reported.lock().expect("lock").len(), 1);
        let second = session.refresh_token().await.expect("refresh");
        assert_eq!(reported.lock().expect("lock").len(), 2);
        let third = session
            .refresh_token()
            .await
            .expect("refresh with the kept refresh token");
        let rt = |t: &Token| {
            t.refresh_token()
                .expect("refresh token")
                .secret()
                .to_owned()
        };
        assert_eq!(rt(&first) != rt(&second), rotates, "{client}");
        assert_eq!(rt(&second) != rt(&third), rotates, "{client}");
        let reported = reported.lock().expect("lock");
        let kinds: Vec<UpdateKind> = reported.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(
            kinds,
            [
                UpdateKind::Fetched,
                UpdateKind::Refreshed,
                UpdateKind::Refreshed
            ],
            "one hook call per change, in order"
        );
        assert_eq!(reported[2].1.as_deref(), Some(rt(&third).as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_invalid_token_refreshes_once_and_replays_the_body() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "admin-cli").build().expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .await
        .expect("token");
    // An access token the server does not know, with a live refresh token: the resource answers
    // 401 invalid_token (revoking the access token would end the whole grant at oidc-provider).
    let refresh_token = token.refresh_token().expect("refresh token").clone();
    session.set_token(Token::bearer("unknown-to-the-server").with_refresh_token(refresh_token));
    server.reset_stats().expect("reset");
    let response = session
        .post(format!("{}/echo", server.resource_url()))
        .json(&serde_json::json!({"replayed": "body"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let echoed: serde_json::Value = response.json().await.expect("json");
    assert_eq!(echoed["body"], r#"{"replayed":"body"}"#);
    let stats = server.stats().expect("stats");
    assert_eq!(stats.token_requests("refresh_token"), 1);
    assert_eq!((stats.resource_unauthorized(), stats.resource_ok()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_across_expiry_cause_exactly_one_refresh() {
    const TASKS: usize = 1000;
    for client in ["admin-cli", "admin-cli-rotating"] {
        // 6 s tokens: the renewed token is due about 5 s after the refresh, well after the
        // last request of the window below, so one expiry is crossed, never two (a 4 s token
        // on a loaded machine let a slow task meet the next expiry too).
        let server = start_server(Duration::from_secs(6));
        let session = session(&server, client)
            .leeway(Duration::ZERO)
            .build()
            .expect("session");
        let first = session
            .fetch_token(Grant::password("admin", "admin"))
            .await
            .expect("token");
        let expires_at = first.expires_at().expect("expiry");
        wait_until(
            expires_at - Duration::from_millis(1500),
            Duration::from_secs(10),
        )
        .await;
        server.reset_stats().expect("reset");
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let failures = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..TASKS {
            let (session, barrier, failures, requests, url) = (
                session.clone(),
                Arc::clone(&barrier),
                Arc::clone(&failures),
                Arc::clone(&requests),
                server.resource_url(),
            );
            tasks.spawn(async move {
                barrier.wait().await;
                // Each task keeps requesting until it has crossed the expiry moment, and
                // starts no request later than 2 s after it.
                for _ in 0..10_000 {
                    let now = SystemTime::now();
                    if now > expires_at + Duration::from_secs(2) {
                        break;
                    }
                    let crossed = now > expires_at + Duration::from_millis(300);
                    requests.fetch_add(1, Ordering::Relaxed);
                    let outcome = match session.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            r.bytes().await.map(drop).map_err(|e| e.to_string())
                        }
                        Ok(r) => Err(format!("HTTP {} reached the caller", r.status())),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = outcome {
                        if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("{client}: first failure: {e}");
                        }
                    }
                    if crossed {
                        break;
                    }
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("task");
        }
        let stats = server.stats().expect("stats");
        eprintln!(
            "{client}: {TASKS} tasks, {} requests, {} refresh request(s), {} answered 401 (replayed)",
            requests.load(Ordering::Relaxed),
            stats.token_requests("refresh_token"),
            stats.resource_unauthorized()
        );
        assert_eq!(
            stats.token_requests("refresh_token"),
            1,
            "{client}: {stats:?}"
        );
        assert_eq!(failures.load(Ordering::Relaxed), 0, "{client}");
        let now = session.token().expect("token");
        assert_ne!(now.access_token(), first.access_token(), "{client}");
        assert!(
            !server.log().contains("already used"),
            "{client}: a refresh token was reused"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_and_revocation() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "basic-client")
        .client_secret_basic("basic-secret")
        .build()
        .expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .await
        .expect("token");
    let live = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .await
        .expect("introspection");
    assert!(live.active());
    assert_eq!(live.client_id(), Some("basic-client"));
    session
        .revoke_token(TokenRef::Access(token.access_token()))
        .await
        .expect("revoked");
    let dead = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .await
        .expect("introspection");
    assert!(!dead.active());
}
