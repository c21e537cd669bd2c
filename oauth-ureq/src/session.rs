//! The session: shared state behind a mutex, a condition variable for callers waiting on a
//! refresh, and the ureq agent that carries out the exchanges the core asks for.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use oauth_core::http::{Method, Request, Response};
use oauth_core::oidc::JwksCache;
use oauth_core::session::MAX_RENEWALS_PER_REQUEST;
use oauth_core::{
    Authorization, Bearer, ClientConfig, ConfigError, Exchange, Grant, Introspection, Token,
    TokenRef, TokenSession, TokenUpdate, UsageError, introspection_request,
    parse_introspection_response, parse_revocation_response, revocation_request,
};

use crate::Error;
use crate::request::RequestBuilder;

/// The largest token, revocation or introspection response read (1 MiB): an endpoint that
/// sends more is broken or hostile.
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;
/// The default timeout of one whole HTTP call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a caller waits for another caller's refresh before looking again.
const WAIT_SLICE: Duration = Duration::from_secs(1);

type UpdateHook = dyn Fn(&TokenUpdate) + Send + Sync;

/// A blocking OAuth 2.0 session: a ureq client that fetches, injects and refreshes its own
/// bearer token. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct OAuth2Session {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) agent: ureq::Agent,
    /// Whether the agent already reads error statuses as responses; if not, each request
    /// overrides it (a per-request configuration costs a copy of the agent's).
    statuses_are_responses: bool,
    /// Whether the agent already drops `Authorization` on every redirect (ureq's default);
    /// if not, each resource request overrides it, so the token never reaches another
    /// service, even on the same host.
    redirects_drop_auth: bool,
    /// The timeout of endpoint calls when the agent sets none.
    pub(crate) timeout: Duration,
    /// A copy of the session's configuration, which never changes after `build`, read without
    /// the state lock.
    pub(crate) config: ClientConfig,
    state: Mutex<TokenSession>,
    pub(crate) exchange_ended: Condvar,
    pub(crate) on_update: Option<Box<UpdateHook>>,
    pub(crate) body_limit: u64,
    jwks: Mutex<JwksCache>,
}

impl fmt::Debug for OAuth2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Session")
            .field("state", &self.shared.state)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OAuth2Session`].
#[must_use]
pub struct SessionBuilder {
    pub(crate) config: Result<ClientConfig, ConfigError>,
    pub(crate) agent: Option<ureq::Agent>,
    pub(crate) timeout: Duration,
    pub(crate) body_limit: u64,
    on_update: Option<Box<UpdateHook>>,
    token: Option<Token>,
    jwks: JwksCache,
}

impl SessionBuilder {
    oauth_core::client_config_setters!();

    fn map_config(
        mut self,
        f: impl FnOnce(ClientConfig) -> Result<ClientConfig, ConfigError>,
    ) -> Self {
        self.config = self.config.and_then(f);
        self
    }

    /// Uses this agent (its pool, proxy, TLS and timeouts). The session still turns redirects
    /// off for token, revocation and introspection calls and reads error statuses as responses.
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// The timeout of one whole HTTP call when the session makes its own agent (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest token-endpoint response read (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Called once per real token change (fetch, refresh, re-fetch), to persist the token.
    /// It runs while the session's state is locked, so updates arrive in order: keep it short,
    /// and do not call back into the session from it (that would deadlock).
    pub fn on_token_update(mut self, hook: impl Fn(&TokenUpdate) + Send + Sync + 'static) -> Self {
        self.on_update = Some(Box::new(hook));
        self
    }

    /// How long the provider's keys are cached, and the least time between two fetches caused
    /// by ID tokens with an unknown `kid` (defaults: 10 minutes and 1 minute).
    pub fn jwks_cache(mut self, ttl: Duration, min_refetch_interval: Duration) -> Self {
        self.jwks = JwksCache::new(ttl, min_refetch_interval);
        self
    }

    /// Starts with this token (a persisted one, say).
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Builds the session.
    ///
    /// # Errors
    /// The first configuration error met by the setters (an invalid endpoint URL, say).
    pub fn build(self) -> Result<OAuth2Session, Error> {
        let config = self.config?;
        let mut state = TokenSession::new(config.clone());
        if let Some(token) = self.token {
            let _ = state.set_token(token);
        }
        let agent = self.agent.unwrap_or_else(|| default_agent(self.timeout));
        Ok(OAuth2Session {
            shared: Arc::new(Shared {
                statuses_are_responses: !agent.config().http_status_as_error(),
                redirects_drop_auth: matches!(
                    agent.config().redirect_auth_headers(),
                    ureq::config::RedirectAuthHeaders::Never
                ),
                timeout: self.timeout,
                config,
                agent,
                state: Mutex::new(state),
                exchange_ended: Condvar::new(),
                on_update: self.on_update,
                body_limit: self.body_limit,
                jwks: Mutex::new(self.jwks),
            }),
        })
    }
}

impl OAuth2Session {
    /// Starts building a session for `client_id` (a public client until a secret is set).
    pub fn builder(client_id: impl Into<String>) -> SessionBuilder {
        SessionBuilder {
            config: Ok(ClientConfig::new(client_id)),
            agent: None,
            timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            on_update: None,
            token: None,
            jwks: JwksCache::default(),
        }
    }

    /// Requests a token with `grant` (password, client credentials, authorization code, …)
    /// and makes it the session's token.
    ///
    /// # Errors
    /// [`Error::Core`] with the server's OAuth error (`invalid_grant: Invalid user
    /// credentials`, say) or an unexpected response; [`Error::Transport`] when the call fails.
    /// The session's previous token is kept on any error.
    pub fn fetch_token(&self, grant: Grant) -> Result<Token, Error> {
        let exchange = self.lock().fetch(&grant)?;
        self.run_exchange(exchange)
    }

    /// Refreshes the token now (or fetches a new client-credentials token), even if it is
    /// still fresh, and even after an `invalid_grant`. While an automatic refresh is in flight
    /// it fails with `RefreshInFlight` instead of sending a second one (its result becomes the
    /// session's token in a moment).
    ///
    /// # Errors
    /// As [`fetch_token`](Self::fetch_token); nothing is lost on error.
    pub fn refresh_token(&self) -> Result<Token, Error> {
        let exchange = self.lock().refresh(SystemTime::now())?;
        self.run_exchange(exchange)
    }

    /// Revokes a token (RFC 7009). Revoking the session's own refresh token ends its grant at
    /// most servers; the session keeps its token until told otherwise.
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub fn revoke_token(&self, token: TokenRef<'_>) -> Result<(), Error> {
        let request = revocation_request(&self.shared.config, token)?;
        let response = self.call_endpoint(request)?;
        Ok(parse_revocation_response(&response)?)
    }

    /// Introspects a token (RFC 7662).
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub fn introspect_token(&self, token: TokenRef<'_>) -> Result<Introspection, Error> {
        let request = introspection_request(&self.shared.config, token)?;
        let response = self.call_endpoint(request)?;
        Ok(parse_introspection_response(&response)?)
    }

    /// The current token.
    #[must_use]
    pub fn token(&self) -> Option<Token> {
        self.lock().token().cloned()
    }

    /// Replaces the token (the update hook is not called: the caller knows).
    pub fn set_token(&self, token: Token) {
        let _ = self.lock().set_token(token);
        self.shared.exchange_ended.notify_all();
    }

    /// When the session will refresh its token (`expires_at` minus the clamped leeway).
    #[must_use]
    pub fn refresh_at(&self) -> Option<SystemTime> {
        self.lock().refresh_at()
    }

    /// The ureq agent the session sends with.
    #[must_use]
    pub fn agent(&self) -> &ureq::Agent {
        &self.shared.agent
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

    pub(crate) fn lock(&self) -> MutexGuard<'_, TokenSession> {
        // A panic in a user hook poisons the mutex; the state itself is always consistent.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn jwks(&self) -> MutexGuard<'_, JwksCache> {
        self.shared
            .jwks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A bearer token for a resource request, refreshing first when the core says so and
    /// waiting when another caller is refreshing.
    pub(crate) fn authorize(&self) -> Result<Bearer, Error> {
        let mut renewals = 0;
        let mut state = self.lock();
        let mut decision = state.poll_authorization(SystemTime::now());
        loop {
            decision = match decision {
                Authorization::Ready(bearer) => return Ok(bearer),
                Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                    renewals += 1;
                    if renewals > MAX_RENEWALS_PER_REQUEST {
                        // Never sent: give it back so other callers need not wait for it.
                        state.release_exchange(exchange.ticket());
                        return Err(oauth_core::Error::from(UsageError::RenewalLoop).into());
                    }
                    drop(state);
                    let outcome = self.run_exchange(exchange);
                    state = self.lock();
                    match outcome {
                        // Renewed, or someone replaced the token meanwhile: decide again.
                        Ok(_)
                        | Err(Error::Core(oauth_core::Error::Usage(UsageError::Superseded))) => {
                            state.poll_authorization(SystemTime::now())
                        }
                        // The renewal failed, but the old token may still be valid (the core
                        // backs off and serves it); else this request reports the failure
                        // instead of starting another renewal.
                        Err(error) => {
                            return state.usable_bearer(SystemTime::now()).ok_or(error);
                        }
                    }
                }
                Authorization::Wait(pending) => {
                    state = self
                        .shared
                        .exchange_ended
                        .wait_timeout(state, WAIT_SLICE)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                    state.poll_pending(pending, SystemTime::now())
                }
                Authorization::Fail(error) => return Err(error.into()),
                _ => return Err(Error::UnknownStep("an authorization decision")),
            };
        }
    }

    /// Gives a resource response to the core: `true` when the request must be replayed.
    pub(crate) fn needs_replay(
        &self,
        bearer: &Bearer,
        replayed: bool,
        response: &Response<ureq::Body>,
    ) -> bool {
        let verdict = self.lock().handle_resource_response(
            bearer,
            replayed,
            response.status(),
            response.headers(),
        );
        verdict == oauth_core::ResourceVerdict::Replay
    }

    pub(crate) fn check_transport_security(&self, url: &oauth_core::url::Url) -> Result<(), Error> {
        Ok(self.shared.config.check_transport_security(url)?)
    }

    /// Whether requests must override the agent's `http_status_as_error`.
    pub(crate) fn statuses_are_responses(&self) -> bool {
        self.shared.statuses_are_responses
    }

    /// Whether the agent drops `Authorization` on every redirect by itself.
    pub(crate) fn redirects_drop_auth(&self) -> bool {
        self.shared.redirects_drop_auth
    }

    /// Sends a token exchange and applies its answer; waiters are woken whatever happens,
    /// even if this thread unwinds.
    fn run_exchange(&self, exchange: Exchange) -> Result<Token, Error> {
        let (ticket, request) = exchange.into_parts();
        let mut guard = ExchangeGuard {
            session: self,
            ticket: Some(&ticket),
        };
        let sent_at = SystemTime::now();
        let result = self.call_endpoint(request);
        guard.ticket = None;
        let mut state = self.lock();
        let outcome = match result {
            Ok(response) => state
                .handle_token_response(&ticket, &response, sent_at)
                .map_err(Error::from),
            Err(transport) => {
                state.handle_exchange_failure(&ticket);
                Err(transport)
            }
        };
        let token = outcome.map(|update| {
            if let Some(hook) = &self.shared.on_update {
                hook(&update);
            }
            update.new_token().clone()
        });
        drop(state);
        self.shared.exchange_ended.notify_all();
        token
    }

    fn call_endpoint(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        call_endpoint(
            &self.shared.agent,
            request,
            self.shared.body_limit,
            self.shared.timeout,
        )
    }
}

/// The agent a session makes when the user gives none: a whole-call timeout, error statuses
/// read as responses.
pub(crate) fn default_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// One call to a token, revocation, introspection, discovery, JWKS or userinfo endpoint: no
/// redirects, error statuses read as responses, the body capped.
pub(crate) fn call_endpoint(
    agent: &ureq::Agent,
    request: Request<Vec<u8>>,
    body_limit: u64,
    timeout: Duration,
) -> Result<Response<Vec<u8>>, Error> {
    let mut config = agent
        .configure_request(request)
        .max_redirects(0)
        .http_status_as_error(false);
    // A user's agent without a timeout would let a hung token endpoint block the refresh,
    // and every caller waiting on it, forever.
    if agent.config().timeouts().global.is_none() {
        config = config.timeout_global(Some(timeout));
    }
    let response = agent.run(config.build())?;
    let (parts, mut body) = response.into_parts();
    let bytes = body.with_config().limit(body_limit).read_to_vec()?;
    Ok(Response::from_parts(parts, bytes))
}

/// Reports an exchange as failed if the thread leaves `run_exchange` by a panic.
struct ExchangeGuard<'a> {
    session: &'a OAuth2Session,
    ticket: Option<&'a oauth_core::ExchangeTicket>,
}

impl Drop for ExchangeGuard<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.session.lock().handle_exchange_failure(ticket);
            self.session.shared.exchange_ended.notify_all();
        }
    }
}
