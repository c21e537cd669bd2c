//! Whole operations as state machines: each flow is written once, here, and every driver
//! (the three adapters, or your own transport) only carries out what it asks.
//!
//! A flow (fetch a token, authorize a resource request, log in with a code, validate an ID
//! token, userinfo, revocation, introspection, device authorization and its polling, a
//! one-off token exchange) is a value implementing [`Flow`]. The driver
//! polls it with the session's state and `now`, and it answers with the next [`Step`]:
//!
//! | step | the driver does |
//! |---|---|
//! | [`Step::Send`] | send the [`Call`]'s request to its endpoint (no redirects, body capped, timeout), then give the answer to [`Flow::handle_response`] with the time the request was *sent*, or report that no answer came with [`Flow::handle_failure`]; poll again |
//! | [`Step::Store`] | carry out the step on the session's token store ([`crate::store`]), give the answer to [`Flow::handle_store`]; poll again |
//! | [`Step::Wait`] | another caller's exchange or key fetch is in flight: wait until the session changes (the driver's wake-up after any step of any flow) or `until`, whichever comes first; poll again |
//! | [`Step::Done`] | return the result |
//! | [`Step::TransportFailed`] | return the transport error the driver reported with `handle_failure` |
//!
//! Between two steps the driver holds the session's lock only for the synchronous `poll` or
//! `handle_*` call, never across the IO or the wait. After each `handle_*` it wakes every
//! waiting caller and delivers the token changes the session queued
//! ([`TokenSession::poll_update`]) to the update hook, in order.
//!
//! A [`Call`] says what is at stake if its caller goes away: [`Call::is_shared`] (other callers
//! wait for its answer: run it where no caller's cancellation or stall can hold it up) and
//! [`Call::consumes_grant`] (the server may consume a one-time credential, an authorization
//! code or a rotating refresh token: the answer must still reach the session). Should a driver
//! drop a flow with a call outstanding, it reports the call with `handle_failure` first, so
//! that nobody waits for an answer that never comes.
//!
//! ```text
//!  driver                                   flow (core)                    session (core)
//!  ──────                                   ───────────                    ──────────────
//!  lock; flow.poll(&mut session, now) ───►  decides ───────────────────►  poll_authorization, fetch, …
//!  unlock; Send(call) ─► HTTP ─► response
//!  lock; flow.handle_response(.., sent_at)► applies ──────────────────►  handle_token_response, …
//!  notify waiters; deliver updates to hook
//!  … until Done(result) / TransportFailed
//! ```
//!
//! Resource requests are the driver's own (its transport's request and response types): it
//! drives [`Authorize`] for the bearer, sends, and asks
//! [`TokenSession::handle_resource_response`] whether to replay once.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{Request, Response};

use crate::error::Error;
use crate::session::{ExchangeTicket, RenewalReason, TokenSession};
use crate::store::{StoreError, StoreReply, StoreRequest};

mod device;
mod endpoint;
mod exchange;
mod oidc;
mod operation;
mod store;
mod token;

pub use device::DeviceToken;
pub use endpoint::EndpointCall;
pub use oidc::{Login, PushAuthorization, Userinfo, ValidateIdToken};
pub use operation::{Failed, Next, Operation};
pub use token::{Authorize, Fetch};

/// The longest a driver waits before polling a waiting flow again, in case a wake-up was
/// missed.
pub const WAIT_SLICE: Duration = Duration::from_secs(1);

/// An operation driven step by step: see the [module documentation](self) for the loop.
pub trait Flow {
    /// What the operation ends with.
    type Output;

    /// The next thing to do at `now`.
    fn poll(&mut self, session: &mut TokenSession, now: SystemTime) -> Step<Self::Output>;

    /// The answer to the last [`Step::Send`]; `sent_at` is when its request was sent.
    fn handle_response(
        &mut self,
        session: &mut TokenSession,
        response: Response<Vec<u8>>,
        sent_at: SystemTime,
    );

    /// The last [`Step::Send`] got no answer (connection refused or dropped, timeout, body
    /// over the limit, cancelled), or the driver is dropped while a [`Step::Store`] is out.
    /// The driver keeps its transport error for [`Step::TransportFailed`].
    fn handle_failure(&mut self, session: &mut TokenSession, now: SystemTime);

    /// The store's answer to the last [`Step::Store`], at `now`. A flow that wraps another
    /// passes it on; a flow that never asks a store step has nothing to do.
    fn handle_store(
        &mut self,
        session: &mut TokenSession,
        reply: Result<StoreReply, StoreError>,
        now: SystemTime,
    );
}

/// `Flow::handle_store` of a flow that never asks a store step.
macro_rules! never_asks_store {
    () => {
        fn handle_store(
            &mut self,
            _session: &mut TokenSession,
            _reply: Result<crate::store::StoreReply, crate::store::StoreError>,
            _now: SystemTime,
        ) {
        }
    };
}
pub(crate) use never_asks_store;

/// `Flow::handle_store` of a flow whose store steps are its `store` field's ([`store::StoreSync`]).
macro_rules! store_answers_to_field {
    () => {
        fn handle_store(
            &mut self,
            _session: &mut TokenSession,
            reply: Result<crate::store::StoreReply, crate::store::StoreError>,
            _now: SystemTime,
        ) {
            self.store.handle(reply);
        }
    };
}
pub(crate) use store_answers_to_field;

/// What a flow asks its driver to do next.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum Step<T> {
    /// Send this call, then hand back its answer or its failure.
    Send(Call),
    /// Carry out this step on the session's token store (see [`crate::store`]), then hand
    /// back its answer with [`Flow::handle_store`]. Other callers may wait for it: run it
    /// where no caller's cancellation holds it up, as a shared call.
    Store(StoreRequest),
    /// Wait for another caller's exchange or key fetch to end, at most until `until`.
    Wait {
        /// When to poll again even without a wake-up.
        until: SystemTime,
    },
    /// The operation ended.
    Done(Result<T, Error>),
    /// The operation ended with the transport error of the last failed call.
    TransportFailed,
}

impl<T> Step<T> {
    /// A wait of one [`WAIT_SLICE`] from `now`.
    pub(crate) fn wait(now: SystemTime) -> Self {
        Self::Wait {
            until: now + WAIT_SLICE,
        }
    }

    /// The same step for another output, when `self` is not [`Step::Done`].
    pub(crate) fn pass<U>(self) -> Result<Step<U>, Result<T, Error>> {
        match self {
            Self::Send(call) => Ok(Step::Send(call)),
            Self::Store(request) => Ok(Step::Store(request)),
            Self::Wait { until } => Ok(Step::Wait { until }),
            Self::TransportFailed => Ok(Step::TransportFailed),
            Self::Done(result) => Err(result),
        }
    }
}

/// One HTTP call a flow needs, and what is at stake if it is dropped.
///
/// `Debug` shows the method and URI only: the body may carry a grant's secrets.
#[must_use = "a call must be sent and its answer handed back, or reported as failed"]
pub struct Call {
    request: Request<Vec<u8>>,
    purpose: Purpose,
    shared: bool,
    consumes_grant: bool,
}

/// What a [`Call`] is for, for the driver's logs: nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// A token request.
    Token {
        /// Its `grant_type`.
        grant_type: String,
        /// Why the session renews its token; `None` for an explicit fetch or a login.
        reason: Option<RenewalReason>,
    },
    /// A revocation (RFC 7009).
    Revocation,
    /// An introspection (RFC 7662).
    Introspection,
    /// A device authorization (RFC 8628).
    DeviceAuthorization,
    /// A pushed authorization request (RFC 9126).
    PushedAuthorization,
    /// The provider's key set, for an ID token.
    Keys,
    /// The userinfo endpoint.
    Userinfo,
}

impl Purpose {
    /// A short name: `token`, `revocation`, `introspection`, `device_authorization`,
    /// `pushed_authorization`, `keys`, `userinfo`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Token { .. } => "token",
            Self::Revocation => "revocation",
            Self::Introspection => "introspection",
            Self::DeviceAuthorization => "device_authorization",
            Self::PushedAuthorization => "pushed_authorization",
            Self::Keys => "keys",
            Self::Userinfo => "userinfo",
        }
    }

    /// The token request of `ticket`'s exchange.
    pub(crate) fn token(ticket: &ExchangeTicket) -> Self {
        Self::Token {
            grant_type: ticket.grant_type().to_owned(),
            reason: ticket.reason(),
        }
    }
}

impl Call {
    pub(crate) fn new(request: Request<Vec<u8>>, purpose: Purpose) -> Self {
        Self {
            request,
            purpose,
            shared: false,
            consumes_grant: false,
        }
    }

    /// What the call is for (for logs).
    #[must_use]
    pub fn purpose(&self) -> &Purpose {
        &self.purpose
    }

    /// Where the call goes: `scheme://host:port`, never a path, query or credentials (for
    /// logs).
    #[must_use]
    pub fn origin(&self) -> String {
        crate::rfc9449::origin(self.request.uri())
    }

    pub(crate) fn shared(mut self, shared: bool) -> Self {
        self.shared = shared;
        self
    }

    pub(crate) fn consuming(mut self, consumes_grant: bool) -> Self {
        self.consumes_grant = consumes_grant;
        self
    }

    /// The request to send.
    #[must_use]
    pub fn request(&self) -> &Request<Vec<u8>> {
        &self.request
    }

    /// The request, to send.
    #[must_use]
    pub fn into_request(self) -> Request<Vec<u8>> {
        self.request
    }

    /// Other callers wait for this call's answer (a renewal, a key fetch): an async driver runs
    /// it in a task of its own, so that no caller's cancellation or stall holds them up.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The server may consume a one-time credential with this call (an authorization code,
    /// a rotating refresh token): its answer must reach the session even if the caller goes
    /// away, or the grant is lost.
    #[must_use]
    pub fn consumes_grant(&self) -> bool {
        self.consumes_grant
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("purpose", &self.purpose)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("shared", &self.shared)
            .field("consumes_grant", &self.consumes_grant)
            .finish_non_exhaustive()
    }
}

/// Where a flow with one outstanding call stands after the answer, shared by the flows.
#[derive(Debug, Default)]
pub(crate) enum Answer<T> {
    /// No answer yet (or not asked).
    #[default]
    None,
    /// The answer was read.
    Read(Result<T, Error>),
    /// No answer came.
    Failed,
}

impl<T> Answer<T> {
    /// The final step if an answer (or a failure) is in.
    pub(crate) fn take_step(&mut self) -> Option<Step<T>> {
        match std::mem::replace(self, Self::None) {
            Self::None => None,
            Self::Read(result) => Some(Step::Done(result)),
            Self::Failed => Some(Step::TransportFailed),
        }
    }
}
