//! OpenID Connect through oauth-ureq against the real provider: the code flow, key rotation,
//! unknown kids, refused callbacks.

use std::time::Duration;

use oauth_core::oidc::IdTokenExpectations;
use oauth_tests::browser::follow_to_callback;
use oauth_tests::oidc_provider::AuthServer;
use oauth_ureq::{AuthorizationRequest, Error, OAuth2Session, Token};

use crate::signing::forged_id_token;
use crate::start_server;

const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";

fn session(server: &AuthServer, refetch_interval: Duration) -> OAuth2Session {
    OAuth2Session::from_issuer(server.issuer(), "admin-cli")
        .expect("discovery")
        .redirect_uri(REDIRECT_URI)
        .jwks_cache(Duration::from_secs(600), refetch_interval)
        .build()
        .expect("session")
}

fn login(session: &OAuth2Session) -> Result<Token, Error> {
    let request = AuthorizationRequest::new().scope("openid profile email");
    let (url, pending) = session.authorization_url(&request)?;
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    session.exchange_code(pending, &callback)
}

#[test]
fn code_flow_with_pkce_and_nonce_validates_the_id_token_and_fetches_userinfo() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    let token = login(&session).expect("login");
    assert!(token.id_token().is_some());
    let claims = session.id_token_claims().expect("validated claims");
    assert_eq!((claims.sub(), claims.iss()), ("admin", server.issuer()));
    assert_eq!(claims.aud(), ["admin-cli"]);
    assert!(claims.nonce().is_some());
    let userinfo = session.userinfo().expect("userinfo");
    assert_eq!(userinfo.claims()["email"], "admin@example.test");
    assert_eq!(
        session
            .get(server.resource_url())
            .call()
            .expect("resource")
            .status(),
        200
    );
    let stats = server.stats().expect("stats");
    assert_eq!(
        (
            stats.token_requests("authorization_code"),
            stats.jwks(),
            stats.userinfo()
        ),
        (1, 1, 1)
    );
}

#[test]
fn key_rotation_at_the_provider_does_not_break_logins() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::ZERO);
    login(&session).expect("first login");
    let new_kids = server.rotate_keys().expect("rotation");
    login(&session).expect("login after rotation");
    let kid = oauth_core::jose::Jws::parse(
        session
            .token()
            .and_then(|t| t.id_token().cloned())
            .expect("id token")
            .secret(),
    )
    .expect("jws")
    .kid()
    .map(str::to_owned);
    assert!(kid.is_some_and(|k| new_kids.contains(&k)));
    assert_eq!(
        server.stats().expect("stats").jwks(),
        2,
        "one fetch, one re-fetch on the new kid"
    );
}

#[test]
fn a_flood_of_unknown_kids_does_not_flood_the_provider() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    login(&session).expect("login");
    for i in 0..20 {
        let forged = forged_id_token(server.issuer(), "admin-cli", &format!("made-up-{i}"));
        let error = session
            .validate_id_token(&forged, &IdTokenExpectations::default(), None)
            .unwrap_err();
        assert!(
            error.to_string().contains("no provider key for kid"),
            "{error}"
        );
    }
    assert_eq!(server.stats().expect("stats").jwks(), 1);
}

#[test]
fn state_mismatch_and_error_callbacks_are_refused() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    let (_, pending) = session
        .authorization_url(&AuthorizationRequest::new().scope("openid"))
        .expect("url");
    let error = session
        .exchange_code(
            pending,
            &format!("{REDIRECT_URI}?code=x&state=forged&iss={}", server.issuer()),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the authorization response's state does not match the request"
    );
    let (_, pending) = session
        .authorization_url(&AuthorizationRequest::new().scope("openid"))
        .expect("url");
    let state = pending.state().to_owned();
    let error = session
        .exchange_code(
            pending,
            &format!(
                "{REDIRECT_URI}?error=access_denied&state={state}&iss={}",
                server.issuer()
            ),
        )
        .unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("access_denied")
    );
    assert!(session.token().is_none(), "nothing is signed in");
}
