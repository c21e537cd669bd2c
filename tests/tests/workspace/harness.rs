//! The real test authorization server as the harness runs it: start, discovery, counters,
//! test-only routes, several servers at once.

use std::time::{Duration, SystemTime};

use http::Request;
use oauth_core::{ClientConfig, Grant, parse_token_response, token_request};
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::{HarnessError, http1};
use serde_json::Value;

use crate::{TIMEOUT, start_server};

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn get_json(url: &str) -> Value {
    let request = Request::get(url).body(Vec::new()).expect("valid request");
    let response = http1::send(&request, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200, "GET {url}");
    serde_json::from_slice(response.body()).expect("JSON body")
}

fn password_token(server: &AuthServer) -> oauth_core::Token {
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(&server.token_endpoint())
        .expect("loopback URL");
    let request =
        token_request(&config, &Grant::password("admin", "admin")).expect("request builds");
    let sent_at = SystemTime::now();
    let response = http1::send(&request, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    parse_token_response(&response, sent_at).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn discovery_names_the_issuer_and_the_endpoints_the_harness_builds() {
    let server = start_server(Duration::from_secs(5));
    assert!(server.issuer().starts_with("http://127.0.0.1:"));
    let discovery = get_json(&server.url("/.well-known/openid-configuration"));
    let field = |name: &str| discovery[name].as_str().map(str::to_owned);
    assert_eq!(field("issuer").as_deref(), Some(server.issuer()));
    assert_eq!(field("token_endpoint"), Some(server.token_endpoint()));
    assert_eq!(
        field("revocation_endpoint"),
        Some(server.revocation_endpoint())
    );
    assert_eq!(
        field("introspection_endpoint"),
        Some(server.introspection_endpoint())
    );
    assert_eq!(field("userinfo_endpoint"), Some(server.userinfo_endpoint()));
    assert_eq!(
        field("device_authorization_endpoint"),
        Some(server.device_authorization_endpoint())
    );
    assert_eq!(
        field("authorization_endpoint"),
        Some(server.authorization_endpoint())
    );
}

#[test]
fn stats_count_a_password_grant_and_reset_zeroes_them() {
    let server = start_server(Duration::from_secs(5));
    server.reset_stats().expect("reset");
    let token = password_token(&server);
    // expires_in 5 counts from the whole second the request was sent: 4 to 5 s from the
    // exact send time.
    let lifetime = token
        .expires_in(token.issued_at().expect("issued_at"))
        .expect("expiry");
    assert!(
        lifetime > Duration::from_secs(4) && lifetime <= Duration::from_secs(5),
        "{lifetime:?}"
    );
    assert!(token.extra().get("session_state").is_some());

    let stats = server.stats().expect("stats");
    assert_eq!(stats.token_requests("password"), 1, "{}", stats.raw);
    assert_eq!(stats.token_requests("refresh_token"), 0);
    assert_eq!(stats.resource_ok(), 0);
    // The server logs a request once its answer is sent, and the harness reads the log on
    // a thread of its own: the line may arrive just after the token.
    crate::table::eventually("the server logged the token request", || {
        server.log().contains("POST /token")
    });

    server.reset_stats().expect("reset");
    assert_eq!(server.stats().expect("stats").token_requests("password"), 0);
}

#[test]
fn two_servers_run_side_by_side_with_separate_tokens() {
    let first = start_server(Duration::from_secs(5));
    let second = start_server(Duration::from_secs(5));
    assert_ne!(first.issuer(), second.issuer());

    let token = password_token(&first);
    let bearer = format!("Bearer {}", token.access_token().secret());
    for (server, expected) in [(&first, 200), (&second, 401)] {
        let request = Request::get(server.resource_url())
            .header(http::header::AUTHORIZATION, bearer.as_str())
            .body(Vec::new())
            .expect("valid request");
        let response = http1::send(&request, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), expected, "{}", server.issuer());
    }
    assert_eq!(first.stats().expect("stats").token_requests("password"), 1);
    assert_eq!(second.stats().expect("stats").token_requests("password"), 0);
}

#[test]
fn removing_an_unknown_session_is_still_204() {
    let server = start_server(Duration::from_secs(5));
    server
        .remove_session("no-such-session")
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Starts a device flow for `admin-cli` and returns `(device_code, user_code)`.
fn start_device_flow(server: &AuthServer) -> (String, String) {
    let request = Request::post(server.device_authorization_endpoint())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(b"client_id=admin-cli&scope=profile".to_vec())
        .expect("valid request");
    let response = http1::send(&request, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(response.body()).expect("JSON body");
    let text = |name: &str| {
        body[name]
            .as_str()
            .unwrap_or_else(|| panic!("device authorization response without {name}"))
            .to_owned()
    };
    (text("device_code"), text("user_code"))
}

fn poll_device(
    server: &AuthServer,
    device_code: &str,
) -> Result<oauth_core::Token, oauth_core::Error> {
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(&server.token_endpoint())
        .expect("loopback URL");
    let grant = Grant::custom(DEVICE_CODE).secret_param("device_code", device_code);
    let request = token_request(&config, &grant).expect("request builds");
    let sent_at = SystemTime::now();
    let response = http1::send(&request, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    parse_token_response(&response, sent_at)
}

#[test]
fn approved_device_flow_yields_a_token() {
    let server = start_server(Duration::from_secs(5));
    let (device_code, user_code) = start_device_flow(&server);
    let pending = poll_device(&server, &device_code).expect_err("not approved yet");
    assert_eq!(
        pending.oauth_error().map(|e| e.error()),
        Some("authorization_pending")
    );
    server
        .approve_device(&user_code)
        .unwrap_or_else(|e| panic!("{e}"));
    let token = poll_device(&server, &device_code).unwrap_or_else(|e| panic!("{e}"));
    assert!(token.refresh_token().is_some());
    assert_eq!(
        server.stats().expect("stats").token_requests(DEVICE_CODE),
        2
    );
}

#[test]
fn denied_device_flow_is_access_denied_and_unknown_codes_are_refused() {
    let server = start_server(Duration::from_secs(5));
    let (device_code, user_code) = start_device_flow(&server);
    server
        .deny_device(&user_code)
        .unwrap_or_else(|e| panic!("{e}"));
    let denied = poll_device(&server, &device_code).expect_err("denied");
    assert_eq!(
        denied.oauth_error().map(|e| e.error()),
        Some("access_denied")
    );

    match server.approve_device("BCDF-GHJK") {
        Err(HarnessError::UnexpectedResponse { status: 404, .. }) => {}
        other => panic!("expected a 404 for an unknown user code, got {other:?}"),
    }
}
