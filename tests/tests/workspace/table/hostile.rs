//! What a hostile server or a careless caller can still try (the hardening issue), each kept
//! fixed on every adapter: URLs that would lose a token or leak a password, huge timeouts,
//! server text made to forge log lines, ports out of range.

use std::time::Duration;

use oauth_core::{ConfigError, Error as CoreError, Token};
use oauth_tests::fault::{Fault, FaultServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{Adapter, AdapterError, Options, assert_token_kept, ok_stub};

/// `error` is a configuration error that does not show `secret`.
fn assert_config_error(error: &impl AdapterError, secret: &str) {
    assert!(
        matches!(
            error.core_error(),
            Some(CoreError::Config(ConfigError::InvalidUrl { .. }))
        ),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(secret), "{secret} leaked: {shown}");
}

pub(crate) fn endpoint_urls_with_a_fragment_or_credentials_are_refused_when_built<A: Adapter>() {
    // RFC 6749 §3.1: a fragment is refused before a token is issued and then thrown away.
    let Err(error) = A::build(Options::new("c").token_endpoint("http://127.0.0.1:18080/t/ok#frag"))
    else {
        panic!("{}: an endpoint with a fragment was accepted", A::NAME);
    };
    assert_config_error(&error, "#frag");
    let Err(error) =
        A::build(Options::new("c").token_endpoint("http://user:PASS@127.0.0.1:18080/token"))
    else {
        panic!("{}: an endpoint with credentials was accepted", A::NAME);
    };
    assert_config_error(&error, "PASS");
    // A resource URL given with credentials is never printed with them, nor with its query.
    let session = A::build(Options::new("c").token(Token::bearer("at"))).expect("session");
    let shown = session.request_debug("http://user:PASS@127.0.0.1:9/x?key=SECRET", ("a", "b"));
    for secret in ["PASS", "SECRET"] {
        assert!(!shown.contains(secret), "{}: {secret} in {shown}", A::NAME);
    }
}

pub(crate) fn a_huge_timeout_is_no_panic<A: Adapter>() {
    let api = ok_stub();
    let options = Options::new("c")
        .timeout(Duration::MAX)
        .token(Token::bearer("at"));
    let session = A::build(options).expect("session");
    let reply = session.get(&api.url("/x")).expect("answered");
    assert_eq!(reply.status, 200);
}

pub(crate) fn server_text_is_printed_with_control_characters_escaped<A: Adapter>() {
    let stub = FaultServer::start().expect("stub");
    let options = Options::new("c")
        .stub(&stub)
        .token(Token::bearer("old-at").with_refresh_token("old-rt"));
    let session = A::build(options).expect("session");
    let forged = r#"{"error":"invalid_grant\r\n2026-11-29 INFO admin logged in","error_description":"\u001b[2J\u0007\u0000gone"}"#;
    stub.push(Fault::respond(400, "application/json", forged));
    let error = session.refresh_token().unwrap_err();
    let shown = error.to_string();
    assert_eq!(
        shown,
        "invalid_grant\\r\\n2026-11-29 INFO admin logged in: \\u{1b}[2J\\u{7}\\u{0}gone"
    );
    // The typed error keeps the server's words as sent.
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_grant\r\n2026-11-29 INFO admin logged in")
    );
    stub.push(Fault::respond(
        502,
        "text/html",
        "<h1>Bad\r\nGateway\u{1b}[31m</h1>",
    ));
    let error = session.refresh_token().unwrap_err();
    assert!(!error.to_string().chars().any(char::is_control), "{error}");
    assert!(
        error.to_string().contains("<h1>Bad\\r\\nGateway"),
        "{error}"
    );
    assert_token_kept(&session);
}

pub(crate) fn a_port_out_of_range_is_refused_not_read_as_80<A: Adapter>() {
    let session = A::build(Options::new("c").token(Token::bearer("at"))).expect("session");
    let error = session.get("http://127.0.0.1:65616/").unwrap_err();
    assert!(
        matches!(error.core_error(), Some(CoreError::Config(_))) || error.is_transport(),
        "{error:?}"
    );
    assert!(error.to_string().contains("port"), "{error}");
}

/// Arbitrary answers of a token endpoint: any status, content type and bytes, well framed;
/// or any bytes at all on the wire.
fn any_answer() -> impl Strategy<Value = Fault> {
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("text/html".to_owned()),
        "[ -~\t]{0,30}",
    ];
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\{(\"(access_token|token_type|expires_in|refresh_token|error|error_description)\":(\"[ -~\\r\\n]{0,12}\"|[0-9]{1,12}|null|true|\\[\\]),?){0,6}\\}"
            .prop_map(String::into_bytes),
    ];
    prop_oneof![
        4 => (100u16..600, content_type, body)
            .prop_map(|(status, content_type, body)| Fault::respond(status, &content_type, body)),
        1 => proptest::collection::vec(any::<u8>(), 0..400).prop_map(Fault::raw),
    ]
}

pub(crate) fn arbitrary_token_endpoint_answers_are_tokens_or_typed_errors<A: Adapter>() {
    let stub = FaultServer::start().expect("stub");
    let old = || Token::bearer("old-at").with_refresh_token("old-rt");
    let options = Options::new("c")
        .stub(&stub)
        .timeout(Duration::from_millis(500))
        .token(old());
    let session = A::build(options).expect("session");
    // Each case is a loopback exchange: a few hundred per adapter (the parsers themselves
    // take 100,000 each in oauth-core's property tests).
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&any_answer(), |fault| {
        stub.push(fault);
        match session.refresh_token() {
            Ok(token) => {
                prop_assert!(!token.access_token().secret().is_empty());
                session.set_token(old());
            }
            Err(error) => {
                let shown = error.to_string();
                prop_assert!(!shown.chars().any(char::is_control), "{shown:?}");
                assert_token_kept(&session);
            }
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{}: {failure}", A::NAME);
    }
}
