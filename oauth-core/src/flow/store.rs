//! The store's part of a flow whose token is shared with other replicas (see [`crate::store`]
//! for the protocol): take the lease or adopt what another replica stored, wait for the lease
//! holder, commit the new token, give the lease back after a failure, put a token an explicit
//! call obtained, and store again a token whose commit failed. Written once, for
//! [`Authorize`](super::Authorize), [`Fetch`](super::Fetch) and [`Login`](super::Login).

use std::fmt;
use std::time::{Duration, SystemTime};

use http::Request;

use super::{Step, WAIT_SLICE};
use crate::error::Error;
use crate::session::{ExchangeTicket, RENEWAL_BACKOFF, TokenSession};
use crate::store::{LeaseId, StoreError, StoreRecord, StoreReply, StoreRequest, Unreachable};
use crate::token::Token;

/// A renewal the session started, held back until the store says it may go.
pub(crate) struct Held {
    pub(crate) ticket: ExchangeTicket,
    pub(crate) request: Request<Vec<u8>>,
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The request carries the refresh token and the client's credentials: not shown.
        f.debug_struct("Held")
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

/// What the store's part decides.
#[derive(Debug)]
pub(crate) enum Go {
    /// Ask the store this.
    Store(StoreRequest),
    /// Send the renewal.
    Send(Held),
    /// Ask the session again (a token was adopted, or the renewal deferred to another
    /// replica's, or a store step ended).
    Again,
    /// End with this error.
    Fail(Error),
}

#[derive(Debug)]
enum Asked {
    Read,
    Acquire(Held, LeaseId),
    Watch(Held),
    Commit,
    Put,
    Release,
}

/// The store steps of one flow.
#[derive(Debug, Default)]
pub(crate) struct StoreSync {
    asked: Option<Asked>,
    reply: Option<Result<StoreReply, StoreError>>,
    /// The lease this flow holds, and the record version it was taken at.
    lease: Option<(LeaseId, u64)>,
    /// An explicit call (fetch, refresh, login): a store failure is its error, a newer stored
    /// token is the answer to a refresh, and an old token is never served meanwhile.
    explicit: bool,
    /// The store failed and the policy says renew alone: no more store steps but a put.
    alone: bool,
    read: bool,
    /// This flow tried once to store a token whose commit had failed.
    resaved: bool,
    /// When waiting for another replica's lease gives up.
    deadline: Option<SystemTime>,
    /// This flow watched once while its token was usable.
    watched_usable: bool,
    /// The token an explicit call obtained, while it is being stored.
    storing: Option<Token>,
}

fn version(record: Option<&StoreRecord>) -> u64 {
    record.map_or(0, |r| r.version)
}

impl StoreSync {
    /// The store steps of an explicit call (see [`StoreSync::explicit`]).
    pub(crate) fn explicit() -> Self {
        Self {
            explicit: true,
            ..Self::default()
        }
    }

    fn ask(&mut self, asked: Asked, request: StoreRequest) -> Go {
        self.asked = Some(asked);
        Go::Store(request)
    }

    /// Whether a store step is out.
    pub(crate) fn is_asking(&self) -> bool {
        self.asked.is_some()
    }

    /// The store's answer to the step out.
    pub(crate) fn handle(&mut self, reply: Result<StoreReply, StoreError>) {
        self.reply = Some(reply);
    }

    /// The driver went away with a step out: a renewal held back fails, so in-process
    /// waiters do not wait for it (a lease taken expires on its own); a new token that was
    /// on its way to the store is stored by the next request.
    pub(crate) fn abandon(&mut self, session: &mut TokenSession, now: SystemTime) {
        match self.asked.take() {
            Some(Asked::Acquire(held, _) | Asked::Watch(held)) => {
                session.handle_exchange_failure(&held.ticket);
            }
            Some(Asked::Commit | Asked::Put) => session.mark_unsaved(now),
            _ => {}
        }
    }

    /// The session cannot serve a token (none yet, expired, refused): another replica may
    /// have stored one. Read the store once.
    pub(crate) fn read(&mut self, session: &TokenSession) -> Option<Go> {
        if session.store_settings().is_none() || std::mem::replace(&mut self.read, true) {
            return None;
        }
        Some(self.ask(Asked::Read, StoreRequest::Read))
    }

    /// A token whose commit failed is stored now, once per flow and at most every
    /// [`RENEWAL_BACKOFF`] while the store fails.
    pub(crate) fn resave(&mut self, session: &TokenSession, now: SystemTime) -> Option<Go> {
        if self.resaved || !session.unsaved_due(now) {
            return None;
        }
        self.resaved = true;
        self.put(session)
    }

    /// The session started a renewal: with a store, the lease first.
    pub(crate) fn begin(&mut self, session: &mut TokenSession, held: Held, now: SystemTime) -> Go {
        let Some(settings) = session.store_settings() else {
            return Go::Send(held);
        };
        if self.alone || self.lease.is_some() {
            return Go::Send(held);
        }
        let ttl = settings.lease_ttl();
        self.deadline.get_or_insert(now + ttl + WAIT_SLICE);
        self.acquire(session, held, ttl)
    }

    fn acquire(&mut self, session: &mut TokenSession, held: Held, ttl: Duration) -> Go {
        match session.new_lease() {
            Ok(lease) => {
                let request = StoreRequest::Acquire {
                    lease: lease.clone(),
                    ttl,
                };
                self.ask(Asked::Acquire(held, lease), request)
            }
            Err(error) => Go::Fail(session.fail_exchange(&held.ticket, error)),
        }
    }

    /// The renewal (or explicit fetch) ended: on success the new token goes to the store (a
    /// commit under the lease, a put without one); on failure the lease is given back.
    pub(crate) fn after_renewal(&mut self, session: &TokenSession, renewed: bool) -> Option<Go> {
        session.store_settings()?;
        if !renewed {
            return self.release_held();
        }
        let Some((lease, expected)) = self.lease.take() else {
            return self.put(session);
        };
        Some(match session.seal_token() {
            Ok(sealed) => {
                let version = expected.max(session.store_version()) + 1;
                let request = StoreRequest::Commit {
                    lease,
                    expected,
                    version,
                    sealed,
                };
                self.ask(Asked::Commit, request)
            }
            Err(error) => Go::Fail(error),
        })
    }

    fn put(&mut self, session: &TokenSession) -> Option<Go> {
        session.store_settings()?;
        Some(match session.seal_token() {
            Ok(sealed) => {
                let at_least = session.store_version();
                self.ask(Asked::Put, StoreRequest::Put { at_least, sealed })
            }
            Err(error) => Go::Fail(error),
        })
    }

    /// An explicit call obtained `token`: it goes to the store (a commit under the lease, else
    /// a put) before the call ends with it ([`shared`](Self::shared) once the store answered).
    pub(crate) fn share(&mut self, session: &TokenSession, token: Token) -> Step<Token> {
        match self.after_renewal(session, true) {
            Some(Go::Store(request)) => {
                self.storing = Some(token);
                Step::Store(request)
            }
            Some(Go::Fail(error)) => Step::Done(Err(error)),
            _ => Step::Done(Ok(token)),
        }
    }

    /// The token [`share`](Self::share) was storing.
    pub(crate) fn shared(&mut self) -> Option<Token> {
        self.storing.take()
    }

    /// A lease still held when the flow is about to end: give it back first.
    pub(crate) fn release_held(&mut self) -> Option<Go> {
        let (lease, _) = self.lease.take()?;
        Some(self.ask(Asked::Release, StoreRequest::Release { lease }))
    }

    /// Acts on the store's answer, if one is in.
    pub(crate) fn resume(&mut self, session: &mut TokenSession, now: SystemTime) -> Option<Go> {
        let reply = self.reply.take()?;
        let asked = self.asked.take()?;
        Some(match (asked, reply) {
            (Asked::Read, Ok(StoreReply::Record(record))) => {
                match session.adopt_record(record.as_ref(), None) {
                    Ok(_) => Go::Again,
                    Err(error) => Go::Fail(error),
                }
            }
            (Asked::Acquire(held, lease), Ok(StoreReply::Acquired(record))) => {
                self.lease = Some((lease, version(record.as_ref())));
                self.acquired(session, held, record.as_ref(), now)
            }
            (Asked::Acquire(held, _), Ok(StoreReply::Busy(record))) => {
                self.busy(session, held, record.as_ref(), now)
            }
            (Asked::Watch(held), Ok(_)) => match session.store_settings() {
                Some(settings) => {
                    let ttl = settings.lease_ttl();
                    self.acquire(session, held, ttl)
                }
                None => Go::Send(held),
            },
            (Asked::Commit | Asked::Put, Ok(StoreReply::Committed { version })) => {
                session.stored_as(version);
                Go::Again
            }
            (Asked::Commit, Ok(StoreReply::Conflict(record))) => {
                // The record changed under this renewal (its lease had expired). A newer
                // token, another replica's: the fleet goes on with it. None, or an older one
                // (the store lost its contents): this token is the newest, stored next.
                match session.adopt_record(record.as_ref(), None) {
                    Ok(Some(_)) => {}
                    _ => session.mark_unsaved(now),
                }
                Go::Again
            }
            (Asked::Commit | Asked::Put, Err(error)) => {
                // The token stays the session's; the next request stores it again.
                session.mark_unsaved(now + RENEWAL_BACKOFF);
                if self.explicit {
                    Go::Fail(error.into())
                } else {
                    Go::Again
                }
            }
            (Asked::Release, _) => Go::Again,
            (Asked::Read, Err(error)) => Go::Fail(error.into()),
            (Asked::Acquire(held, _) | Asked::Watch(held), Err(error)) => {
                self.store_failed(session, held, error, now)
            }
            (asked, Ok(reply)) => {
                let error = StoreError::Protocol {
                    request: asked.name(),
                    reply: format!("{reply:?}"),
                };
                match asked {
                    Asked::Acquire(held, _) => self.store_failed(session, held, error, now),
                    _ => Go::Fail(error.into()),
                }
            }
        })
    }

    fn acquired(
        &mut self,
        session: &mut TokenSession,
        held: Held,
        record: Option<&StoreRecord>,
        now: SystemTime,
    ) -> Go {
        match session.adopt_record(record, Some(&held.ticket)) {
            // Another replica renewed just before: if its token is fresh (or this is an
            // explicit refresh, which a newer token answers), no renewal at all.
            Ok(Some(_)) if self.explicit || session.is_fresh(now) => {
                self.release_held().unwrap_or(Go::Again)
            }
            // Due as well: the session starts a renewal from it, which goes under this lease.
            Ok(Some(_)) => Go::Again,
            Ok(None) => Go::Send(held),
            // The lease stays held: a renewal alone commits under it (replacing the record
            // nobody can open), and a flow that ends here gives it back.
            Err(error) => self.store_failed(session, held, error.into_store(), now),
        }
    }

    fn busy(
        &mut self,
        session: &mut TokenSession,
        held: Held,
        record: Option<&StoreRecord>,
        now: SystemTime,
    ) -> Go {
        match session.adopt_record(record, Some(&held.ticket)) {
            Ok(Some(_)) => Go::Again,
            Ok(None) if !self.explicit && session.may_serve(now) => {
                let wait = session
                    .store_settings()
                    .map_or(WAIT_SLICE, |s| s.remote_wait);
                if std::mem::replace(&mut self.watched_usable, true) {
                    // Still not done after a watch: serve the token, ask again later.
                    session.defer_renewal(&held.ticket, now + wait);
                    return Go::Again;
                }
                // Another replica renews: this caller watches for its commit (the others in
                // this process are served the token meanwhile), so the fleet holds the new
                // token moments after it is stored, not a wait later.
                let request = StoreRequest::Watch {
                    seen: version(record),
                    until: now + wait,
                };
                self.ask(Asked::Watch(held), request)
            }
            Ok(None) if self.deadline.is_some_and(|deadline| now >= deadline) => {
                let error = StoreError::Unreachable("the lease was never freed".into());
                Go::Fail(session.fail_exchange(&held.ticket, error.into()))
            }
            Ok(None) => {
                let request = StoreRequest::Watch {
                    seen: version(record),
                    until: now + WAIT_SLICE,
                };
                self.ask(Asked::Watch(held), request)
            }
            Err(error) => self.store_failed(session, held, error.into_store(), now),
        }
    }

    /// The store failed during a renewal: as the session's [`Unreachable`] policy says.
    fn store_failed(
        &mut self,
        session: &mut TokenSession,
        held: Held,
        error: StoreError,
        now: SystemTime,
    ) -> Go {
        let policy = session
            .store_settings()
            .map(|s| s.unreachable_policy())
            .unwrap_or_default();
        match policy {
            Unreachable::RenewLocally => {
                self.alone = true;
                Go::Send(held)
            }
            _ if !self.explicit && session.may_serve(now) => {
                session.defer_renewal(&held.ticket, now + RENEWAL_BACKOFF);
                Go::Again
            }
            _ => Go::Fail(session.fail_exchange(&held.ticket, error.into())),
        }
    }
}

impl Asked {
    fn name(&self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Acquire(..) => "acquire",
            Self::Watch(_) => "watch",
            Self::Commit => "commit",
            Self::Put => "put",
            Self::Release => "release",
        }
    }
}

impl Error {
    /// This error as a store failure, for the store's policy.
    fn into_store(self) -> StoreError {
        match self {
            Self::Store(error) => error,
            other => StoreError::Unreachable(other.to_string()),
        }
    }
}
