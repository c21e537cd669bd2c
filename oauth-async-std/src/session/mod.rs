//! The session: the core's [`TokenSession`] behind a `std::sync::Mutex` that is never held
//! across an `.await`, an [`Event`] that wakes callers waiting for another caller's refresh,
//! and the [`HttpClient`] that carries out what the core asks for.
//!
//! ```text
//!  authorize():  lock ─ poll_authorization(now) ─ unlock
//!                  Ready(bearer)          → sign and send (no await, no lock held)
//!                  Refresh / Refetch      → spawn the exchange task, await its handle, then
//!                                           poll again; after a failure only the old token
//!                                           (still valid, core backing off) or the error
//!                  Wait(pending)          → listen, lock ─ poll_pending ─ unlock, await the event
//!                  Fail(error)            → return it
//! ```

mod builder;
mod exchange;
mod oidc;

use std::fmt;
use std::panic::resume_unwind;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use event_listener::Event;
use oauth_core::http::{HeaderMap, Method, StatusCode, Uri};
use oauth_core::oidc::JwksCache;
use oauth_core::session::MAX_RENEWALS_PER_REQUEST;
use oauth_core::url::Url;
use oauth_core::{
    Authorization, Bearer, ClientConfig, Exchange, Grant, Introspection, Pending, ResourceVerdict,
    Token, TokenRef, TokenSession, UsageError, introspection_request, parse_introspection_response,
    parse_revocation_response, revocation_request,
};

pub use builder::SessionBuilder;
use exchange::Hooks;

use crate::request::RequestBuilder;
use crate::{Error, HttpClient};

/// The largest token, revocation or introspection response read (1 MiB): an endpoint that
/// sends more is broken or hostile.
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

/// How long a caller waits for another caller's refresh before looking again, in case a
/// wake-up was lost.
const WAIT_SLICE: Duration = Duration::from_secs(1);
/// The most decisions one `authorize` makes: renewals are bounded by
/// [`MAX_RENEWALS_PER_REQUEST`], and a wait ends within
/// [`oauth_core::session::EXCHANGE_TIMEOUT`] at one decision per [`WAIT_SLICE`].
const MAX_DECISIONS: usize = 512;
/// How many origins the transport security check remembers; past that it parses every time.
const MAX_REMEMBERED_ORIGINS: usize = 64;

/// An async OAuth 2.0 session: an HTTP client that fetches, injects and refreshes its own
/// bearer token. Cheap to clone; clones share the token and the connection pool.
#[derive(Clone)]
pub struct OAuth2Session {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    client: HttpClient,
    /// The session's configuration, read without the lock (it never changes).
    config: ClientConfig,
    state: Mutex<TokenSession>,
    exchange_ended: Event,
    hooks: Hooks,
    body_limit: u64,
    /// Origins (scheme, authority) that passed the transport security check.
    secure_origins: Mutex<Vec<(String, String)>>,
    /// The provider's keys (OpenID Connect), locked only for the core's synchronous calls.
    jwks: Mutex<JwksCache>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, TokenSession> {
        lock(&self.state)
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a user hook poisons the mutex; the state itself is always consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for OAuth2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Session")
            .field("state", &self.shared.state)
            .field("client", &self.shared.client)
            .finish_non_exhaustive()
    }
}

impl OAuth2Session {
    /// Starts building a session for `client_id` (a public client until a secret is set).
    pub fn builder(client_id: impl Into<String>) -> SessionBuilder {
        SessionBuilder::new(client_id.into())
    }

    /// Requests a token with `grant` (password, client credentials, authorization code, …)
    /// and makes it the session's token. No ID token is validated here: the claims of the
    /// last login are dropped with the old token (see
    /// [`id_token_claims`](Self::id_token_claims)).
    ///
    /// The exchange runs in its own task: if this future is dropped, the request still
    /// completes and its token is still stored.
    ///
    /// # Errors
    /// [`Error::Core`] with the server's OAuth error (`invalid_grant: Invalid user
    /// credentials`, say) or an unexpected response; [`Error::Transport`] when the call fails.
    /// The session's previous token is kept on any error.
    pub async fn fetch_token(&self, grant: Grant) -> Result<Token, Error> {
        let exchange = self.shared.lock().fetch(&grant)?;
        self.run_exchange(exchange).await
    }

    /// Refreshes the token now (or fetches a new client-credentials token), even if it is
    /// still fresh, and even after an `invalid_grant`.
    ///
    /// While a refresh is already in flight (an automatic one a request started, or another
    /// explicit one) nothing is sent: two refreshes with one refresh token would make a
    /// rotating server revoke the grant. The call fails with
    /// [`UsageError::RefreshInFlight`] instead; the refresh in flight updates the token in a
    /// moment (watch [`token`](Self::token) or the update hooks), or call again later.
    ///
    /// # Errors
    /// As [`fetch_token`](Self::fetch_token); nothing is lost on error.
    /// [`UsageError::RefreshInFlight`] (in [`Error::Core`]) while a refresh is in flight;
    /// [`UsageError::NoToken`] or [`UsageError::NoRefreshToken`] when there is nothing to
    /// refresh with.
    pub async fn refresh_token(&self) -> Result<Token, Error> {
        let exchange = self.shared.lock().refresh(SystemTime::now())?;
        self.run_exchange(exchange).await
    }

    /// Revokes a token (RFC 7009). Revoking the session's own refresh token ends its grant at
    /// most servers; the session keeps its token until told otherwise.
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub async fn revoke_token(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let request = revocation_request(&self.shared.config, token)?;
        let response = self
            .shared
            .client
            .call_endpoint(request, self.shared.body_limit)
            .await?;
        Ok(parse_revocation_response(&response)?)
    }

    /// Introspects a token (RFC 7662).
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub async fn introspect_token(&self, token: TokenRef<'_>) -> Result<Introspection, Error> {
        let request = introspection_request(&self.shared.config, token)?;
        let response = self
            .shared
            .client
            .call_endpoint(request, self.shared.body_limit)
            .await?;
        Ok(parse_introspection_response(&response)?)
    }

    /// The current token.
    #[must_use]
    pub fn token(&self) -> Option<Token> {
        self.shared.lock().token().cloned()
    }

    /// Replaces the token (the update hooks are not called: the caller knows). The claims of
    /// the last login are dropped with the old token:
    /// [`id_token_claims`](Self::id_token_claims) is `None` afterwards.
    pub fn set_token(&self, token: Token) {
        let _ = self.shared.lock().set_token(token);
        self.shared.exchange_ended.notify(usize::MAX);
    }

    /// When the session will refresh its token (`expires_at` minus the clamped leeway).
    #[must_use]
    pub fn refresh_at(&self) -> Option<SystemTime> {
        self.shared.lock().refresh_at()
    }

    /// The HTTP client the session sends with (its pool, its counters).
    #[must_use]
    pub fn http_client(&self) -> &HttpClient {
        &self.shared.client
    }

    /// A `GET` signed with the session's token.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` signed with the session's token.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` signed with the session's token.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `PATCH` signed with the session's token.
    pub fn patch(&self, url: &str) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A `DELETE` signed with the session's token.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A request with any method, signed with the session's token when sent.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// A bearer token for a resource request, refreshing first when the core says so and
    /// waiting when another caller is refreshing. While the token is fresh this is one short
    /// lock and no `.await` that suspends.
    ///
    /// A request runs at most [`MAX_RENEWALS_PER_REQUEST`] renewals. When one it ran fails,
    /// the old token is used if the core still serves it (it is valid, and the core backs off
    /// for [`RENEWAL_BACKOFF`](oauth_core::session::RENEWAL_BACKOFF)); otherwise the request
    /// returns that failure rather than starting another renewal.
    pub(crate) async fn authorize(&self) -> Result<Bearer, Error> {
        let mut renewals = 0;
        let mut decision = self.decide(true, TokenSession::poll_authorization)?;
        for _ in 0..MAX_DECISIONS {
            let may_renew = renewals < MAX_RENEWALS_PER_REQUEST;
            decision = match decision {
                Authorization::Ready(bearer) => return Ok(bearer),
                // The slow paths are boxed, so the fast one's future stays small.
                Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                    renewals += 1;
                    match Box::pin(self.run_exchange(exchange)).await {
                        // Superseded: the token was replaced while this renewal was in
                        // flight; the new one is the session's, use it.
                        Ok(_)
                        | Err(Error::Core(oauth_core::Error::Usage(UsageError::Superseded))) => {
                            self.decide(
                                renewals < MAX_RENEWALS_PER_REQUEST,
                                TokenSession::poll_authorization,
                            )?
                        }
                        Err(error) => return self.still_served().ok_or(error),
                    }
                }
                Authorization::Wait(pending) => Box::pin(self.wait_for(pending, may_renew)).await?,
                Authorization::Fail(error) => return Err(error.into()),
                // A decision added to the core after this adapter: nothing to sign with.
                _ => break,
            };
        }
        Err(oauth_core::Error::from(UsageError::RenewalFailed).into())
    }

    /// Asks the core (`poll_authorization` or `poll_pending`) under one lock. A renewal the
    /// core starts when this request may run no more is handed straight back as not sent,
    /// before anyone can wait for it (left in flight, it would hold every caller until
    /// [`EXCHANGE_TIMEOUT`](oauth_core::session::EXCHANGE_TIMEOUT)), and the request fails with
    /// [`UsageError::RenewalLoop`].
    fn decide(
        &self,
        may_renew: bool,
        ask: impl FnOnce(&mut TokenSession, SystemTime) -> Authorization,
    ) -> Result<Authorization, Error> {
        let mut state = self.shared.lock();
        match ask(&mut state, SystemTime::now()) {
            Authorization::Refresh(exchange) | Authorization::Refetch(exchange) if !may_renew => {
                // Never sent: released, not failed, so nobody backs off or shares a failure.
                state.release_exchange(exchange.ticket());
                Err(oauth_core::Error::from(UsageError::RenewalLoop).into())
            }
            decision => Ok(decision),
        }
    }

    /// After a renewal this request ran failed: the old token if the core still serves it
    /// without a renewal (it is valid and the core backs off), else `None`. Never starts
    /// another renewal.
    fn still_served(&self) -> Option<Bearer> {
        self.shared.lock().usable_bearer(SystemTime::now())
    }

    /// Waits until the exchange `pending` ends (or a wait slice passes), then decides again.
    async fn wait_for(&self, pending: Pending, may_renew: bool) -> Result<Authorization, Error> {
        // Listening before looking: an exchange that ends between the look and the wait still
        // wakes this caller.
        let listener = self.shared.exchange_ended.listen();
        let pending = match self.decide(may_renew, |state, now| state.poll_pending(pending, now))? {
            Authorization::Wait(pending) => pending,
            decided => return Ok(decided),
        };
        let _ = async_std::future::timeout(WAIT_SLICE, listener).await;
        self.decide(may_renew, |state, now| state.poll_pending(pending, now))
    }

    /// Gives a resource response to the core: `true` when the request must be replayed.
    pub(crate) fn needs_replay(
        &self,
        bearer: &Bearer,
        replayed: bool,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> bool {
        let verdict = self
            .shared
            .lock()
            .handle_resource_response(bearer, replayed, status, headers);
        verdict == ResourceVerdict::Replay
    }

    /// Asks the core whether `target` may carry the token (https, loopback, or plain http
    /// explicitly allowed). The answer depends only on the origin, so origins that passed are
    /// remembered: the hot path then costs a short lock instead of a URL parse.
    pub(crate) fn check_transport_security(&self, target: &Uri) -> Result<(), Error> {
        let (Some(scheme), Some(authority)) = (target.scheme_str(), target.authority()) else {
            return Err(oauth_core::ConfigError::InvalidUrl {
                what: "request",
                reason: "not an absolute URL".into(),
            }
            .into());
        };
        let authority = authority.as_str();
        let known = |origins: &Vec<(String, String)>| {
            origins.iter().any(|(s, a)| s == scheme && a == authority)
        };
        if known(&lock(&self.shared.secure_origins)) {
            return Ok(());
        }
        let origin = Url::parse(&format!("{scheme}://{authority}/")).map_err(|e| {
            Error::from(oauth_core::ConfigError::InvalidUrl {
                what: "request",
                reason: e.to_string(),
            })
        })?;
        self.shared.config.check_transport_security(&origin)?;
        let mut origins = lock(&self.shared.secure_origins);
        if origins.len() < MAX_REMEMBERED_ORIGINS && !known(&origins) {
            origins.push((scheme.to_owned(), authority.to_owned()));
        }
        Ok(())
    }

    /// Runs a token exchange in its own task and waits for it; dropping this future detaches
    /// the task, which still applies the answer and wakes the waiters.
    async fn run_exchange(&self, exchange: Exchange) -> Result<Token, Error> {
        match exchange::spawn(&self.shared, exchange).await {
            Ok(outcome) => outcome,
            Err(panic) => resume_unwind(panic),
        }
    }
}
