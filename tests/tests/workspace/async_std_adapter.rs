//! oauth-async-std against the real test authorization server: the seed scenario (under
//! async-std and under smol), confidential clients, re-fetch and rotation, update hooks, a
//! `401` replay, 256 tasks across the expiry moment, introspection and revocation. The
//! fault-injection stub's tests, and those that need no server, are in `stub`.
//!
//! Every test drives its futures with `async_std::task::block_on` (one scenario with
//! `smol::block_on`); no tokio runtime is started anywhere in them.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_std::task::block_on;
use oauth_async_std::{DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, Error, Grant, OAuth2Session, Token};
use oauth_core::{TokenRef, UpdateKind};
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::{DriverError, SeedDriver, next_pause, run_seed_scenario, wait_until};

use crate::start_server;

mod stub;

/// Which executor drives the seed driver's futures.
#[derive(Debug, Clone, Copy)]
enum Runtime {
    AsyncStd,
    Smol,
}

impl Runtime {
    fn block_on<F: Future>(self, future: F) -> F::Output {
        match self {
            Self::AsyncStd => async_std::task::block_on(future),
            Self::Smol => smol::block_on(future),
        }
    }
}

struct AsyncStdDriver {
    session: OAuth2Session,
    runtime: Runtime,
}

fn driver_error(e: Error) -> DriverError {
    DriverError {
        display: e.to_string(),
        oauth_error: e.oauth_error().map(|o| o.error().to_owned()),
    }
}

/// An authenticated GET whose body is read to the end (so its connection goes back to the
/// pool); the status.
async fn get_status(session: &OAuth2Session, url: &str) -> Result<u16, Error> {
    let response = session.get(url).call().await?;
    let status = response.status().as_u16();
    response.into_body().read_to_vec().await?;
    Ok(status)
}

impl SeedDriver for AsyncStdDriver {
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
            .block_on(get_status(&self.session, url))
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

fn session(server: &AuthServer, client_id: &str) -> oauth_async_std::SessionBuilder {
    OAuth2Session::builder(client_id)
        .token_endpoint(&server.token_endpoint())
        .revocation_endpoint(&server.revocation_endpoint())
        .introspection_endpoint(&server.introspection_endpoint())
}

/// Polls the wall clock (asynchronously, bounded) until the session's token is due.
async fn wait_for_refresh(session: &OAuth2Session) {
    let at = session.refresh_at().expect("token has a refresh time");
    let started = Instant::now();
    while let Some(pause) =
        next_pause(at, started, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"))
    {
        async_std::task::sleep(pause).await;
    }
}

fn run_seed(runtime: Runtime) {
    let server = start_server(Duration::from_secs(4));
    // The seed's leeway of 60 s on a 4 s token: clamped to 2 s, so the token is used for 2 s.
    let session = session(&server, "admin-cli")
        .leeway(Duration::from_secs(60))
        .build()
        .expect("session");
    let mut driver = AsyncStdDriver { session, runtime };
    run_seed_scenario(&server, &mut driver, &mut |line| {
        eprintln!("async-std adapter seed ({runtime:?}): {line}")
    })
    .expect("seed scenario");
}

#[test]
fn seed_scenario() {
    run_seed(Runtime::AsyncStd);
}

#[test]
fn seed_scenario_under_smol_block_on() {
    run_seed(Runtime::Smol);
}

#[test]
fn wrong_password_is_invalid_grant() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "admin-cli").build().expect("session");
    let error = block_on(session.fetch_token(Grant::password("admin", "wrong"))).unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
    assert!(error.requires_reauthentication());
    assert!(session.token().is_none());
}

#[test]
fn confidential_clients_basic_post_and_form_encoded_secret() {
    let server = start_server(Duration::from_secs(30));
    block_on(async {
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
            let status = get_status(&session, &server.resource_url())
                .await
                .expect("resource");
            assert_eq!(status, 200, "{client}");
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
    });
}

#[test]
fn client_credentials_token_is_fetched_again_when_due() {
    let server = start_server(Duration::from_secs(2));
    let updates = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&updates);
    let session = session(&server, "cc-client")
        .client_secret_basic("cc-secret")
        .leeway(Duration::from_secs(1))
        .on_token_update(move |u| seen.lock().expect("lock").push(u.kind()))
        .build()
        .expect("session");
    block_on(async {
        session
            .fetch_token(Grant::client_credentials())
            .await
            .expect("token");
        wait_for_refresh(&session).await;
        let status = get_status(&session, &server.resource_url())
            .await
            .expect("resource");
        assert_eq!(status, 200);
    });
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

#[test]
fn rotation_on_keeps_and_reports_the_new_refresh_token_and_off_keeps_the_old() {
    let server = start_server(Duration::from_secs(30));
    for (client, rotates) in [("admin-cli-rotating", true), ("admin-cli", false)] {
        let reported = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reported);
        let session = session(&server, client)
            .on_token_update(move |u| {
                let rt = u.new_token().refresh_token().map(|t| t.secret().to_owned());
                seen.lock().expect("lock").push(rt);
            })
            .build()
            .expect("session");
        let (first, second, third) = block_on(async {
            let first = session
                .fetch_token(Grant::password("admin", "admin"))
                .await
                .expect("token");
            let second = session.refresh_token().await.expect("refresh");
            let third = session
                .refresh_token()
                .await
                .expect("refresh with the kept refresh token");
            (first, second, third)
        });
        let rt = |t: &Token| {
            t.refresh_token()
                .expect("refresh token")
                .secret()
                .to_owned()
        };
        assert_eq!(rt(&first) != rt(&second), rotates, "{client}");
        assert_eq!(rt(&second) != rt(&third), rotates, "{client}");
        let reported = reported.lock().expect("lock");
        assert_eq!(reported.len(), 3, "one hook call per change");
        assert_eq!(reported[2].as_deref(), Some(rt(&third).as_str()));
    }
}

#[test]
fn async_update_hook_is_awaited_once_per_change_in_order() {
    let server = start_server(Duration::from_secs(30));
    let persisted = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&persisted);
    let session = session(&server, "admin-cli-rotating")
        .on_token_update_async(move |update| {
            let store = Arc::clone(&store);
            async move {
                // A slow store: the next change must still wait for this one.
                async_std::task::yield_now().await;
                let access = update.new_token().access_token().secret().to_owned();
                store.lock().expect("lock").push((update.kind(), access));
            }
        })
        .build()
        .expect("session");
    let tokens = block_on(async {
        let mut tokens = vec![
            session
                .fetch_token(Grant::password("admin", "admin"))
                .await
                .expect("token"),
        ];
        for _ in 0..2 {
            tokens.push(session.refresh_token().await.expect("refresh"));
        }
        tokens
    });
    let persisted = persisted.lock().expect("lock").clone();
    let expected: Vec<_> = [
        UpdateKind::Fetched,
        UpdateKind::Refreshed,
        UpdateKind::Refreshed,
    ]
    .into_iter()
    .zip(tokens.iter().map(|t| t.access_token().secret().to_owned()))
    .collect();
    assert_eq!(
        persisted, expected,
        "the hook ran before each call returned"
    );
}

#[test]
fn unauthorized_invalid_token_refreshes_once_and_replays_the_body() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "admin-cli").build().expect("session");
    block_on(async {
        let token = session
            .fetch_token(Grant::password("admin", "admin"))
            .await
            .expect("token");
        // An access token the server does not know, with a live refresh token: the resource
        // answers 401 invalid_token.
        let refresh_token = token.refresh_token().expect("refresh token").clone();
        session.set_token(Token::bearer("unknown-to-the-server").with_refresh_token(refresh_token));
        server.reset_stats().expect("reset");
        let response = session
            .post(format!("{}/echo", server.resource_url()))
            .send_json(&serde_json::json!({"replayed": "body"}))
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let echoed: serde_json::Value = response.into_body().read_json().await.expect("json");
        assert_eq!(echoed["body"], r#"{"replayed":"body"}"#);
    });
    let stats = server.stats().expect("stats");
    assert_eq!(stats.token_requests("refresh_token"), 1);
    assert_eq!((stats.resource_unauthorized(), stats.resource_ok()), (1, 1));
}

#[test]
fn many_tasks_across_expiry_cause_one_refresh_and_stay_within_the_pool_bound() {
    const TASKS: usize = 256;
    for client in ["admin-cli", "admin-cli-rotating"] {
        let server = start_server(Duration::from_secs(3));
        let session = session(&server, client)
            .leeway(Duration::ZERO)
            .build()
            .expect("session");
        block_on(session.fetch_token(Grant::password("admin", "admin"))).expect("token");
        let expires_at = session
            .token()
            .and_then(|t| t.expires_at())
            .expect("expiry");
        server.reset_stats().expect("reset");
        wait_until(
            expires_at - Duration::from_millis(300),
            Duration::from_secs(10),
        )
        .expect("near expiry");
        let failures = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (session, failures, requests, url) = (
                        session.clone(),
                        Arc::clone(&failures),
                        Arc::clone(&requests),
                        server.resource_url(),
                    );
                    async_std::task::spawn(async move {
                        // Each task keeps requesting until it has crossed the expiry moment.
                        for _ in 0..10_000 {
                            let crossed =
                                SystemTime::now() > expires_at + Duration::from_millis(200);
                            requests.fetch_add(1, Ordering::Relaxed);
                            let outcome = get_status(&session, &url).await;
                            if !matches!(outcome, Ok(200))
                                && failures.fetch_add(1, Ordering::Relaxed) == 0
                            {
                                eprintln!("first failure: {outcome:?}");
                            }
                            if crossed {
                                break;
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        });
        let stats = server.stats().expect("stats");
        let opened = session.http_client().connections_opened();
        eprintln!(
            "{client}: {TASKS} tasks, {} requests, {opened} connections opened, {stats:?}",
            requests.load(Ordering::Relaxed)
        );
        assert_eq!(
            stats.token_requests("refresh_token"),
            1,
            "{client}: {stats:?}"
        );
        assert_eq!(failures.load(Ordering::Relaxed), 0, "{client}");
        assert_eq!(stats.resource_unauthorized(), 0, "{client}");
        assert!(
            opened <= DEFAULT_MAX_CONNECTIONS_PER_ORIGIN as u64,
            "{client}: {opened} connections opened for a bound of {DEFAULT_MAX_CONNECTIONS_PER_ORIGIN}"
        );
    }
}

#[test]
fn introspection_and_revocation() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "basic-client")
        .client_secret_basic("basic-secret")
        .build()
        .expect("session");
    block_on(async {
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
    });
}
