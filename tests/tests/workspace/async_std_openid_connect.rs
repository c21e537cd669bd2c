//! OpenID Connect through oauth-async-std against the real provider: the code flow (under
//! async-std and under smol), an ID token refused after the code exchange, a login whose
//! caller gave up, key rotation, unknown kids, refused callbacks.
//!
//! Futures run under `async_std::task::block_on` (one code flow under `smol::block_on`); no
//! tokio runtime is started. The headless browser (`follow_to_callback`) blocks, so it runs on
//! async-std's blocking pool or outside `block_on`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_std::task::block_on;
use oauth_async_std::{
    AuthorizationRequest, Error, OAuth2Session, PendingAuthorization, Token, UpdateKind,
};
use oauth_core::jose::{Algorithm, Jws};
use oauth_core::oidc::IdTokenExpectations;
use oauth_tests::browser::follow_to_callback;
use oauth_tests::oidc_provider::AuthServer;

use crate::signing::forged_id_token;
use crate::start_server;

const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";

fn session(server: &AuthServer, refetch_interval: Duration) -> OAuth2Session {
    block_on(OAuth2Session::from_issuer(server.issuer(), "admin-cli"))
        .expect("discovery")
        .redirect_uri(REDIRECT_URI)
        .jwks_cache(Duration::from_secs(600), refetch_interval)
        .build()
        .expect("session")
}

/// The front channel, blocking: the authorization URL, followed by the headless browser to the
/// callback URL; and the nonce the URL carries.
fn browse(session: &OAuth2Session) -> (String, PendingAuthorization, Option<String>) {
    let request = AuthorizationRequest::new().scope("openid profile email");
    let (url, pending) = session.authorization_url(&request).expect("url");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    let nonce = param("nonce");
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    (callback, pending, nonce)
}

/// A whole login inside the executor: the blocking browser goes to async-std's blocking pool.
async fn login(session: &OAuth2Session) -> Result<Token, Error> {
    let browsing = session.clone();
    let (callback, pending, _) = async_std::task::spawn_blocking(move || browse(&browsing)).await;
    session.exchange_code(pending, &callback).await
}

fn id_token_kid(session: &OAuth2Session) -> Option<String> {
    let id_token = session.token().and_then(|t| t.id_token().cloned())?;
    Jws::parse(id_token.secret()).ok()?.kid().map(str::to_owned)
}

#[test]
fn code_flow_with_pkce_and_nonce_validates_the_id_token_and_fetches_userinfo() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    let (callback, pending, nonce) = browse(&session);
    block_on(async {
        let token = session
            .exchange_code(pending, &callback)
            .await
            .expect("login");
        assert!(token.id_token().is_some());
        let claims = session.id_token_claims().expect("validated claims");
        assert_eq!((claims.sub(), claims.iss()), ("admin", server.issuer()));
        assert_eq!(claims.aud(), ["admin-cli"]);
        assert!(nonce.is_some());
        assert_eq!(claims.nonce(), nonce.as_deref(), "the nonce sent came back");
        let userinfo = session.userinfo().await.expect("userinfo");
        assert_eq!(userinfo.sub(), "admin");
        assert_eq!(userinfo.claims()["email"], "admin@example.test");
        let response = session
            .get(server.resource_url())
            .call()
            .await
            .expect("resource");
        assert_eq!(response.status(), 200);
        response.into_body().read_to_vec().await.expect("body");
    });
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
fn code_flow_under_smol_block_on() {
    let server = start_server(Duration::from_secs(30));
    let session = smol::block_on(OAuth2Session::from_issuer(server.issuer(), "admin-cli"))
        .expect("discovery")
        .redirect_uri(REDIRECT_URI)
        .build()
        .expect("session");
    let (callback, pending, _) = browse(&session);
    smol::block_on(async {
        session
            .exchange_code(pending, &callback)
            .await
            .expect("login");
        let userinfo = session.userinfo().await.expect("userinfo");
        assert_eq!(userinfo.claims()["email"], "admin@example.test");
    });
    assert_eq!(
        session.id_token_claims().map(|c| c.sub().to_owned()),
        Some("admin".into())
    );
    let stats = server.stats().expect("stats");
    assert_eq!((stats.jwks(), stats.userinfo()), (1, 1));
}

#[test]
fn an_id_token_that_fails_validation_signs_nobody_in_and_calls_no_hook() {
    let server = start_server(Duration::from_secs(30));
    let builder = |algorithms: Vec<Algorithm>| {
        let updates = Arc::new(Mutex::new(Vec::new()));
        let (sync_seen, async_seen) = (Arc::clone(&updates), Arc::clone(&updates));
        let session = block_on(OAuth2Session::from_issuer(server.issuer(), "admin-cli"))
            .expect("discovery")
            .redirect_uri(REDIRECT_URI)
            .id_token_algorithms(algorithms)
            .on_token_update(move |update| {
                sync_seen
                    .lock()
                    .expect("lock")
                    .push(("sync", update.kind()));
            })
            .on_token_update_async(move |update| {
                let seen = Arc::clone(&async_seen);
                async move { seen.lock().expect("lock").push(("async", update.kind())) }
            })
            .build()
            .expect("session");
        (session, updates)
    };
    // The provider signs with RS256; this client allows ES256 only.
    let (strict, updates) = builder(vec![Algorithm::ES256]);
    let error = block_on(login(&strict)).unwrap_err();
    assert!(
        error.to_string().contains("ID token check 7 (alg)"),
        "{error}"
    );
    assert!(strict.token().is_none(), "nothing is signed in");
    assert!(strict.id_token_claims().is_none());
    assert!(updates.lock().expect("lock").is_empty(), "no hook");
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("authorization_code"),
        1,
        "the code was exchanged, its answer refused"
    );

    let (session, updates) = builder(vec![Algorithm::RS256]);
    block_on(login(&session)).expect("login");
    assert_eq!(
        *updates.lock().expect("lock"),
        [
            ("sync", UpdateKind::Fetched),
            ("async", UpdateKind::Fetched)
        ]
    );
}

#[test]
fn a_login_whose_caller_gave_up_still_completes() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    let (callback, pending, _) = browse(&session);
    block_on(async {
        // Polled once: the checks pass, the exchange starts, then the caller is gone.
        let gave_up =
            async_std::future::timeout(Duration::ZERO, session.exchange_code(pending, &callback))
                .await;
        assert!(gave_up.is_err(), "the caller gave up before the answer");
        let deadline = SystemTime::now() + Duration::from_secs(10);
        while session.id_token_claims().is_none() && SystemTime::now() < deadline {
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(session.id_token_claims().is_some(), "the login completed");
    assert!(
        session
            .token()
            .and_then(|t| t.id_token().cloned())
            .is_some()
    );
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("authorization_code"),
        1
    );
}

#[test]
fn claims_never_outlive_the_token_of_their_login() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    block_on(async {
        login(&session).await.expect("login");
        assert!(session.id_token_claims().is_some());
        // Even the same token, set back: the session cannot know where it came from.
        let token = session.token().expect("token");
        session.set_token(token);
        assert!(session.id_token_claims().is_none(), "set_token clears them");
        let error = session.userinfo().await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Core(oauth_core::Error::Usage(oauth_core::UsageError::NoIdToken))
            ),
            "{error}"
        );

        login(&session).await.expect("second login");
        let before = session.id_token_claims().expect("claims");
        // A refresh continues the same grant: the login's claims still describe its user.
        session.refresh_token().await.expect("refresh");
        assert_eq!(
            session.id_token_claims().map(|c| c.sub().to_owned()),
            Some(before.sub().to_owned())
        );
        session.userinfo().await.expect("userinfo after a refresh");
    });
}

#[test]
fn key_rotation_at_the_provider_does_not_break_logins() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::ZERO);
    block_on(login(&session)).expect("first login");
    let new_kids = server.rotate_keys().expect("rotation");
    block_on(login(&session)).expect("login after rotation");
    assert!(id_token_kid(&session).is_some_and(|k| new_kids.contains(&k)));
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
    block_on(async {
        login(&session).await.expect("login");
        for i in 0..20 {
            let forged = forged_id_token(server.issuer(), "admin-cli", &format!("made-up-{i}"));
            let error = session
                .validate_id_token(&forged, &IdTokenExpectations::default(), None)
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("no provider key for kid"),
                "{error}"
            );
        }
    });
    assert_eq!(server.stats().expect("stats").jwks(), 1);
}

#[test]
fn state_mismatch_and_error_callbacks_are_refused() {
    let server = start_server(Duration::from_secs(30));
    let session = session(&server, Duration::from_secs(60));
    block_on(async {
        let (_, pending) = session
            .authorization_url(&AuthorizationRequest::new().scope("openid"))
            .expect("url");
        let error = session
            .exchange_code(
                pending,
                &format!("{REDIRECT_URI}?code=x&state=forged&iss={}", server.issuer()),
            )
            .await
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
            .await
            .unwrap_err();
        assert_eq!(
            error.oauth_error().map(|e| e.error()),
            Some("access_denied")
        );
    });
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
