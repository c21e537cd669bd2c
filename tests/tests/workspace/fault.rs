//! The fault-injection stub: each fault does what it claims, keep-alive works, and
//! `oauth-core` reads each broken answer as the right typed result.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response, StatusCode};
use oauth_core::rfc6750::is_invalid_token_challenge;
use oauth_core::{Error, ResponseError, parse_token_response};
use oauth_tests::fault::{Fault, FaultServer};
use oauth_tests::{HarnessError, http1};

use crate::TIMEOUT;

fn stub(faults: impl IntoIterator<Item = Fault>) -> FaultServer {
    let stub = FaultServer::start().unwrap_or_else(|e| panic!("{e}"));
    stub.script(faults);
    stub
}

fn post(
    stub: &FaultServer,
    body: &str,
    timeout: Duration,
) -> Result<Response<Vec<u8>>, HarnessError> {
    let request = Request::post(stub.url("/token"))
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.as_bytes().to_vec())
        .expect("valid request");
    http1::send(&request, timeout)
}

fn answer(fault: Fault) -> Response<Vec<u8>> {
    let stub = stub([fault]);
    post(&stub, "grant_type=password", TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn html_500_is_an_unexpected_response_with_an_excerpt() {
    let response = answer(Fault::html_500());
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let error = parse_token_response(&response, SystemTime::now()).expect_err("not a token");
    match &error {
        Error::Response(ResponseError::Unexpected {
            status,
            content_type,
            ..
        }) => {
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(
                content_type
                    .as_deref()
                    .is_some_and(|c| c.starts_with("text/html"))
            );
        }
        other => panic!("expected an unexpected response, got {other:?}"),
    }
    assert!(
        error.to_string().contains("Internal Server Error"),
        "{error}"
    );
}

#[test]
fn json_error_with_200_is_an_oauth_error() {
    let response = answer(Fault::json_error_with_200());
    assert_eq!(response.status(), StatusCode::OK);
    let error = parse_token_response(&response, SystemTime::now()).expect_err("not a token");
    let oauth = error.oauth_error().expect("an OAuth error");
    assert_eq!(oauth.error(), "invalid_grant");
    assert_eq!(oauth.status(), Some(StatusCode::OK));
    assert_eq!(error.to_string(), "invalid_grant: error sent with HTTP 200");
}

#[test]
fn string_expires_in_is_read_as_seconds() {
    let response = answer(Fault::token_with_string_expires_in());
    assert!(String::from_utf8_lossy(response.body()).contains(r#""expires_in":"3600""#));
    // A whole second: the core counts lifetimes from the whole second the request was sent.
    let sent_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_771_834_670);
    let token = parse_token_response(&response, sent_at).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        token.expires_at(),
        Some(sent_at + Duration::from_secs(3600))
    );
    assert_eq!(token.access_token().secret(), "stub-at-1");
}

#[test]
fn form_encoded_token_is_parsed() {
    let response = answer(Fault::form_encoded_token());
    // A whole second: the core counts lifetimes from the whole second the request was sent.
    let sent_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_771_834_670);
    let token = parse_token_response(&response, sent_at).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(token.access_token().secret(), "stub-at-1");
    assert_eq!(token.refresh_token().map(|t| t.secret()), Some("stub-rt-1"));
    assert_eq!(token.scope(), Some("profile email"));
    assert_eq!(
        token.expires_at(),
        Some(sent_at + Duration::from_secs(3600))
    );
}

#[test]
fn tokens_are_numbered_and_the_default_answers_an_empty_script() {
    let stub = FaultServer::with_default(Fault::token()).unwrap_or_else(|e| panic!("{e}"));
    stub.push(Fault::html_500());
    let statuses: Vec<u16> = (0..3)
        .map(|_| post(&stub, "", TIMEOUT).map(|r| r.status().as_u16()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(statuses, [500, 200, 200]);
    let third = post(&stub, "", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let token = parse_token_response(&third, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(token.access_token().secret(), "stub-at-3");
    assert_eq!(stub.pending(), 0);
}

#[test]
fn an_empty_script_answers_500_no_scripted_response() {
    let response = answer(Fault::html_500());
    assert_eq!(response.status(), 500);
    let stub = stub([]);
    let response = post(&stub, "", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 500);
    assert_eq!(response.body(), b"no scripted response");
}

#[test]
fn requests_are_recorded_with_what_http1_sends() {
    let stub = stub([Fault::token()]);
    let body = "grant_type=password&username=admin";
    post(&stub, body, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.path, "/token");
    assert_eq!(
        request.header("host"),
        Some(stub.addr().to_string().as_str())
    );
    assert_eq!(
        request.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(request.header("connection"), Some("close"));
    assert_eq!(request.form_value("username").as_deref(), Some("admin"));
    assert_eq!(request.connection, 1);
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let stub = stub([Fault::token(), Fault::json_error_with_200()]);
    let mut stream = TcpStream::connect(stub.addr()).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("set timeout");
    let request = |body: &str| {
        format!(
            "POST /token?n=1 HTTP/1.1\r\nHost: stub\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    // Both requests in one write: the stub must split them by Content-Length.
    stream
        .write_all(format!("{}{}", request("first=1"), request("second=2")).as_bytes())
        .expect("write");
    let text = read_until(&mut stream, "error sent with HTTP 200");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(!text.contains("Connection: close"), "{text}");
    assert_eq!(stub.connections(), 1);
    let requests = stub.requests();
    let bodies: Vec<String> = requests.iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, ["first=1", "second=2"]);
    assert!(
        requests
            .iter()
            .all(|r| r.connection == 1 && r.path == "/token?n=1")
    );
}

/// Reads from `stream` until `needle` appears, within [`TIMEOUT`].
fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + TIMEOUT;
    while !String::from_utf8_lossy(&received).contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} from the stub");
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "the stub closed before {needle:?}");
        received.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[test]
fn expect_100_continue_gets_its_go_ahead_before_the_body() {
    let stub = stub([Fault::token()]);
    let mut stream = TcpStream::connect(stub.addr()).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("set timeout");
    stream
        .write_all(b"POST /token HTTP/1.1\r\nHost: stub\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        .expect("write head");
    read_until(&mut stream, "HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"a=1").expect("write body");
    read_until(&mut stream, "stub-at-1");
    assert_eq!(stub.requests()[0].body, b"a=1");
}

#[test]
fn slow_reply_takes_at_least_its_delay() {
    let delay = Duration::from_millis(300);
    let stub = stub([Fault::slow(delay, Fault::token())]);
    let started = Instant::now();
    let response = post(&stub, "", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(response.status(), 200);
}

#[test]
fn slow_reply_outlasts_a_shorter_client_timeout() {
    let stub = stub([Fault::slow(Duration::from_secs(5), Fault::token())]);
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let error = post(&stub, "", timeout).expect_err("the reply is slower than the timeout");
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= timeout);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn drop_mid_response_and_close_without_response_are_protocol_errors() {
    for fault in [Fault::drop_mid_response(), Fault::close_without_response()] {
        let stub = stub([fault.clone()]);
        match post(&stub, "", TIMEOUT) {
            Err(HarnessError::Protocol { .. } | HarnessError::Io { .. }) => {}
            other => panic!("{fault:?}: expected a broken answer, got {other:?}"),
        }
        assert_eq!(
            stub.requests().len(),
            1,
            "the request is recorded before the fault"
        );
    }
}

#[test]
fn oversized_body_is_refused_by_http1() {
    let response = post(&stub([Fault::oversized(4 << 20)]), "", TIMEOUT);
    match response {
        Err(HarnessError::BodyTooLarge { limit, .. }) => assert_eq!(limit, http1::MAX_BODY),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
}

#[test]
fn unauthorized_invalid_token_carries_the_challenge() {
    let response = answer(Fault::unauthorized_invalid_token());
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(is_invalid_token_challenge(response.headers()));
    let error = parse_token_response(&response, SystemTime::now()).expect_err("not a token");
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_token")
    );
}

#[test]
fn redirect_is_returned_not_followed() {
    let stub = stub([Fault::redirect(307, "/elsewhere").with_header("X-Test", "1")]);
    let response = post(&stub, "", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "/elsewhere");
    assert_eq!(response.headers()["x-test"], "1");
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn http1_reads_chunked_until_close_and_skips_100_continue() {
    let chunked = Fault::raw(
        "HTTP/1.1 100 Continue\r\n\r\n\
         HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
         4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n",
    );
    let until_close = Fault::raw("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
    let stub = stub([chunked, until_close]);
    let first = post(&stub, "", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.body(), br#"{"a":1}"#);
    let second = post(&stub, "", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.body(), b"until close");
    assert_eq!(second.version(), http::Version::HTTP_10);
}

#[test]
fn http1_refuses_https_and_relative_uris() {
    for uri in ["https://127.0.0.1/", "/relative"] {
        let request = Request::get(uri).body(Vec::new()).expect("valid request");
        match http1::send(&request, TIMEOUT) {
            Err(HarnessError::InvalidRequest { .. }) => {}
            other => panic!("{uri}: expected InvalidRequest, got {other:?}"),
        }
    }
}

#[test]
fn dropping_the_stub_stops_it_promptly() {
    let stub = stub([Fault::slow(Duration::from_secs(30), Fault::token())]);
    let addr = stub.addr();
    // A client waiting on a slow answer and an idle keep-alive connection must not hold it up.
    let waiting = std::thread::spawn({
        let url = stub.url("/token");
        move || {
            let request = Request::get(url).body(Vec::new()).expect("valid request");
            http1::send(&request, Duration::from_secs(60))
        }
    });
    let _idle = TcpStream::connect(addr).expect("connect");
    let deadline = Instant::now() + TIMEOUT;
    while stub.requests().is_empty() {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    drop(stub);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(waiting.join().expect("client thread").is_err());
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
}
