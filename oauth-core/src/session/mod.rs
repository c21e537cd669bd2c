//! The session state machine: when to use the token, when to refresh it, and what to do with
//! the answers. It is the heart of automatic refresh, shared by every adapter.
//!
//! # Driving it
//!
//! Before each resource request, call [`TokenSession::poll_authorization`] with `now` and act
//! on the answer:
//!
//! | answer | do |
//! |---|---|
//! | [`Authorization::Ready`] | sign the request with the [`Bearer`] and send it |
//! | [`Authorization::Refresh`] / [`Authorization::Refetch`] | send the exchange's request, give the answer to [`TokenSession::handle_token_response`] (or report a transport failure to [`TokenSession::handle_exchange_failure`]), then poll again |
//! | [`Authorization::Wait`] | another caller's exchange is in flight and the token cannot be used: wait until that caller has handled its answer, then call [`TokenSession::poll_pending`], which shares that exchange's error if it failed |
//! | [`Authorization::Fail`] | return the error |
//!
//! After the resource answers, give its status and headers to
//! [`TokenSession::handle_resource_response`] with the number of replays so far: on
//! [`ResourceVerdict::Replay`] poll again and send the request once more (at most
//! [`MAX_REPLAYS`] times).
//!
//! # Single flight
//!
//! Only the first caller that finds the token due gets a `Refresh`; the session then holds
//! an in-flight exchange, and every later caller gets `Ready` with the old token while it is
//! still valid (inside the leeway) or `Wait` once it is not. Adapters keep the session behind a
//! lock and wake waiters when an exchange ends. An exchange that is never answered (its caller
//! was cancelled without reporting) is abandoned after [`EXCHANGE_TIMEOUT`], so one lost caller
//! cannot wedge the session; drivers that always report their calls (the adapters) turn that
//! off with [`TokenSession::with_exchange_timeout`].
//!
//! # Refresh timing
//!
//! A token is due `leeway` before `expires_at`, with the leeway clamped to half the token's
//! lifetime (see [`ClientConfig::leeway`]): a 60 s token with a 60 s leeway is due after 30 s.
//! Whatever the leeway, a token is not sent in its last [`TRANSIT_MARGIN`] (at most a quarter of
//! its lifetime): a request signed then could reach the resource after the token died. So with
//! a leeway of 0 a 60 s token is refreshed after 59 s, and no request meets a 401 at the edge.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Request, Response};

use crate::client::ClientConfig;
use crate::error::{ConfigError, Error, OAuthError, UsageError};
use crate::oidc::{IdTokenClaims, JwksCache};
use crate::rfc6749::{Grant, parse_token_response};
use crate::rfc6750::Bearer;
use crate::rfc9449::{DpopKey, Nonces};
use crate::secret::RefreshToken;
use crate::token::Token;

mod inputs;
mod login;
mod resource;
mod store;
mod timing;
mod types;
mod updates;

use inputs::EntropySource;
pub use timing::TRANSIT_MARGIN;
use timing::{Stage, refresh_at, stage};

pub use types::{
    Authorization, Exchange, ExchangeKind, ExchangeTicket, Pending, RenewalReason, ResourceVerdict,
    TokenUpdate, UpdateKind,
};

/// How long an exchange may stay unanswered before the session starts another.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// After a failed renewal, how long a token that is still valid is used without trying again
/// (counted from the failed renewal's start). Explicit refreshes are not held back.
pub const RENEWAL_BACKOFF: Duration = Duration::from_secs(5);

/// The most times one resource request is replayed after a `401` `invalid_token` (see
/// [`TokenSession::handle_resource_response`]).
pub const MAX_REPLAYS: u32 = 2;

/// The most renewals an adapter should start for one request: a second covers a token that
/// was already due when it arrived; more means the server keeps issuing dead tokens.
pub const MAX_RENEWALS_PER_REQUEST: u32 = 2;

/// The token a session holds, the state of its renewal, and the rules that drive both.
#[derive(Debug)]
pub struct TokenSession {
    config: ClientConfig,
    token: Option<Token>,
    generation: u64,
    refetch: Option<Refetch>,
    renewal: Renewal,
    next_exchange: u64,
    rejected_by_resource: bool,
    /// The current token, ready to present: built once per token, cloned per request.
    bearer: Option<Bearer>,
    /// The last renewal that failed, so callers who waited for it get its error.
    last_failure: Option<(u64, Error)>,
    /// The validated ID token claims of the login that started the current grant.
    claims: Option<IdTokenClaims>,
    /// The provider's keys, shared by every ID token validation of this session.
    jwks: JwksCache,
    /// Token changes not yet given to the update hook, oldest first (kept only when
    /// [`record_updates`](Self::record_updates) is on).
    updates: VecDeque<TokenUpdate>,
    /// Token changes the blocking hook has seen, waiting for an async hook.
    deferred: VecDeque<TokenUpdate>,
    record_updates: bool,
    /// Whether some caller is delivering `updates` to a hook that runs outside the lock.
    delivering: bool,
    /// How long an unanswered exchange blocks others; `None`: until it is reported.
    exchange_timeout: Option<Duration>,
    /// Refresh requests sent and not yet answered: their exchange, refresh token and start.
    /// A token set meanwhile may carry the same refresh token; no second request may.
    on_the_wire: Vec<(u64, RefreshToken, SystemTime)>,
    /// Where client assertions and JWT bearer grants get their `jti` and signatures.
    entropy: Option<EntropySource>,
    /// The key of DPoP proofs (RFC 9449), when the session sender-constrains its tokens.
    dpop: Option<DpopKey>,
    /// The latest DPoP nonce of each origin (token endpoint and resources).
    nonces: Nonces,
    /// The store the token is shared through, and the version it came from.
    store: Option<store::StoreState>,
}

/// How to get a new token without a refresh token: a grant that needs no user (client
/// credentials, JWT bearer, token exchange), sent again.
#[derive(Debug, Clone)]
struct Refetch {
    grant: Arc<Grant>,
}

#[derive(Debug)]
enum Renewal {
    Idle,
    InFlight {
        id: u64,
        started_at: SystemTime,
    },
    /// The last renewal failed (no answer, or an error other than `invalid_grant`): while
    /// the token is still valid it is used as is until `until`, rather than every request
    /// waiting on another doomed refresh.
    Backoff {
        until: SystemTime,
    },
    /// The refresh token was refused with `invalid_grant`; it is not tried again until the
    /// token changes.
    Rejected {
        error: OAuthError,
    },
}

impl TokenSession {
    /// A session with no token.
    #[must_use]
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            token: None,
            generation: 0,
            refetch: None,
            renewal: Renewal::Idle,
            next_exchange: 0,
            rejected_by_resource: false,
            bearer: None,
            last_failure: None,
            claims: None,
            jwks: JwksCache::default(),
            updates: VecDeque::new(),
            deferred: VecDeque::new(),
            record_updates: false,
            delivering: false,
            exchange_timeout: Some(EXCHANGE_TIMEOUT),
            on_the_wire: Vec::new(),
            entropy: None,
            dpop: None,
            nonces: Nonces::default(),
            store: None,
        }
    }

    /// How long an exchange may stay unanswered before the session starts another (default
    /// [`EXCHANGE_TIMEOUT`]). `None` for a driver that always reports its calls, answered,
    /// failed or dropped (every adapter does, through [`Operation`](crate::flow::Operation)
    /// and its own drop guard): then no timeout can make a live exchange look abandoned and
    /// start a second one with the same refresh token, which a server with reuse detection
    /// would punish by revoking the grant.
    #[must_use]
    pub fn with_exchange_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.exchange_timeout = timeout;
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The current token.
    #[must_use]
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Counts token changes: each fetch, refresh, re-fetch or `set_token` adds one.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When the current token becomes due for renewal (`expires_at` minus the clamped leeway,
    /// and at the latest [`TRANSIT_MARGIN`] before it expires).
    #[must_use]
    pub fn refresh_at(&self) -> Option<SystemTime> {
        self.token
            .as_ref()
            .and_then(|t| refresh_at(t, self.config.leeway))
    }

    /// Replaces the token (a persisted one, say). The session forgets how the old one was
    /// obtained, so a client-credentials re-fetch needs a new `fetch`.
    pub fn set_token(&mut self, token: Token) -> TokenUpdate {
        self.refetch = None;
        self.replace(token, UpdateKind::Set)
    }

    /// Starts an explicit token request with `grant` at `now`. A repeatable grant (client
    /// credentials, JWT bearer, token exchange: [`Grant::is_repeatable`]) is kept, to fetch
    /// again when the token is due and no refresh token came.
    ///
    /// # Errors
    /// [`ConfigError`] when the request cannot be built.
    pub fn fetch(&mut self, grant: &Grant, now: SystemTime) -> Result<Exchange, Error> {
        let refetch = grant.is_repeatable().then(|| Refetch {
            grant: Arc::new(grant.clone()),
        });
        let request = self.token_request_at(grant, now)?;
        Ok(self.exchange(
            ExchangeKind::Fetch,
            refetch,
            Arc::new(grant.clone()),
            request,
        ))
    }

    /// Starts an explicit refresh (RFC 6749 §6), or a client-credentials re-fetch when the
    /// token has no refresh token. It goes to the server even after an `invalid_grant`.
    ///
    /// # Errors
    /// [`UsageError::NoToken`] or [`UsageError::NoRefreshToken`] when there is nothing to
    /// refresh with; [`ConfigError`] when the request cannot be built.
    pub fn refresh(&mut self, now: SystemTime) -> Result<Exchange, Error> {
        if self.token.is_none() {
            return Err(UsageError::NoToken.into());
        }
        // Two refreshes with one refresh token would make a rotating server revoke the grant.
        self.adopt_refresh_on_the_wire(now);
        if matches!(self.renewal, Renewal::InFlight { started_at, .. } if !self.abandoned(started_at, now))
        {
            return Err(UsageError::RefreshInFlight.into());
        }
        self.start_renewal(now, true, RenewalReason::Explicit)?
            .ok_or_else(|| UsageError::NoRefreshToken.into())
    }

    /// The bearer to send at `now` if the current token may be used without starting a
    /// renewal (fresh; or inside the leeway while a renewal is in flight or backing off).
    /// Read-only: adapters ask it after a failed renewal, where
    /// [`poll_authorization`](Self::poll_authorization) could start another.
    #[must_use]
    pub fn usable_bearer(&self, now: SystemTime) -> Option<Bearer> {
        let token = self.token.as_ref()?;
        if !self.presentable(token) || self.rejected_by_resource {
            return None;
        }
        let usable = match stage(token, self.config.leeway, now) {
            Stage::Fresh => true,
            Stage::Due => match &self.renewal {
                Renewal::InFlight { started_at, .. } => !self.abandoned(*started_at, now),
                Renewal::Backoff { until } => now < *until,
                // A dead refresh token: the token is served until it expires.
                Renewal::Rejected { .. } => true,
                Renewal::Idle => false,
            },
            Stage::Expired => false,
        };
        if usable { self.bearer.clone() } else { None }
    }

    /// Gives back an exchange that was never sent (a request that gave up before sending it):
    /// no failure is recorded and no backoff starts, so the next caller may renew at once.
    pub fn release_exchange(&mut self, ticket: &ExchangeTicket) {
        self.end_exchange(ticket);
    }

    /// Decides what to do before a resource request at `now`. See the module documentation.
    pub fn poll_authorization(&mut self, now: SystemTime) -> Authorization {
        let Some(token) = &self.token else {
            return Authorization::Fail(UsageError::NoToken.into());
        };
        if !self.presentable(token) {
            return Authorization::Fail(
                UsageError::UnsupportedTokenType(token.token_type().to_owned()).into(),
            );
        }
        let stage = if self.rejected_by_resource {
            Stage::Expired
        } else {
            stage(token, self.config.leeway, now)
        };
        if stage == Stage::Fresh {
            return self.ready();
        }
        let usable = stage == Stage::Due;
        self.adopt_refresh_on_the_wire(now);
        let may_use_refresh_token = match &self.renewal {
            Renewal::InFlight { id, started_at } if !self.abandoned(*started_at, now) => {
                return if usable {
                    self.ready()
                } else {
                    Authorization::Wait(Pending { id: *id })
                };
            }
            Renewal::Backoff { until } if usable && now < *until => return self.ready(),
            Renewal::Rejected { .. } => false,
            Renewal::InFlight { .. } | Renewal::Idle | Renewal::Backoff { .. } => true,
        };
        let reason = if self.rejected_by_resource {
            RenewalReason::RefusedByResource
        } else if usable {
            RenewalReason::Due
        } else {
            RenewalReason::Expired
        };
        match self.start_renewal(now, may_use_refresh_token, reason) {
            Ok(Some(exchange)) => match exchange.ticket.kind {
                ExchangeKind::Refetch => Authorization::Refetch(exchange),
                _ => Authorization::Refresh(exchange),
            },
            Ok(None) if usable => self.ready(),
            Ok(None) => Authorization::Fail(match &self.renewal {
                Renewal::Rejected { error } => error.clone().into(),
                _ => UsageError::TokenExpired.into(),
            }),
            Err(e) => Authorization::Fail(e),
        }
    }

    /// Decides again after waiting for `pending`: still [`Authorization::Wait`] while it is in
    /// flight; its error when it failed (every waiter shares the one failure instead of
    /// retrying it); otherwise the same as [`poll_authorization`](Self::poll_authorization).
    pub fn poll_pending(&mut self, pending: Pending, now: SystemTime) -> Authorization {
        match &self.renewal {
            Renewal::InFlight { id, started_at }
                if *id == pending.id && !self.abandoned(*started_at, now) =>
            {
                Authorization::Wait(pending)
            }
            _ => match &self.last_failure {
                Some((id, error)) if *id == pending.id => Authorization::Fail(error.clone()),
                _ => self.poll_authorization(now),
            },
        }
    }

    /// Applies the answer to an exchange. `sent_at` is when its request was sent.
    ///
    /// On success the token is replaced (a refresh keeps the old refresh token and scope when
    /// the server sends none) and the change is returned for the update hook. On failure the
    /// old token stays; an `invalid_grant` to a refresh marks the refresh token as dead, so
    /// automatic renewal stops asking the server until the token changes.
    ///
    /// # Errors
    /// What [`parse_token_response`] returns, or [`UsageError::Superseded`] when the token was
    /// replaced while the exchange was in flight (its answer is then dropped).
    pub fn handle_token_response<B: AsRef<[u8]>>(
        &mut self,
        ticket: &ExchangeTicket,
        response: &Response<B>,
        sent_at: SystemTime,
    ) -> Result<TokenUpdate, Error> {
        let token = self.read_token_response(ticket, response, sent_at)?;
        self.commit_token(ticket, token)
    }

    /// Reads the answer to an exchange without committing it, for a caller that checks the
    /// token first (a refreshed ID token, say) and then commits it with
    /// [`commit_token`](Self::commit_token) or [`commit_login`](Self::commit_login), or
    /// reports the check's failure with [`fail_exchange`](Self::fail_exchange). An error
    /// answer is handled as by [`handle_token_response`](Self::handle_token_response).
    ///
    /// # Errors
    /// What [`parse_token_response`] returns.
    pub fn read_token_response<B: AsRef<[u8]>>(
        &mut self,
        ticket: &ExchangeTicket,
        response: &Response<B>,
        sent_at: SystemTime,
    ) -> Result<Token, Error> {
        parse_token_response(response, sent_at).map_err(|error| self.fail_exchange(ticket, error))
    }

    /// Ends an exchange that failed with `error` (an error answer, or a token that failed the
    /// caller's checks): the old token stays, a renewal backs off, callers waiting for it
    /// share `error`, and an `invalid_grant` to a refresh stops automatic renewal. Returns
    /// `error`.
    pub fn fail_exchange(&mut self, ticket: &ExchangeTicket, error: Error) -> Error {
        self.end_failed_renewal(ticket);
        // Only renewals have waiters to share a failure with; a failed fetch must not
        // overwrite the failure they are about to read.
        if ticket.kind != ExchangeKind::Fetch {
            self.last_failure = Some((ticket.id, error.clone()));
        }
        self.refused(ticket, error)
    }

    /// Applies a token the caller parsed (with [`parse_token_response`]) and checked itself,
    /// for instance an authorization-code answer whose ID token had to be validated (which may
    /// need a key fetch) before the user counts as signed in. Same rules as
    /// [`handle_token_response`](Self::handle_token_response) on success.
    ///
    /// # Errors
    /// [`UsageError::Superseded`] when the token was replaced while a refresh was in flight.
    pub fn commit_token(
        &mut self,
        ticket: &ExchangeTicket,
        mut token: Token,
    ) -> Result<TokenUpdate, Error> {
        self.end_exchange(ticket);
        let kind = match ticket.kind {
            ExchangeKind::Fetch => {
                self.refetch.clone_from(&ticket.refetch);
                return Ok(self.replace(token, UpdateKind::Fetched));
            }
            ExchangeKind::Refresh => UpdateKind::Refreshed,
            ExchangeKind::Refetch => UpdateKind::Refetched,
        };
        if ticket.generation != self.generation {
            return Err(UsageError::Superseded.into());
        }
        if let (ExchangeKind::Refresh, Some(old)) = (ticket.kind, &self.token) {
            token.inherit_from(old);
        }
        Ok(self.replace(token, kind))
    }

    /// Reports that an exchange got no answer (connection refused, timeout, cancelled). The
    /// token stays; callers waiting for it get [`UsageError::RenewalFailed`]; the next poll
    /// after that may start a new exchange.
    pub fn handle_exchange_failure(&mut self, ticket: &ExchangeTicket) {
        self.end_failed_renewal(ticket);
        if ticket.kind != ExchangeKind::Fetch {
            self.last_failure = Some((ticket.id, UsageError::RenewalFailed.into()));
        }
    }

    /// Records what an error answer to a refresh means: `invalid_grant` kills the refresh
    /// token for automatic renewal.
    fn refused(&mut self, ticket: &ExchangeTicket, error: Error) -> Error {
        if let Error::OAuth(oauth) = &error {
            if ticket.kind == ExchangeKind::Refresh
                && oauth.error() == "invalid_grant"
                && ticket.generation == self.generation
            {
                self.renewal = Renewal::Rejected {
                    error: oauth.clone(),
                };
            }
        }
        error
    }

    fn ready(&self) -> Authorization {
        match &self.bearer {
            Some(bearer) => Authorization::Ready(bearer.clone()),
            None => Authorization::Fail(ConfigError::InvalidHeaderValue("access token").into()),
        }
    }

    fn replace(&mut self, token: Token, kind: UpdateKind) -> TokenUpdate {
        if matches!(kind, UpdateKind::Fetched | UpdateKind::Set) {
            self.claims = None;
        }
        self.generation += 1;
        self.bearer = self.presentation(&token);
        let old = self.token.replace(token.clone());
        self.renewal = Renewal::Idle;
        self.rejected_by_resource = false;
        let update = TokenUpdate {
            kind,
            old,
            new: token,
        };
        if self.record_updates && kind != UpdateKind::Set {
            self.updates.push_back(update.clone());
        }
        update
    }

    fn exchange(
        &mut self,
        kind: ExchangeKind,
        refetch: Option<Refetch>,
        grant: Arc<Grant>,
        request: Request<Vec<u8>>,
    ) -> Exchange {
        self.next_exchange += 1;
        Exchange {
            ticket: ExchangeTicket {
                id: self.next_exchange,
                kind,
                generation: self.generation,
                refetch,
                grant,
                dpop_retried: false,
                reason: None,
            },
            request,
        }
    }

    /// Builds the renewal exchange and marks it in flight; `None` when there is nothing to
    /// renew with.
    fn start_renewal(
        &mut self,
        now: SystemTime,
        may_use_refresh_token: bool,
        reason: RenewalReason,
    ) -> Result<Option<Exchange>, Error> {
        let refresh_token = self
            .token
            .as_ref()
            .and_then(Token::refresh_token)
            .filter(|_| may_use_refresh_token);
        let (kind, grant) = match (refresh_token, &self.refetch) {
            (Some(rt), _) => (ExchangeKind::Refresh, Arc::new(Grant::refresh_token(rt))),
            (None, Some(refetch)) => (ExchangeKind::Refetch, Arc::clone(&refetch.grant)),
            (None, None) => return Ok(None),
        };
        let request = self.token_request_at(&grant, now)?;
        let refetch = self.refetch.clone();
        let mut exchange = self.exchange(kind, refetch, grant, request);
        exchange.ticket.reason = Some(reason);
        self.renewal = Renewal::InFlight {
            id: exchange.ticket.id,
            started_at: now,
        };
        if let (ExchangeKind::Refresh, Some(refresh_token)) =
            (kind, self.token.as_ref().and_then(Token::refresh_token))
        {
            let sent = (exchange.ticket.id, refresh_token.clone(), now);
            self.on_the_wire.push(sent);
        }
        Ok(Some(exchange))
    }

    fn end_exchange(&mut self, ticket: &ExchangeTicket) {
        self.on_the_wire.retain(|(id, ..)| *id != ticket.id);
        if matches!(self.renewal, Renewal::InFlight { id, .. } if id == ticket.id) {
            self.renewal = Renewal::Idle;
        }
    }

    /// Ends a renewal that failed: a backoff of [`RENEWAL_BACKOFF`] from its start, during
    /// which a still-valid token is used as is.
    fn end_failed_renewal(&mut self, ticket: &ExchangeTicket) {
        self.on_the_wire.retain(|(id, ..)| *id != ticket.id);
        if let Renewal::InFlight { id, started_at } = self.renewal {
            if id == ticket.id {
                self.renewal = Renewal::Backoff {
                    until: started_at + RENEWAL_BACKOFF,
                };
            }
        }
    }
}
