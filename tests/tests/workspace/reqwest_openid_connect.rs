//! OpenID Connect through oauth-reqwest against the real provider: the code flow, an ID token
//! refused after the code exchange, key rotation, unknown kids (one after another, and all at
//! once on a cold cache), refused callbacks.
//!
//! Each test owns a tokio runtime and blocks on the session's futures; the headless browser
//! (`follow_to_callback`) is blocking and runs outside the runtime.

use std::time::Duration;

use oauth_core::jose::Algorithm;
use oauth_core::oidc::IdTokenExpectations;
use oauth_reqwest::{AuthorizationRequest, Error, OAuth2Session, Token, UpdateKind};
use oauth_tests::browser::follow_to_callback;
use oauth_tests::oidc_provider::AuthServer;
use tokio::runtime::Runtime;

use crate::signing::forged_id_token;
use crate::start_server;

const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn session(runtime: &Runtime, server: &AuthServer, refetch_interval: Duration) -> OAuth2Session {
    runtime
        .block_on(OAuth2Session::from_issuer(server.issuer(), "admin-cli"))
        .expect("discovery")
        .redirect_uri(REDIRECT_URI)
        .jwks_cache(Duration::from_secs(600), refetch_interval)
        .build()
        .expect("session")
}

fn login(runtime: &Runtime, session: &OAuth2Session) -> Result<Token, Error> {
    let request = AuthorizationRequest::new().scope("openid profile email");
    let (url, pending) = session.authorization_url(&request)?;
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    runtime.block_on(session.exchange_code(pending, &callback))
}

#[test]
fn code_flow_with_pkce_and_nonce_validates_the_id_token_and_fetches_userinfo() {
    let server = start_server(Duration::from_secs(30));
    let runtime = runtime();
    let session = session(&runtime, &server, Duration::from_secs(60));
    let token = login(&runtime, &session).expect("login");
    assert!(token.id_token().is_some());
    let claims = session.id_token_claims().expect("validated claims");
    assert_eq!((claims.sub(), claims.iss()), ("admin", server.issuer()));
    assert_eq!(claims.aud(), ["admin-cli"]);
    assert!(claims.nonce().is_some());
    let userinfo = runtime.block_on(session.userinfo()).expect("userinfo");
    assert_eq!(userinfo.claims()["email"], "admin@example.test");
    let status = runtime
        .block_on(session.get(server.resource_url()).send())
        .expect("resource")
        .status();
    assert_eq!(status, 200);
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
fn an_id_token_that_fails_validation_signs_nobody_in_and_calls_no_hook() {
    let server = start_server(Duration::from_secs(30));
    let runtime = runtime();
    let builder = |algorithms: Vec<Algorithm>| {
        let (sender, updates) = std::sync::mpsc::channel();
        let session = runtime
            .block_on(OAuth2Session::from_issuer(server.issuer(), "admin-cli"))
            .expect("discovery")
            .redirect_uri(REDIRECT_URI)
            .id_token_algorithms(algorithms)
            .on_token_update(move |update| {
                let _ = sender.send(update.kind());
            })
            .build()
            .expect("session");
        (session, updates)
    };
    // The provider signs with RS256; this client allows ES256 only.
    let (strict, updates) = builder(vec![Algorithm::ES256]);
    let error = login(&runtime, &strict).unwrap_err();
    assert!(
        error.to_string().contains("ID token check 7 (alg)"),
        "{error}"
    );
    assert!(strict.token().is_none(), "nothing is signed in");
    assert!(strict.id_token_claims().is_none());
    assert_eq!(updates.try_iter().count(), 0, "no hook for a refused login");
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("authorization_code"),
        1,
        "the code was exchanged, its answer refused"
    );

    let (session, updates) = builder(vec![Algorithm::RS256]);
    login(&runtime, &session).expect("login");
    assert_eq!(
        updates.try_iter().collect::<Vec<_>>(),
        [UpdateKind::Fetched]
    );
}

#[test]
fn key_rotation_at_the_provider_does_not_break_logins() {
    let server = start_server(Duration::from_secs(30));
    let runtime = runtime();
    let session = session(&runtime, &server, Duration::ZERO);
    login(&runtime, &session).expect("first login");
    let new_kids = server.rotate_keys().expect("rotation");
    login(&runtime, &session).expect("login after rotation");
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
    let runtime = runtime();
    let session = session(&runtime, &server, Duration::from_secs(60));
    login(&runtime, &session).expect("login");
    for i in 0..20 {
        let forged = forged_id_token(server.issuer(), "admin-cli", &format!("made-up-{i}"));
        let error = runtime
            .block_on(session.validate_id_token(&forged, &IdTokenExpectations::default(), None))
            .unwrap_err();
        assert!(
            error.to_string().contains("no provider key for kid"),
            "{error}"
        );
    }
    assert_eq!(server.stats().expect("stats").jwks(), 1);
}

#[test]
fn concurrent_unknown_kids_on_a_cold_cache_share_one_fetch() {
    let server = start_server(Duration::from_secs(30));
    let runtime = runtime();
    // No login first: the cache is empty when 20 tasks validate at once.
    let session = session(&runtime, &server, Duration::from_secs(60));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let session = session.clone();
            let forged = forged_id_token(server.issuer(), "admin-cli", &format!("made-up-{i}"));
            runtime.spawn(async move {
                session
                    .validate_id_token(&forged, &IdTokenExpectations::default(), None)
                    .await
            })
        })
        .collect();
    for task in tasks {
        let error = runtime
            .block_on(task)
            .expect("task")
            .expect_err("a made-up kid");
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
    let runtime = runtime();
    let session = session(&runtime, &server, Duration::from_secs(60));
    let (_, pending) = session
        .authorization_url(&AuthorizationRequest::new().scope("openid"))
        .expect("url");
    let error = runtime
        .block_on(session.exchange_code(
            pending,
            &format!("{REDIRECT_URI}?code=x&state=forged&iss={}", server.issuer()),
        ))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the authorization response's state does not match the request"
    );
    let (_, pending) = session
        .authorization_url(&AuthorizationRequest::new().scope("openid"))
        .expect("url");
    let state = pending.state().to_owned();
    let error = runtime
        .block_on(session.exchange_code(
            pending,
            &format!(
                "{REDIRECT_URI}?error=access_denied&state={state}&iss={}",
                server.issuer()
            ),
        ))
        .unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("access_denied")
    );
    assert!(session.token().is_none(), "nothing is signed in");
    assert!(session.id_token_claims().is_none());
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("authorization_code"),
        0,
        "no code was sent"
    );
}

#[test]
fn claims_never_outlive_the_token_of_their_login() {
    let server = start_server(Duration::from_secs(30));
    let runtime = runtime();
    let session = session(&runtime, &server, Duration::from_secs(60));

    let token = login(&runtime, &session).expect("login");
    assert!(session.id_token_claims().is_some());
    session.set_token(Token::bearer("someone-else"));
    assert!(session.id_token_claims().is_none(), "set_token clears them");
    let error = runtime.block_on(session.userinfo()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Core(oauth_core::Error::Usage(oauth_core::UsageError::NoIdToken))
        ),
        "{error}"
    );
    // Putting the login's own token back does not bring them back: nothing validated it.
    session.set_token(token);
    assert!(session.id_token_claims().is_none());

    login(&runtime, &session).expect("second login");
    let before = session.id_token_claims().expect("claims");
    runtime.block_on(session.refresh_token()).expect("refresh");
    // A refresh continues the same grant: the login's claims still describe its user.
    assert_eq!(
        session.id_token_claims().map(|c| c.sub().to_owned()),
        Some(before.sub().to_owned())
    );
    runtime
        .block_on(session.userinfo())
        .expect("userinfo after a refresh");

    runtime
        .block_on(session.fetch_token(oauth_reqwest::Grant::password("admin", "admin")))
        .expect("password grant");
    assert!(session.id_token_claims().is_none(), "a fetch clears them");
}
