//! oauth-async-std against the fault-injection stub, and without any server: faults, timeouts
//! and body caps, redirects, a cancelled caller, keep-alive reuse and the per-origin bound, URL
//! handling, secrets in formatted output, and futures that any executor can spawn.

use std::time::{Duration, SystemTime};

use async_std::task::block_on;
use oauth_async_std::{Error, Grant, HttpClient, OAuth2Session, Token, TransportError};
use oauth_core::{Error as CoreError, ResponseError, TokenRef, UsageError};
use oauth_tests::fault::{Fault, FaultServer};

use super::get_status;

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
    let status = block_on(get_status(&session, &stub.url("/resource"))).expect("response");
    assert_eq!(status, 401);
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/resource", "/token", "/resource"]);
}

#[test]
fn a_cancelled_caller_does_not_cancel_the_refresh_others_wait_for() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    stub.push(Fault::slow(Duration::from_millis(600), Fault::token()));
    let long_ago = SystemTime::now() - Duration::from_secs(7200);
    let expired = Token::bearer("expired-at")
        .with_refresh_token("rt")
        .with_lifetime(long_ago, long_ago + Duration::from_secs(3600));
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(expired)
        .build()
        .expect("session");
    let url = stub.url("/resource");
    block_on(async {
        // This caller starts the refresh, then gives up long before the answer.
        let cancelled =
            async_std::future::timeout(Duration::from_millis(100), get_status(&session, &url))
                .await;
        assert!(cancelled.is_err(), "the first caller timed out");
        // This one finds the refresh in flight and waits for it.
        assert_eq!(get_status(&session, &url).await.expect("waiter"), 200);
    });
    let token = session.token().expect("token");
    assert_eq!(token.access_token().secret(), "stub-at-1");
    let requests = stub.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/token", "/resource"],
        "one refresh, one resource call"
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer stub-at-1")
    );
}

#[test]
fn a_failed_refresh_inside_the_leeway_keeps_serving_the_valid_token_and_backs_off() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    stub.push(Fault::html_500());
    let now = SystemTime::now();
    // A 60 s token with 10 s to live and a 30 s leeway: due for renewal, still valid.
    let due = Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(now - Duration::from_secs(50), now + Duration::from_secs(10));
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .leeway(Duration::from_secs(30))
        .token(due)
        .build()
        .expect("session");
    let url = stub.url("/resource");
    block_on(async {
        // The refresh fails with a 500: the request goes on with the old token, no outage.
        assert_eq!(get_status(&session, &url).await.expect("first get"), 200);
        // Right after, the session backs off instead of asking the broken endpoint again.
        assert_eq!(get_status(&session, &url).await.expect("second get"), 200);
    });
    let requests = stub.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/token", "/resource", "/resource"]);
    for request in &requests[1..] {
        assert_eq!(request.header("authorization"), Some("Bearer old-at"));
    }
    assert_token_kept(&session);
}

#[test]
fn a_failed_refresh_of_an_expired_token_is_the_callers_error_and_starts_no_other() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    stub.push(Fault::html_500());
    let long_ago = SystemTime::now() - Duration::from_secs(7200);
    let expired = Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(long_ago, long_ago + Duration::from_secs(3600));
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(expired)
        .build()
        .expect("session");
    let error = block_on(get_status(&session, &stub.url("/resource"))).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Core(CoreError::Response(ResponseError::Unexpected { .. }))
        ),
        "{error}"
    );
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/token"],
        "one renewal, no resource call with a dead token"
    );
    assert_token_kept(&session);
}

#[test]
fn tokens_that_arrive_due_end_in_a_renewal_loop_error_without_wedging_the_session() {
    // Every answer is a 1 s token that arrives 600 ms after its request left: due on arrival.
    let late = Fault::slow(
        Duration::from_millis(600),
        Fault::respond(
            200,
            "application/json",
            r#"{"access_token":"late-at","token_type":"Bearer","expires_in":1}"#,
        ),
    );
    let stub = FaultServer::with_default(late).expect("stub");
    let long_ago = SystemTime::now() - Duration::from_secs(7200);
    let expired = Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(long_ago, long_ago + Duration::from_secs(3600));
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(expired)
        .build()
        .expect("session");
    let url = stub.url("/resource");
    let started = std::time::Instant::now();
    block_on(async {
        // The second request starts renewing at once: the renewal the first one was refused
        // did not stay in flight for others to wait on.
        for _ in 0..2 {
            let error = get_status(&session, &url).await.unwrap_err();
            assert!(
                matches!(
                    &error,
                    Error::Core(CoreError::Usage(UsageError::RenewalLoop))
                ),
                "{error}"
            );
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    let per_request = oauth_core::session::MAX_RENEWALS_PER_REQUEST as usize;
    assert_eq!(paths, vec!["/token"; 2 * per_request]);
}

#[test]
fn an_explicit_refresh_while_one_is_in_flight_is_refused_not_doubled() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    stub.push(Fault::slow(Duration::from_millis(400), Fault::token()));
    let long_ago = SystemTime::now() - Duration::from_secs(7200);
    let expired = Token::bearer("old-at")
        .with_refresh_token("old-rt")
        .with_lifetime(long_ago, long_ago + Duration::from_secs(3600));
    let session = OAuth2Session::builder("c")
        .token_endpoint(&stub.url("/token"))
        .token(expired)
        .build()
        .expect("session");
    let url = stub.url("/resource");
    block_on(async {
        let request = async_std::task::spawn({
            let (session, url) = (session.clone(), url.clone());
            async move { get_status(&session, &url).await }
        });
        // The request's automatic refresh has reached the token endpoint.
        for _ in 0..200 {
            if !stub.requests().is_empty() {
                break;
            }
            async_std::task::sleep(Duration::from_millis(5)).await;
        }
        let error = session.refresh_token().await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Core(CoreError::Usage(UsageError::RefreshInFlight))
            ),
            "{error}"
        );
        assert_eq!(request.await.expect("request"), 200);
    });
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/token", "/resource"]);
}

#[test]
fn sequential_requests_reuse_one_keep_alive_connection() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    block_on(async {
        for _ in 0..20 {
            assert_eq!(
                get_status(&session, &stub.url("/r")).await.expect("get"),
                200
            );
        }
    });
    assert_eq!(stub.connections(), 1);
    assert_eq!(session.http_client().connections_opened(), 1);
}

#[test]
fn an_idle_connection_the_server_closed_is_replaced_not_reported() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    // Answers as if keeping the connection alive, then closes it.
    stub.push(Fault::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    block_on(async {
        for _ in 0..3 {
            assert_eq!(
                get_status(&session, &stub.url("/r")).await.expect("get"),
                200
            );
        }
    });
    assert_eq!(stub.requests().len(), 3);
    assert_eq!(stub.connections(), 2);
}

#[test]
fn query_pairs_are_form_encoded_and_odd_urls_normalised() {
    let stub = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    block_on(async {
        let response = session
            .get(stub.url("/r?x=1"))
            .query("a", "b c&d")
            .call()
            .await
            .expect("get");
        response.into_body().read_to_vec().await.expect("body");
        let response = session
            .get(stub.url("/with space"))
            .call()
            .await
            .expect("get");
        response.into_body().read_to_vec().await.expect("body");
    });
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/r?x=1&a=b+c%26d", "/with%20space"]);
}

#[test]
fn concurrent_requests_never_open_more_connections_than_the_bound() {
    let stub = FaultServer::with_default(Fault::slow(
        Duration::from_millis(20),
        Fault::respond(200, "text/plain", "ok"),
    ))
    .expect("stub");
    let client = HttpClient::builder().max_connections_per_origin(4).build();
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .http_client(client.clone())
        .build()
        .expect("session");
    let url = stub.url("/r");
    let ok = block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (session, url) = (session.clone(), url.clone());
                async_std::task::spawn(async move { get_status(&session, &url).await })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            ok += usize::from(matches!(task.await, Ok(200)));
        }
        ok
    });
    assert_eq!(ok, 64);
    assert_eq!(stub.requests().len(), 64);
    assert_eq!(stub.connections(), 4, "the server saw exactly the bound");
    assert_eq!(client.connections_opened(), 4);
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
    block_on(async {
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
        assert!(
            matches!(error, Error::Transport(TransportError::Http(_))),
            "{error}"
        );
        assert_token_kept(&session);

        stub.push(Fault::slow(Duration::from_secs(2), Fault::token()));
        let error = session.refresh_token().await.unwrap_err();
        assert!(
            matches!(&error, Error::Transport(TransportError::Timeout(_))),
            "{error}"
        );
        assert_token_kept(&session);

        stub.push(Fault::oversized(1024 * 1024));
        let error = session.refresh_token().await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Transport(TransportError::BodyTooLarge { limit: 65_536 })
            ),
            "{error}"
        );
        assert_token_kept(&session);

        // Only explicit calls were made: no retry loop.
        assert_eq!(stub.requests().len(), 5);

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
    });
}

#[test]
fn oversized_body_without_content_length_is_cut_at_the_limit() {
    let stub = FaultServer::start().expect("stub");
    let session = stub_session(&stub);
    let mut chunked =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..8 {
        chunked.extend_from_slice(b"4000\r\n");
        chunked.extend_from_slice(&[b'x'; 0x4000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    stub.push(Fault::raw(chunked));
    let error = block_on(session.refresh_token()).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Transport(TransportError::BodyTooLarge { limit: 65_536 })
        ),
        "{error}"
    );
    assert_token_kept(&session);
}

#[test]
fn a_huge_declared_length_reserves_no_huge_buffer() {
    let stub = FaultServer::start().expect("stub");
    // 1 TiB announced, 2 bytes sent, then the connection closes: reserving the announced
    // length up front would abort the process.
    stub.push(Fault::raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\nConnection: close\r\n\r\nok",
    ));
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    let error = block_on(async {
        let response = session.get(stub.url("/huge")).call().await?;
        response.into_body().limit(u64::MAX).read_to_vec().await
    })
    .unwrap_err();
    assert!(
        matches!(&error, Error::Transport(TransportError::Http(_))),
        "{error}"
    );
}

#[test]
fn resource_request_timeout_is_a_typed_error() {
    let stub = FaultServer::start().expect("stub");
    stub.push(Fault::slow(
        Duration::from_secs(2),
        Fault::respond(200, "text/plain", "late"),
    ));
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("at"))
        .build()
        .expect("session");
    let error = block_on(
        session
            .get(stub.url("/slow"))
            .timeout(Duration::from_millis(200))
            .call(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Transport(TransportError::Timeout(t)) if *t == Duration::from_millis(200)
        ),
        "{error}"
    );
}

#[test]
fn token_endpoint_redirects_are_not_followed() {
    let stub = FaultServer::start().expect("stub");
    let session = stub_session(&stub);
    stub.push(Fault::redirect(307, &stub.url("/elsewhere")));
    let error = block_on(session.refresh_token()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unexpected response: HTTP 307"),
        "{error}"
    );
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn resource_redirects_are_returned_so_the_bearer_never_reaches_another_origin() {
    let origin = FaultServer::start().expect("stub");
    let other = FaultServer::with_default(Fault::respond(200, "text/plain", "ok")).expect("stub");
    origin.push(Fault::redirect(302, &other.url("/landing")));
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("secret-at"))
        .build()
        .expect("session");
    let response = block_on(session.get(origin.url("/start")).call()).expect("response");
    assert_eq!(response.status(), 302);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(other.url("/landing").as_str())
    );
    assert_eq!(
        origin.requests()[0].header("authorization"),
        Some("Bearer secret-at")
    );
    assert!(other.requests().is_empty());
}

#[test]
fn plain_http_off_loopback_is_refused_and_secrets_stay_hidden() {
    let session = OAuth2Session::builder("c")
        .token_endpoint("http://auth.example.com/token")
        .client_secret_post("hunter2")
        .token(Token::bearer("secret-at").with_refresh_token("secret-rt"))
        .build()
        .expect("session");
    let (fetch_error, get_error) = block_on(async {
        (
            session
                .fetch_token(Grant::password("admin", "pa55word"))
                .await
                .unwrap_err(),
            session
                .get("http://api.example.com/x")
                .call()
                .await
                .unwrap_err(),
        )
    });
    assert_eq!(
        fetch_error.to_string(),
        "refusing plain http to non-loopback host auth.example.com: use https or allow insecure http explicitly"
    );
    assert!(
        get_error.to_string().starts_with("refusing plain http"),
        "{get_error}"
    );
    // A secret of the caller's own in a query or a header is not shown either.
    let request = session
        .get("http://127.0.0.1:9/x?api_key=hunter2")
        .header("X-Api-Key", "pa55word");
    let shown = format!("{session:?} {fetch_error:?} {fetch_error} {get_error:?} {request:?}");
    for secret in ["hunter2", "secret-at", "secret-rt", "pa55word"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[test]
fn transport_errors_name_the_origin_not_the_path_or_query() {
    // A closed port on loopback: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let session = OAuth2Session::builder("c")
        .token(Token::bearer("secret-at"))
        .bearer_placement(oauth_core::BearerPlacement::Query)
        .build()
        .expect("session");
    let error = block_on(session.get(format!("http://{closed}/path?q=1")).call()).unwrap_err();
    assert!(
        matches!(&error, Error::Transport(TransportError::Connect { .. })),
        "{error}"
    );
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&format!("http://{closed}")), "{shown}");
    assert!(
        !shown.contains("secret-at") && !shown.contains("/path"),
        "{shown}"
    );
}

#[test]
fn session_futures_are_send_so_any_executor_can_spawn_them() {
    fn assert_send<T: Send>(_: &T) {}
    let session = OAuth2Session::builder("c").build().expect("session");
    assert_send(&session.fetch_token(Grant::client_credentials()));
    assert_send(&session.refresh_token());
    assert_send(&session.get("http://127.0.0.1/").call());
    assert_send(&session.post("http://127.0.0.1/").send_json(&1));
    let token = Token::bearer("t");
    assert_send(&session.revoke_token(TokenRef::Access(token.access_token())));
    assert_send(&session.introspect_token(TokenRef::Access(token.access_token())));
}
