//! oauth-reqwest against the fault-injection stub: faults, redirects, cancellation, a runtime
//! shutting down under a refresh, user clients, the middleware, and secrets in formatted output.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use oauth_core::{BearerPlacement, Error as CoreError, ResponseError, UsageError};
use oauth_reqwest::{Error, Grant, OAuth2Session, Token, TokenRef};
use oauth_tests::fault::{Fault, FaultServer};

use super::{eventually, expired_token, runtime, token_requests};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_unauthorized_reaches_the_caller_without_a_loop() {
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
    let response = session
        .get(stub.url("/resource"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 401);
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/resource", "/token", "/resource"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_share_one_failed_refresh_and_the_old_token_stays() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::slow(Duration::from_millis(300), Fault::html_500()));
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (session, url) = (session.clone(), api.url("/resource"));
        tasks.spawn(async move { session.get(url).send().await.map(|r| r.status()) });
    }
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        errors.push(
            joined
                .expect("task")
                .expect_err("the refresh failed")
                .to_string(),
        );
    }
    assert_eq!(token_requests(&auth), 1, "one refresh for all 50 callers");
    assert!(api.requests().is_empty());
    for error in &errors {
        assert!(
            error.starts_with("unexpected response: HTTP 500"),
            "every caller shares the one error: {error}"
        );
    }
    assert_eq!(
        session.token().expect("token").access_token().secret(),
        "old-at"
    );
    // The next request tries again.
    auth.push(Fault::token());
    let response = session.get(api.url("/resource")).send().await.expect("ok");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_caller_does_not_cancel_the_refresh_others_wait_for() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::slow(Duration::from_millis(500), Fault::token()));
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let get = |session: &OAuth2Session| {
        let (session, url) = (session.clone(), api.url("/resource"));
        tokio::spawn(async move { session.get(url).send().await.map(|r| r.status()) })
    };
    let starter = get(&session);
    eventually("the refresh is in flight", || token_requests(&auth) == 1).await;
    let waiter = get(&session);
    starter.abort();
    assert!(starter.await.expect_err("aborted").is_cancelled());
    let status = waiter.await.expect("task").expect("the waiter's request");
    assert_eq!(status, 200);
    assert_eq!(token_requests(&auth), 1);
    assert_eq!(
        session.token().expect("token").access_token().secret(),
        "stub-at-1"
    );
    assert_eq!(
        api.requests()[0].header("authorization"),
        Some("Bearer stub-at-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_whose_caller_is_dropped_mid_flight_is_still_applied() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::slow(Duration::from_millis(300), Fault::token()));
    let updates = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&updates);
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .on_token_update(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .expect("session");
    let caller = tokio::spawn({
        let session = session.clone();
        async move { session.fetch_token(Grant::password("admin", "admin")).await }
    });
    eventually("the token request is sent", || token_requests(&auth) == 1).await;
    caller.abort();
    assert!(caller.await.expect_err("aborted").is_cancelled());
    eventually("the answer is applied", || session.token().is_some()).await;
    assert_eq!(
        session.token().expect("token").access_token().secret(),
        "stub-at-1"
    );
    assert_eq!(updates.load(Ordering::Relaxed), 1);
    assert_eq!(token_requests(&auth), 1);
}

#[test]
fn a_refresh_dropped_with_its_runtime_is_reported_failed_and_the_next_caller_refreshes() {
    let auth = FaultServer::start().expect("stub");
    auth.script([
        Fault::slow(Duration::from_secs(2), Fault::token()),
        Fault::token(),
    ]);
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let first = runtime();
    first.spawn({
        let (session, url) = (session.clone(), api.url("/resource"));
        async move { session.get(url).send().await.map(drop) }
    });
    first.block_on(eventually("the refresh is in flight", || {
        token_requests(&auth) == 1
    }));
    drop(first);

    let started = Instant::now();
    let second = runtime();
    let status = second
        .block_on(async { session.get(api.url("/resource")).send().await })
        .expect("response")
        .status();
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the next caller did not wait for the lost exchange"
    );
    assert_eq!(token_requests(&auth), 2);
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

/// A chunked `200` of `bytes` bytes with no `Content-Length`: only reading it counts it.
fn chunked_body(bytes: usize) -> Fault {
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let piece = 16 * 1024;
    for _ in 0..bytes / piece {
        raw.extend_from_slice(format!("{piece:x}\r\n").as_bytes());
        raw.extend(std::iter::repeat_n(b'x', piece));
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    Fault::raw(raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_typed_errors_and_lose_nothing() {
    let stub = FaultServer::start().expect("stub");
    let session = stub_session(&stub);

    stub.push(Fault::html_500());
    let error = session.refresh_token().await.unwrap_err();
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
    let error = session.refresh_token().await.unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_grant")
    );
    assert_token_kept(&session);

    stub.push(Fault::drop_mid_response());
    let error = session.refresh_token().await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error}");
    assert_token_kept(&session);

    stub.push(Fault::slow(Duration::from_secs(2), Fault::token()));
    let error = session.refresh_token().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_token_kept(&session);

    stub.push(Fault::oversized(1024 * 1024));
    let error = session.refresh_token().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 65536 }),
        "{error}"
    );
    assert_token_kept(&session);

    stub.push(chunked_body(128 * 1024));
    let error = session.refresh_token().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 65536 }),
        "{error}"
    );
    assert_token_kept(&session);

    // Only explicit calls were made: no retry loop.
    assert_eq!(stub.requests().len(), 6);

    stub.push(Fault::token_with_string_expires_in());
    let token = session
        .refresh_token()
        .await
        .expect("string expires_in is accepted");
    assert!(token.expires_at().is_some());
    stub.push(Fault::form_encoded_token());
    session
        .refresh_token()
        .await
        .expect("form-encoded token response is accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_redirects_are_not_followed() {
    let stub = FaultServer::start().expect("stub");
    let session = stub_session(&stub);
    stub.push(Fault::redirect(307, &stub.url("/elsewhere")));
    let error = session.refresh_token().await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 307"),
        "{error}"
    );
    assert_eq!(stub.requests().len(), 1);
    assert_token_kept(&session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_client_that_follows_redirects_is_caught() {
    let stub = FaultServer::start().expect("stub");
    stub.script([
        Fault::redirect(307, &stub.url("/elsewhere")),
        Fault::token(),
    ]);
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .endpoint_client({
            oauth_reqwest::install_crypto_provider();
            reqwest::Client::new()
        })
        .token(Token::bearer("old-at").with_refresh_token("old-rt"))
        .build()
        .expect("session");
    let error = session.refresh_token().await.unwrap_err();
    assert!(matches!(error, Error::EndpointRedirected), "{error}");
    assert_token_kept(&session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_never_follows_a_redirect_to_another_origin() {
    let origin = FaultServer::start().expect("stub");
    let other = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    // The session's own client, then a user's client with reqwest's default policy.
    for client in [
        None,
        Some({
            oauth_reqwest::install_crypto_provider();
            reqwest::Client::new()
        }),
    ] {
        origin.push(Fault::redirect(302, &other.url("/landing")));
        let builder = OAuth2Session::builder("c").token(Token::bearer("secret-at"));
        let session = match client {
            Some(client) => builder.client(client),
            None => builder,
        }
        .build()
        .expect("session");
        let response = session
            .get(origin.url("/start"))
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
    }
    for request in origin.requests() {
        assert_eq!(request.header("authorization"), Some("Bearer secret-at"));
    }
    let landed = other.requests();
    assert_eq!(landed.len(), 2);
    for request in &landed {
        assert_eq!(request.header("authorization"), None);
    }
    // The session's own client sends no Referer (which would carry a query-placed token);
    // a user's client keeps reqwest's default.
    assert_eq!(landed[0].header("referer"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_off_loopback_is_refused_and_secrets_stay_hidden() {
    let builder = OAuth2Session::builder("c")
        .token_endpoint("http://auth.example.com/token")
        .client_secret_post("hunter2")
        .token(Token::bearer("secret-at").with_refresh_token("secret-rt"));
    let builder_shown = format!("{builder:?}");
    let session = builder.build().expect("session");
    let error = session
        .fetch_token(Grant::password("admin", "pa55word"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "refusing plain http to non-loopback host auth.example.com: use https or allow insecure http explicitly"
    );
    let request = session.get("http://api.example.com/x");
    let request_shown = format!("{request:?}");
    let error = request.send().await.unwrap_err();
    assert!(
        error.to_string().starts_with("refusing plain http"),
        "{error}"
    );
    let shown = format!("{session:?} {error:?} {error} {builder_shown} {request_shown}");
    for secret in ["hunter2", "secret-at", "secret-rt", "pa55word"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_client_sends_resource_requests_with_its_own_settings() {
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-tenant", "blue".parse().expect("header"));
    let client = {
        oauth_reqwest::install_crypto_provider();
        reqwest::Client::builder()
    }
    .default_headers(headers)
    .build()
    .expect("client");
    let session = OAuth2Session::builder("c")
        .client(client)
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    session
        .put(api.url("/item"))
        .query(&[("page", "2")])
        .header("x-request", "1")
        .form(&[("name", "value")])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("response");
    let seen = &api.requests()[0];
    assert_eq!(seen.path, "/item?page=2");
    assert_eq!(seen.header("x-tenant"), Some("blue"));
    assert_eq!(seen.header("x-request"), Some("1"));
    assert_eq!(seen.header("authorization"), Some("Bearer at"));
    assert_eq!(seen.body_text(), "name=value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_placement_signs_the_url_and_transport_errors_hide_it() {
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .bearer_placement(BearerPlacement::Query)
        .token(Token::bearer("query-secret"))
        .build()
        .expect("session");
    session
        .get(api.url("/item?page=2"))
        .send()
        .await
        .expect("response");
    let seen = &api.requests()[0];
    assert_eq!(seen.path, "/item?page=2&access_token=query-secret");
    assert_eq!(seen.header("authorization"), None);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let error = session
        .get(format!("http://{closed}/item"))
        .send()
        .await
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("query-secret"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_signs_refreshes_and_replays_like_the_session() {
    let stub = FaultServer::start().expect("stub");
    stub.script([
        Fault::unauthorized_invalid_token(),
        Fault::token(),
        Fault::respond(200, "text/plain", "ok"),
    ]);
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(Token::bearer("stale").with_refresh_token("rt"))
        .build()
        .expect("session");
    let client = reqwest_middleware::ClientBuilder::new({
        oauth_reqwest::install_crypto_provider();
        reqwest::Client::new()
    })
    .with(oauth_reqwest::OAuth2Middleware::new(session.clone()))
    .build();
    let response = client
        .post(stub.url("/resource"))
        .body("payload")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    let requests = stub.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/resource", "/token", "/resource"]);
    assert_eq!(
        requests[2].header("authorization"),
        Some("Bearer stub-at-1")
    );
    assert_eq!(requests[2].body_text(), "payload");

    let no_token = OAuth2Session::builder("c").build().expect("session");
    let client = reqwest_middleware::ClientBuilder::new({
        oauth_reqwest::install_crypto_provider();
        reqwest::Client::new()
    })
    .with(oauth_reqwest::OAuth2Middleware::new(no_token))
    .build();
    let error = client.get(stub.url("/x")).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(inner) = error else {
        panic!("expected a middleware error, got {error}");
    };
    assert!(matches!(
        inner.downcast_ref::<Error>(),
        Some(Error::Core(CoreError::Usage(_)))
    ));
}

#[test]
fn session_is_clone_send_sync_and_its_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn shared<T: Clone + Send + Sync + 'static>(_: &T) {}
    let session = OAuth2Session::builder("c").build().expect("session");
    shared(&session);
    send(&session.fetch_token(Grant::client_credentials()));
    send(&session.refresh_token());
    send(&session.revoke_token(TokenRef::Access(&"at".into())));
    send(&session.introspect_token(TokenRef::Access(&"at".into())));
    send(&session.get("http://127.0.0.1/").send());
}

/// A token inside its leeway (60 s lifetime, 10 s left, leeway 30 s): due for renewal, still
/// valid.
fn due_token() -> Token {
    let now = SystemTime::now();
    Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(now - Duration::from_secs(50), now + Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_inside_the_leeway_serves_the_old_token_and_backs_off() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::html_500());
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .leeway(Duration::from_secs(30))
        .token(due_token())
        .build()
        .expect("session");
    for _ in 0..2 {
        let response = session
            .get(api.url("/resource"))
            .send()
            .await
            .expect("the old token is still valid: no outage");
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        auth.requests().len(),
        1,
        "one failed refresh, then a backoff"
    );
    let served = api.requests();
    assert_eq!(served.len(), 2);
    for request in &served {
        assert_eq!(request.header("authorization"), Some("Bearer old-at"));
    }
    assert_token_kept(&session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_of_an_expired_token_is_the_requests_error() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::html_500());
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let error = session
        .get(api.url("/resource"))
        .send()
        .await
        .expect_err("nothing valid to send");
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 500"),
        "{error}"
    );
    assert_eq!(token_requests(&auth), 1, "no second renewal in one request");
    assert!(api.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expired_on_arrival_stop_renewal_with_renewal_loop() {
    // A one-second token answered after more than a second: expired when it arrives.
    let dead = || {
        Fault::slow(
            Duration::from_millis(1100),
            Fault::respond(
                200,
                "application/json",
                r#"{"access_token":"dead-at","token_type":"Bearer","expires_in":1,"refresh_token":"rt"}"#,
            ),
        )
    };
    let auth = FaultServer::with_default(dead()).expect("stub");
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let error = session
        .get(api.url("/resource"))
        .send()
        .await
        .expect_err("every renewed token is expired");
    assert!(
        matches!(
            error,
            Error::Core(CoreError::Usage(UsageError::RenewalLoop))
        ),
        "{error}"
    );
    assert_eq!(
        token_requests(&auth),
        oauth_core::session::MAX_RENEWALS_PER_REQUEST as usize
    );
    assert!(api.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_refresh_during_an_automatic_one_is_refused_and_sends_nothing() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::slow(Duration::from_millis(300), Fault::token()));
    let api = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token_endpoint(&auth.url("/token"))
        .token(expired_token())
        .build()
        .expect("session");
    let request = tokio::spawn({
        let (session, url) = (session.clone(), api.url("/resource"));
        async move { session.get(url).send().await.map(|r| r.status()) }
    });
    eventually("the refresh is in flight", || token_requests(&auth) == 1).await;
    let error = session.refresh_token().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Core(CoreError::Usage(UsageError::RefreshInFlight))
        ),
        "{error}"
    );
    assert_eq!(request.await.expect("task").expect("request"), 200);
    assert_eq!(token_requests(&auth), 1);
    assert_eq!(
        session.token().expect("token").access_token().secret(),
        "stub-at-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_or_query_token_never_follows_a_redirect_to_another_origin() {
    let origin = FaultServer::start().expect("stub");
    let other = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    for placement in [BearerPlacement::FormBody, BearerPlacement::Query] {
        let session = OAuth2Session::builder("c")
            .bearer_placement(placement)
            .token(Token::bearer("secret-at"))
            .build()
            .expect("session");
        for status in [307, 308] {
            origin.push(Fault::redirect(status, &other.url("/landing")));
            let response = session
                .post(origin.url("/start"))
                .form(&[("name", "value")])
                .send()
                .await
                .expect("response");
            assert_eq!(response.status(), status, "{placement:?}");
        }
        // Within the origin, redirects are still followed.
        origin.script([
            Fault::redirect(307, &origin.url("/moved")),
            Fault::respond(200, "text/plain", "ok"),
        ]);
        let response = session
            .post(origin.url("/start"))
            .form(&[("name", "value")])
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200, "{placement:?}");
    }
    assert!(
        other.requests().is_empty(),
        "the other origin received the token"
    );
    let sent = origin.requests();
    assert_eq!(sent.len(), 8);
    assert_eq!(
        sent[0].form_value("access_token").as_deref(),
        Some("secret-at")
    );
    assert_eq!(sent[3].path, "/moved");
    assert_eq!(
        sent[3].form_value("access_token").as_deref(),
        Some("secret-at")
    );
    assert!(
        sent[4].path.contains("access_token=secret-at"),
        "{}",
        sent[4].path
    );
}
