//! What a hostile server or a careless caller can still try (the hardening issue), each kept
//! fixed on every adapter: URLs that would lose a token or leak a password, huge timeouts,
//! server text made to forge log lines, ports out of range.

use std::time::Duration;

use oauth_core::{ConfigError, Error as CoreError, Token};
use oauth_tests::fault::{Fault, FaultServer};

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
