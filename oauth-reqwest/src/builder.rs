//! The session builder: the core's client configuration (shared setters), the two reqwest
//! clients, limits, the update hook and the provider's key cache.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth_core::oidc::JwksCache;
use oauth_core::{BearerPlacement, ClientConfig, ConfigError, Token, TokenSession, TokenUpdate};

use crate::Error;
use crate::endpoint::Limits;
use crate::session::{Clients, OAuth2Session};
use crate::tls::install_crypto_provider;

/// The largest token, revocation or introspection response read (1 MiB): an endpoint that
/// sends more is broken or hostile.
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;
/// The default timeout of one whole HTTP call, from connecting to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

type HookFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The user's update hook.
pub(crate) enum UpdateHook {
    /// Runs while the session's state is locked: in order, and must be short.
    Blocking(Box<dyn Fn(&TokenUpdate) + Send + Sync>),
    /// Awaited after the state is unlocked, one at a time, in the order of the changes.
    Async(Box<dyn Fn(TokenUpdate) -> HookFuture + Send + Sync>),
}

/// Builds an [`OAuth2Session`].
///
/// The client-configuration setters ([`token_endpoint`](Self::token_endpoint),
/// [`client_secret_basic`](Self::client_secret_basic), [`leeway`](Self::leeway), …) are the
/// same in every adapter; an invalid value is reported by [`build`](Self::build).
#[must_use]
pub struct SessionBuilder {
    config: Result<ClientConfig, ConfigError>,
    client: Option<reqwest::Client>,
    endpoint_client: Option<reqwest::Client>,
    timeout: Duration,
    body_limit: u64,
    hook: Option<UpdateHook>,
    token: Option<Token>,
    jwks: JwksCache,
}

impl std::fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .field("body_limit", &self.body_limit)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl SessionBuilder {
    pub(crate) fn new(client_id: String) -> Self {
        Self {
            config: Ok(ClientConfig::new(client_id)),
            client: None,
            endpoint_client: None,
            timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            hook: None,
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

    /// Sends resource requests (`get`, `post`, …) with this client: its pool, proxy, TLS,
    /// default headers, timeouts and redirect policy. reqwest drops `Authorization` on any
    /// redirect to another host, port or scheme, whatever the policy.
    ///
    /// Token, revocation, introspection and OpenID Connect endpoint calls do **not** use it,
    /// because they must not follow redirects and reqwest sets that per client: they use
    /// [`endpoint_client`](Self::endpoint_client) if given, else a client the session builds
    /// with no redirects and the session's [`timeout`](Self::timeout). Give an endpoint client
    /// too when those calls need your proxy or TLS settings.
    ///
    /// **Query and form-body placements**: do not give a client that follows redirects to
    /// another origin together with
    /// [`BearerPlacement::FormBody`] or [`BearerPlacement::Query`]. The token is then in the
    /// body or the URL, not in `Authorization`, and reqwest strips nothing from those: a `307`
    /// or `308` replays the body, token included, to wherever `Location` points. The session
    /// cannot read a client's redirect policy, so [`build`](Self::build) does not refuse one:
    /// build it with `redirect(reqwest::redirect::Policy::none())` (or a custom policy that
    /// stops at other origins). The client the session builds itself follows redirects within
    /// the origin only when the placement is not the header; a redirect elsewhere reaches the
    /// caller as the `3xx` response.
    ///
    /// With [`BearerPlacement::Query`], also turn `referer` off on this client
    /// (`ClientBuilder::referer(false)`): a redirect would otherwise carry the token in
    /// `Referer`. The session's own client has it off.
    ///
    /// Its TLS backend and crypto provider are yours too: with the default `rustls` feature,
    /// reqwest panics building a client before a provider is installed (see the crate
    /// documentation, "Features").
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sends token, revocation, introspection, discovery, JWKS and userinfo calls with this
    /// client (set it before [`discover`](Self::discover)). Build it with
    /// `redirect(reqwest::redirect::Policy::none())`: a call that ends at another URL fails
    /// with [`Error::EndpointRedirected`], but by then the request was sent there. Each call
    /// still gets the session's [`timeout`](Self::timeout).
    pub fn endpoint_client(mut self, client: reqwest::Client) -> Self {
        self.endpoint_client = Some(client);
        self
    }

    /// The timeout of one whole HTTP call (default [`DEFAULT_TIMEOUT`]): token-endpoint calls
    /// always, resource requests when the session builds its own client.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest token, revocation or introspection response read (default
    /// [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Called once per real token change (fetch, refresh, re-fetch), to persist the token.
    /// It runs while the session's state is locked, so updates arrive in order and no request
    /// sees the new token before the hook does: keep it short and never block on IO here (use
    /// [`on_token_update_async`](Self::on_token_update_async) for a database). Replaces an
    /// async hook set before.
    ///
    /// **Do not call back into the session from this hook** (`token`, `set_token`,
    /// `refresh_at`, a request, …, on this session or a clone): the call would wait for the
    /// lock the hook runs under, and deadlock. Copy what you need out of the
    /// [`TokenUpdate`] instead, or use the async hook, which runs after the lock is released.
    pub fn on_token_update(mut self, hook: impl Fn(&TokenUpdate) + Send + Sync + 'static) -> Self {
        self.hook = Some(UpdateHook::Blocking(Box::new(hook)));
        self
    }

    /// Like [`on_token_update`](Self::on_token_update), for hooks that await (a database
    /// write). The hook's future is awaited after the new token is in place (requests already
    /// use it), one hook at a time and in the order of the changes; `fetch_token` and
    /// `refresh_token` return only once the hook for their change has finished. The hook
    /// handles its own errors. Replaces a blocking hook set before.
    pub fn on_token_update_async<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(TokenUpdate) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hook = Some(UpdateHook::Async(Box::new(move |update| {
            Box::pin(hook(update))
        })));
        self
    }

    /// Starts with this token (a persisted one, say). The hook is not called for it.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// How long the provider's keys are cached, and the least time between two fetches caused
    /// by ID tokens with an unknown `kid` (defaults: 10 minutes and 1 minute).
    pub fn jwks_cache(mut self, ttl: Duration, min_refetch_interval: Duration) -> Self {
        self.jwks = JwksCache::new(ttl, min_refetch_interval);
        self
    }

    /// The configuration so far, or the first error a setter met.
    pub(crate) fn config(&self) -> Result<ClientConfig, ConfigError> {
        self.config.clone()
    }

    /// The client for endpoint calls made before `build` (discovery): the user's endpoint
    /// client, else the session's own, built now and kept for the session.
    pub(crate) fn early_endpoint_client(&mut self) -> Result<reqwest::Client, Error> {
        if let Some(client) = &self.endpoint_client {
            return Ok(client.clone());
        }
        let client = own_endpoint_client(self.timeout)?;
        self.endpoint_client = Some(client.clone());
        Ok(client)
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            body_limit: self.body_limit,
        }
    }

    /// Builds the session. It needs no runtime; its calls must run on a tokio runtime (with
    /// its time driver, for reqwest's timeouts).
    ///
    /// With the default `rustls` feature, the clients the session builds itself use rustls's
    /// process default crypto provider, which the session first sets to ring unless one is
    /// installed already (see the crate documentation).
    ///
    /// # Errors
    /// The first configuration error met by the setters (an invalid endpoint URL, say), or
    /// [`Error::Transport`] when reqwest cannot build a client (no TLS backend, say).
    pub fn build(self) -> Result<OAuth2Session, Error> {
        let config = self.config?;
        let resource = match self.client {
            Some(client) => client,
            None => {
                install_crypto_provider();
                own_resource_client(self.timeout, config.configured_bearer_placement())?
            }
        };
        let endpoint = match self.endpoint_client {
            Some(client) => client,
            None => own_endpoint_client(self.timeout)?,
        };
        let token_endpoint = config.configured_token_endpoint().cloned();
        let mut state = TokenSession::new(config);
        if let Some(token) = self.token {
            let _ = state.set_token(token);
        }
        Ok(OAuth2Session::new(
            state,
            Clients {
                resource,
                endpoint,
                timeout: self.timeout,
                body_limit: self.body_limit,
                token_endpoint,
            },
            self.hook,
            self.jwks,
        ))
    }
}

/// The settings of every client the session builds: a whole-call timeout, and no `Referer`
/// (with query placement it would carry the token across a redirect).
fn own_client(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(timeout).referer(false)
}

/// The client the session builds for resource requests. With the token in the body or the URL
/// (which reqwest carries across a redirect, unlike `Authorization`), redirects are followed
/// within the origin only: a `307` or `308` to another origin would replay the body, token
/// and all, there.
fn own_resource_client(
    timeout: Duration,
    placement: BearerPlacement,
) -> Result<reqwest::Client, Error> {
    let client = own_client(timeout);
    let client = if placement == BearerPlacement::Header {
        client
    } else {
        client.redirect(same_origin_redirects())
    };
    Ok(client.build()?)
}

/// The most redirects followed, as reqwest's default policy.
const MAX_REDIRECTS: usize = 10;

/// Follows redirects that stay on the origin (scheme, host and port) the request was sent to;
/// stops at any other, handing the redirect response to the caller.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let origin = |url: &reqwest::Url| {
            (
                url.scheme().to_owned(),
                url.host_str().map(str::to_owned),
                url.port_or_known_default(),
            )
        };
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| origin(first) == origin(attempt.url()));
        if !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// The client the session builds for endpoint calls: its own settings, and no redirects.
fn own_endpoint_client(timeout: Duration) -> Result<reqwest::Client, Error> {
    install_crypto_provider();
    Ok(own_client(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
