#![no_main]
//! Three replicas sharing a token through a store, under random interleavings: each replica's
//! caller (a resource request's `Authorize`, or an explicit refresh) polled, its calls
//! answered by a scripted server that rotates refresh tokens (a used one is refused with
//! `invalid_grant`), or lost before they reach it, its store steps carried out on the
//! reference store or failed, callers dropped mid-step, the clock moved. Invariant: while
//! nothing happens that no client can guard against (the store losing its contents or failing
//! a step, a lease lapsing under a live renewal, a caller dying between the server's rotation
//! and its commit), no refresh token reaches the server twice.

use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use oauth_core::flow::{Authorize, Call, Fetch, Flow, Step};
use oauth_core::store::{StoreError, StoreKey, StoreRequest, StoreSettings};
use oauth_core::testing::{MemoryStore, ScriptedServer};
use oauth_core::{ClientConfig, Grant, TokenSession};
use oauth_core_fuzz::now;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Moves a replica on by one step: a resource request's flow started if it has none, its
    /// call answered or its store step carried out if one is out, else polled.
    Step(u8),
    /// An explicit refresh started, if the replica has no flow.
    Refresh(u8),
    /// The call out lost before the server saw it.
    Lose(u8),
    /// The store step out failed.
    StoreFail(u8),
    /// The flow dropped (its driver went away), reporting what it had out.
    Drop(u8),
    Advance(u8),
    Clear,
}

enum Caller {
    Authorize(Authorize),
    Refresh(Fetch),
}

enum Pending {
    Call(Call),
    Store(StoreRequest),
}

struct Replica {
    session: TokenSession,
    caller: Option<Caller>,
    pending: Option<Pending>,
    /// The lease its caller asked for last.
    lease: Option<String>,
    /// Its caller had a refresh answered: the server rotated, only this caller can tell.
    refreshed: bool,
}

impl Caller {
    fn flow(&mut self) -> &mut dyn FlowObject {
        match self {
            Self::Authorize(flow) => flow,
            Self::Refresh(flow) => flow,
        }
    }
}

/// The flow calls this target makes, whatever the output.
trait FlowObject {
    fn next(&mut self, session: &mut TokenSession, at: std::time::SystemTime) -> Option<Pending>;
    fn response(
        &mut self,
        session: &mut TokenSession,
        r: http::Response<Vec<u8>>,
        at: std::time::SystemTime,
    );
    fn failure(&mut self, session: &mut TokenSession, at: std::time::SystemTime);
    fn store(
        &mut self,
        session: &mut TokenSession,
        reply: Result<oauth_core::store::StoreReply, StoreError>,
        at: std::time::SystemTime,
    );
}

impl<F: Flow> FlowObject for F {
    fn next(&mut self, session: &mut TokenSession, at: std::time::SystemTime) -> Option<Pending> {
        match self.poll(session, at) {
            Step::Send(call) => Some(Pending::Call(call)),
            Step::Store(request) => Some(Pending::Store(request)),
            _ => None,
        }
    }

    fn response(
        &mut self,
        session: &mut TokenSession,
        r: http::Response<Vec<u8>>,
        at: std::time::SystemTime,
    ) {
        self.handle_response(session, r, at);
    }

    fn failure(&mut self, session: &mut TokenSession, at: std::time::SystemTime) {
        self.handle_failure(session, at);
    }

    fn store(
        &mut self,
        session: &mut TokenSession,
        reply: Result<oauth_core::store::StoreReply, StoreError>,
        at: std::time::SystemTime,
    ) {
        self.handle_store(session, reply, at);
    }
}

/// Entropy whose draws never repeat, across replicas too: lease ids are unique, as with a
/// real source (the counting bytes of `FixedEntropy` wrap after 256 and would give two
/// replicas one lease id).
struct Unique {
    replica: u8,
    next: std::sync::atomic::AtomicU64,
    signing: ring::rand::SystemRandom,
}

impl oauth_core::Entropy for Unique {
    fn fill(&self, dest: &mut [u8]) -> Result<(), oauth_core::EntropyUnavailable> {
        let draw = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut pattern = vec![self.replica];
        pattern.extend_from_slice(&draw.to_be_bytes());
        for (byte, value) in dest.iter_mut().zip(pattern.iter().cycle()) {
            *byte = *value;
        }
        Ok(())
    }

    fn signing_rng(&self) -> &dyn ring::rand::SecureRandom {
        &self.signing
    }
}

fn replica(start: u8) -> TokenSession {
    let config = ClientConfig::new("admin-cli")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
        .expect("url")
        .leeway(Duration::from_secs(10));
    #[allow(
        clippy::disallowed_methods,
        reason = "ring's own source for signatures"
    )]
    let entropy = Unique {
        replica: start,
        next: std::sync::atomic::AtomicU64::new(0),
        signing: ring::rand::SystemRandom::new(),
    };
    let settings = StoreSettings::new(StoreKey::from_bytes([4; 32])).lease(Duration::from_secs(20));
    TokenSession::new(config)
        .with_entropy(Arc::new(entropy))
        .with_store(settings)
        .with_exchange_timeout(None)
}

fuzz_target!(|ops: Vec<Op>| {
    let mut server = ScriptedServer::new().rotate_refresh_tokens(true);
    let mut store = MemoryStore::new();
    let mut at = now();
    let mut replicas: Vec<Replica> = (0..3u8)
        .map(|i| Replica {
            session: replica(i),
            caller: None,
            pending: None,
            lease: None,
            refreshed: false,
        })
        .collect();
    let mut login = Fetch::grant(Grant::password("admin", "admin"));
    let step = server.drive_with_store(&mut replicas[0].session, &mut login, &mut store, at);
    assert!(matches!(step, Step::Done(Ok(_))), "{step:?}");
    // Something no client can guard against happened: reuse is no longer a finding.
    let mut unguarded = false;
    // Every replica starts with the fleet's token.
    for replica in &mut replicas[1..] {
        let step =
            server.drive_with_store(&mut replica.session, &mut Authorize::new(), &mut store, at);
        assert!(matches!(step, Step::Done(Ok(_))), "{step:?}");
    }
    for op in ops.into_iter().take(128) {
        match op {
            Op::Refresh(i) => {
                let replica = &mut replicas[usize::from(i % 3)];
                if replica.caller.is_none() {
                    replica.refreshed = false;
                    replica.caller = Some(Caller::Refresh(Fetch::refresh()));
                }
            }
            Op::Step(i) => {
                let replica = &mut replicas[usize::from(i % 3)];
                if replica.caller.is_none() {
                    replica.refreshed = false;
                }
                let caller = replica
                    .caller
                    .get_or_insert_with(|| Caller::Authorize(Authorize::new()));
                match replica.pending.take() {
                    Some(Pending::Call(call)) => {
                        let body = String::from_utf8_lossy(call.request().body()).into_owned();
                        let response = server.handle(call.request(), at);
                        if body.contains("grant_type=refresh_token") {
                            if response.status() == 400 {
                                assert!(unguarded, "a refresh token reached the server twice");
                            }
                            replica.refreshed |= response.status() == 200;
                        }
                        caller.flow().response(&mut replica.session, response, at);
                    }
                    Some(Pending::Store(request)) => {
                        let reply = store.execute(&request, at);
                        caller.flow().store(&mut replica.session, reply, at);
                    }
                    None => match caller.flow().next(&mut replica.session, at) {
                        Some(pending) => {
                            if let Pending::Store(StoreRequest::Acquire { lease, .. }) = &pending {
                                replica.lease = Some(lease.as_str().to_owned());
                            }
                            replica.pending = Some(pending);
                        }
                        None => replica.caller = None,
                    },
                }
            }
            Op::Lose(i) | Op::Drop(i) => {
                let replica = &mut replicas[usize::from(i % 3)];
                let Some(caller) = replica.caller.as_mut() else {
                    continue;
                };
                // A call lost before the server saw it, or a driver dropped mid-step: both
                // reported as failures.
                if replica.pending.take().is_some() {
                    caller.flow().failure(&mut replica.session, at);
                }
                if matches!(op, Op::Drop(_)) {
                    // A caller gone after the server rotated the refresh token, before its
                    // commit: the process died with the only copy (kill -9 at the worst time).
                    unguarded |= std::mem::take(&mut replica.refreshed);
                    replica.caller = None;
                }
            }
            Op::StoreFail(i) => {
                let replica = &mut replicas[usize::from(i % 3)];
                let (Some(caller), Some(Pending::Store(_))) =
                    (replica.caller.as_mut(), &replica.pending)
                else {
                    continue;
                };
                replica.pending = None;
                unguarded = true;
                let reply = Err(StoreError::Unreachable("down".into()));
                caller.flow().store(&mut replica.session, reply, at);
            }
            Op::Advance(seconds) => {
                let owner = store.lease_owner(at).map(str::to_owned);
                at += Duration::from_secs(u64::from(seconds % 40));
                let lapsed = owner.filter(|_| store.lease_owner(at).is_none());
                // A lease that lapses under its holder's live caller (a renewal that takes
                // longer than the lease) lets another replica in; a dead holder's lapsing is
                // the recovery the protocol relies on, and stays guarded.
                let live_holder = replicas
                    .iter()
                    .any(|r| r.caller.is_some() && r.lease.is_some() && r.lease == lapsed);
                unguarded |= live_holder;
            }
            Op::Clear => {
                store.clear();
                unguarded = true;
            }
        }
    }
});
