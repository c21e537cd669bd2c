//! The session: the core's [`TokenSession`] behind a `std` mutex that is never held across an
//! `.await`, a [`Notify`] for callers waiting on another caller's exchange, and token
//! exchanges run as spawned tasks so that no caller's cancellation cancels them.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use oauth_core::http::{HeaderMap, Method, Request, StatusCode};
use oauth_core::oidc::{IdTokenClaims, JwksCache};
use oauth_core::session::MAX_RENEWALS_PER_REQUEST;
use oauth_core::{
    Authorization, Bearer, ClientConfig, Exchange, ExchangeTicket, Grant, Introspection, Pending,
    ResourceVerdict, Token, TokenRef, TokenSession, TokenUpdate, UsageError, introspection_request,
    parse_introspection_response, parse_revocation_response, revocation_request,
};
use tokio::sync::Notify;

use crate::Error;
use crate::builder::{SessionBuilder, UpdateHook};
use crate::request::RequestBuilder;

/// How many decisions one request may go through (each wait ends when some exchange ends).
const MAX_ROUNDS: u32 = 64;

/// An async OAuth 2.0 session: a reqwest client that fetches, injects and refreshes its own
/// bearer token.
///
/// `Clone + Send + Sync`; clones share the token, the single-flight state and the clients, so
/// clone it into every task. Calls must run on a tokio runtime.
#[derive(Clone)]
pub struct OAuth2Session {
    shared: Arc<Shared>,
}

/// The transport half: two reqwest clients and the limits of endpoint calls.
pub(crate) struct Clients {
    /// Resource requests.
    pub(crate) resource: reqwest::Client,
    /// Token, revocation and introspection calls: no redirects.
    pub(crate) endpoint: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) body_limit: u64,
    /// The configured token endpoint, parsed once.
    pub(crate) token_endpoint: Option<reqwest::Url>,
}

struct Shared {
    clients: Clients,
    /// The session's configuration, which never changes: a copy, so that transport checks and
    /// revocation or introspection requests take no lock.
    config: ClientConfig,
    state: Mutex<TokenSession>,
    /// Woken whenever an exchange ends or the token is set.
    exchange_ended: Notify,
    hook: Option<UpdateHook>,
    /// Changes for the async hook, queued under the state lock so they keep its order.
    hook_queue: Mutex<VecDeque<TokenUpdate>>,
    /// One async hook call at a time.
    hook_turn: tokio::sync::Mutex<()>,
    /// The provider's keys; locked only between `.await`s.
    jwks: Mutex<JwksCache>,
    /// One key-set fetch at a time, so concurrent validations share it (held across the fetch).
    jwks_fetch: tokio::sync::Mutex<()>,
}

impl fmt::Debug for OAuth2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Session")
            .field("state", &self.shared.state)
            .finish_non_exhaustive()
    }
}

impl OAuth2Session {
    /// Starts building a session for `client_id` (a public client until a secret is set).
    pub fn builder(client_id: impl Into<String>) -> SessionBuilder {
        SessionBuilder::new(client_id.into())
    }

    pub(crate) fn new(
        state: TokenSession,
        clients: Clients,
        hook: Option<UpdateHook>,
        jwks: JwksCache,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                clients,
                config: state.config().clone(),
                state: Mutex::new(state),
                exchange_ended: Notify::new(),
                hook,
                hook_queue: Mutex::new(VecDeque::new()),
                hook_turn: tokio::sync::Mutex::new(()),
                jwks: Mutex::new(jwks),
                jwks_fetch: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Requests a token with `grant` (password, client credentials, authorization code, …)
    /// and makes it the session's token. The claims of an earlier OpenID Connect login are
    /// cleared ([`id_token_claims`](Self::id_token_claims) is then `None`): nothing validated
    /// this token's ID token; use [`exchange_code`](Self::exchange_code) for a login.
    ///
    /// Dropping this future does not cancel the exchange once it is under way: it goes on in
    /// a task of its own and the session takes its answer all the same (a code or a rotated
    /// refresh token the server has consumed is not lost).
    ///
    /// # Errors
    /// [`Error::Core`] with the server's OAuth error (`invalid_grant: Invalid user
    /// credentials`, say) or an unexpected response; [`Error::Transport`] when the call fails;
    /// [`Error::BodyTooLarge`]. The session's previous token is kept on any error.
    pub async fn fetch_token(&self, grant: Grant) -> Result<Token, Error> {
        let exchange = self.lock().fetch(&grant)?;
        // Nobody waits on a fetch (the core marks only renewals as in flight), so it runs in
        // this task, detached only if this caller goes away: a spawn per fetch costs about 9 %
        // of a loopback token round trip.
        Detachable::new(self.guarded(exchange)).await
    }

    /// Refreshes the token now (or fetches a new client-credentials token), even if it is
    /// still fresh, and even after an `invalid_grant`. The claims of the OpenID Connect login
    /// are kept: a refresh continues the same grant.
    ///
    /// # Errors
    /// As [`fetch_token`](Self::fetch_token); nothing is lost on error. While another refresh
    /// is in flight (an automatic one a request started), [`UsageError::RefreshInFlight`]
    /// (in [`Error::Core`]) and nothing is sent: two refreshes with one refresh token would
    /// make a rotating server revoke the grant. The refresh in flight's result becomes the
    /// session's token in a moment; read [`token`](Self::token) after it, or retry.
    pub async fn refresh_token(&self) -> Result<Token, Error> {
        let exchange = self.lock().refresh(SystemTime::now())?;
        self.run_exchange(exchange).await
    }

    /// Revokes a token (RFC 7009). Revoking the session's own refresh token ends its grant at
    /// most servers; the session keeps its token until told otherwise.
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub async fn revoke_token(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let request = revocation_request(&self.shared.config, token)?;
        let response = self.shared.clients.call(request).await?;
        Ok(parse_revocation_response(&response)?)
    }

    /// Introspects a token (RFC 7662).
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub async fn introspect_token(&self, token: TokenRef<'_>) -> Result<Introspection, Error> {
        let request = introspection_request(&self.shared.config, token)?;
        let response = self.shared.clients.call(request).await?;
        Ok(parse_introspection_response(&response)?)
    }

    /// The current token.
    #[must_use]
    pub fn token(&self) -> Option<Token> {
        self.lock().token().cloned()
    }

    /// Replaces the token (the update hook is not called: the caller knows). An exchange in
    /// flight is then superseded: its answer is dropped. The claims of an earlier OpenID
    /// Connect login are cleared: they describe the token replaced.
    pub fn set_token(&self, token: Token) {
        let _ = self.lock().set_token(token);
        self.shared.exchange_ended.notify_waiters();
    }

    /// When the session will refresh its token (`expires_at` minus the clamped leeway).
    #[must_use]
    pub fn refresh_at(&self) -> Option<SystemTime> {
        self.lock().refresh_at()
    }

    /// The client configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The reqwest client resource requests are sent with.
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        &self.shared.clients.resource
    }

    /// A `GET` signed with the session's token when sent.
    pub fn get<U: reqwest::IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` signed with the session's token when sent.
    pub fn post<U: reqwest::IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` signed with the session's token when sent.
    pub fn put<U: reqwest::IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `PATCH` signed with the session's token when sent.
    pub fn patch<U: reqwest::IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A `DELETE` signed with the session's token when sent.
    pub fn delete<U: reqwest::IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A request with any method, signed with the session's token when sent. An invalid URL
    /// is reported by `send`, as in reqwest.
    pub fn request<U: reqwest::IntoUrl>(&self, method: Method, url: U) -> RequestBuilder {
        RequestBuilder::new(self.clone(), self.client().request(method, url))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TokenSession> {
        self.shared.lock()
    }

    pub(crate) fn clients(&self) -> &Clients {
        &self.shared.clients
    }

    pub(crate) fn jwks(&self) -> MutexGuard<'_, JwksCache> {
        self.shared
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Taken around a key-set fetch (an async lock: it is held across the request).
    pub(crate) async fn jwks_fetch_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.shared.jwks_fetch.lock().await
    }

    /// Makes a code exchange's token (its ID token already validated) the session's: the
    /// token and the claims under the state lock, the hook, the waiters woken.
    pub(crate) async fn commit_login(
        &self,
        ticket: &ExchangeTicket,
        token: Token,
        claims: Option<IdTokenClaims>,
    ) -> Result<Token, Error> {
        let shared = &self.shared;
        let token = {
            let mut state = shared.lock();
            let update = state.commit_login(ticket, token, claims)?;
            shared.announce(&update);
            update.new_token().clone()
        };
        shared.exchange_ended.notify_waiters();
        shared.deliver_async_updates().await;
        Ok(token)
    }

    /// A bearer token for a resource request: the hot path is one short lock and no `.await`;
    /// otherwise refreshes first, or waits for another caller's exchange, as the core decides.
    ///
    /// A renewal this request ran that fails does not fail the request while the old token is
    /// still valid: the core then backs off and serves it. Otherwise the request gets the
    /// renewal's error; it never starts a second renewal after a failed one.
    pub(crate) async fn authorize(&self) -> Result<Bearer, Error> {
        let mut decision = self.lock().poll_authorization(SystemTime::now());
        let mut renewals = 0;
        for _ in 0..MAX_ROUNDS {
            decision = match decision {
                Authorization::Ready(bearer) => return Ok(bearer),
                Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                    if renewals == MAX_RENEWALS_PER_REQUEST {
                        self.abandon(exchange);
                        return Err(UsageError::RenewalLoop.into());
                    }
                    renewals += 1;
                    match self.run_exchange(exchange).await {
                        // Superseded: the token was replaced meanwhile; use the new one.
                        Ok(_)
                        | Err(Error::Core(oauth_core::Error::Usage(UsageError::Superseded))) => {
                            self.lock().poll_authorization(SystemTime::now())
                        }
                        Err(error) => return self.after_failed_renewal(error),
                    }
                }
                Authorization::Wait(pending) => self.wait_for(pending).await,
                Authorization::Fail(error) => return Err(error.into()),
                _ => {
                    return Err(Error::RenewalStopped(
                        "the core asked for an action this adapter does not know",
                    ));
                }
            };
        }
        Err(Error::RenewalStopped(
            "too many rounds waiting for other callers' renewals",
        ))
    }

    /// After the renewal this request ran failed with `error`: the old token if the core still
    /// serves it without a renewal (it is valid, and the core backs off after the failure),
    /// else `error`. Never starts another renewal in this request.
    fn after_failed_renewal(&self, error: Error) -> Result<Bearer, Error> {
        self.lock().usable_bearer(SystemTime::now()).ok_or(error)
    }

    /// Waits until `pending` (or any exchange) ends, then asks the core again.
    async fn wait_for(&self, pending: Pending) -> Authorization {
        let mut ended = pin!(self.shared.exchange_ended.notified());
        // Registered before looking: an exchange that ends after the look wakes this waiter.
        ended.as_mut().enable();
        let decision = self.lock().poll_pending(pending, SystemTime::now());
        if !matches!(decision, Authorization::Wait(_)) {
            return decision;
        }
        ended.await;
        self.lock().poll_pending(pending, SystemTime::now())
    }

    /// Gives a resource response to the core: `true` when the request must be replayed.
    pub(crate) fn needs_replay(
        &self,
        bearer: &Bearer,
        replayed: bool,
        response: &reqwest::Response,
    ) -> bool {
        self.verdict_is_replay(bearer, replayed, response.status(), response.headers())
    }

    /// [`needs_replay`](Self::needs_replay) for a response read whole (userinfo).
    pub(crate) fn verdict_is_replay(
        &self,
        bearer: &Bearer,
        replayed: bool,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> bool {
        let verdict = self
            .lock()
            .handle_resource_response(bearer, replayed, status, headers);
        verdict == ResourceVerdict::Replay
    }

    pub(crate) fn check_transport_security(&self, url: &reqwest::Url) -> Result<(), Error> {
        Ok(self.shared.config.check_transport_security(url)?)
    }

    /// Reports an exchange the session will not send as failed, so nobody waits for it.
    fn abandon(&self, exchange: Exchange) {
        // Never sent: released, not failed, so nobody backs off or shares a failure for it.
        self.lock().release_exchange(exchange.ticket());
        self.shared.exchange_ended.notify_waiters();
    }

    /// The exchange as a future that reports its own failure if dropped unfinished.
    fn guarded(
        &self,
        exchange: Exchange,
    ) -> impl Future<Output = Result<Token, Error>> + Send + 'static {
        let (ticket, request) = exchange.into_parts();
        let guard = ExchangeGuard {
            shared: Arc::clone(&self.shared),
            ticket,
            armed: true,
        };
        Shared::exchange(guard, request)
    }

    /// Runs a renewal in its own task and waits for its outcome.
    async fn run_exchange(&self, exchange: Exchange) -> Result<Token, Error> {
        // Spawned: a renewal belongs to every caller waiting on it, so neither dropping nor
        // stalling this caller's future may hold it up. Should the task never run (its runtime
        // shuts down), dropping it drops the guard, which reports the failure.
        let task = tokio::spawn(self.guarded(exchange));
        match task.await {
            Ok(outcome) => outcome,
            Err(e) => match e.try_into_panic() {
                // A panicking update hook panics in the caller, as it would without a task.
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(_) => Err(Error::ExchangeCancelled),
            },
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, TokenSession> {
        // A panic in a user hook poisons the mutex; the state itself is always consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends an exchange's request and gives its answer to the core; waiters are woken
    /// whatever happens, even if the task is dropped or unwinds.
    async fn exchange(mut guard: ExchangeGuard, request: Request<Vec<u8>>) -> Result<Token, Error> {
        let shared = Arc::clone(&guard.shared);
        let sent_at = SystemTime::now();
        let answer = shared.clients.call(request).await;
        let update = {
            let mut state = shared.lock();
            guard.armed = false;
            let update = match answer {
                Ok(response) => state
                    .handle_token_response(&guard.ticket, &response, sent_at)
                    .map_err(Error::from),
                Err(transport) => {
                    state.handle_exchange_failure(&guard.ticket);
                    Err(transport)
                }
            };
            if let Ok(update) = &update {
                shared.announce(update);
            }
            update
        };
        shared.exchange_ended.notify_waiters();
        let token = update?.new_token().clone();
        shared.deliver_async_updates().await;
        Ok(token)
    }

    /// Gives a change to the hook: a blocking hook now (the state is locked), an async hook
    /// through the queue.
    fn announce(&self, update: &TokenUpdate) {
        match &self.hook {
            Some(UpdateHook::Blocking(hook)) => hook(update),
            Some(UpdateHook::Async(_)) => self.queue().push_back(update.clone()),
            None => {}
        }
    }

    /// Awaits the async hook for every queued change, one at a time, in order.
    async fn deliver_async_updates(&self) {
        let Some(UpdateHook::Async(hook)) = &self.hook else {
            return;
        };
        let _turn = self.hook_turn.lock().await;
        while let Some(update) = self.next_update() {
            hook(update).await;
        }
    }

    fn next_update(&self) -> Option<TokenUpdate> {
        self.queue().pop_front()
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<TokenUpdate>> {
        self.hook_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reports an exchange as failed if its task ends without handling the answer (dropped with
/// its runtime, or unwinding), and wakes the waiters in every case.
struct ExchangeGuard {
    shared: Arc<Shared>,
    ticket: ExchangeTicket,
    armed: bool,
}

impl Drop for ExchangeGuard {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().handle_exchange_failure(&self.ticket);
        }
        self.shared.exchange_ended.notify_waiters();
    }
}

type BoxedExchange = Pin<Box<dyn Future<Output = Result<Token, Error>> + Send>>;

/// An exchange run in its caller's task that moves to a task of its own if the caller drops
/// it unfinished, so that the answer is applied even then.
pub(crate) struct Detachable {
    exchange: Option<BoxedExchange>,
}

impl Detachable {
    pub(crate) fn new(
        exchange: impl Future<Output = Result<Token, Error>> + Send + 'static,
    ) -> Self {
        Self {
            exchange: Some(Box::pin(exchange)),
        }
    }
}

impl Future for Detachable {
    type Output = Result<Token, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(exchange) = this.exchange.as_mut() else {
            return Poll::Ready(Err(Error::ExchangeCancelled));
        };
        let outcome = ready!(exchange.as_mut().poll(cx));
        this.exchange = None;
        Poll::Ready(outcome)
    }
}

impl Drop for Detachable {
    fn drop(&mut self) {
        let Some(exchange) = self.exchange.take() else {
            return;
        };
        // While unwinding the exchange may be the future that panicked: dropping it lets its
        // guard report the failure. Outside a runtime there is nothing to spawn on either.
        if std::thread::panicking() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(exchange));
        }
    }
}
