//! The flows of `oauth_core::flow`, driven step by step with a fixed clock: what each asks for,
//! in which order, and what it ends with — the same answers every adapter's driver acts on.

use std::time::Duration;

use oauth_core::flow::{Authorize, EndpointCall, Fetch, Flow, Step, Userinfo, WAIT_SLICE};
use oauth_core::testing::{ManualClock, ScriptedServer};
use oauth_core::{ClientConfig, Error, Grant, TokenRef, TokenSession, UpdateKind, UsageError};

use crate::{render, response};

fn session() -> TokenSession {
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
        .expect("url")
        .revocation_endpoint(ScriptedServer::REVOCATION_ENDPOINT)
        .expect("url")
        .leeway(Duration::from_secs(10));
    let mut session = TokenSession::new(config);
    session.record_updates(true);
    session
}

fn done<T: std::fmt::Debug>(step: Step<T>) -> Result<T, Error> {
    match step {
        Step::Done(result) => result,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn logged_in(server: &mut ScriptedServer, clock: &ManualClock) -> TokenSession {
    let mut session = session();
    let mut fetch = Fetch::grant(Grant::password("admin", "admin"));
    done(server.drive(&mut session, &mut fetch, clock.now())).expect("password grant");
    session
}

fn secret(session: &TokenSession) -> String {
    let token = session.token().expect("token");
    token.access_token().secret().to_owned()
}

#[test]
fn fetch_sends_the_grant_and_queues_one_update() {
    let clock = ManualClock::new();
    let mut session = session();
    let mut fetch = Fetch::grant(Grant::password("admin", "admin"));
    let Step::Send(call) = fetch.poll(&mut session, clock.now()) else {
        panic!("a fetch starts with its token request");
    };
    assert!(call.consumes_grant());
    assert!(!call.is_shared(), "nobody waits for an explicit fetch");
    assert_eq!(
        render(call.request()),
        "POST https://auth.test/token\n\
         accept: application/json\n\
         content-type: application/x-www-form-urlencoded\n\n\
         grant_type=password&username=admin&password=admin&client_id=admin-cli"
    );
    let body =
        br#"{"access_token":"a1","token_type":"Bearer","expires_in":60,"refresh_token":"r1"}"#;
    fetch.handle_response(
        &mut session,
        response(200, Some("application/json"), body),
        clock.now(),
    );
    let token = done(fetch.poll(&mut session, clock.now())).expect("token");
    assert_eq!(token.access_token().secret(), "a1");
    assert_eq!(
        token.expires_at(),
        Some(clock.now() + Duration::from_secs(60))
    );
    let update = session.poll_update().expect("one update");
    assert_eq!(update.kind(), UpdateKind::Fetched);
    assert!(session.poll_update().is_none());
}

#[test]
fn a_fetch_without_an_answer_ends_with_the_transport_error_and_keeps_the_token() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    let before = secret(&session);
    let mut fetch = Fetch::refresh();
    let Step::Send(call) = fetch.poll(&mut session, clock.now()) else {
        panic!("refresh request expected");
    };
    assert!(
        call.is_shared(),
        "an explicit refresh is a renewal others wait for"
    );
    fetch.handle_failure(&mut session, clock.now());
    assert!(matches!(
        fetch.poll(&mut session, clock.now()),
        Step::TransportFailed
    ));
    assert_eq!(secret(&session), before);
}

#[test]
fn authorize_is_one_poll_while_the_token_is_fresh() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    let bearer = done(Authorize::new().poll(&mut session, clock.now())).expect("bearer");
    assert_eq!(bearer.access_token().secret(), secret(&session));
    assert_eq!(server.token_requests("refresh_token"), 0);
}

#[test]
fn authorize_renews_a_due_token_and_the_update_is_queued_in_order() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    assert_eq!(
        session.poll_update().map(|u| u.kind()),
        Some(UpdateKind::Fetched)
    );
    clock.advance(Duration::from_secs(55));
    let mut authorize = Authorize::new();
    let bearer = done(server.drive(&mut session, &mut authorize, clock.now())).expect("bearer");
    assert_eq!(server.token_requests("refresh_token"), 1);
    assert_eq!(bearer.access_token().secret(), secret(&session));
    assert_eq!(
        session.poll_update().map(|u| u.kind()),
        Some(UpdateKind::Refreshed)
    );
}

#[test]
fn concurrent_authorizations_share_one_renewal() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    let old = secret(&session);
    // Past the token's usable life: callers must wait for the renewal.
    clock.advance(Duration::from_secs(60));
    let mut first = Authorize::new();
    let Step::Send(call) = first.poll(&mut session, clock.now()) else {
        panic!("the first caller renews");
    };
    assert!(call.is_shared() && call.consumes_grant());
    let mut second = Authorize::new();
    match second.poll(&mut session, clock.now()) {
        Step::Wait { until } => assert_eq!(until, clock.now() + WAIT_SLICE),
        other => panic!("the second caller waits, got {other:?}"),
    }
    let answer = server.handle(call.request(), clock.now());
    first.handle_response(&mut session, answer, clock.now());
    let one = done(first.poll(&mut session, clock.now())).expect("renewed");
    let two = done(second.poll(&mut session, clock.now())).expect("shared");
    assert_eq!(one, two);
    assert_ne!(one.access_token().secret(), old);
    assert_eq!(server.token_requests("refresh_token"), 1);
}

#[test]
fn a_failed_renewal_falls_back_to_the_still_valid_token() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    let old = secret(&session);
    clock.advance(Duration::from_secs(52));
    let mut authorize = Authorize::new();
    assert!(matches!(
        authorize.poll(&mut session, clock.now()),
        Step::Send(_)
    ));
    authorize.handle_failure(&mut session, clock.now());
    let bearer = done(authorize.poll(&mut session, clock.now())).expect("old token served");
    assert_eq!(bearer.access_token().secret(), old);
}

#[test]
fn a_failed_renewal_of_a_dead_token_ends_with_the_transport_error() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    clock.advance(Duration::from_secs(60));
    let mut authorize = Authorize::new();
    assert!(matches!(
        authorize.poll(&mut session, clock.now()),
        Step::Send(_)
    ));
    authorize.handle_failure(&mut session, clock.now());
    assert!(matches!(
        authorize.poll(&mut session, clock.now()),
        Step::TransportFailed
    ));
}

#[test]
fn a_server_issuing_dead_tokens_stops_after_two_renewals() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    clock.advance(Duration::from_secs(60));
    let dead = br#"{"access_token":"d","token_type":"Bearer","expires_in":1,"refresh_token":"r"}"#;
    let mut authorize = Authorize::new();
    for _ in 0..2 {
        let Step::Send(_) = authorize.poll(&mut session, clock.now()) else {
            panic!("a renewal");
        };
        // Issued "a second ago": already past its usable life at `now`.
        let sent_at = clock.now() - Duration::from_secs(2);
        authorize.handle_response(&mut session, response(200, None, dead), sent_at);
    }
    let error = done(authorize.poll(&mut session, clock.now())).expect_err("gives up");
    assert!(
        matches!(error, Error::Usage(UsageError::RenewalLoop)),
        "{error}"
    );
    // The third renewal was given back unsent: the next caller may renew at once.
    assert!(matches!(
        Authorize::new().poll(&mut session, clock.now()),
        Step::Send(_)
    ));
}

#[test]
fn a_removed_session_fails_with_the_servers_error() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    let state = session.token().expect("token").extra()["session_state"]
        .as_str()
        .expect("session_state")
        .to_owned();
    server.remove_session(&state);
    clock.advance(Duration::from_secs(60));
    let error =
        done(server.drive(&mut session, &mut Authorize::new(), clock.now())).expect_err("refused");
    assert_eq!(error.to_string(), "invalid_grant: Session not active");
    assert!(session.token().is_some(), "the old token is kept");
}

#[test]
fn deferred_updates_have_one_deliverer_at_a_time_in_order() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    clock.advance(Duration::from_secs(55));
    done(server.drive(&mut session, &mut Fetch::refresh(), clock.now())).expect("refresh");
    while let Some(update) = session.poll_update() {
        session.defer_update(update);
    }
    let (mut a, mut b) = (false, false);
    let first = session.next_deferred_update(&mut a).expect("a delivers");
    assert_eq!(first.kind(), UpdateKind::Fetched);
    assert!(
        session.next_deferred_update(&mut b).is_none(),
        "b leaves it to a"
    );
    let second = session.next_deferred_update(&mut a).expect("in order");
    assert_eq!(second.kind(), UpdateKind::Refreshed);
    assert!(session.next_deferred_update(&mut a).is_none());
    assert!(!a, "the turn is given back once the queue is empty");
}

#[test]
fn userinfo_needs_a_login_and_revocation_is_one_call() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    let error = done(Userinfo::new().poll(&mut session, clock.now())).expect_err("no login");
    assert!(matches!(error, Error::Usage(UsageError::NoIdToken)));
    let token = session.token().expect("token").clone();
    let mut revoke = EndpointCall::revocation(
        session.config(),
        TokenRef::Refresh(token.refresh_token().expect("refresh token")),
    );
    done(server.drive(&mut session, &mut revoke, clock.now())).expect("revoked");
}

#[test]
fn polling_again_before_the_answer_is_a_driver_bug_not_a_second_request() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = logged_in(&mut server, &clock);
    clock.advance(Duration::from_secs(55));
    let mut authorize = Authorize::new();
    assert!(matches!(
        authorize.poll(&mut session, clock.now()),
        Step::Send(_)
    ));
    let error = done(authorize.poll(&mut session, clock.now())).expect_err("misuse");
    assert!(matches!(error, Error::Usage(UsageError::CallOutstanding)));
}

/// The OpenID Connect flows with HS256 ID tokens (keyed by the client secret, so no key set
/// is fetched), answered by hand.
mod openid_connect {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use oauth_core::flow::{Fetch, Flow, Login, Step};
    use oauth_core::jose::Algorithm;
    use oauth_core::oidc::{
        AUTHORIZATION_ENTROPY, AuthorizationRequest, IdTokenError, authorization_url,
    };
    use oauth_core::testing::ManualClock;
    use oauth_core::{ClientConfig, Error, TokenSession};
    use serde_json::{Value, json};

    use super::done;
    use crate::response;

    const SECRET: &str = "a-client-secret-of-32-bytes-or-more!";

    fn config() -> ClientConfig {
        ClientConfig::new("admin-cli")
            .token_endpoint("https://as.test/token")
            .expect("url")
            .authorization_endpoint("https://as.test/auth")
            .expect("url")
            .issuer("https://as.test")
            .redirect_uri("http://127.0.0.1/cb")
            .client_secret_basic(SECRET)
            .id_token_algorithms([Algorithm::HS256])
    }

    fn unix(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
    }

    fn hs256(claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
        let signature = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn token_answer(access_token: &str, id_token: &str) -> http::Response<Vec<u8>> {
        let body = json!({
            "access_token": access_token, "token_type": "Bearer", "expires_in": 60,
            "refresh_token": "r1", "id_token": id_token,
        });
        response(200, Some("application/json"), body.to_string().as_bytes())
    }

    /// Answers the flow's token request with `answer`, then polls it to its end.
    fn answer<F: Flow>(
        session: &mut TokenSession,
        flow: &mut F,
        at: SystemTime,
        answer: http::Response<Vec<u8>>,
    ) -> Result<F::Output, Error>
    where
        F::Output: std::fmt::Debug,
    {
        let Step::Send(_) = flow.poll(session, at) else {
            panic!("a token request first");
        };
        flow.handle_response(session, answer, at);
        done(flow.poll(session, at))
    }

    #[test]
    fn a_refreshed_id_token_is_checked_against_the_login_before_anything_changes() {
        let mut clock = ManualClock::new();
        let mut session = TokenSession::new(config());
        let request = AuthorizationRequest::new().scope("openid");
        let (_, pending) =
            authorization_url(session.config(), &request, &[9; AUTHORIZATION_ENTROPY])
                .expect("url");
        let auth_time = unix(clock.now());
        let claims = |sub: &str, iat: SystemTime, nonce: Option<&str>| {
            let mut c = json!({
                "iss": "https://as.test", "sub": sub, "aud": "admin-cli",
                "iat": unix(iat), "exp": unix(iat) + 300, "auth_time": auth_time,
            });
            if let Some(nonce) = nonce {
                c["nonce"] = json!(nonce);
            }
            hs256(&c)
        };
        let nonce = pending.nonce().expect("openid asks for a nonce").to_owned();
        let callback = format!("http://127.0.0.1/cb?code=c0de&state={}", pending.state());
        let mut login = Login::new(pending, &callback).expect("callback");
        let id_token = claims("alice", clock.now(), Some(&nonce));
        answer(
            &mut session,
            &mut login,
            clock.now(),
            token_answer("a1", &id_token),
        )
        .expect("login");
        assert_eq!(session.id_token_claims().map(|c| c.sub()), Some("alice"));

        // Another user's ID token with a refresh: refused, nothing changes.
        clock.advance(Duration::from_secs(20));
        let other = claims("mallory", clock.now(), None);
        let error = answer(
            &mut session,
            &mut Fetch::refresh(),
            clock.now(),
            token_answer("a2", &other),
        )
        .expect_err("another subject");
        assert!(
            matches!(error, Error::IdToken(IdTokenError::Refreshed("sub"))),
            "{error}"
        );
        assert_eq!(
            session.token().map(|t| t.access_token().secret()),
            Some("a1")
        );
        assert_eq!(session.id_token_claims().map(|c| c.sub()), Some("alice"));

        // The login's user, issued now: the token and the claims follow it.
        clock.advance(Duration::from_secs(5));
        let same = claims("alice", clock.now(), None);
        answer(
            &mut session,
            &mut Fetch::refresh(),
            clock.now(),
            token_answer("a3", &same),
        )
        .expect("refreshed");
        assert_eq!(
            session.token().map(|t| t.access_token().secret()),
            Some("a3")
        );
        let claims = session.id_token_claims().expect("claims");
        assert_eq!((claims.sub(), claims.iat()), ("alice", clock.now()));
    }
}
