//! Against the fault-injection stub (and no server at all): faults at the token endpoint,
//! redirects, plain http, secrets in formatted output, bearer placement, failed and
//! looping renewals, refreshes that meet other callers.

use std::time::{Duration, Instant, SystemTime};

use oauth_core::session::MAX_RENEWALS_PER_REQUEST;
use oauth_core::{BearerPlacement, Error as CoreError, Grant, ResponseError, Token, UsageError};
use oauth_tests::fault::{Fault, FaultServer};

use super::{
    Action, Adapter, AdapterError, BufferedRequests, BuilderDebug, Caller, Options, access_token,
    assert_token_kept, due_token, eventually, expired_token, ok_stub, paths, token_requests,
};

/// A session whose token endpoint is `stub`'s, starting with `token`.
fn stub_session<A: Adapter>(stub: &FaultServer, token: Token) -> A {
    A::build(Options::new("c").stub(stub).token(token)).expect("session")
}

/// A session with `old-at`/`old-rt` (no expiry), a 500 ms timeout and a 64 KiB body limit.
fn limited_session<A: Adapter>(stub: &FaultServer) -> A {
    let options = Options::new("c")
        .stub(stub)
        .timeout(Duration::from_millis(500))
        .body_limit(64 * 1024)
        .token(Token::bearer("old-at").with_refresh_token("old-rt"));
    A::build(options).expect("session")
}

/// `error` is the core's unexpected response to an HTML `500`.
fn assert_unexpected_500(error: &impl AdapterError) {
    assert!(
        matches!(
            error.core_error(),
            Some(CoreError::Response(ResponseError::Unexpected { .. }))
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 500"),
        "{error}"
    );
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

const SECRETS: [&str; 4] = ["hunter2", "secret-at", "secret-rt", "pa55word"];

/// Plain http to a host that is not loopback, a `client_secret_post` secret, a token.
fn insecure_options() -> Options {
    Options::new("c")
        .token_endpoint("http://auth.example.com/token")
        .secret_post("hunter2")
        .token(Token::bearer("secret-at").with_refresh_token("secret-rt"))
}

pub(crate) fn second_unauthorized_reaches_the_caller_without_a_loop<A: Adapter>() {
    let stub = FaultServer::start().expect("stub");
    stub.script([
        Fault::unauthorized_invalid_token(),
        Fault::token(),
        Fault::unauthorized_invalid_token(),
    ]);
    let session: A = stub_session(&stub, Token::bearer("stale").with_refresh_token("rt"));
    let reply = session.get(&stub.url("/resource")).expect("response");
    assert_eq!(reply.status, 401);
    assert_eq!(paths(&stub), ["/resource", "/token", "/resource"]);
}

pub(crate) fn faults_are_typed_errors_and_lose_nothing<A: Adapter>() {
    let stub = FaultServer::start().expect("stub");
    let session: A = limited_session(&stub);

    stub.push(Fault::html_500());
    let error = session.refresh_token().unwrap_err();
    assert_unexpected_500(&error);
    assert_token_kept(&session);

    stub.push(Fault::json_error_with_200());
    let error = session.refresh_token().unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_grant")
    );
    assert_token_kept(&session);

    stub.push(Fault::drop_mid_response());
    let error = session.refresh_token().unwrap_err();
    assert!(
        error.is_transport() && A::is_broken_exchange(&error),
        "{error:?}"
    );
    assert_token_kept(&session);

    stub.push(Fault::slow(Duration::from_secs(2), Fault::token()));
    let error = session.refresh_token().unwrap_err();
    assert!(error.is_transport() && A::is_timeout(&error), "{error:?}");
    assert_token_kept(&session);

    for (fault, what) in [
        (Fault::oversized(1024 * 1024), "a declared length"),
        (chunked_body(128 * 1024), "a chunked body"),
    ] {
        stub.push(fault);
        let error = session.refresh_token().unwrap_err();
        assert_eq!(
            A::body_limit_exceeded(&error),
            Some(65_536),
            "{what}: {error:?}"
        );
        assert_token_kept(&session);
    }

    // Only explicit calls were made: no retry loop.
    assert_eq!(stub.requests().len(), 6);

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

pub(crate) fn token_endpoint_redirects_are_not_followed<A: Adapter>() {
    let stub = FaultServer::start().expect("stub");
    let session: A = limited_session(&stub);
    stub.push(Fault::redirect(307, &stub.url("/elsewhere")));
    let error = session.refresh_token().unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 307"),
        "{error}"
    );
    assert_eq!(stub.requests().len(), 1);
    assert_token_kept(&session);
}

pub(crate) fn the_bearer_never_reaches_another_origin_through_a_redirect<A: Adapter>() {
    let origin = FaultServer::start().expect("stub");
    let other = ok_stub();
    origin.push(Fault::redirect(302, &other.url("/landing")));
    let session = A::build(Options::new("c").token(Token::bearer("secret-at"))).expect("session");
    let reply = session.get(&origin.url("/start")).expect("response");
    assert_eq!(
        origin.requests()[0].header("authorization"),
        Some("Bearer secret-at")
    );
    let landed = other.requests();
    if A::FOLLOWS_REDIRECTS {
        assert_eq!(reply.status, 200);
        assert_eq!(landed.len(), 1);
        assert_eq!(landed[0].header("authorization"), None);
        // No Referer either (it would carry a query-placed token).
        assert_eq!(landed[0].header("referer"), None);
    } else {
        assert_eq!(reply.status, 302);
        assert_eq!(
            reply.headers.get("location").and_then(|v| v.to_str().ok()),
            Some(other.url("/landing").as_str())
        );
        assert!(landed.is_empty());
    }
}

pub(crate) fn plain_http_off_loopback_is_refused_and_secrets_stay_hidden<A: Adapter>() {
    let session = A::build(insecure_options()).expect("session");
    let fetch_error = session
        .fetch_token(Grant::password("admin", "pa55word"))
        .unwrap_err();
    assert_eq!(
        fetch_error.to_string(),
        "refusing plain http to non-loopback host auth.example.com: use https or allow insecure http explicitly"
    );
    let request_shown = session.request_debug("http://api.example.com/x", ("x-trace", "1"));
    let get_error = session.get("http://api.example.com/x").unwrap_err();
    assert!(
        get_error.to_string().starts_with("refusing plain http"),
        "{get_error}"
    );
    let shown = format!(
        "{} {fetch_error:?} {fetch_error} {get_error:?} {get_error} {request_shown}",
        session.session_debug()
    );
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

pub(crate) fn a_session_builders_debug_shows_no_secret<A: BuilderDebug>() {
    let shown = A::builder_debug(insecure_options());
    assert!(shown.contains("SessionBuilder"), "{shown}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

pub(crate) fn a_requests_debug_shows_no_secret_of_the_callers<A: BufferedRequests>() {
    let session = A::build(Options::new("c").token(Token::bearer("secret-at"))).expect("session");
    // A secret of the caller's own in a query or a header is not shown either.
    let shown = session.request_debug(
        "http://127.0.0.1:9/x?api_key=hunter2",
        ("X-Api-Key", "pa55word"),
    );
    assert!(shown.contains("127.0.0.1:9/x"), "{shown}");
    assert!(shown.to_lowercase().contains("x-api-key"), "{shown}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

pub(crate) fn query_placement_signs_the_url_and_a_transport_error_hides_it<A: Adapter>() {
    let api = ok_stub();
    let options = Options::new("c")
        .bearer_placement(BearerPlacement::Query)
        .token(Token::bearer("query-secret"));
    let session = A::build(options).expect("session");
    session.get(&api.url("/item?page=2")).expect("response");
    let seen = &api.requests()[0];
    assert_eq!(seen.path, "/item?page=2&access_token=query-secret");
    assert_eq!(seen.header("authorization"), None);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let error = session.get(&format!("http://{closed}/item")).unwrap_err();
    assert!(error.is_transport(), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("query-secret"), "{shown}");
}

pub(crate) fn a_failed_refresh_inside_the_leeway_serves_the_still_valid_token_and_backs_off<
    A: Adapter,
>() {
    let stub = ok_stub();
    stub.push(Fault::html_500());
    let options = Options::new("c")
        .stub(&stub)
        .leeway(Duration::from_secs(30))
        .token(due_token());
    let session = A::build(options).expect("session");
    for _ in 0..2 {
        let reply = session
            .get(&stub.url("/resource"))
            .expect("the old token is still valid: no outage");
        assert_eq!(reply.status, 200);
    }
    assert_eq!(
        paths(&stub),
        ["/token", "/resource", "/resource"],
        "one failed refresh, then a backoff"
    );
    for request in &stub.requests()[1..] {
        assert_eq!(request.header("authorization"), Some("Bearer old-at"));
    }
    assert_token_kept(&session);
}

pub(crate) fn a_failed_refresh_of_an_expired_token_is_the_requests_error<A: Adapter>() {
    let stub = ok_stub();
    stub.push(Fault::html_500());
    let session: A = stub_session(&stub, expired_token());
    let error = session
        .get(&stub.url("/resource"))
        .expect_err("nothing valid to send");
    assert_unexpected_500(&error);
    assert_eq!(
        paths(&stub),
        ["/token"],
        "one renewal, no resource call with a dead token"
    );
    assert_token_kept(&session);
}

pub(crate) fn tokens_expired_on_arrival_end_in_a_renewal_loop_without_wedging_the_session<
    A: Adapter,
>() {
    for (answer, delay, what) in [
        // A one-second token answered after more than a second: expired when it arrives.
        (
            r#"{"access_token":"dead-at","token_type":"Bearer","expires_in":1,"refresh_token":"rt"}"#,
            Duration::from_millis(1100),
            "expired on arrival",
        ),
        // Answered after 600 ms, with no refresh token: still valid, but due on arrival.
        (
            r#"{"access_token":"late-at","token_type":"Bearer","expires_in":1}"#,
            Duration::from_millis(600),
            "due on arrival",
        ),
    ] {
        let late = Fault::slow(delay, Fault::respond(200, "application/json", answer));
        let stub = FaultServer::with_default(late).expect("stub");
        let session: A = stub_session(&stub, expired_token());
        let started = Instant::now();
        // The second request starts renewing at once: the renewal the first one gave up on
        // did not stay in flight for others to wait on.
        for _ in 0..2 {
            let error = session
                .get(&stub.url("/resource"))
                .expect_err("every renewed token is due");
            assert_eq!(
                error.usage_error(),
                Some(&UsageError::RenewalLoop),
                "{what}: {error}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: {:?}",
            started.elapsed()
        );
        let per_request = MAX_RENEWALS_PER_REQUEST as usize;
        assert_eq!(paths(&stub), vec!["/token"; 2 * per_request], "{what}");
    }
}

pub(crate) fn an_explicit_refresh_during_an_automatic_one_is_refused_and_sends_nothing<
    A: Adapter,
>() {
    let stub = ok_stub();
    stub.push(Fault::slow(Duration::from_millis(400), Fault::token()));
    let session: A = stub_session(&stub, expired_token());
    let request = session.spawn(Caller::once(Action::Get(stub.url("/resource"))));
    eventually("the refresh is in flight", || token_requests(&stub) == 1);
    let error = session.refresh_token().unwrap_err();
    assert_eq!(
        error.usage_error(),
        Some(&UsageError::RefreshInFlight),
        "{error}"
    );
    let reply = session.join(request).into_reply().expect("request");
    assert_eq!(reply.status, 200);
    assert_eq!(paths(&stub), ["/token", "/resource"]);
    assert_eq!(access_token(&session), "stub-at-1");
}

pub(crate) fn waiters_share_one_failed_refresh_and_the_old_token_stays<A: Adapter>() {
    let auth = FaultServer::start().expect("stub");
    auth.push(Fault::slow(Duration::from_millis(300), Fault::html_500()));
    let api = ok_stub();
    let session: A = stub_session(&auth, expired_token());
    let callers = session.concurrently(
        (0..50)
            .map(|_| Caller::once(Action::Get(api.url("/resource"))))
            .collect(),
    );
    assert_eq!(token_requests(&auth), 1, "one refresh for all 50 callers");
    assert!(api.requests().is_empty());
    for caller in callers {
        let error = caller.into_reply().expect_err("the refresh failed");
        assert!(
            error.starts_with("unexpected response: HTTP 500"),
            "every caller shares the one error: {error}"
        );
    }
    assert_eq!(access_token(&session), "old-at");
    // The next request tries again.
    auth.push(Fault::token());
    let reply = session.get(&api.url("/resource")).expect("ok");
    assert_eq!(reply.status, 200);
}

/// Node and Apache close idle connections after 5 s: a token request written as the server
/// closes one is lost and never sent again (seen with each adapter in turn: a device poll
/// 6 s after the last). Endpoint calls skip pooled connections idle for longer than
/// `oauth_core::ENDPOINT_MAX_IDLE` (4 s), whatever the transport.
pub(crate) fn an_endpoint_call_skips_a_connection_idle_past_the_endpoint_limit<A: Adapter>() {
    let stub = FaultServer::with_default(Fault::token()).expect("stub");
    let session = A::build(Options::new("c").stub(&stub)).expect("session");
    for _ in 0..2 {
        session
            .fetch_token(Grant::client_credentials())
            .expect("token");
    }
    assert_eq!(stub.connections(), 1, "reused while fresh");
    let later = SystemTime::now() + oauth_core::ENDPOINT_MAX_IDLE + Duration::from_millis(100);
    oauth_tests::seed::wait_until(later, Duration::from_secs(10)).expect("clock");
    session
        .fetch_token(Grant::client_credentials())
        .expect("token");
    assert_eq!(
        stub.connections(),
        2,
        "an idle connection past the limit is not reused"
    );
}
