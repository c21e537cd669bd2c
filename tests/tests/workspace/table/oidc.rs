//! OpenID Connect against the real provider: the code flow, an ID token refused after the
//! code exchange, key rotation, unknown kids (one after another, and all at once on a cold
//! cache), refused callbacks, claims tied to their login; and, without the provider,
//! discovery answered for another issuer, userinfo before a login and fresh secrets for each
//! authorization URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::jose::{Algorithm, Jws};
use oauth_core::oidc::AuthorizationRequest;
use oauth_core::{Grant, Token, UpdateKind, UsageError};
use oauth_tests::fault::{Fault, FaultServer};
use oauth_tests::oidc_provider::AuthServer;

use super::{Action, Adapter, AdapterError, Caller, Options, REDIRECT_URI, browse, login, paths};
use crate::signing::forged_id_token;
use crate::start_server;

/// A session for `admin-cli` by discovery of `server`, keys cached for 10 minutes and
/// fetched again for an unknown kid at most every `refetch_interval`.
pub(crate) fn oidc_session<A: Adapter>(server: &AuthServer, refetch_interval: Duration) -> A {
    let options = Options::new("admin-cli")
        .discover(server)
        .jwks_cache(Duration::from_secs(600), refetch_interval);
    A::build(options).expect("session")
}

/// The kid of the session's ID token.
fn id_token_kid<A: Adapter>(session: &A) -> Option<String> {
    let id_token = session.token().and_then(|t| t.id_token().cloned())?;
    Jws::parse(id_token.secret()).ok()?.kid().map(str::to_owned)
}

pub(crate) fn code_flow_with_pkce_and_nonce_validates_the_id_token_and_fetches_userinfo<
    A: Adapter,
>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::from_secs(60));
    let browsed = browse(&session);
    assert_eq!(
        browsed.param("code_challenge_method").as_deref(),
        Some("S256")
    );
    let nonce = browsed.param("nonce");
    assert!(nonce.is_some());
    let token = session
        .exchange_code(browsed.pending, &browsed.callback)
        .expect("login");
    assert!(token.id_token().is_some());
    let claims = session.id_token_claims().expect("validated claims");
    assert_eq!((claims.sub(), claims.iss()), ("admin", server.issuer()));
    assert_eq!(claims.aud(), ["admin-cli"]);
    assert_eq!(claims.nonce(), nonce.as_deref(), "the nonce sent came back");
    let userinfo = session.userinfo().expect("userinfo");
    assert_eq!(userinfo.sub(), "admin");
    assert_eq!(userinfo.claims()["email"], "admin@example.test");
    let reply = session.get(&server.resource_url()).expect("resource");
    assert_eq!(reply.status, 200);
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

/// A login refused for its ID token's algorithm signs nobody in and calls no hook; the same
/// login allowed calls each hook once. The blocking hook always; the async one too when
/// `async_hook` (async adapters).
pub(crate) fn refused_id_token<A: Adapter>(async_hook: bool) {
    let server = start_server(Duration::from_secs(30));
    let session = |algorithms: Vec<Algorithm>| {
        let updates = Arc::new(Mutex::new(Vec::new()));
        let (sync_seen, async_seen) = (Arc::clone(&updates), Arc::clone(&updates));
        let mut options = Options::new("admin-cli")
            .discover(&server)
            .id_token_algorithms(algorithms)
            .on_update(move |u| sync_seen.lock().expect("lock").push(("sync", u.kind())));
        if async_hook {
            options = options.on_update_async(Duration::ZERO, move |u| {
                async_seen.lock().expect("lock").push(("async", u.kind()));
            });
        }
        (A::build(options).expect("session"), updates)
    };
    // The provider signs with RS256; this client allows ES256 only.
    let (strict, updates) = session(vec![Algorithm::ES256]);
    let error = login(&strict).unwrap_err();
    assert!(error.is_id_token_error(), "{error:?}");
    assert!(
        error.to_string().contains("ID token check 7 (alg)"),
        "{error}"
    );
    assert!(strict.token().is_none(), "nothing is signed in");
    assert!(strict.id_token_claims().is_none());
    assert!(
        updates.lock().expect("lock").is_empty(),
        "no hook for a refused login"
    );
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("authorization_code"),
        1,
        "the code was exchanged, its answer refused"
    );

    let (session, updates) = session(vec![Algorithm::RS256]);
    login(&session).expect("login");
    let mut expected = vec![("sync", UpdateKind::Fetched)];
    if async_hook {
        expected.push(("async", UpdateKind::Fetched));
    }
    assert_eq!(*updates.lock().expect("lock"), expected);
}

pub(crate) fn an_id_token_that_fails_validation_signs_nobody_in_and_calls_no_hook<A: Adapter>() {
    refused_id_token::<A>(false);
}

pub(crate) fn key_rotation_at_the_provider_does_not_break_logins<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::ZERO);
    login(&session).expect("first login");
    let new_kids = server.rotate_keys().expect("rotation");
    login(&session).expect("login after rotation");
    assert!(id_token_kid(&session).is_some_and(|k| new_kids.contains(&k)));
    assert_eq!(
        server.stats().expect("stats").jwks(),
        2,
        "one fetch, one re-fetch on the new kid"
    );
}

/// `error` is the refusal of an ID token whose kid the provider never published.
fn assert_unknown_kid(error: &impl AdapterError) {
    assert!(error.is_id_token_error(), "{error:?}");
    assert!(
        error.to_string().contains("no provider key for kid"),
        "{error}"
    );
}

pub(crate) fn a_flood_of_unknown_kids_does_not_flood_the_provider<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::from_secs(60));
    login(&session).expect("login");
    for i in 0..20 {
        let forged = forged_id_token(server.issuer(), "admin-cli", &format!("made-up-{i}"));
        assert_unknown_kid(&session.validate_id_token(&forged).unwrap_err());
    }
    assert_eq!(server.stats().expect("stats").jwks(), 1);
}

pub(crate) fn concurrent_unknown_kids_on_a_cold_cache_share_one_fetch<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    // No login first: the cache is empty when 20 callers validate at once.
    let session: A = oidc_session(&server, Duration::from_secs(60));
    let callers = session.concurrently(
        (0..20)
            .map(|i| {
                let kid = format!("made-up-{i}");
                Caller::once(Action::Validate(forged_id_token(
                    server.issuer(),
                    "admin-cli",
                    &kid,
                )))
            })
            .collect(),
    );
    for caller in callers {
        match caller.into_outcome() {
            Err(error) => assert_unknown_kid(&error),
            Ok(done) => panic!("a made-up kid was accepted: {done:?}"),
        }
    }
    assert_eq!(server.stats().expect("stats").jwks(), 1);
}

pub(crate) fn state_mismatch_and_error_callbacks_are_refused<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::from_secs(60));
    let request = AuthorizationRequest::new().scope("openid");
    let (_, pending) = session.authorization_url(&request).expect("url");
    let error = session
        .exchange_code(
            pending,
            &format!("{REDIRECT_URI}?code=x&state=forged&iss={}", server.issuer()),
        )
        .unwrap_err();
    assert!(error.is_callback_error(), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the authorization response's state does not match the request"
    );
    let (_, pending) = session.authorization_url(&request).expect("url");
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

fn assert_no_id_token(error: &impl AdapterError) {
    assert_eq!(error.usage_error(), Some(&UsageError::NoIdToken), "{error}");
}

pub(crate) fn claims_never_outlive_the_token_of_their_login<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::from_secs(60));

    login(&session).expect("login");
    assert!(session.id_token_claims().is_some());
    // Even the same token, set back: the session cannot know where it came from.
    session.set_token(session.token().expect("token"));
    assert!(session.id_token_claims().is_none(), "set_token clears them");
    assert_no_id_token(&session.userinfo().unwrap_err());

    let token = login(&session).expect("second login");
    assert!(session.id_token_claims().is_some());
    session.set_token(Token::bearer("someone-else"));
    assert!(session.id_token_claims().is_none(), "set_token clears them");
    assert_no_id_token(&session.userinfo().unwrap_err());
    // Putting the login's own token back does not bring them back: nothing validated it.
    session.set_token(token);
    assert!(session.id_token_claims().is_none());

    login(&session).expect("third login");
    let before = session.id_token_claims().expect("claims");
    session.refresh_token().expect("refresh");
    // A refresh continues the same grant: the login's claims still describe its user.
    assert_eq!(
        session.id_token_claims().map(|c| c.sub().to_owned()),
        Some(before.sub().to_owned())
    );
    session.userinfo().expect("userinfo after a refresh");

    session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("password grant");
    assert!(session.id_token_claims().is_none(), "a fetch clears them");
}

pub(crate) fn a_refreshed_id_token_is_validated_and_its_claims_follow_the_token<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::from_secs(60));
    let login_token = login(&session).expect("login");
    let at_login = session.id_token_claims().expect("claims");
    let refreshed = session.refresh_token().expect("refresh");
    assert!(
        refreshed.access_token() != login_token.access_token(),
        "a new access token"
    );
    // A refreshed token keeps no ID token of the old one: this one came with the refresh (the
    // same bytes as the login's when issued in the same second), and was checked.
    let id_token = refreshed.id_token().expect("an ID token with the refresh");
    let now = session.id_token_claims().expect("claims after the refresh");
    let of_the_token = session.validate_id_token(id_token).expect("valid");
    // OIDC Core 12.2: the same user and authentication, a new token.
    assert_eq!(
        (now.sub(), now.auth_time()),
        (at_login.sub(), at_login.auth_time())
    );
    assert_eq!(
        (now.iat(), now.exp()),
        (of_the_token.iat(), of_the_token.exp())
    );
    assert!(now.iat() >= at_login.iat());
}

pub(crate) fn userinfo_before_a_login_is_misuse<A: Adapter>() {
    let session = A::build(Options::new("c")).expect("session");
    assert_no_id_token(&session.userinfo().unwrap_err());
}

pub(crate) fn authorization_url_draws_fresh_state_verifier_and_nonce<A: Adapter>() {
    let options = Options::new("c")
        .authorization_endpoint("https://id.example/auth")
        .redirect_uri(REDIRECT_URI);
    let session = A::build(options).expect("session");
    let request = AuthorizationRequest::new().scope("openid");
    let (first, one) = session.authorization_url(&request).expect("url");
    let (second, two) = session.authorization_url(&request).expect("url");
    assert_ne!(one.state(), two.state());
    let param = |url: &oauth_core::url::Url, name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{name} in {url}"))
    };
    // The PKCE challenge is the verifier's digest: a fresh challenge is a fresh verifier.
    for name in ["state", "code_challenge", "nonce"] {
        assert_ne!(param(&first, name), param(&second, name), "{name}");
    }
}

pub(crate) fn discovery_of_another_issuers_metadata_is_refused<A: Adapter>() {
    let stub = FaultServer::start().expect("stub");
    let metadata = serde_json::json!({
        "issuer": "http://127.0.0.1:1/someone-else",
        "authorization_endpoint": stub.url("/auth"),
        "token_endpoint": stub.url("/token"),
        "jwks_uri": stub.url("/jwks"),
    });
    stub.push(Fault::respond(
        200,
        "application/json",
        metadata.to_string(),
    ));
    let options = Options {
        issuer: Some(stub.url("")),
        ..Options::new("c")
    };
    match A::build(options) {
        Err(error) => assert!(error.is_issuer_mismatch(), "{error:?}"),
        Ok(_) => panic!("a session was built from another issuer's metadata"),
    }
    assert_eq!(paths(&stub), ["/.well-known/openid-configuration"]);
}
