//! What only an async session has: the async update hook (awaited before the call that made
//! the change returns, beside the blocking one), and callers that go away mid-call (a
//! cancelled task, a future dropped after one poll) without taking a shared refresh, a fetch
//! or a login down with them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::Grant;
use oauth_tests::fault::{Fault, FaultServer};

use super::oauth::{assert_each_change_reported_in_order, seen};
use super::oidc::{oidc_session, refused_id_token};
use super::{
    Action, AsyncAdapter, Caller, Options, access_token, browse, eventually, expired_token,
    ok_stub, paths, token_requests,
};
use crate::start_server;

pub(crate) fn async_update_hook_is_awaited_once_per_change_in_order<A: AsyncAdapter>() {
    let server = start_server(Duration::from_secs(30));
    for (client, rotates) in [("admin-cli-rotating", true), ("admin-cli", false)] {
        // A slow store: each call must still have finished by the time the call that caused
        // its change returns.
        let reported = Arc::new(Mutex::new(Vec::new()));
        let by_hook = Arc::clone(&reported);
        let options = Options::new(client).server(&server).on_update_async(
            Duration::from_millis(30),
            move |u| {
                by_hook.lock().expect("lock").push(seen(&u));
            },
        );
        let session = A::build(options).expect("session");
        assert_each_change_reported_in_order(&session, client, rotates, &reported);
    }
}

pub(crate) fn an_id_token_that_fails_validation_calls_neither_hook<A: AsyncAdapter>() {
    refused_id_token::<A>(true);
}

pub(crate) fn a_cancelled_caller_does_not_cancel_the_refresh_others_wait_for<A: AsyncAdapter>() {
    let stub = ok_stub();
    stub.push(Fault::slow(Duration::from_millis(500), Fault::token()));
    let options = Options::new("c").stub(&stub).token(expired_token());
    let session = A::build(options).expect("session");
    let get = || Caller::once(Action::Get(stub.url("/resource")));
    let starter = session.spawn(get());
    eventually("the refresh is in flight", || token_requests(&stub) == 1);
    let waiter = session.spawn(get());
    assert!(
        session.cancel(starter),
        "the caller that started the refresh was cancelled before its end"
    );
    let reply = session
        .join(waiter)
        .into_reply()
        .expect("the waiter's request");
    assert_eq!(reply.status, 200);
    assert_eq!(
        paths(&stub),
        ["/token", "/resource"],
        "one refresh, one resource call"
    );
    assert_eq!(access_token(&session), "stub-at-1");
    assert_eq!(
        stub.requests()[1].header("authorization"),
        Some("Bearer stub-at-1")
    );
}

pub(crate) fn a_fetch_whose_caller_is_dropped_mid_flight_is_still_applied<A: AsyncAdapter>() {
    let stub = FaultServer::start().expect("stub");
    stub.push(Fault::slow(Duration::from_millis(300), Fault::token()));
    let updates = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&updates);
    let options = Options::new("c").stub(&stub).on_update(move |_| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let session = A::build(options).expect("session");
    let caller = session.spawn(Caller::once(Action::Fetch(Grant::password(
        "admin", "admin",
    ))));
    eventually("the token request is sent", || token_requests(&stub) == 1);
    assert!(
        session.cancel(caller),
        "the caller was cancelled mid-flight"
    );
    eventually("the answer is applied", || session.token().is_some());
    assert_eq!(access_token(&session), "stub-at-1");
    assert_eq!(updates.load(Ordering::Relaxed), 1);
    assert_eq!(token_requests(&stub), 1);
}

pub(crate) fn a_login_whose_caller_gave_up_still_completes<A: AsyncAdapter>() {
    let server = start_server(Duration::from_secs(30));
    let session: A = oidc_session(&server, Duration::from_secs(60));
    let browsed = browse(&session);
    // Polled once: the checks pass, the exchange starts, then the caller is gone.
    assert!(
        session.poll_once_then_drop(Action::Exchange(browsed.pending, browsed.callback)),
        "the caller gave up before the answer"
    );
    eventually("the login completed", || {
        session.id_token_claims().is_some()
    });
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
