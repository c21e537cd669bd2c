//! Building a session: the client configuration (the shared setters of
//! [`oauth_core::client_config_setters`]), the HTTP client, limits and the update hooks.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_listener::Event;
use oauth_core::oidc::JwksCache;
use oauth_core::{ClientConfig, ConfigError, Token, TokenSession, TokenUpdate};

use super::exchange::{AsyncHook, Hooks, SyncHook};
use super::{DEFAULT_BODY_LIMIT, OAuth2Session, Shared};
use crate::transport::{DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, DEFAULT_TIMEOUT};
use crate::{Error, HttpClient};

/// Builds an [`OAuth2Session`].
#[must_use]
pub struct SessionBuilder {
    pub(super) config: Result<ClientConfig, ConfigError>,
    client: Option<HttpClient>,
    timeout: Duration,
    max_connections_per_origin: usize,
    pub(super) body_limit: u64,
    on_update: Option<Box<SyncHook>>,
    on_update_async: Option<Box<AsyncHook>>,
    token: Option<Token>,
    jwks: JwksCache,
}

impl SessionBuilder {
    pub(super) fn new(client_id: String) -> Self {
        Self {
            config: Ok(ClientConfig::new(client_id)),
            client: None,
            timeout: DEFAULT_TIMEOUT,
            max_connections_per_origin: DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
            body_limit: DEFAULT_BODY_LIMIT,
            on_update: None,
            on_update_async: None,
            token: None,
            jwks: JwksCache::default(),
        }
    }

    oauth_core::client_config_setters!();

    fn map_config(
        mut self,
        f: impl FnOnce(ClientConfig) -> Result<ClientConfig, ConfigError>,
    ) -> Self {
        self.config = self.config.and_then(f);
        self
    }

    /// Uses this HTTP client (its pool, timeout and TLS configuration), shared with whoever
    /// else holds a clone. [`timeout`](Self::timeout) and
    /// [`max_connections_per_origin`](Self::max_connections_per_origin) then do not apply.
    pub fn http_client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// The timeout of one HTTP call when the session makes its own client (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound on open connections per origin when the session makes its own client
    /// (default 16).
    pub fn max_connections_per_origin(mut self, max: usize) -> Self {
        self.max_connections_per_origin = max;
        self
    }

    /// The largest token-endpoint response read (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Called once per real token change (fetch, refresh, re-fetch), to persist the token.
    /// It runs while the session's state is locked, so updates arrive in order: keep it short,
    /// and use [`on_token_update_async`](Self::on_token_update_async) for anything that
    /// waits.
    ///
    /// The hook must not call back into the session (or a clone of it): `token()`,
    /// `set_token()`, `refresh_at()`, a request or a token call would wait for the lock the
    /// hook runs under, on the thread that holds it, and deadlock. Everything the hook needs
    /// is in the [`TokenUpdate`].
    pub fn on_token_update(mut self, hook: impl Fn(&TokenUpdate) + Send + Sync + 'static) -> Self {
        self.on_update = Some(Box::new(hook));
        self
    }

    /// Called once per real token change, awaited outside the session's lock. Updates are
    /// delivered one at a time in the order the token changed. The call that caused the change
    /// (`fetch_token`, a refresh) returns after its hook finished; callers that were only
    /// waiting for the new token go on as soon as it is stored.
    pub fn on_token_update_async<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(TokenUpdate) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_update_async = Some(Box::new(move |update| Box::pin(hook(update))));
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

    /// Builds the session. Nothing is connected until the first request.
    ///
    /// # Errors
    /// The first configuration error met by the setters (an invalid endpoint URL, say).
    pub fn build(self) -> Result<OAuth2Session, Error> {
        let config = self.config?;
        let mut state = TokenSession::new(config.clone());
        if let Some(token) = self.token {
            let _ = state.set_token(token);
        }
        let client = self
            .client
            .unwrap_or_else(|| own_client(self.timeout, self.max_connections_per_origin));
        Ok(OAuth2Session {
            shared: Arc::new(Shared {
                client,
                config,
                state: Mutex::new(state),
                exchange_ended: Event::new(),
                hooks: Hooks::new(self.on_update, self.on_update_async),
                body_limit: self.body_limit,
                secure_origins: Mutex::new(Vec::new()),
                jwks: Mutex::new(self.jwks),
            }),
        })
    }

    /// The client for calls made before [`build`](Self::build) (discovery): the one given to
    /// [`http_client`](Self::http_client), else one with the settings so far, used for those
    /// calls only, so that settings made after them still apply to the session's own.
    pub(super) fn early_client(&self) -> HttpClient {
        self.client
            .clone()
            .unwrap_or_else(|| own_client(self.timeout, self.max_connections_per_origin))
    }
}

fn own_client(timeout: Duration, max_connections_per_origin: usize) -> HttpClient {
    HttpClient::builder()
        .timeout(timeout)
        .max_connections_per_origin(max_connections_per_origin)
        .build()
}
