//! oauth-ureq against the real test authorization server and the fault-injection stub.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, SystemTime};

use oauth_core::{Error as CoreError, ResponseError, TokenRef, UpdateKind};
use oauth_tests::fault::{Fault, FaultServer};
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::{run_seed_scenario, wait_until};
use oauth_tests::ureq_driver::UreqDriver;
use oauth_ureq::{Error, Grant, OAuth2Session, Token};

use crate::start_server;

fn session(server: &AuthServer, client_id: &str) -> oauth_ureq::SessionBuilder {
    OAuth2Session::builder(client_id)
        .token_endpoint(&server.token_endpoint())
        .revocation_endpoint(&server.revocation_endpoint())
        .introspection_endpoint(&server.introspection_endpoint())
}

fn wait_for_refresh(session: &OAuth2Session) {
    let at = session.refresh_at().expect("token has a refresh time");
    wait_until(at, Duration::from_secs(30)).expect("refresh time reached");
}

#[test]
fn seed_scenario() {
    let server = start_server(Duration::from_secs(4));
    // The seed's leeway of 60 s on a 4 s token: clamped to 2 s, so the token is used for 2 s.
    let session = session(&server, "admin-cli")
        .leeway(Duration::from_secs(60))
        .build()
        .expect("session");
    let mut driver = UreqDriver { session };
    run_seed_scenario(&server, &mut driver, &mut |line| {
        eprintln!("ureq seed: {line}")
    })
    .expect("seed scenario");
}

#[test]
fn wrong_password_is_invalid_grant() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "admin-cli").build().expect("session");
    let error = session
        .fetch_token(Grant::password("admin", "wrong"))
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
    assert!(error.requires_reauthentication());
    assert!(session.token().is_none());
}

#[test]
fn confidential_clients_basic_post_and_form_encoded_secret() {
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
            .unwrap_or_else(|e| panic!("{client}: {e}"));
        let response = session.get(server.resource_url()).call().expect("resource");
        assert_eq!(response.status(), 200, "{client}");
    }
    let wrong = session(&server, "basic-client")
        .client_secret_basic("nope")
        .build()
        .expect("session");
    let error = wrong.fetch_token(Grant::client_credentials()).unwrap_err();
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
    session
        .fetch_token(Grant::client_credentials())
        .expect("token");
    wait_for_refresh(&session);
    assert_eq!(
        session
            .get(server.resource_url())
            .call()
            .expect("resource")
            .status(),
        200
    );
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
        let first = session
            .fetch_token(Grant::password("admin", "admin"))
            .expect("token");
        let second = session.refresh_token().expect("refresh");
        let third = session
            .refresh_token()
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
        assert_eq!(reported.len(), 3, "one hook call per change");
        assert_eq!(reported[2].as_deref(), Some(rt(&third).as_str()));
    }
}

#[test]
fn unauthorized_invalid_token_refreshes_once_and_replays_the_body() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "admin-cli").build().expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    // An access token the server does not know, with a live refresh token: the resource answers
    // 401 invalid_token (revoking the access token would end the whole grant at oidc-provider).
    let refresh_token = token.refresh_token().expect("refresh token").clone();
    session.set_token(Token::bearer("unknown-to-the-server").with_refresh_token(refresh_token));
    server.reset_stats().expect("reset");
    let mut response = session
        .post(format!("{}/echo", server.resource_url()))
        .send_json(&serde_json::json!({"replayed": "body"}))
        .expect("request");
    assert_eq!(response.status(), 200);
    let echoed: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
    assert_eq!(echoed["body"], r#"{"replayed":"body"}"#);
    let stats = server.stats().expect("stats");
    assert_eq!(stats.token_requests("refresh_token"), 1);
    assert_eq!((stats.resource_unauthorized(), stats.resource_ok()), (1, 1));
}

#[test]
fn second_unauthorized_reaches_the_caller_without_a_loop() {
    let stub = FaultServer::start().expect("stub");
    stub.script([
        Fault::unauthorized_invalid_token(),
        Fault::token(),
        Fault::unauthorized_invalid_token(),
    ]);
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(Token::bearer("stale").with_refresh_token("rt"))
        .build()
        .expect("session");
    let response = session.get(stub.url("/resource")).call().expect("response");
    assert_eq!(response.status(), 401);
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/resource", "/token", "/resource"]);
}

#[test]
fn many_threads_across_expiry_cause_exactly_one_refresh() {
    for client in ["admin-cli", "admin-cli-rotating"] {
        let server = start_server(Duration::from_secs(3));
        let session = session(&server, client)
            .leeway(Duration::ZERO)
            .build()
            .expect("session");
        session
            .fetch_token(Grant::password("admin", "admin"))
            .expect("token");
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
        let threads = 64;
        let barrier = Arc::new(Barrier::new(threads));
        let failures = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (session, barrier, failures, url) = (
                    session.clone(),
                    Arc::clone(&barrier),
                    Arc::clone(&failures),
                    server.resource_url(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    // Each thread keeps requesting until it has crossed the expiry moment.
                    for _ in 0..10_000 {
                        let crossed = SystemTime::now() > expires_at + Duration::from_millis(200);
                        match session.get(&url).call() {
                            Ok(r) if r.status() == 200 => {}
                            outcome => {
                                if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                                    eprintln!("first failure: {:?}", outcome.map(|r| r.status()));
                                }
                            }
                        }
                        if crossed {
                            break;
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("thread");
        }
        let stats = server.stats().expect("stats");
        assert_eq!(
            stats.token_requests("refresh_token"),
            1,
            "{client}: {stats:?}"
        );
        assert_eq!(failures.load(Ordering::Relaxed), 0, "{client}");
        assert_eq!(stats.resource_unauthorized(), 0, "{client}");
    }
}

#[test]
fn introspection_and_revocation() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, "basic-client")
        .client_secret_basic("basic-secret")
        .build()
        .expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    let live = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .expect("introspection");
    assert!(live.active());
    assert_eq!(live.client_id(), Some("basic-client"));
    session
        .revoke_token(TokenRef::Access(token.access_token()))
        .expect("revoked");
    let dead = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .expect("introspection");
    assert!(!dead.active());
}

fn stub_session(stub: &FaultServer) -> OAuth2Session {
    OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .timeout(Duration::from_millis(500))
        .body_limit(64 * 1024)
        .token(Token::bearer("old-at").with_refresh_token("old-rt"))
        .build()
        .expect("session")
}

fn assert_token_kept(session: &OAuth2Session) {
    let token = session.token().expect("token");
    assert_eq!(token.access_token().secret(), "old-at");
    assert_eq!(token.refresh_token().map(|t| t.secret()), Some("old-rt"));
}

#[test]
fn faults_are_typed_errors_and_lose_nothing() {
    let stub = FaultServer::start().expect("stub");
    let session = stub_session(&stub);

    stub.push(Fault::html_500());
    let error = session.refresh_token().unwrap_err();
    assert!(
        matches!(
            error,
            Error::Core(CoreError::Response(ResponseError::Unexpected { .. }))
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 500"),
        "{error}"
    );
    assert_token_kept(&session);

    stub.push(Fault::json_error_with_200());
    let error = session.refresh_token().unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_grant")
    );
    assert_token_kept(&session);

    stub.push(Fault::drop_mid_response());
    assert!(matches!(
        session.refresh_token().unwrap_err(),
        Error::Transport(_)
    ));
    assert_token_kept(&session);

    stub.push(Fault::slow(Duration::from_secs(2), Fault::token()));
    let error = session.refresh_token().unwrap_err();
    assert!(
        matches!(&error, Error::Transport(ureq::Error::Timeout(_))),
        "{error}"
    );
    assert_token_kept(&session);

    stub.push(Fault::oversized(1024 * 1024));
    let error = session.refresh_token().unwrap_err();
    assert!(
        matches!(&error, Error::Transport(ureq::Error::BodyExceedsLimit(_))),
        "{error}"
    );
    assert_token_kept(&session);

    // Only explicit calls were made: no retry loop.
    assert_eq!(stub.requests().len(), 5);

    stub.push(Fault::token_with_string_expires_in());
    let token = session
        .refresh_token()
        .expect("string expires_in is accepted");
    assert!(token.expires_at().is_some());
    stub.push(Fault::form_encoded_token());
    session
        .refresh_token()
        .expect("form-encoded token response is accepted");
}

#[test]
fn token_endpoint_redirects_are_not_followed() {
    let stub = FaultServer::start().expect("stub");
    let session = stub_session(&stub);
    stub.push(Fault::redirect(307, &stub.url("/elsewhere")));
    let error = session.refresh_token().unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 307"),
        "{error}"
    );
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn bearer_never_follows_a_redirect_to_another_origin() {
    let origin = FaultServer::start().expect("stub");
    let other = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    origin.push(Fault::redirect(302, &other.url("/landing")));
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("secret-at"))
        .build()
        .expect("session");
    let response = session.get(origin.url("/start")).call().expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(
        origin.requests()[0].header("authorization"),
        Some("Bearer secret-at")
    );
    let landed = other.requests();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].header("authorization"), None);
}

#[test]
fn plain_http_off_loopback_is_refused_and_secrets_stay_hidden() {
    let session = OAuth2Session::builder("c")
        .token_endpoint("http://auth.example.com/token")
        .client_secret_post("hunter2")
        .token(Token::bearer("secret-at").with_refresh_token("secret-rt"))
        .build()
        .expect("session");
    let error = session
        .fetch_token(Grant::password("admin", "pa55word"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "refusing plain http to non-loopback host auth.example.com: use https or allow insecure http explicitly"
    );
    let error = session.get("http://api.example.com/x").call().unwrap_err();
    assert!(
        error.to_string().starts_with("refusing plain http"),
        "{error}"
    );
    let shown = format!("{session:?} {error:?}");
    for secret in ["hunter2", "secret-at", "secret-rt", "pa55word"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[test]
fn sequential_requests_reuse_one_connection() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "1")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    for _ in 0..10 {
        let mut response = session.get(stub.url("/resource")).call().expect("response");
        assert_eq!(response.body_mut().read_to_string().expect("body"), "1");
    }
    assert_eq!(stub.connections(), 1);
    let first = &stub.requests()[0];
    assert_eq!(
        first.header("content-length"),
        None,
        "a GET carries no body framing"
    );
    assert_eq!(
        first.header("transfer-encoding"),
        None,
        "a GET carries no body framing"
    );
}

#[test]
fn a_failed_refresh_inside_the_leeway_serves_the_still_valid_token() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let now = SystemTime::now();
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .leeway(Duration::from_secs(30))
        .token(
            Token::bearer("still-valid")
                .with_refresh_token("rt")
                .with_lifetime(now - Duration::from_secs(50), now + Duration::from_secs(10)),
        )
        .build()
        .expect("session");
    stub.push(Fault::html_500());
    for _ in 0..2 {
        let response = session.get(stub.url("/resource")).call().expect("served");
        assert_eq!(response.status(), 200);
    }
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/token", "/resource", "/resource"],
        "one failed refresh, then backoff"
    );
    assert!(
        stub.requests()[1..]
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer still-valid"))
    );
}

#[test]
fn a_users_agent_never_carries_the_bearer_through_a_redirect() {
    let origin = FaultServer::start().expect("stub");
    let other_port =
        FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    origin.push(Fault::redirect(302, &other_port.url("/landing")));
    // SameHost would forward the header to another port of the same host.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .build()
        .into();
    let session = OAuth2Session::builder("c")
        .agent(agent)
        .token(Token::bearer("secret-at"))
        .build()
        .expect("session");
    assert_eq!(
        session
            .get(origin.url("/start"))
            .call()
            .expect("response")
            .status(),
        200
    );
    assert_eq!(other_port.requests()[0].header("authorization"), None);
}

#[test]
fn a_users_agent_without_timeout_still_times_out_on_the_token_endpoint() {
    let stub = FaultServer::start().expect("stub");
    stub.push(Fault::slow(Duration::from_secs(3), Fault::token()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let session = OAuth2Session::builder("c")
        .agent(agent)
        .timeout(Duration::from_millis(300))
        .token_endpoint(&stub.url("/token"))
        .token(Token::bearer("at").with_refresh_token("rt"))
        .build()
        .expect("session");
    let error = session.refresh_token().unwrap_err();
    assert!(
        matches!(error, Error::Transport(ureq::Error::Timeout(_))),
        "{error}"
    );
}

#[test]
fn set_token_forgets_the_last_logins_claims() {
    let server = start_server(Duration::from_secs(30));
    let redirect_uri = "http://127.0.0.1:53682/callback";
    let session = OAuth2Session::from_issuer(server.issuer(), "admin-cli")
        .expect("discovery")
        .redirect_uri(redirect_uri)
        .build()
        .expect("session");
    let (url, pending) = session
        .authorization_url(&oauth_ureq::AuthorizationRequest::new().scope("openid"))
        .expect("url");
    let callback =
        oauth_tests::browser::follow_to_callback(url.as_str(), redirect_uri).expect("login");
    session.exchange_code(pending, &callback).expect("exchange");
    assert!(session.id_token_claims().is_some());
    session.set_token(Token::bearer("someone-else"));
    assert!(session.id_token_claims().is_none());
}
