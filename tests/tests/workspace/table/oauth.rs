//! OAuth 2.0 against the real test authorization server: the seed scenario, grants and client
//! authentication, re-fetch and rotation with the update hook, a `401` replay, many callers
//! meeting one renewal, introspection and revocation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oauth_core::{Grant, Token, TokenRef, TokenUpdate, UpdateKind};
use oauth_tests::oidc_provider::{AuthServer, Stats};
use oauth_tests::seed::{run_seed_scenario, wait_until};

use super::{Adapter, AdapterError, Caller, Done, Options, SeedFacade, refresh_secret};
use crate::start_server;

pub(crate) fn seed_scenario<A: Adapter>() {
    let server = start_server(Duration::from_secs(4));
    // The seed's leeway of 60 s on a 4 s token: clamped to 2 s, so the token is used for 2 s.
    let options = Options::new("admin-cli")
        .server(&server)
        .leeway(Duration::from_secs(60));
    let mut driver = SeedFacade(A::build(options).expect("session"));
    run_seed_scenario(&server, &mut driver, &mut |line| {
        eprintln!("{} seed: {line}", A::NAME);
    })
    .expect("seed scenario");
}

pub(crate) fn wrong_password_is_invalid_grant<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session = A::build(Options::new("admin-cli").server(&server)).expect("session");
    let error = session
        .fetch_token(Grant::password("admin", "wrong"))
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
    assert!(error.requires_reauthentication());
    assert!(session.token().is_none());
}

pub(crate) fn confidential_clients_basic_post_and_form_encoded_secret<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let options = |client: &str| Options::new(client).server(&server);
    for (client, options) in [
        (
            "basic-client",
            options("basic-client").secret_basic("basic-secret"),
        ),
        (
            "post-client",
            options("post-client").secret_post("post-secret"),
        ),
        (
            "odd-secret-client",
            options("odd-secret-client").secret_basic("s3cr3t:with+special&chars/="),
        ),
    ] {
        let session = A::build(options).expect("session");
        session
            .fetch_token(Grant::client_credentials())
            .unwrap_or_else(|e| panic!("{client}: {e}"));
        let reply = session.get(&server.resource_url()).expect("resource");
        assert_eq!(reply.status, 200, "{client}");
    }
    let wrong = A::build(options("basic-client").secret_basic("nope")).expect("session");
    let error = wrong.fetch_token(Grant::client_credentials()).unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_client")
    );
    assert!(
        error
            .oauth_error()
            .and_then(|e| e.www_authenticate())
            .is_some_and(|c| c.starts_with("Basic"))
    );
}

pub(crate) fn client_credentials_token_is_fetched_again_when_due<A: Adapter>() {
    let server = start_server(Duration::from_secs(2));
    let updates = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&updates);
    let options = Options::new("cc-client")
        .server(&server)
        .secret_basic("cc-secret")
        .leeway(Duration::from_secs(1))
        .on_update(move |u| seen.lock().expect("lock").push(u.kind()));
    let session = A::build(options).expect("session");
    session
        .fetch_token(Grant::client_credentials())
        .expect("token");
    let at = session.refresh_at().expect("token has a refresh time");
    wait_until(at, Duration::from_secs(30)).expect("refresh time reached");
    let reply = session.get(&server.resource_url()).expect("resource");
    assert_eq!(reply.status, 200);
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("client_credentials"),
        2
    );
    assert_eq!(
        *updates.lock().expect("lock"),
        [UpdateKind::Fetched, UpdateKind::Refetched]
    );
}

/// What an update hook saw of one change: its kind, the new access and refresh tokens.
pub(crate) type Seen = (UpdateKind, String, Option<String>);

pub(crate) fn seen(update: &TokenUpdate) -> Seen {
    let token = update.new_token();
    let access = token.access_token().secret().to_owned();
    let refresh = token.refresh_token().map(|t| t.secret().to_owned());
    (update.kind(), access, refresh)
}

/// A password grant, then two refreshes (the second with the refresh token kept from the
/// first), through a session whose update hook pushes what it sees into `reported`: each
/// change was reported before the call that made it returned, once, in order; with rotation
/// on, each refresh brought a new refresh token, with it off the old one was kept.
pub(crate) fn assert_each_change_reported_in_order<A: Adapter>(
    session: &A,
    client: &str,
    rotates: bool,
    reported: &Mutex<Vec<Seen>>,
) {
    let reported_before_return = |calls: usize| {
        assert_eq!(
            reported.lock().expect("lock").len(),
            calls,
            "{client}: the hook ran before the call returned"
        );
    };
    let first = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    reported_before_return(1);
    let second = session.refresh_token().expect("refresh");
    reported_before_return(2);
    let third = session
        .refresh_token()
        .expect("refresh with the kept refresh token");
    reported_before_return(3);
    let rt = refresh_secret;
    assert_eq!(rt(&first) != rt(&second), rotates, "{client}");
    assert_eq!(rt(&second) != rt(&third), rotates, "{client}");
    let expected: Vec<Seen> = [
        (UpdateKind::Fetched, first),
        (UpdateKind::Refreshed, second),
        (UpdateKind::Refreshed, third),
    ]
    .into_iter()
    .map(|(kind, t)| {
        let access = t.access_token().secret().to_owned();
        (kind, access, Some(refresh_secret(&t)))
    })
    .collect();
    assert_eq!(
        *reported.lock().expect("lock"),
        expected,
        "{client}: one hook call per change, in order"
    );
}

pub(crate) fn rotation_on_keeps_and_reports_the_new_refresh_token_and_off_keeps_the_old<
    A: Adapter,
>() {
    let server = start_server(Duration::from_secs(30));
    for (client, rotates) in [("admin-cli-rotating", true), ("admin-cli", false)] {
        let reported = Arc::new(Mutex::new(Vec::new()));
        let by_hook = Arc::clone(&reported);
        let options = Options::new(client)
            .server(&server)
            .on_update(move |u| by_hook.lock().expect("lock").push(seen(u)));
        let session = A::build(options).expect("session");
        assert_each_change_reported_in_order(&session, client, rotates, &reported);
    }
}

pub(crate) fn unauthorized_invalid_token_refreshes_once_and_replays_the_body<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session = A::build(Options::new("admin-cli").server(&server)).expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    // An access token the server does not know, with a live refresh token: the resource answers
    // 401 invalid_token (revoking the access token would end the whole grant at oidc-provider).
    let refresh_token = token.refresh_token().expect("refresh token").clone();
    session.set_token(Token::bearer("unknown-to-the-server").with_refresh_token(refresh_token));
    server.reset_stats().expect("reset");
    let reply = session
        .post_json(
            &format!("{}/echo", server.resource_url()),
            &serde_json::json!({"replayed": "body"}),
        )
        .expect("request");
    assert_eq!(reply.status, 200);
    let echoed: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
    assert_eq!(echoed["body"], r#"{"replayed":"body"}"#);
    let stats = server.stats().expect("stats");
    assert_eq!(stats.token_requests("refresh_token"), 1);
    assert_eq!((stats.resource_unauthorized(), stats.resource_ok()), (1, 1));
}

/// `A::CALLERS` callers `GET` the resource from now until each has started a request after
/// `crossed` (none later than 2 s after the first token's expiry); then: exactly one
/// refresh, nothing but `200` reached a caller, the token is a new one, and no refresh token
/// was used twice. Returns each caller's first start and the server's counters.
fn callers_share_one_refresh<A: Adapter>(
    session: &A,
    server: &AuthServer,
    client: &str,
    first: &Token,
    crossed: SystemTime,
) -> (Vec<SystemTime>, Stats) {
    let expires_at = first.expires_at().expect("expiry");
    let url = server.resource_url();
    let callers = session.concurrently(
        (0..A::CALLERS)
            .map(|_| Caller::get_until(&url, crossed, expires_at + Duration::from_secs(2)))
            .collect(),
    );
    let stats = server.stats().expect("stats");
    let outcomes = || callers.iter().flat_map(|c| &c.outcomes);
    let failures: Vec<String> = outcomes()
        .filter_map(|(_, outcome)| match outcome {
            Ok(Done::Reply(r)) if r.status == 200 => None,
            Ok(Done::Reply(r)) => Some(format!("HTTP {} reached the caller", r.status)),
            Ok(other) => Some(format!("{other:?}")),
            Err(e) => Some(e.to_string()),
        })
        .collect();
    eprintln!(
        "{} {client}: {} callers, {} requests, {} refresh request(s), {} answered 401 (replayed)",
        A::NAME,
        A::CALLERS,
        outcomes().count(),
        stats.token_requests("refresh_token"),
        stats.resource_unauthorized()
    );
    assert_eq!(
        stats.token_requests("refresh_token"),
        1,
        "{client}: {stats:?}"
    );
    assert_eq!(failures, Vec::<String>::new(), "{client}");
    let now = session.token().expect("token");
    assert_ne!(now.access_token(), first.access_token(), "{client}");
    assert!(
        !server.log().contains("already used"),
        "{client}: a refresh token was reused"
    );
    let first_starts = callers.iter().map(|c| c.outcomes[0].0).collect();
    (first_starts, stats)
}

/// A session for `client` with a leeway of 0 and a password grant's token.
fn renewing_session<A: Adapter>(server: &AuthServer, client: &str) -> (A, Token) {
    let options = Options::new(client).server(server).leeway(Duration::ZERO);
    let session = A::build(options).expect("session");
    let first = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    (session, first)
}

pub(crate) fn many_callers_across_the_refresh_moment_cause_exactly_one_refresh<A: Adapter>() {
    for client in ["admin-cli", "admin-cli-rotating"] {
        // 10 s tokens: the renewed token is due about 9 s after the refresh, seconds after
        // the last request of the window below even when a thousand callers make each
        // request wait that long, so one renewal is crossed, never two.
        let server = start_server(Duration::from_secs(10));
        let (session, first): (A, _) = renewing_session(&server, client);
        let expires_at = first.expires_at().expect("expiry");
        // With a leeway of 0, the token is renewed (and no longer sent) a transit margin
        // before it expires.
        let refresh_at = session.refresh_at().expect("refresh time");
        assert!(refresh_at < expires_at);
        // Time for every caller to start before it, even a thousand tasks on a busy runtime.
        wait_until(
            refresh_at - Duration::from_millis(1500),
            Duration::from_secs(10),
        )
        .expect("near the refresh moment");
        server.reset_stats().expect("reset");
        let crossed = expires_at + Duration::from_millis(300);
        let (first_starts, _) =
            callers_share_one_refresh(&session, &server, client, &first, crossed);
        // Every caller was requesting with the old token before the refresh moment. (A
        // request signed then may wait in a queue past the token's death and be answered
        // 401, then replayed: those are counted above, and none reached a caller. Neither
        // that count nor the connections a pool opened is bounded here: a replay may cost a
        // connection.)
        for started in first_starts {
            assert!(started < refresh_at, "{client}: a caller started late");
        }
    }
}

pub(crate) fn many_callers_meeting_an_expired_token_share_one_refresh_and_meet_no_401<
    A: Adapter,
>() {
    for client in ["admin-cli", "admin-cli-rotating"] {
        // 10 s tokens, as above: the renewed token lives well past the window.
        let server = start_server(Duration::from_secs(10));
        let (session, first): (A, _) = renewing_session(&server, client);
        let expires_at = first.expires_at().expect("expiry");
        server.reset_stats().expect("reset");
        // From the refresh moment on, the old token is not sent: every caller waits for the
        // one refresh, and no request carries a token about to die.
        let refresh_at = session.refresh_at().expect("refresh time");
        wait_until(refresh_at, Duration::from_secs(10)).expect("refresh moment");
        // (The server closes a connection idle for 5 s: count those opened from now.)
        let pool_before = session.pool();
        let crossed = expires_at + Duration::from_millis(200);
        let (_, stats) = callers_share_one_refresh(&session, &server, client, &first, crossed);
        assert_eq!(stats.resource_unauthorized(), 0, "{client}: {stats:?}");
        if let (Some(before), Some(after)) = (pool_before, session.pool()) {
            let opened = after.opened - before.opened;
            assert!(
                opened <= after.bound,
                "{client}: {opened} connections opened for a bound of {}",
                after.bound
            );
        }
    }
}

pub(crate) fn introspection_and_revocation<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let options = Options::new("basic-client")
        .server(&server)
        .secret_basic("basic-secret");
    let session = A::build(options).expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    let live = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .expect("introspection");
    assert!(live.active());
    assert_eq!(live.client_id(), Some("basic-client"));
    session
        .revoke_token(TokenRef::Access(token.access_token()))
        .expect("revoked");
    let dead = session
        .introspect_token(TokenRef::Access(token.access_token()))
        .expect("introspection");
    assert!(!dead.active());
}
