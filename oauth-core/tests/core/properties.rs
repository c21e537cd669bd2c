//! No parser panics, whatever the status, headers and bytes; every error's text is printable
//! (no control character a server sent reaches a log or a terminal). 2,000 cases per property
//! in the everyday `cargo test`; CI runs 100,000 in a release build (`.ci/run`, with
//! `PROPTEST_CASES`).

use std::time::{Duration, UNIX_EPOCH};

use oauth_core::jose::{Jwks, Jws};
use oauth_core::oidc::{AuthorizationRequest, parse_discovery_response, parse_userinfo_response};
use oauth_core::rfc6750::parse_www_authenticate;
use oauth_core::{
    ClientConfig, Error, Token, parse_introspection_response, parse_revocation_response,
    parse_token_response,
};
use proptest::prelude::*;

fn any_response() -> impl Strategy<Value = http::Response<Vec<u8>>> {
    let content_type = prop_oneof![
        Just(None),
        Just(Some("application/json")),
        Just(Some("application/x-www-form-urlencoded")),
        Just(Some("text/html")),
        "[ -~]{0,40}".prop_map(|s| Some(Box::leak(s.into_boxed_str()) as &str)),
    ];
    let www_authenticate = prop_oneof![Just(None), "[ -~]{0,80}".prop_map(Some)];
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        json_like().prop_map(String::into_bytes),
        "[a-z_=&%0-9+]{0,120}".prop_map(String::into_bytes),
    ];
    (100u16..1000, content_type, www_authenticate, body).prop_map(
        |(status, content_type, challenge, body)| {
            let mut builder = http::Response::builder().status(status);
            if let Some(ct) = content_type {
                if let Ok(value) = http::HeaderValue::from_str(ct) {
                    builder = builder.header(http::header::CONTENT_TYPE, value);
                }
            }
            if let Some(challenge) = challenge {
                if let Ok(value) = http::HeaderValue::from_str(&challenge) {
                    builder = builder.header(http::header::WWW_AUTHENTICATE, value);
                }
            }
            builder.body(body).expect("status in range")
        },
    )
}

/// Objects built from the members parsers look at, with values of every JSON type.
fn json_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("access_token"),
        Just("token_type"),
        Just("expires_in"),
        Just("refresh_token"),
        Just("scope"),
        Just("id_token"),
        Just("error"),
        Just("error_description"),
        Just("active"),
        Just("exp"),
        Just("aud"),
        Just("iat"),
        Just("other"),
    ];
    let value = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| if f.is_finite() {
            f.to_string()
        } else {
            "1".to_owned()
        }),
        "[ -~]{0,20}".prop_map(|s| serde_json::to_string(&s).expect("string")),
        Just("[\"a\",1]".to_owned()),
        Just("{}".to_owned()),
    ];
    proptest::collection::vec((key, value), 0..8).prop_map(|members| {
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", inner.join(","))
    })
}

/// 2,000 cases unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// An error's text and debug form hold no control character.
fn printable(error: &Error) -> bool {
    !format!("{error} {error:?}")
        .chars()
        .any(|c| c.is_control() && c != '\n')
        && !error.to_string().contains('\n')
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_parser_never_panics(response in any_response(), secs in 0u64..4_000_000_000) {
        let sent_at = UNIX_EPOCH + Duration::from_secs(secs);
        match parse_token_response(&response, sent_at) {
            Ok(token) => {
                prop_assert!(response.status().is_success());
                prop_assert!(!token.access_token().secret().is_empty());
            }
            Err(error) => prop_assert!(printable(&error), "{error:?}"),
        }
    }

    #[test]
    fn discovery_userinfo_and_key_set_parsers_never_panic(response in any_response()) {
        if let Err(error) = parse_discovery_response(&response, "https://as.example") {
            prop_assert!(printable(&error));
        }
        if let Err(error) = parse_userinfo_response(&response, "admin") {
            prop_assert!(printable(&error));
        }
        let _ = Jwks::from_json(response.body());
    }

    #[test]
    fn compact_jws_parser_never_panics(
        header in json_like(),
        payload in json_like(),
        signature in "[A-Za-z0-9_-]{0,90}",
        raw in "[ -~]{0,200}",
    ) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let compact = format!("{}.{}.{signature}", b64.encode(header), b64.encode(payload));
        let _ = Jws::parse(&compact);
        let _ = Jws::parse(&raw);
    }

    #[test]
    fn callback_parser_never_panics(query in "[ -~]{0,160}", fragment in any::<bool>()) {
        let config = ClientConfig::new("c")
            .authorization_endpoint("https://as.example/auth")
            .expect("url")
            .redirect_uri("http://127.0.0.1/cb");
        let (_, pending) = oauth_core::oidc::authorization_url(
            &config,
            &AuthorizationRequest::new().scope("openid"),
            &[7; oauth_core::oidc::AUTHORIZATION_ENTROPY],
        )
        .expect("url");
        let separator = if fragment { '#' } else { '?' };
        if let Err(error) = pending.callback(&format!("http://127.0.0.1/cb{separator}{query}")) {
            prop_assert!(printable(&error), "{error:?}");
        }
    }

    #[test]
    fn introspection_and_revocation_parsers_never_panic(response in any_response()) {
        if let Err(error) = parse_introspection_response(&response) {
            prop_assert!(printable(&error));
        }
        match parse_revocation_response(&response) {
            Ok(()) => prop_assert!(response.status().is_success()),
            Err(error) => prop_assert!(printable(&error)),
        }
    }

    #[test]
    fn device_authorization_parser_never_panics(response in any_response(), secs in 0u64..4_000_000_000) {
        let sent_at = UNIX_EPOCH + Duration::from_secs(secs);
        match oauth_core::rfc8628::parse_device_authorization_response(&response, sent_at) {
            Ok(answer) => prop_assert!(answer.interval() >= Duration::from_secs(1) && answer.expires_at() >= sent_at),
            Err(error) => prop_assert!(printable(&error)),
        }
    }

    #[test]
    fn pushed_authorization_parser_never_panics(response in any_response()) {
        if let Err(error) = oauth_core::oidc::parse_pushed_authorization_response(&response) {
            prop_assert!(printable(&error));
        }
    }

    #[test]
    fn signing_key_loaders_never_panic(text in "[ -~\n]{0,300}", pem in any::<bool>()) {
        let loaded = if pem {
            oauth_core::jose::SigningKey::from_pem(&text, oauth_core::jose::Algorithm::ES256)
        } else {
            oauth_core::jose::SigningKey::from_jwk(&text, None)
        };
        if let Err(error) = loaded {
            prop_assert!(!error.to_string().chars().any(char::is_control));
        }
    }

    #[test]
    fn challenge_parser_never_panics(value in "[ -~]{0,200}") {
        for challenge in parse_www_authenticate(&value) {
            prop_assert!(!challenge.scheme().is_empty());
        }
    }

    #[test]
    fn persisted_token_parser_never_panics(body in json_like()) {
        let _ = serde_json::from_str::<Token>(&body);
    }

    #[test]
    fn successful_token_survives_a_round_trip(expires_in in 1u64..10_000_000, at in "[A-Za-z0-9._~+/-]{1,64}") {
        let body = format!(r#"{{"access_token":"{at}","token_type":"Bearer","expires_in":{expires_in}}}"#);
        let response = http::Response::builder().status(200).body(body.into_bytes()).expect("response");
        let sent_at = UNIX_EPOCH + Duration::from_secs(1_771_834_670);
        let token = parse_token_response(&response, sent_at).expect("valid token");
        prop_assert_eq!(token.expires_at(), Some(sent_at + Duration::from_secs(expires_in)));
        let restored: Token = serde_json::from_str(&serde_json::to_string(&token).expect("ser")).expect("de");
        prop_assert_eq!(restored, token);
    }
}
