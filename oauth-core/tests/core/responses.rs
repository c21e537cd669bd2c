use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth_core::{
    Error, ResponseError, Token, parse_introspection_response, parse_revocation_response,
    parse_token_response,
};

use crate::response;

const KEYCLOAK_PASSWORD: &[u8] = include_bytes!("../fixtures/keycloak/password_grant.json");
const KEYCLOAK_AT: &str = include_str!("../fixtures/keycloak/access_token_1.jwt");

fn sent_at() -> SystemTime {
    // The `iat` of the seed's first Keycloak token.
    UNIX_EPOCH + Duration::from_secs(1_771_834_670)
}

#[test]
fn keycloak_password_grant_fixture() {
    let token = parse_token_response(
        &response(200, Some("application/json"), KEYCLOAK_PASSWORD),
        sent_at(),
    )
    .expect("token");
    assert_eq!(token.access_token().secret(), KEYCLOAK_AT);
    assert!(token.is_bearer());
    // exp - iat of the real token is 60, as is expires_in.
    assert_eq!(
        token.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(1_771_834_730))
    );
    assert_eq!(token.issued_at(), Some(sent_at()));
    assert_eq!(token.scope(), Some("email profile"));
    assert!(
        token
            .refresh_token()
            .expect("refresh token")
            .secret()
            .starts_with("eyJhbGciOiJIUzUxMiIs")
    );
    assert_eq!(
        token.extra()["session_state"],
        "f6f1f4c3-cadd-2adb-a2a3-094daa3eb461"
    );
    assert_eq!(token.extra()["refresh_expires_in"], 1800);
    assert_eq!(token.extra()["not-before-policy"], 0);
    assert_eq!(token.extra().len(), 3);
}

#[test]
fn keycloak_removed_session_reads_like_the_seed() {
    let body = include_bytes!("../fixtures/keycloak/refresh_session_not_active.json");
    let error = parse_token_response(&response(400, Some("application/json"), body), sent_at())
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Session not active");
    let oauth = error.oauth_error().expect("oauth error");
    assert_eq!(oauth.error(), "invalid_grant");
    assert_eq!(oauth.status(), Some(http::StatusCode::BAD_REQUEST));
    assert!(error.requires_reauthentication());
}

#[test]
fn keycloak_wrong_password() {
    let body = include_bytes!("../fixtures/keycloak/wrong_password.json");
    let error = parse_token_response(&response(401, Some("application/json"), body), sent_at())
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
}

#[test]
fn oidc_provider_error_bodies() {
    let unknown = include_bytes!("../fixtures/oidc-provider/unknown_refresh_token.json");
    let error = parse_token_response(
        &response(400, Some("application/json; charset=utf-8"), unknown),
        sent_at(),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: grant request is invalid");
    let missing = include_bytes!("../fixtures/oidc-provider/missing_username.json");
    let error = parse_token_response(&response(400, None, missing), sent_at()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid_request: missing required parameter 'username'"
    );
}

#[test]
fn error_with_http_200_is_an_oauth_error() {
    let error = parse_token_response(
        &response(200, Some("application/json"), br#"{"error":"slow_down"}"#),
        sent_at(),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "slow_down");
    assert_eq!(
        error.oauth_error().and_then(|e| e.status()),
        Some(http::StatusCode::OK)
    );
}

#[test]
fn json_is_read_whatever_the_content_type() {
    let token = parse_token_response(
        &response(
            200,
            Some("text/plain"),
            br#"{"access_token":"a","token_type":"bearer"}"#,
        ),
        sent_at(),
    )
    .expect("token");
    assert!(token.is_bearer());
    assert_eq!(token.expires_at(), None);
}

#[test]
fn expires_in_as_a_numeric_string() {
    let token = parse_token_response(
        &response(
            200,
            None,
            br#"{"access_token":"a","token_type":"Bearer","expires_in":"3600"}"#,
        ),
        sent_at(),
    )
    .expect("token");
    assert_eq!(
        token.expires_at(),
        Some(sent_at() + Duration::from_secs(3600))
    );
}

#[test]
fn form_encoded_token_response() {
    let token = parse_token_response(
        &response(
            200,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"access_token=gho_16C7e42&scope=repo%2Cgist&token_type=bearer&expires_in=28800&refresh_token=ghr_1",
        ),
        sent_at(),
    )
    .expect("token");
    assert_eq!(token.access_token().secret(), "gho_16C7e42");
    assert_eq!(token.scope(), Some("repo,gist"));
    assert_eq!(
        token.expires_at(),
        Some(sent_at() + Duration::from_secs(28800))
    );
    assert_eq!(token.refresh_token().map(|t| t.secret()), Some("ghr_1"));
}

#[test]
fn html_500_is_an_unexpected_response_with_an_excerpt() {
    let error = parse_token_response(
        &response(
            500,
            Some("text/html"),
            b"<html><body>Internal Server Error</body></html>",
        ),
        sent_at(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unexpected response: HTTP 500 Internal Server Error (text/html): <html><body>Internal Server Error</body></html>"
    );
    assert!(!error.requires_reauthentication());
}

#[test]
fn long_bodies_are_truncated() {
    let body = vec![b'x'; 10_000];
    let Error::Response(error) =
        parse_token_response(&response(502, None, &body), sent_at()).unwrap_err()
    else {
        panic!("not a response error");
    };
    assert_eq!(error.body_excerpt().map(|e| e.chars().count()), Some(513));
}

#[test]
fn success_without_access_token_names_the_field() {
    let error = parse_token_response(
        &response(200, None, br#"{"token_type":"Bearer"}"#),
        sent_at(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed response (HTTP 200 OK): missing access_token"
    );
}

#[test]
fn wrong_types_are_named_never_quoted() {
    for (body, reason) in [
        (
            &br#"{"access_token":"secret-value","expires_in":"soon"}"#[..],
            "expires_in is not a non-negative number of seconds",
        ),
        (
            br#"{"access_token":"secret-value","expires_in":-5}"#,
            "expires_in is not a non-negative number of seconds",
        ),
        (br#"{"access_token":7}"#, "access_token is not a string"),
        (
            br#"{"access_token":"a b"}"#,
            "access_token has characters that cannot be sent in a header",
        ),
        (
            br#"{"access_token":"x","expires_in":1e300}"#,
            "expires_in is not a non-negative number of seconds",
        ),
        (
            br#"{"access_token":"x","expires_in":0}"#,
            "expires_in is 0: the token is expired on arrival",
        ),
    ] {
        let error = parse_token_response(&response(200, None, body), sent_at()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("malformed response (HTTP 200 OK): {reason}")
        );
        assert!(!format!("{error} {error:?}").contains("secret-value"));
    }
}

#[test]
fn unparsable_2xx_hides_its_body() {
    let error = parse_token_response(
        &response(200, Some("text/html"), b"<p>access_token=leak</p>"),
        sent_at(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unexpected response: HTTP 200 OK (text/html)"
    );
}

#[test]
fn challenge_only_401_is_an_oauth_error() {
    let response = http::Response::builder()
        .status(401)
        .header(
            "www-authenticate",
            r#"Bearer error="invalid_token", error_description="expired""#,
        )
        .body(Vec::new())
        .expect("response");
    let error = parse_token_response(&response, sent_at()).unwrap_err();
    assert_eq!(error.to_string(), "invalid_token: expired");
    assert!(
        error
            .oauth_error()
            .and_then(|e| e.www_authenticate())
            .is_some()
    );
}

#[test]
fn oidc_provider_invalid_client_keeps_the_basic_challenge() {
    let response = http::Response::builder()
        .status(401)
        .header("www-authenticate", r#"Basic realm="http://127.0.0.1:3000""#)
        .header("content-type", "application/json; charset=utf-8")
        .body(
            br#"{"error":"invalid_client","error_description":"client authentication failed"}"#
                .to_vec(),
        )
        .expect("response");
    let error = parse_token_response(&response, sent_at()).unwrap_err();
    let oauth = error.oauth_error().expect("oauth");
    assert_eq!(
        oauth.www_authenticate(),
        Some(r#"Basic realm="http://127.0.0.1:3000""#)
    );
    assert_eq!(
        error.to_string(),
        "invalid_client: client authentication failed"
    );
}

#[test]
fn token_round_trips_through_serde() {
    let token =
        parse_token_response(&response(200, None, KEYCLOAK_PASSWORD), sent_at()).expect("token");
    let stored = serde_json::to_string(&token).expect("serialise");
    let restored: Token = serde_json::from_str(&stored).expect("deserialise");
    assert_eq!(restored, token);
    assert!(stored.contains(r#""expires_at":1771834730"#), "{stored}");
}

#[test]
fn token_debug_shows_no_secret_and_no_extra_values() {
    let token =
        parse_token_response(&response(200, None, KEYCLOAK_PASSWORD), sent_at()).expect("token");
    let shown = format!("{token:?}");
    assert!(!shown.contains("eyJ"), "{shown}");
    assert!(!shown.contains("f6f1f4c3"), "{shown}");
    assert!(shown.contains("session_state"), "{shown}");
}

#[test]
fn introspection_is_typed_and_keeps_extras() {
    let body = br#"{"active":true,"scope":"openid email","client_id":"basic-client","token_type":"Bearer",
        "exp":1771834730,"iat":1771834670,"sub":"admin","aud":"basic-client","iss":"http://127.0.0.1:3000","acr":"0"}"#;
    let introspection =
        parse_introspection_response(&response(200, Some("application/json"), body))
            .expect("parse");
    assert!(introspection.active());
    assert_eq!(introspection.scope(), Some("openid email"));
    assert_eq!(introspection.client_id(), Some("basic-client"));
    assert_eq!(
        introspection.exp(),
        Some(UNIX_EPOCH + Duration::from_secs(1_771_834_730))
    );
    assert_eq!(introspection.aud(), ["basic-client"]);
    assert_eq!(introspection.extra()["acr"], "0");

    let inactive = include_bytes!("../fixtures/oidc-provider/introspection_inactive.json");
    let introspection =
        parse_introspection_response(&response(200, None, inactive)).expect("parse");
    assert!(!introspection.active());

    let error =
        parse_introspection_response(&response(200, None, br#"{"scope":"x"}"#)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed response (HTTP 200 OK): active is missing or not a boolean"
    );
}

#[test]
fn revocation_accepts_an_empty_200_and_reports_errors() {
    assert!(parse_revocation_response(&response(200, None, b"")).is_ok());
    assert!(parse_revocation_response(&response(200, Some("text/html"), b"<p>ok</p>")).is_ok());
    let error = parse_revocation_response(&response(
        400,
        Some("application/json"),
        br#"{"error":"unsupported_token_type"}"#,
    ))
    .unwrap_err();
    assert_eq!(error.to_string(), "unsupported_token_type");
    assert!(matches!(
        parse_revocation_response(&response(503, None, b"")).unwrap_err(),
        Error::Response(ResponseError::Unexpected { .. })
    ));
}

#[test]
fn lifetime_counts_from_the_whole_second_the_request_was_sent() {
    // A server that truncates `iat` to whole seconds expires the token at floor(now) + ttl.
    let late_in_the_second = sent_at() + Duration::from_millis(999);
    let token = parse_token_response(
        &response(
            200,
            None,
            br#"{"access_token":"a","token_type":"Bearer","expires_in":5}"#,
        ),
        late_in_the_second,
    )
    .expect("token");
    assert_eq!(
        token.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(1_771_834_675))
    );
    assert_eq!(token.issued_at(), Some(late_in_the_second));
}

#[test]
fn extra_fields_keep_order_escapes_and_the_last_duplicate() {
    let body = br#"{"access_token":"a","z":1,"we\"ird\u00e9":{"n":[1,2]},"z":2,"s":"x\ny"}"#;
    let token = parse_token_response(&response(200, None, body), sent_at()).expect("token");
    let names: Vec<&str> = token.extra().iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["z", "we\"irdé", "z", "s"]);
    assert_eq!(token.extra()["z"], 2);
    assert_eq!(token.extra()["we\"irdé"]["n"][1], 2);
    assert_eq!(token.extra()["s"], "x\ny");
    assert_eq!(token.extra()["absent"], serde_json::Value::Null);
    let restored: Token =
        serde_json::from_str(&serde_json::to_string(&token).expect("ser")).expect("de");
    assert_eq!(restored.extra()["we\"irdé"], token.extra()["we\"irdé"]);
}
