//! The session: the core's [`TokenSession`] behind a mutex, a condition variable for callers
//! that wait, and the one loop that drives every core flow with the ureq agent.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use oauth_core::flow::{Authorize, Failed, Flow, Next, Operation};
use oauth_core::http::{Method, Request, Response};
use oauth_core::store::{BlockingStore, StoreError};
use oauth_core::{Bearer, ClientConfig, SessionSettings, TokenSession, TokenUpdate};

use crate::Error;
use crate::request::RequestBuilder;

oauth_core::driver_tracing!();

type UpdateHook = dyn Fn(&TokenUpdate) + Send + Sync;

/// A blocking OAuth 2.0 session: a ureq client that fetches, injects and refreshes its own
/// bearer token. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct OAuth2Session {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) agent: ureq::Agent,
    /// Whether the agent already reads error statuses as responses and drops `Authorization`
    /// on every redirect (ureq's default); if not, each resource request overrides it.
    plain_agent: bool,
    /// The timeout of endpoint calls when the agent sets none.
    timeout: Duration,
    /// The configuration, which never changes after `build`, read without the lock.
    pub(crate) config: ClientConfig,
    state: Mutex<TokenSession>,
    changed: Condvar,
    on_update: Option<Box<UpdateHook>>,
    body_limit: u64,
    store: Option<Arc<dyn BlockingStore>>,
}

impl fmt::Debug for OAuth2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Session")
            .field("state", &self.shared.state)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OAuth2Session`]. The client-configuration setters are the same in every
/// adapter; an invalid value is reported by [`build`](Self::build).
#[must_use]
pub struct SessionBuilder {
    pub(crate) settings: SessionSettings,
    pub(crate) agent: Option<ureq::Agent>,
    on_update: Option<Box<UpdateHook>>,
    store: Option<Arc<dyn BlockingStore>>,
}

impl SessionBuilder {
    oauth_core::session_builder_setters!();
    oauth_core::store_setter!(BlockingStore);

    /// Uses this agent (its pool, proxy, TLS and timeouts). The session still turns redirects
    /// off for endpoint calls and reads error statuses as responses. Size its pool for the
    /// threads that share the session (the session's own keeps [`IDLE_CONNECTIONS_PER_HOST`]
    /// idle connections per host; ureq's default is 3).
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Called once per real token change (fetch, refresh, re-fetch, login), to persist the
    /// token. It runs while the session's state is locked, so updates arrive in order: keep
    /// it short, and do not call back into the session from it (that would deadlock).
    pub fn on_token_update(mut self, hook: impl Fn(&TokenUpdate) + Send + Sync + 'static) -> Self {
        self.on_update = Some(Box::new(hook));
        self
    }

    /// Builds the session.
    ///
    /// # Errors
    /// The first configuration error met by the setters (an invalid endpoint URL, say).
    pub fn build(mut self) -> Result<OAuth2Session, Error> {
        let state = self.settings.session(
            self.on_update.is_some(),
            std::sync::Arc::new(ring::rand::SystemRandom::new()),
        )?;
        let timeout = self.settings.timeout;
        let roots = &self.settings.root_certificates;
        let agent = self.agent.unwrap_or_else(|| default_agent(timeout, roots));
        let agent_config = agent.config();
        Ok(OAuth2Session {
            shared: Arc::new(Shared {
                plain_agent: !agent_config.http_status_as_error()
                    && matches!(
                        agent_config.redirect_auth_headers(),
                        ureq::config::RedirectAuthHeaders::Never
                    ),
                timeout,
                config: state.config().clone(),
                agent,
                state: Mutex::new(state),
                changed: Condvar::new(),
                on_update: self.on_update,
                body_limit: self.settings.body_limit,
                store: self.store,
            }),
        })
    }
}

impl OAuth2Session {
    /// Starts building a session for `client_id` (a public client until a secret is set).
    pub fn builder(client_id: impl Into<String>) -> SessionBuilder {
        SessionBuilder {
            settings: SessionSettings::new(client_id),
            agent: None,
            on_update: None,
            store: None,
        }
    }

    oauth_core::session_methods!();

    /// The client configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The ureq agent the session sends with.
    #[must_use]
    pub fn agent(&self) -> &ureq::Agent {
        &self.shared.agent
    }

    oauth_core::request_methods!(RequestBuilder, AsRef<str>);

    /// A request with any method, signed with the session's token when sent.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.as_ref())
    }

    fn wake_all(&self) {
        self.shared.changed.notify_all();
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TokenSession> {
        // A panic in a user hook poisons the mutex; the state itself is always consistent.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The bearer for one resource request ([`Authorize`]).
    pub(crate) fn authorize(&self) -> Result<Bearer, Error> {
        self.drive(Authorize::new())
    }

    /// Whether the agent needs no per-request override (statuses, redirect auth headers).
    pub(crate) fn plain_agent(&self) -> bool {
        self.shared.plain_agent
    }

    /// The driver: runs `flow` to its end, holding the lock only while the core decides or
    /// applies an answer, never during a call; waits on the condition variable.
    pub(crate) fn drive<F: Flow>(&self, flow: F) -> Result<F::Output, Error> {
        let mut op = Unanswered(self, Operation::new(flow));
        let mut state = self.lock();
        loop {
            match op.1.poll(&mut state, SystemTime::now()) {
                Next::Send(call) => {
                    drop(state);
                    let logged = trace::call(&call);
                    let sent_at = SystemTime::now();
                    let answer = self.call(call.into_request());
                    logged.answered(&answer);
                    state = self.lock();
                    op.1.handle(&mut state, answer, sent_at);
                    self.changed(&mut state);
                }
                Next::Store(request) => {
                    drop(state);
                    let reply = match &self.shared.store {
                        Some(store) => store.execute(&request),
                        None => Err(StoreError::NotAttached),
                    };
                    trace::stored(&request, &reply);
                    state = self.lock();
                    op.1.handle_store(&mut state, reply, SystemTime::now());
                    self.changed(&mut state);
                }
                Next::Wait(until) => {
                    trace::waiting();
                    let slice = until.duration_since(SystemTime::now()).unwrap_or_default();
                    let shared = &self.shared;
                    let waited = shared.changed.wait_timeout(state, slice);
                    state = waited.unwrap_or_else(PoisonError::into_inner).0;
                }
                Next::Done(result) => {
                    // A login commits in its last poll: its change goes to the hook now.
                    self.run_hook(&mut state);
                    let result = result.map_err(Failed::into_error);
                    trace::ended(&result);
                    return result;
                }
            }
        }
    }

    /// After the core applied an answer: the update hook for each token change, in order,
    /// and every waiting caller woken.
    fn changed(&self, state: &mut TokenSession) {
        self.run_hook(state);
        self.shared.changed.notify_all();
    }

    /// The update hook for each token change the core queued, in order.
    fn run_hook(&self, state: &mut TokenSession) {
        while let Some(update) = state.poll_update() {
            if let Some(hook) = &self.shared.on_update {
                hook(&update);
            }
        }
    }

    fn call(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let shared = &self.shared;
        call_endpoint(&shared.agent, request, shared.body_limit, shared.timeout)
    }
}

/// An operation whose call may be out: if the thread unwinds before the answer is back, the
/// call is reported as failed, so nobody waits for it.
struct Unanswered<'a, F: Flow>(&'a OAuth2Session, Operation<F, Error>);

impl<F: Flow> Drop for Unanswered<'_, F> {
    fn drop(&mut self) {
        if self.1.is_outstanding() {
            let mut state = self.0.lock();
            self.1.abandon(&mut state, SystemTime::now());
            self.0.changed(&mut state);
        }
    }
}

/// Idle connections the session's own agent keeps per host. A session is shared by threads:
/// ureq's default of 3 made 16 threads open and close a connection per request (10,343
/// sockets left in `TIME_WAIT` in 6 s). Give your own agent for other sizes.
pub const IDLE_CONNECTIONS_PER_HOST: usize = 32;

/// The agent a session makes when the user gives none: a whole-call timeout, error statuses
/// read as responses, a pool sized for many threads.
/// With `roots` (a private CA), the agent trusts exactly those: ureq cannot add to its
/// bundled roots.
pub(crate) fn default_agent(timeout: Duration, roots: &[Vec<u8>]) -> ureq::Agent {
    let builder = ureq::Agent::config_builder();
    let builder = if roots.is_empty() {
        #[cfg(feature = "platform-verifier")]
        let builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        );
        builder
    } else {
        let certificates: Vec<ureq::tls::Certificate<'static>> = roots
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
            .collect();
        builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certificates))
                .build(),
        )
    };
    builder
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_idle_connections_per_host(IDLE_CONNECTIONS_PER_HOST)
        .max_idle_connections(4 * IDLE_CONNECTIONS_PER_HOST)
        // Resource requests too: none is written as a server's keep-alive closes it.
        .max_idle_age(oauth_core::ENDPOINT_MAX_IDLE)
        .build()
        .new_agent()
}

/// One endpoint call: no redirects, error statuses read as responses, the body capped, and a
/// timeout even on a user's agent without one (a hung token endpoint must not block every
/// caller waiting for its refresh).
pub(crate) fn call_endpoint(
    agent: &ureq::Agent,
    request: Request<Vec<u8>>,
    body_limit: u64,
    timeout: Duration,
) -> Result<Response<Vec<u8>>, Error> {
    let mut config = agent
        .configure_request(request)
        .max_redirects(0)
        .http_status_as_error(false)
        // ureq's per-request limit: users' agents get it too.
        .max_idle_age(oauth_core::ENDPOINT_MAX_IDLE);
    if agent.config().timeouts().global.is_none() {
        config = config.timeout_global(Some(timeout));
    }
    let response = agent.run(config.build())?;
    let (parts, mut body) = response.into_parts();
    let bytes = body.with_config().limit(body_limit).read_to_vec()?;
    Ok(Response::from_parts(parts, bytes))
}
