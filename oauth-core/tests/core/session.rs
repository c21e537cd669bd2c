use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use oauth_core::testing::{ManualClock, ScriptedServer};
use oauth_core::{
    Authorization, Bearer, ClientConfig, Error, Exchange, Grant, ResourceVerdict, Token,
    TokenSession, TokenUpdate, UpdateKind, UsageError, session::EXCHANGE_TIMEOUT,
};

fn config(leeway: u64) -> ClientConfig {
    ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
        .expect("url")
        .leeway(Duration::from_secs(leeway))
}

fn exchange(
    server: &mut ScriptedServer,
    session: &mut TokenSession,
    exchange: Exchange,
    now: SystemTime,
) -> Result<TokenUpdate, Error> {
    let response = server.handle(exchange.request(), now);
    session.handle_token_response(exchange.ticket(), &response, now)
}

fn seeded(server: &mut ScriptedServer, leeway: u64, clock: &ManualClock) -> TokenSession {
    let mut session = TokenSession::new(config(leeway));
    let fetch = session
        .fetch(&Grant::password("admin", "admin"), SystemTime::UNIX_EPOCH)
        .expect("request");
    exchange(server, &mut session, fetch, clock.now()).expect("password grant");
    session
}

/// The session's access token.
fn access_secret(session: &TokenSession) -> &str {
    session.token().expect("token").access_token().secret()
}

/// The session's refresh token, if any.
fn refresh_secret(session: &TokenSession) -> Option<&str> {
    session
        .token()
        .and_then(|t| t.refresh_token())
        .map(|t| t.secret())
}

fn bearer(authorization: Authorization) -> Bearer {
    match authorization {
        Authorization::Ready(bearer) => bearer,
        other => panic!("expected Ready, got {other:?}"),
    }
}

fn refresh(authorization: Authorization) -> Exchange {
    match authorization {
        Authorization::Refresh(exchange) => exchange,
        other => panic!("expected Refresh, got {other:?}"),
    }
}

fn invalid_token() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::WWW_AUTHENTICATE,
        r#"Bearer error="invalid_token""#.parse().expect("value"),
    );
    headers
}

/// (lifetime ms, leeway s, expected refresh moment in ms after issue): the leeway clamped to
/// half the lifetime, and never later than the transit margin (1 s, at most a quarter of the
/// lifetime) before expiry.
const REFRESH_TABLE: &[(u64, u64, u64)] = &[
    (5_000, 0, 4_000),
    (5_000, 2, 3_000),
    (5_000, 60, 2_500),
    (60_000, 0, 59_000),
    (60_000, 2, 58_000),
    (60_000, 60, 30_000),
    (3_600_000, 0, 3_599_000),
    (3_600_000, 2, 3_598_000),
    (3_600_000, 60, 3_540_000),
];

#[test]
fn refresh_moment_over_simulated_time() {
    for &(lifetime, leeway, due) in REFRESH_TABLE {
        let issued = ManualClock::new().now();
        let token = Token::bearer("at")
            .with_refresh_token("rt")
            .with_lifetime(issued, issued + Duration::from_millis(lifetime));
        let mut session = TokenSession::new(config(leeway));
        let _ = session.set_token(token);
        assert_eq!(
            session.refresh_at(),
            Some(issued + Duration::from_millis(due)),
            "{lifetime} {leeway}"
        );
        // Walk the whole lifetime in 1 ms steps around the edge and 100 ms steps elsewhere.
        let mut at = 0;
        while at < due {
            assert!(
                matches!(
                    session.poll_authorization(issued + Duration::from_millis(at)),
                    Authorization::Ready(_)
                ),
                "lifetime {lifetime} leeway {leeway}: not ready at {at} ms"
            );
            at += if due - at <= 5 {
                1
            } else {
                100.min(due - at - 5).max(1)
            };
        }
        let _ = refresh(session.poll_authorization(issued + Duration::from_millis(due)));
    }
}

#[test]
fn token_without_expiry_is_never_refreshed_proactively() {
    let mut session = TokenSession::new(config(60));
    let _ = session.set_token(Token::bearer("at").with_refresh_token("rt"));
    let far = ManualClock::new().now() + Duration::from_secs(10 * 365 * 86_400);
    let _ = bearer(session.poll_authorization(far));
    assert_eq!(session.refresh_at(), None);
}

#[test]
fn seed_scenario_with_the_scripted_server() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 60, &clock);
    let first = bearer(session.poll_authorization(clock.now()));
    assert_eq!(first.header_value(), "Bearer at-2");

    // Keycloak's 60 s token with leeway 60: due after 30 s, not at once.
    clock.advance(Duration::from_secs(29));
    let _ = bearer(session.poll_authorization(clock.now()));
    clock.advance(Duration::from_secs(1));
    let due = refresh(session.poll_authorization(clock.now()));
    let update = exchange(&mut server, &mut session, due, clock.now()).expect("refresh");
    assert_eq!(update.kind(), UpdateKind::Refreshed);
    assert_eq!(
        update.old_token().map(|t| t.access_token().secret()),
        Some("at-2")
    );
    let second = bearer(session.poll_authorization(clock.now()));
    assert_eq!(second.header_value(), "Bearer at-4");
    assert_eq!(server.token_requests("refresh_token"), 1);
    // No rotation: the old refresh token is kept.
    assert_eq!(refresh_secret(&session), Some("rt-3"));

    let session_state = session.token().expect("token").extra()["session_state"]
        .as_str()
        .expect("str")
        .to_owned();
    server.remove_session(&session_state);
    clock.advance(Duration::from_secs(30));
    let due = refresh(session.poll_authorization(clock.now()));
    let error = exchange(&mut server, &mut session, due, clock.now()).unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Session not active");
    assert!(error.requires_reauthentication());
    // Nothing lost.
    assert_eq!(access_secret(&session), "at-4");
    assert_eq!(refresh_secret(&session), Some("rt-3"));
    // While the old token is valid it is still used; once expired the error comes back without
    // asking the server again.
    let _ = bearer(session.poll_authorization(clock.now()));
    clock.advance(Duration::from_secs(30));
    match session.poll_authorization(clock.now()) {
        Authorization::Fail(e) => assert_eq!(e.to_string(), "invalid_grant: Session not active"),
        other => panic!("expected Fail, got {other:?}"),
    }
    assert_eq!(server.token_requests("refresh_token"), 2);
    // An explicit refresh still asks the server.
    let explicit = session.refresh(clock.now()).expect("request");
    assert!(exchange(&mut server, &mut session, explicit, clock.now()).is_err());
    assert_eq!(server.token_requests("refresh_token"), 3);
}

#[test]
fn refresh_keeps_old_refresh_token_and_scope_when_the_server_sends_none() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let explicit = session.refresh(clock.now()).expect("request");
    server.push_response(
        http::Response::builder()
            .status(200)
            .body(br#"{"access_token":"new","token_type":"Bearer","expires_in":60}"#.to_vec())
            .expect("response"),
    );
    let update = exchange(&mut server, &mut session, explicit, clock.now()).expect("refresh");
    assert_eq!(
        update.new_token().refresh_token().map(|t| t.secret()),
        Some("rt-3")
    );
    assert_eq!(update.new_token().scope(), Some("email profile"));
}

#[test]
fn rotated_refresh_token_is_kept() {
    let mut server = ScriptedServer::new().rotate_refresh_tokens(true);
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let refresh = session.refresh(clock.now()).expect("request");
    let update = exchange(&mut server, &mut session, refresh, clock.now()).expect("refresh");
    assert_eq!(
        update
            .old_token()
            .and_then(|t| t.refresh_token())
            .map(|t| t.secret()),
        Some("rt-3")
    );
    assert_eq!(
        update.new_token().refresh_token().map(|t| t.secret()),
        Some("rt-5")
    );
}

#[test]
fn single_flight_old_token_inside_the_leeway_wait_after_expiry() {
    let mut server = ScriptedServer::new().access_token_ttl(Duration::from_secs(10));
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 2, &clock);
    clock.advance(Duration::from_secs(8));
    let first = refresh(session.poll_authorization(clock.now()));
    // Everyone else keeps the still-valid token, and no second refresh starts.
    for _ in 0..1000 {
        assert_eq!(
            bearer(session.poll_authorization(clock.now())).header_value(),
            "Bearer at-2"
        );
    }
    clock.advance(Duration::from_secs(2));
    for _ in 0..1000 {
        assert!(matches!(
            session.poll_authorization(clock.now()),
            Authorization::Wait(_)
        ));
    }
    exchange(&mut server, &mut session, first, clock.now()).expect("refresh");
    assert_eq!(
        bearer(session.poll_authorization(clock.now())).header_value(),
        "Bearer at-4"
    );
    assert_eq!(server.token_requests("refresh_token"), 1);
}

#[test]
fn failed_refresh_loses_nothing_and_is_retried() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    clock.advance(Duration::from_secs(60));
    let attempt = refresh(session.poll_authorization(clock.now()));
    session.handle_exchange_failure(attempt.ticket());
    assert_eq!(access_secret(&session), "at-2");

    server.push_response(
        http::Response::builder()
            .status(500)
            .header("content-type", "text/html")
            .body(b"<h1>down</h1>".to_vec())
            .expect("response"),
    );
    let attempt = refresh(session.poll_authorization(clock.now()));
    let error = exchange(&mut server, &mut session, attempt, clock.now()).unwrap_err();
    assert!(matches!(error, Error::Response(_)), "{error}");
    assert_eq!(refresh_secret(&session), Some("rt-3"));

    let attempt = refresh(session.poll_authorization(clock.now()));
    exchange(&mut server, &mut session, attempt, clock.now()).expect("third time works");
}

#[test]
fn abandoned_exchange_is_replaced_after_the_timeout() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    clock.advance(Duration::from_secs(60));
    let lost = refresh(session.poll_authorization(clock.now()));
    assert!(matches!(
        session.poll_authorization(clock.now()),
        Authorization::Wait(_)
    ));
    clock.advance(EXCHANGE_TIMEOUT);
    let second = refresh(session.poll_authorization(clock.now()));
    exchange(&mut server, &mut session, second, clock.now()).expect("refresh");
    drop(lost);
}

#[test]
fn without_an_exchange_timeout_a_live_refresh_is_never_doubled() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock).with_exchange_timeout(None);
    clock.advance(Duration::from_secs(60));
    let hanging = refresh(session.poll_authorization(clock.now()));
    // However long its transport waits (a 200 s timeout, say), nobody starts a second one.
    for _ in 0..10 {
        clock.advance(EXCHANGE_TIMEOUT);
        assert!(matches!(
            session.poll_authorization(clock.now()),
            Authorization::Wait(_)
        ));
    }
    assert!(matches!(
        session.refresh(clock.now()),
        Err(Error::Usage(UsageError::RefreshInFlight))
    ));
    exchange(&mut server, &mut session, hanging, clock.now()).expect("refresh");
    assert_eq!(server.token_requests("refresh_token"), 1);
}

/// Found by the `session` fuzz target: a token set back with the refresh token of a refresh
/// in flight must not let a second refresh start with it.
#[test]
fn a_token_set_back_during_a_refresh_does_not_double_its_refresh_token() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock).with_exchange_timeout(None);
    clock.advance(Duration::from_secs(60));
    let in_flight = refresh(session.poll_authorization(clock.now()));
    let persisted = session.token().expect("token").clone();
    // Another grant's token in between, then the persisted one back (the fuzzer's order).
    let _ = session.set_token(Token::bearer("other").with_refresh_token("other-rt"));
    let _ = session.set_token(persisted);
    assert!(matches!(
        session.poll_authorization(clock.now()),
        Authorization::Wait(_)
    ));
    assert!(matches!(
        session.refresh(clock.now()),
        Err(Error::Usage(UsageError::RefreshInFlight))
    ));
    // Its answer is dropped (the token was set meanwhile); then renewal starts again.
    let superseded = exchange(&mut server, &mut session, in_flight, clock.now());
    assert!(matches!(
        superseded,
        Err(Error::Usage(UsageError::Superseded))
    ));
    assert!(matches!(
        session.poll_authorization(clock.now()),
        Authorization::Refresh(_)
    ));
}

#[test]
fn unauthorized_invalid_token_refreshes_once_then_replays_once() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let signed = bearer(session.poll_authorization(clock.now()));
    let verdict = session.handle_resource_response(
        &signed,
        0,
        &http::Uri::default(),
        StatusCode::UNAUTHORIZED,
        &invalid_token(),
    );
    assert_eq!(verdict, ResourceVerdict::Replay);
    let forced = refresh(session.poll_authorization(clock.now()));
    exchange(&mut server, &mut session, forced, clock.now()).expect("refresh");
    let replay = bearer(session.poll_authorization(clock.now()));
    assert_ne!(replay.header_value(), signed.header_value());
    // A second 401 on the replay goes to the caller: no loop.
    let verdict = session.handle_resource_response(
        &replay,
        1,
        &http::Uri::default(),
        StatusCode::UNAUTHORIZED,
        &invalid_token(),
    );
    assert_eq!(verdict, ResourceVerdict::Accept);
    assert_eq!(server.token_requests("refresh_token"), 1);
}

#[test]
fn unauthorized_with_a_stale_token_replays_without_refreshing() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let old = bearer(session.poll_authorization(clock.now()));
    let refresh_now = session.refresh(clock.now()).expect("request");
    exchange(&mut server, &mut session, refresh_now, clock.now()).expect("refresh");
    let verdict = session.handle_resource_response(
        &old,
        0,
        &http::Uri::default(),
        StatusCode::UNAUTHORIZED,
        &invalid_token(),
    );
    assert_eq!(verdict, ResourceVerdict::Replay);
    let _ = bearer(session.poll_authorization(clock.now()));
}

#[test]
fn a_replay_refused_after_another_renewal_is_replayed_once_more_with_the_current_token() {
    // Servers that revoke the previous access token on refresh: the replay was signed with
    // a token that another caller's renewal has just replaced.
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let renew = |server: &mut ScriptedServer, session: &mut TokenSession| {
        let exchange_now = session.refresh(clock.now()).expect("request");
        exchange(server, session, exchange_now, clock.now()).expect("refresh");
    };
    let first = bearer(session.poll_authorization(clock.now()));
    renew(&mut server, &mut session);
    let replay = |session: &mut TokenSession, signed: &Bearer, replays| {
        session.handle_resource_response(
            signed,
            replays,
            &http::Uri::default(),
            StatusCode::UNAUTHORIZED,
            &invalid_token(),
        )
    };
    assert_eq!(replay(&mut session, &first, 0), ResourceVerdict::Replay);
    let second = bearer(session.poll_authorization(clock.now()));
    renew(&mut server, &mut session);
    assert_eq!(replay(&mut session, &second, 1), ResourceVerdict::Replay);
    let third = bearer(session.poll_authorization(clock.now()));
    renew(&mut server, &mut session);
    // Two replays at most, whatever happens to the token: the third 401 reaches the caller.
    assert_eq!(replay(&mut session, &third, 2), ResourceVerdict::Accept);
    // None of these replays asked for a refresh of its own.
    assert_eq!(server.token_requests("refresh_token"), 3);
}

#[test]
fn other_statuses_and_challenges_are_accepted_as_they_are() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let signed = bearer(session.poll_authorization(clock.now()));
    let mut insufficient = HeaderMap::new();
    insufficient.insert(
        http::header::WWW_AUTHENTICATE,
        r#"Bearer error="insufficient_scope""#.parse().expect("v"),
    );
    for (status, headers) in [
        (StatusCode::OK, HeaderMap::new()),
        (StatusCode::UNAUTHORIZED, HeaderMap::new()),
        (StatusCode::FORBIDDEN, insufficient),
    ] {
        assert_eq!(
            session.handle_resource_response(&signed, 0, &http::Uri::default(), status, &headers),
            ResourceVerdict::Accept
        );
    }
}

#[test]
fn client_credentials_token_is_fetched_again() {
    let mut server = ScriptedServer::new().confidential_client("cc", "secret");
    let mut clock = ManualClock::new();
    let mut session = TokenSession::new(config(0).client_secret_basic("secret"));
    let mut session_cc = TokenSession::new(
        ClientConfig::new("cc")
            .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
            .expect("url")
            .client_secret_basic("secret")
            .scope("api"),
    );
    drop(session.fetch(&Grant::client_credentials(), SystemTime::UNIX_EPOCH));
    let fetch = session_cc
        .fetch(&Grant::client_credentials(), SystemTime::UNIX_EPOCH)
        .expect("request");
    exchange(&mut server, &mut session_cc, fetch, clock.now()).expect("client credentials");
    clock.advance(Duration::from_secs(60));
    let refetch = match session_cc.poll_authorization(clock.now()) {
        Authorization::Refetch(exchange) => exchange,
        other => panic!("expected Refetch, got {other:?}"),
    };
    assert!(
        std::str::from_utf8(refetch.request().body())
            .expect("utf-8")
            .contains("scope=api")
    );
    let update = exchange(&mut server, &mut session_cc, refetch, clock.now()).expect("refetch");
    assert_eq!(update.kind(), UpdateKind::Refetched);
    assert_eq!(server.token_requests("client_credentials"), 2);
}

#[test]
fn expired_with_nothing_to_renew_with_fails_clearly() {
    let mut session = TokenSession::new(config(0));
    match session.poll_authorization(ManualClock::new().now()) {
        Authorization::Fail(e) => assert_eq!(e, Error::Usage(UsageError::NoToken)),
        other => panic!("{other:?}"),
    }
    let now = ManualClock::new().now();
    let _ = session.set_token(Token::bearer("at").with_lifetime(now, now + Duration::from_secs(5)));
    // Usable until its last second (the transit margin), then refused without a request.
    let _ = bearer(session.poll_authorization(now + Duration::from_millis(3_999)));
    match session.poll_authorization(now + Duration::from_secs(4)) {
        Authorization::Fail(e) => {
            assert_eq!(
                e.to_string(),
                "the access token expired and there is nothing to renew it with"
            );
            assert!(e.requires_reauthentication());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        session.refresh(now),
        Err(Error::Usage(UsageError::NoRefreshToken))
    ));
}

#[test]
fn refresh_answer_after_set_token_is_dropped() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    let in_flight = session.refresh(clock.now()).expect("request");
    let _ = session.set_token(Token::bearer("mine"));
    let error = exchange(&mut server, &mut session, in_flight, clock.now()).unwrap_err();
    assert_eq!(error, Error::Usage(UsageError::Superseded));
    assert_eq!(access_secret(&session), "mine");
}

#[test]
fn one_update_per_change_with_generations() {
    let mut server = ScriptedServer::new();
    let clock = ManualClock::new();
    let mut session = TokenSession::new(config(0));
    assert_eq!(session.generation(), 0);
    let fetch = session
        .fetch(&Grant::password("admin", "admin"), SystemTime::UNIX_EPOCH)
        .expect("request");
    let update = exchange(&mut server, &mut session, fetch, clock.now()).expect("fetch");
    assert_eq!(
        (
            update.kind(),
            update.old_token().is_none(),
            session.generation()
        ),
        (UpdateKind::Fetched, true, 1)
    );
    let update = session.set_token(Token::bearer("x"));
    assert_eq!((update.kind(), session.generation()), (UpdateKind::Set, 2));
    let wrong = session
        .fetch(&Grant::password("admin", "nope"), SystemTime::UNIX_EPOCH)
        .expect("request");
    let error = exchange(&mut server, &mut session, wrong, clock.now()).unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
    assert_eq!(session.generation(), 2);
}

#[test]
fn non_bearer_tokens_are_refused() {
    let mut session = TokenSession::new(config(0));
    let token: Token =
        serde_json::from_str(r#"{"access_token":"a","token_type":"mac"}"#).expect("token");
    let _ = session.set_token(token);
    match session.poll_authorization(ManualClock::new().now()) {
        Authorization::Fail(e) => assert_eq!(
            e.to_string(),
            "unsupported token type \"mac\": only Bearer tokens can be sent"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn waiters_share_the_outcome_of_the_refresh_they_waited_for() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    clock.advance(Duration::from_secs(60));
    let wait = |session: &mut TokenSession, now| match session.poll_authorization(now) {
        Authorization::Wait(pending) => pending,
        other => panic!("expected Wait, got {other:?}"),
    };

    // A refresh answered with an HTML 500: every waiter gets that error, nobody retries it.
    let first = refresh(session.poll_authorization(clock.now()));
    let pending = wait(&mut session, clock.now());
    assert!(matches!(
        session.poll_pending(pending, clock.now()),
        Authorization::Wait(_)
    ));
    server.push_response(
        http::Response::builder()
            .status(500)
            .body(b"<h1>down</h1>".to_vec())
            .expect("response"),
    );
    let error = exchange(&mut server, &mut session, first, clock.now()).unwrap_err();
    for _ in 0..3 {
        match session.poll_pending(pending, clock.now()) {
            Authorization::Fail(shared) => assert_eq!(shared, error),
            other => panic!("expected the shared failure, got {other:?}"),
        }
    }
    assert_eq!(server.token_requests("refresh_token"), 1);

    // A refresh with no answer: waiters learn it failed.
    let second = refresh(session.poll_authorization(clock.now()));
    let pending = wait(&mut session, clock.now());
    session.handle_exchange_failure(second.ticket());
    match session.poll_pending(pending, clock.now()) {
        Authorization::Fail(e) => assert_eq!(e, Error::Usage(UsageError::RenewalFailed)),
        other => panic!("{other:?}"),
    }

    // A refresh that works: waiters get the new token.
    let third = refresh(session.poll_authorization(clock.now()));
    let pending = wait(&mut session, clock.now());
    exchange(&mut server, &mut session, third, clock.now()).expect("refresh");
    let fresh = bearer(session.poll_pending(pending, clock.now()));
    assert_eq!(fresh.generation(), session.generation());
}

#[test]
fn a_failed_refresh_inside_the_leeway_backs_off_and_keeps_serving_the_valid_token() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 20, &clock);
    clock.advance(Duration::from_secs(45));
    let attempt = refresh(session.poll_authorization(clock.now()));
    session.handle_exchange_failure(attempt.ticket());
    // The token is still valid: used as is during the backoff, no new refresh.
    for _ in 0..100 {
        assert_eq!(
            bearer(session.poll_authorization(clock.now())).header_value(),
            "Bearer at-2"
        );
    }
    clock.advance(oauth_core::session::RENEWAL_BACKOFF);
    let again = refresh(session.poll_authorization(clock.now()));
    exchange(&mut server, &mut session, again, clock.now()).expect("refresh");
    assert_eq!(
        server.token_requests("refresh_token"),
        1,
        "the failed attempt never reached the server"
    );
}

#[test]
fn an_explicit_refresh_never_doubles_one_in_flight() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 0, &clock);
    clock.advance(Duration::from_secs(60));
    let automatic = refresh(session.poll_authorization(clock.now()));
    assert_eq!(
        session.refresh(clock.now()).unwrap_err(),
        Error::Usage(UsageError::RefreshInFlight)
    );
    exchange(&mut server, &mut session, automatic, clock.now()).expect("refresh");
    let explicit = session
        .refresh(clock.now())
        .expect("no refresh in flight now");
    exchange(&mut server, &mut session, explicit, clock.now()).expect("refresh");
}

#[test]
fn usable_bearer_never_starts_a_renewal_and_release_frees_the_slot() {
    let mut server = ScriptedServer::new();
    let mut clock = ManualClock::new();
    let mut session = seeded(&mut server, 20, &clock);
    assert!(session.usable_bearer(clock.now()).is_some(), "fresh");
    clock.advance(Duration::from_secs(45));
    assert!(
        session.usable_bearer(clock.now()).is_none(),
        "due, nothing in flight: a poll would renew"
    );
    let attempt = refresh(session.poll_authorization(clock.now()));
    assert!(
        session.usable_bearer(clock.now()).is_some(),
        "due while a renewal is in flight"
    );
    session.release_exchange(attempt.ticket());
    // Released, not failed: the next poll renews at once, no backoff.
    let _ = refresh(session.poll_authorization(clock.now()));
    clock.advance(Duration::from_secs(15));
    assert!(session.usable_bearer(clock.now()).is_none(), "expired");
    assert_eq!(server.token_requests("refresh_token"), 0);
}
