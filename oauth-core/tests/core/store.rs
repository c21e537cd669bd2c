//! A token shared by replicas through a store, over simulated time: each replica is a session
//! of its own, all on one `MemoryStore` (the protocol's reference backend) and one scripted
//! server that rotates refresh tokens and refuses a used one.

use std::sync::Arc;
use std::time::Duration;

use oauth_core::flow::{Authorize, Fetch, Flow, Step, WAIT_SLICE};
use oauth_core::store::{
    DEFAULT_LEASE, StoreError, StoreKey, StoreReply, StoreRequest, StoreSettings, Unreachable,
};
use oauth_core::testing::{FixedEntropy, ManualClock, MemoryStore, ScriptedServer};
use oauth_core::{ClientConfig, Error, Grant, TokenSession, UpdateKind};

const KEY: [u8; 32] = [7; 32];

fn entropy(start: u8) -> FixedEntropy {
    #[allow(
        clippy::disallowed_methods,
        reason = "signatures need ring's own source; these tests sign nothing"
    )]
    let signing = ring::rand::SystemRandom::new();
    FixedEntropy::new(start, signing)
}

fn replica(entropy_start: u8, policy: Unreachable) -> TokenSession {
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
        .expect("url")
        .leeway(Duration::from_secs(10));
    let entropy = entropy(entropy_start);
    let settings = StoreSettings::new(StoreKey::from_bytes(KEY)).unreachable(policy);
    let mut session = TokenSession::new(config)
        .with_entropy(Arc::new(entropy))
        .with_store(settings);
    session.record_updates(true);
    session
}

fn server() -> ScriptedServer {
    ScriptedServer::new().rotate_refresh_tokens(true)
}

fn done<T: std::fmt::Debug>(step: Step<T>) -> Result<T, Error> {
    match step {
        Step::Done(result) => result,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn secret(session: &TokenSession) -> String {
    let token = session.token().expect("token");
    token.access_token().secret().to_owned()
}

/// A fleet of two replicas after the first one logged in (the store holds version 1).
fn fleet(
    server: &mut ScriptedServer,
    store: &mut MemoryStore,
    clock: &ManualClock,
) -> [TokenSession; 2] {
    let mut a = replica(0, Unreachable::FailWhenUnusable);
    let mut login = Fetch::grant(Grant::password("admin", "admin"));
    done(server.drive_with_store(&mut a, &mut login, store, clock.now())).expect("login");
    assert_eq!((a.store_version(), store.steps("put")), (1, 1));
    [a, replica(100, Unreachable::FailWhenUnusable)]
}

fn authorize(
    server: &mut ScriptedServer,
    session: &mut TokenSession,
    store: &mut MemoryStore,
    clock: &ManualClock,
) -> Result<String, Error> {
    let bearer = done(server.drive_with_store(session, &mut Authorize::new(), store, clock.now()))?;
    Ok(bearer.access_token().secret().to_owned())
}

/// The store step `flow` asks for next.
fn next_store_step<F: Flow>(
    flow: &mut F,
    session: &mut TokenSession,
    clock: &ManualClock,
) -> StoreRequest
where
    F::Output: std::fmt::Debug,
{
    match flow.poll(session, clock.now()) {
        Step::Store(request) => request,
        other => panic!("expected a store step, got {other:?}"),
    }
}

/// Carries `request` out on `store`, hands the reply to `flow` and returns it.
fn answer<F: Flow>(
    flow: &mut F,
    session: &mut TokenSession,
    store: &mut MemoryStore,
    request: &StoreRequest,
    clock: &ManualClock,
) -> Result<StoreReply, StoreError> {
    let reply = store.execute(request, clock.now());
    flow.handle_store(session, reply.clone(), clock.now());
    reply
}

/// A's renewal under way: the lease taken, the refresh sent, its answer not in yet.
fn renewal_in_flight(
    a: &mut TokenSession,
    store: &mut MemoryStore,
    clock: &ManualClock,
) -> (Authorize, oauth_core::flow::Call) {
    let mut renewing = Authorize::new();
    let acquire = next_store_step(&mut renewing, a, clock);
    answer(&mut renewing, a, store, &acquire, clock).expect("acquired");
    match renewing.poll(a, clock.now()) {
        Step::Send(call) => (renewing, call),
        other => panic!("the lease taken, the refresh goes: {other:?}"),
    }
}

/// A's renewal answered and committed.
fn commit_renewal(
    (mut renewing, call): (Authorize, oauth_core::flow::Call),
    a: &mut TokenSession,
    server: &mut ScriptedServer,
    store: &mut MemoryStore,
    clock: &ManualClock,
) {
    let response = server.handle(call.request(), clock.now());
    renewing.handle_response(a, response, clock.now());
    let commit = next_store_step(&mut renewing, a, clock);
    assert!(matches!(
        answer(&mut renewing, a, store, &commit, clock),
        Ok(StoreReply::Committed { .. })
    ));
    assert!(matches!(renewing.poll(a, clock.now()), Step::Done(Ok(_))));
}

#[test]
fn a_replica_without_a_token_adopts_the_stored_one() {
    let (mut server, mut store, clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [a, mut b] = fleet(&mut server, &mut store, &clock);
    let sent = authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    assert_eq!(sent, secret(&a));
    assert_eq!(b.store_version(), 1);
    assert_eq!(b.poll_update().expect("update").kind(), UpdateKind::Adopted);
    assert_eq!(store.steps("read"), 1);
}

#[test]
fn the_hot_path_never_asks_the_store_while_the_token_is_fresh() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, _] = fleet(&mut server, &mut store, &clock);
    for _ in 0..10 {
        let mut authorize = Authorize::new();
        assert!(matches!(
            authorize.poll(&mut a, clock.now()),
            Step::Done(Ok(_))
        ));
        clock.advance(Duration::from_secs(4));
    }
    assert_eq!(store.steps("read") + store.steps("acquire"), 0);
}

#[test]
fn one_refresh_per_expiry_for_the_fleet_the_second_replica_adopts() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    for round in 1..=3 {
        clock.advance(Duration::from_secs(55));
        let by_a = authorize(&mut server, &mut a, &mut store, &clock).expect("renewed");
        let by_b = authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
        assert_eq!(by_a, by_b, "round {round}: one token for the fleet");
        assert_eq!(server.token_requests("refresh_token"), round);
        assert_eq!(
            (a.store_version(), b.store_version()),
            (round as u64 + 1, round as u64 + 1)
        );
    }
    // B took the lease each time, found A's token and gave the lease back unused.
    assert_eq!(
        (
            store.steps("acquire"),
            store.steps("commit"),
            store.steps("release")
        ),
        (6, 3, 3)
    );
    assert_eq!(store.lease_owner(clock.now()), None);
}

#[test]
fn the_exact_store_steps_of_a_renewal() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, _] = fleet(&mut server, &mut store, &clock);
    clock.advance(Duration::from_secs(55));
    let mut flow = Authorize::new();
    let Step::Store(acquire) = flow.poll(&mut a, clock.now()) else {
        panic!("a due token takes the lease first");
    };
    // The lease id is 16 bytes of the session's entropy, after the login's 12-byte nonce.
    let lease = match &acquire {
        StoreRequest::Acquire { lease, ttl } => {
            assert_eq!(*ttl, DEFAULT_LEASE);
            lease.clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(lease.as_str(), "0c0d0e0f101112131415161718191a1b");
    let reply = store.execute(&acquire, clock.now());
    flow.handle_store(&mut a, reply, clock.now());
    let Step::Send(call) = flow.poll(&mut a, clock.now()) else {
        panic!("the lease taken, the refresh goes");
    };
    assert!(call.is_shared() && call.consumes_grant());
    let response = server.handle(call.request(), clock.now());
    flow.handle_response(&mut a, response, clock.now());
    let Step::Store(commit) = flow.poll(&mut a, clock.now()) else {
        panic!("the new token goes to the store");
    };
    let StoreRequest::Commit {
        lease: committed,
        expected,
        version,
        ..
    } = &commit
    else {
        panic!("{commit:?}");
    };
    assert_eq!((committed, *expected, *version), (&lease, 1, 2));
    let reply = store.execute(&commit, clock.now());
    assert_eq!(reply, Ok(StoreReply::Committed { version: 2 }));
    flow.handle_store(&mut a, reply, clock.now());
    assert!(matches!(flow.poll(&mut a, clock.now()), Step::Done(Ok(_))));
    assert_eq!(
        store.lease_owner(clock.now()),
        None,
        "the commit frees the lease"
    );
}

#[test]
fn while_another_replica_renews_a_usable_token_is_served_and_an_expired_one_waits() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    let old = authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    clock.advance(Duration::from_secs(55));
    // A takes the lease and sends its refresh; the answer has not come yet.
    let in_flight = renewal_in_flight(&mut a, &mut store, &clock);

    // B: due, still valid, lease busy: the old token, and no store step for a while.
    assert_eq!(
        authorize(&mut server, &mut b, &mut store, &clock).expect("served"),
        old
    );
    let acquires = store.steps("acquire");
    assert_eq!(
        authorize(&mut server, &mut b, &mut store, &clock).expect("served"),
        old
    );
    assert_eq!(store.steps("acquire"), acquires, "deferred to A's renewal");

    // Past its expiry B must wait: it watches the record.
    clock.advance(Duration::from_secs(5));
    let mut waiting = Authorize::new();
    let acquire = next_store_step(&mut waiting, &mut b, &clock);
    let reply = answer(&mut waiting, &mut b, &mut store, &acquire, &clock);
    assert!(matches!(reply, Ok(StoreReply::Busy(_))));
    let watch = next_store_step(&mut waiting, &mut b, &clock);
    let until = clock.now() + WAIT_SLICE;
    assert_eq!(watch, StoreRequest::Watch { seen: 1, until });

    // A's answer arrives and is committed; B's watch ends, it takes the new token.
    commit_renewal(in_flight, &mut a, &mut server, &mut store, &clock);
    let reply = answer(&mut waiting, &mut b, &mut store, &watch, &clock);
    assert_eq!(reply, Ok(StoreReply::Changed));
    let new = done(server.drive_with_store(&mut b, &mut waiting, &mut store, clock.now()))
        .expect("adopted after the watch");
    assert_eq!(new.access_token().secret(), secret(&a));
    assert_eq!(server.token_requests("refresh_token"), 1);
}

/// Drives `flow` to its end; a watch that finds nothing moves the clock to its `until`.
fn drive_waiting<F: Flow>(
    server: &mut ScriptedServer,
    session: &mut TokenSession,
    flow: &mut F,
    store: &mut MemoryStore,
    clock: &mut ManualClock,
) -> Result<F::Output, Error>
where
    F::Output: std::fmt::Debug,
{
    for _ in 0..200 {
        match flow.poll(session, clock.now()) {
            Step::Send(call) => {
                let response = server.handle(call.request(), clock.now());
                flow.handle_response(session, response, clock.now());
            }
            Step::Store(request) => {
                let reply = store.execute(&request, clock.now());
                if let (StoreRequest::Watch { until, .. }, Ok(StoreReply::Unchanged)) =
                    (&request, &reply)
                {
                    clock.advance(until.duration_since(clock.now()).unwrap_or_default());
                }
                flow.handle_store(session, reply, clock.now());
            }
            Step::Done(result) => return result,
            other => panic!("{other:?}"),
        }
    }
    panic!("the flow never ended");
}

#[test]
fn a_dead_lease_holder_is_replaced_once_its_lease_expires() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    clock.advance(Duration::from_secs(60));
    // A takes the lease and dies before sending its refresh.
    let mut dying = Authorize::new();
    let acquire = next_store_step(&mut dying, &mut a, &clock);
    answer(&mut dying, &mut a, &mut store, &acquire, &clock).expect("acquired");
    let died_at = clock.now();

    // B's token expired: it watches while the lease lives (30 s, a watch a second), then
    // takes it and renews.
    let mut waiting = Authorize::new();
    let bearer = drive_waiting(&mut server, &mut b, &mut waiting, &mut store, &mut clock)
        .expect("renewed by B");
    assert_eq!(clock.now(), died_at + DEFAULT_LEASE);
    assert_eq!(store.steps("watch") as u64, DEFAULT_LEASE.as_secs());
    assert_eq!(server.token_requests("refresh_token"), 1);
    assert_eq!(bearer.access_token().secret(), secret(&b));
    assert_eq!(b.store_version(), 2);
}

#[test]
fn an_unreachable_store_serves_a_usable_token_then_fails_by_default() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, _] = fleet(&mut server, &mut store, &clock);
    let old = secret(&a);
    store.set_unreachable(true);
    clock.advance(Duration::from_secs(55));
    assert_eq!(
        authorize(&mut server, &mut a, &mut store, &clock).expect("usable"),
        old
    );
    clock.advance(Duration::from_secs(5));
    let error = authorize(&mut server, &mut a, &mut store, &clock).expect_err("expired");
    assert!(
        matches!(error, Error::Store(StoreError::Unreachable(_))),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "token store unreachable: connection refused"
    );
    assert_eq!(
        server.token_requests("refresh_token"),
        0,
        "never renewed alone"
    );
    assert_eq!(secret(&a), old, "the token is kept");
}

#[test]
fn an_unreachable_store_with_renew_locally_renews_alone_and_stores_when_back() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [_, mut b] = fleet(&mut server, &mut store, &clock);
    let mut b_alone = replica(200, Unreachable::RenewLocally);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    authorize(&mut server, &mut b_alone, &mut store, &clock).expect("adopted");
    store.set_unreachable(true);
    clock.advance(Duration::from_secs(60));
    let renewed = authorize(&mut server, &mut b_alone, &mut store, &clock).expect("alone");
    assert_eq!(server.token_requests("refresh_token"), 1);
    assert_ne!(renewed, secret(&b));
    // Its put failed with the store down; once the store is back, the next request stores
    // that token first (version 2), then renews under the lease (version 3).
    store.set_unreachable(false);
    clock.advance(Duration::from_secs(60));
    authorize(&mut server, &mut b_alone, &mut store, &clock).expect("renewed");
    assert_eq!((store.steps("put"), store.steps("commit")), (3, 1));
    assert_eq!(store.record().map(|r| r.version), Some(3));
}

#[test]
fn a_store_that_lost_its_contents_is_filled_again_and_versions_never_go_back() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    clock.advance(Duration::from_secs(55));
    authorize(&mut server, &mut a, &mut store, &clock).expect("renewed");
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    store.clear();
    clock.advance(Duration::from_secs(55));
    let by_a = authorize(&mut server, &mut a, &mut store, &clock).expect("renewed");
    assert_eq!(
        store.record().map(|r| r.version),
        Some(3),
        "above every replica's version"
    );
    let by_b = authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    assert_eq!(by_a, by_b);
    assert_eq!(server.token_requests("refresh_token"), 2);
}

#[test]
fn the_stored_record_is_sealed_and_opens_only_with_the_key() {
    let (mut server, mut store, clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [a, _] = fleet(&mut server, &mut store, &clock);
    let record = store.record().expect("record").clone();
    let token = a.token().expect("token");
    let sealed = String::from_utf8_lossy(&record.sealed);
    assert!(!sealed.contains(token.access_token().secret()));
    let refresh = token.refresh_token().expect("refresh token");
    assert!(!sealed.contains(refresh.secret()));
    assert!(!format!("{record:?}").contains(token.access_token().secret()));

    // A replica with another key cannot open it: a typed error, and it renews nothing.
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
        .expect("url");
    let entropy = entropy(50);
    let mut stranger = TokenSession::new(config)
        .with_entropy(Arc::new(entropy))
        .with_store(StoreSettings::new(StoreKey::from_bytes([8; 32])));
    let error = authorize(&mut server, &mut stranger, &mut store, &clock).expect_err("wrong key");
    assert_eq!(
        error,
        Error::Store(StoreError::Unreadable(
            "wrong key, or the record was altered"
        ))
    );
    assert!(format!("{:?}", StoreKey::from_bytes(KEY)).contains("redacted"));
}

#[test]
fn a_failed_renewal_gives_the_lease_back_and_keeps_the_token() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, _] = fleet(&mut server, &mut store, &clock);
    let old = secret(&a);
    clock.advance(Duration::from_secs(55));
    server.push_response(
        http::Response::builder()
            .status(503)
            .body(b"<html>down</html>".to_vec())
            .expect("response"),
    );
    let served = authorize(&mut server, &mut a, &mut store, &clock).expect("old token served");
    assert_eq!(served, old);
    assert_eq!(store.steps("release"), 1);
    assert_eq!(store.lease_owner(clock.now()), None);
    assert_eq!(store.record().map(|r| r.version), Some(1));
}

#[test]
fn a_replica_with_a_usable_token_watches_and_adopts_the_commit_at_once() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    clock.advance(Duration::from_secs(55));
    let in_flight = renewal_in_flight(&mut a, &mut store, &clock);

    // B's token is due and usable, A holds the lease: B watches for A's commit (for at most
    // the remote wait) instead of serving its old token blindly.
    let mut waiting = Authorize::new();
    let acquire = next_store_step(&mut waiting, &mut b, &clock);
    answer(&mut waiting, &mut b, &mut store, &acquire, &clock).expect("busy");
    let watch = next_store_step(&mut waiting, &mut b, &clock);
    let until = clock.now() + oauth_core::store::DEFAULT_REMOTE_WAIT;
    assert_eq!(watch, StoreRequest::Watch { seen: 1, until });

    // A commits; B's watch ends and B takes A's token before its request goes.
    commit_renewal(in_flight, &mut a, &mut server, &mut store, &clock);
    answer(&mut waiting, &mut b, &mut store, &watch, &clock).expect("changed");
    let bearer = done(server.drive_with_store(&mut b, &mut waiting, &mut store, clock.now()))
        .expect("adopted");
    assert_eq!(bearer.access_token().secret(), secret(&a));
    assert_eq!(b.store_version(), 2);
    assert_eq!(server.token_requests("refresh_token"), 1);
}

#[test]
fn an_explicit_refresh_takes_the_lease_and_a_newer_stored_token_answers_it() {
    let (mut server, mut store, clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    let by_a =
        done(server.drive_with_store(&mut a, &mut Fetch::refresh(), &mut store, clock.now()))
            .expect("refreshed under the lease");
    assert_eq!((store.steps("acquire"), store.steps("commit")), (1, 1));
    // B's refresh finds A's newer token: that is its answer, and its refresh token (which the
    // server rotated) never goes out again.
    let by_b =
        done(server.drive_with_store(&mut b, &mut Fetch::refresh(), &mut store, clock.now()))
            .expect("adopted");
    assert_eq!(by_a.access_token().secret(), by_b.access_token().secret());
    assert_eq!(server.token_requests("refresh_token"), 1);
    assert_eq!(store.lease_owner(clock.now()), None);
}

#[test]
fn a_token_whose_commit_failed_is_stored_at_the_next_request() {
    let (mut server, mut store, mut clock) = (server(), MemoryStore::new(), ManualClock::new());
    let [mut a, mut b] = fleet(&mut server, &mut store, &clock);
    authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    clock.advance(Duration::from_secs(55));
    // The store loses its contents while A renews: the commit finds no record.
    let (mut renewing, call) = renewal_in_flight(&mut a, &mut store, &clock);
    store.clear();
    let response = server.handle(call.request(), clock.now());
    renewing.handle_response(&mut a, response, clock.now());
    let commit = next_store_step(&mut renewing, &mut a, &clock);
    let reply = answer(&mut renewing, &mut a, &mut store, &commit, &clock);
    assert!(matches!(reply, Ok(StoreReply::Conflict(None))));
    // The newest token is this one: the same flow puts it, above A's version.
    let put = next_store_step(&mut renewing, &mut a, &clock);
    assert!(matches!(put, StoreRequest::Put { at_least: 1, .. }));
    let reply = answer(&mut renewing, &mut a, &mut store, &put, &clock);
    assert_eq!(reply, Ok(StoreReply::Committed { version: 2 }));
    assert!(matches!(
        renewing.poll(&mut a, clock.now()),
        Step::Done(Ok(_))
    ));
    // B, due, adopts it: the rotated refresh token B holds never goes out.
    let by_a = authorize(&mut server, &mut a, &mut store, &clock).expect("served");
    let by_b = authorize(&mut server, &mut b, &mut store, &clock).expect("adopted");
    assert_eq!(by_a, by_b);
    assert_eq!(server.token_requests("refresh_token"), 1);

    // A commit the store refuses outright: the same, once the store is back.
    clock.advance(Duration::from_secs(55));
    let (mut renewing, call) = renewal_in_flight(&mut a, &mut store, &clock);
    store.set_unreachable(true);
    let response = server.handle(call.request(), clock.now());
    renewing.handle_response(&mut a, response, clock.now());
    let commit = next_store_step(&mut renewing, &mut a, &clock);
    assert!(answer(&mut renewing, &mut a, &mut store, &commit, &clock).is_err());
    assert!(matches!(
        renewing.poll(&mut a, clock.now()),
        Step::Done(Ok(_))
    ));
    store.set_unreachable(false);
    clock.advance(oauth_core::session::RENEWAL_BACKOFF);
    let by_a = authorize(&mut server, &mut a, &mut store, &clock).expect("served");
    assert_eq!(store.record().map(|r| r.version), Some(3));
    assert_eq!(
        authorize(&mut server, &mut b, &mut store, &clock).expect("adopted"),
        by_a
    );
    assert_eq!(server.token_requests("refresh_token"), 2);
}
