//! Client-configuration setters shared by every adapter's session builder, so the three
//! builders speak the same words without three copies of the same code.

use std::time::Duration;

use crate::client::ClientConfig;
use crate::error::ConfigError;
use crate::oidc::JwksCache;
use crate::session::TokenSession;
use crate::token::Token;

/// The longest a pooled connection stays idle and still carries an endpoint call (4 s): under
/// the 5 s keep-alive of Node and Apache, so that no token request is written as the server
/// closes the connection (a POST lost that way cannot be sent again; a renewal that is never
/// answered would fail every caller waiting for it). Each adapter applies it with its
/// transport's own knob, and to the resource requests of the client it builds itself (a
/// client of the user's keeps its own settings there).
pub const ENDPOINT_MAX_IDLE: Duration = Duration::from_secs(4);

/// The default timeout of one whole HTTP call an adapter makes (30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest timeout a setter keeps: longer ones (`Duration::MAX`, say) are clamped to it,
/// so that no transport overflows computing a deadline. A year is no limit in practice.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// The default cap on an endpoint response (token, revocation, introspection, discovery,
/// JWKS, userinfo): 1 MiB. An endpoint that sends more is broken or hostile.
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

/// What every adapter's session builder collects before `build()`: the client configuration
/// (or the first error met setting it), a starting token, the key cache and the limits of
/// endpoint calls. For adapter authors, with [`session_builder_setters!`](crate::session_builder_setters).
#[derive(Debug)]
pub struct SessionSettings {
    /// The configuration, or the first error a setter met.
    pub config: Result<ClientConfig, ConfigError>,
    /// The token to start with.
    pub token: Option<Token>,
    /// The provider's key cache (its TTL and re-fetch interval).
    pub jwks: JwksCache,
    /// The timeout of one whole HTTP call.
    pub timeout: Duration,
    /// The largest endpoint response read, in bytes.
    pub body_limit: u64,
    /// DPoP (RFC 9449): `None` for bearer tokens; a key, or `Generate` for a new ES256 key
    /// made when the session is built.
    pub dpop: Option<DpopSetting>,
    /// Extra trust anchors (DER) for the transport the adapter builds itself: a private CA.
    pub root_certificates: Vec<Vec<u8>>,
    /// The session's side of a shared token store, when the adapter was given one.
    pub store: Option<crate::store::StoreSettings>,
}

/// How a session gets its DPoP key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DpopSetting {
    /// A new ES256 key, made from the adapter's entropy when the session is built.
    Generate,
    /// This key (one kept across restarts keeps bound refresh tokens usable).
    Key(crate::rfc9449::DpopKey),
}

impl SessionSettings {
    /// Defaults for `client_id` (a public client until a secret is set).
    #[must_use]
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            config: Ok(ClientConfig::new(client_id)),
            token: None,
            jwks: JwksCache::default(),
            timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            dpop: None,
            root_certificates: Vec::new(),
            store: None,
        }
    }

    /// The session's state: the configuration, the key cache, the starting token, update
    /// recording on when the adapter has a hook to give them to, and no exchange timeout (the
    /// adapter's driver reports every call).
    ///
    /// # Errors
    /// The first configuration error a setter met.
    pub fn session(
        &mut self,
        record_updates: bool,
        entropy: std::sync::Arc<dyn crate::Entropy>,
    ) -> Result<TokenSession, ConfigError> {
        let config = self.config.clone()?;
        if self.store.is_some() && matches!(self.dpop, Some(DpopSetting::Generate)) {
            // A token in the store is bound to one key: every replica must hold that key.
            return Err(ConfigError::Conflict(
                "a shared token store needs the DPoP key every replica holds (dpop_key), \
                 not one generated per session (dpop)",
            ));
        }
        // An adapter's driver reports every call it makes (answered, failed or dropped): an
        // exchange in flight is alive, however long its transport's timeout.
        let dpop = match self.dpop.take() {
            None => None,
            Some(DpopSetting::Key(key)) => Some(key),
            Some(DpopSetting::Generate) => Some(
                crate::rfc9449::DpopKey::generate(&*entropy)
                    .map_err(|e| ConfigError::SigningKey(e.to_string()))?,
            ),
        };
        let mut session = TokenSession::new(config)
            .with_jwks_cache(std::mem::take(&mut self.jwks))
            .with_exchange_timeout(None)
            .with_entropy(entropy);
        if let Some(key) = dpop {
            session = session.with_dpop(key);
        }
        if let Some(store) = self.store.take() {
            session = session.with_store(store);
        }
        session.record_updates(record_updates);
        if let Some(token) = self.token.take() {
            let _ = session.set_token(token);
        }
        Ok(session)
    }
}

/// Adds the builder setter `store(..)` for a store of the adapter's kind
/// ([`BlockingStore`](crate::store::BlockingStore) or [`AsyncStore`](crate::store::AsyncStore)).
/// The builder must have fields `settings: SessionSettings` and `store: Option<Arc<dyn ..>>`.
#[macro_export]
macro_rules! store_setter {
    ($kind:ident) => {
        /// Shares the token with the other processes on the same store record (the replicas
        /// of a service): one renewal per expiry for all of them, the others adopt its token;
        /// the token is sealed in the store with the store's key. While the token is fresh no
        /// request touches the store. See `oauth_core::store` for the protocol and what
        /// happens when the store is unreachable.
        #[must_use]
        pub fn store(mut self, store: impl $crate::store::$kind + 'static) -> Self {
            self.settings.store = Some($crate::store::$kind::settings(&store).clone());
            self.store = Some(::std::sync::Arc::new(store));
            self
        }
    };
}

/// Adds every setter common to the adapters' session builders: the client configuration
/// ([`client_config_setters!`](crate::client_config_setters)), `timeout`, `body_limit`,
/// `token` and `jwks_cache`. The builder must have a field `settings: SessionSettings`.
#[macro_export]
macro_rules! session_builder_setters {
    () => {
        $crate::client_config_setters!();

        /// Sender-constrains tokens with DPoP (RFC 9449) under a new ES256 key made when the
        /// session is built: a proof on every token request, and `DPoP` tokens presented with
        /// a proof per request. Servers that do not support DPoP keep issuing bearer tokens.
        #[must_use]
        pub fn dpop(mut self) -> Self {
            self.settings.dpop = Some($crate::DpopSetting::Generate);
            self
        }

        /// Trusts the certificates of `pem` (one or a bundle, e.g. an organisation's private CA)
        /// for HTTPS, besides the default roots, in the transport the session builds itself
        /// (one given to the builder keeps its own trust settings).
        #[must_use]
        pub fn add_root_certificate(mut self, pem: &[u8]) -> Self {
            match $crate::pem::certificates(pem) {
                Ok(certificates) => self.settings.root_certificates.extend(certificates),
                Err(error) => {
                    if self.settings.config.is_ok() {
                        self.settings.config = Err(error);
                    }
                }
            }
            self
        }

        /// DPoP with this key (keep it with the tokens you persist: a refresh token bound to
        /// it is useless with another).
        #[must_use]
        pub fn dpop_key(mut self, key: $crate::rfc9449::DpopKey) -> Self {
            self.settings.dpop = Some($crate::DpopSetting::Key(key));
            self
        }

        fn map_config(
            mut self,
            f: impl FnOnce($crate::ClientConfig) -> Result<$crate::ClientConfig, $crate::ConfigError>,
        ) -> Self {
            self.settings.config = self.settings.config.and_then(f);
            self
        }

        /// The timeout of one whole HTTP call: every endpoint call, and resource requests
        /// sent with a client the session made itself (default 30 s; at most a year, longer
        /// values are clamped).
        #[must_use]
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.settings.timeout = timeout.min($crate::MAX_TIMEOUT);
            self
        }

        /// The largest endpoint response read, in bytes (default 1 MiB): token, revocation,
        /// introspection, discovery, JWKS and userinfo calls.
        #[must_use]
        pub fn body_limit(mut self, bytes: u64) -> Self {
            self.settings.body_limit = bytes;
            self
        }

        /// Starts with this token (a persisted one, say).
        #[must_use]
        pub fn token(mut self, token: $crate::Token) -> Self {
            self.settings.token = Some(token);
            self
        }

        /// How long the provider's keys are cached, and the least time between two fetches
        /// caused by ID tokens with an unknown `kid` (defaults: 10 minutes and 1 minute).
        #[must_use]
        pub fn jwks_cache(
            mut self,
            ttl: ::std::time::Duration,
            min_refetch_interval: ::std::time::Duration,
        ) -> Self {
            self.settings.jwks = $crate::oidc::JwksCache::new(ttl, min_refetch_interval);
            self
        }
    };
}

/// Adds `get`, `post`, `put`, `patch`, `delete` to an adapter's session, each calling its
/// `request(method, url)`; `$url` is the bound on the URL argument.
#[macro_export]
macro_rules! request_methods {
    ($builder:ty, $($url:tt)+) => {
        /// A `GET` signed with the session's token when sent.
        pub fn get<U: $($url)+>(&self, url: U) -> $builder {
            self.request($crate::http::Method::GET, url)
        }

        /// A `POST` signed with the session's token when sent.
        pub fn post<U: $($url)+>(&self, url: U) -> $builder {
            self.request($crate::http::Method::POST, url)
        }

        /// A `PUT` signed with the session's token when sent.
        pub fn put<U: $($url)+>(&self, url: U) -> $builder {
            self.request($crate::http::Method::PUT, url)
        }

        /// A `PATCH` signed with the session's token when sent.
        pub fn patch<U: $($url)+>(&self, url: U) -> $builder {
            self.request($crate::http::Method::PATCH, url)
        }

        /// A `DELETE` signed with the session's token when sent.
        pub fn delete<U: $($url)+>(&self, url: U) -> $builder {
            self.request($crate::http::Method::DELETE, url)
        }
    };
}

/// Adds the [`ClientConfig`](crate::ClientConfig) setters to an adapter's session builder.
///
/// The builder must have a method
/// `fn map_config(self, f: impl FnOnce(ClientConfig) -> Result<ClientConfig, ConfigError>) -> Self`
/// that keeps the first configuration error for `build()` to report. For adapter authors; users
/// call the generated methods.
#[macro_export]
macro_rules! client_config_setters {
    () => {
        /// Authenticates with this client secret, sent as `client_secret_basic` (Authlib's
        /// default too); use [`client_secret_post`](Self::client_secret_post) for servers that
        /// want it in the body.
        #[must_use]
        pub fn client_secret(self, secret: impl Into<$crate::ClientSecret>) -> Self {
            self.client_secret_basic(secret)
        }

        /// Authenticates with `client_secret_basic` (id and secret form-urlencoded first,
        /// RFC 6749 §2.3.1).
        #[must_use]
        pub fn client_secret_basic(self, secret: impl Into<$crate::ClientSecret>) -> Self {
            let secret = secret.into();
            self.map_config(|c| Ok(c.client_secret_basic(secret)))
        }

        /// Authenticates with `client_secret_post`.
        #[must_use]
        pub fn client_secret_post(self, secret: impl Into<$crate::ClientSecret>) -> Self {
            let secret = secret.into();
            self.map_config(|c| Ok(c.client_secret_post(secret)))
        }

        /// Authenticates with a client assertion signed by the client secret
        /// (`client_secret_jwt`, HS256; RFC 7523 §2.2), minted for every request.
        #[must_use]
        pub fn client_secret_jwt(self, secret: impl Into<$crate::ClientSecret>) -> Self {
            let secret = secret.into();
            self.map_config(|c| Ok(c.client_secret_jwt(secret)))
        }

        /// Authenticates with a client assertion signed by the client's key
        /// (`private_key_jwt`), minted for every request; the key's `kid` goes in its header.
        #[must_use]
        pub fn private_key_jwt(self, key: $crate::jose::SigningKey) -> Self {
            self.map_config(|c| Ok(c.private_key_jwt(key)))
        }

        /// The `aud` of client assertions (default: the token endpoint URL; some servers
        /// want the issuer).
        #[must_use]
        pub fn assertion_audience(self, audience: $crate::rfc7523::AssertionAudience) -> Self {
            self.map_config(|c| Ok(c.assertion_audience(audience)))
        }

        /// Sets the client authentication method explicitly.
        #[must_use]
        pub fn client_auth(self, auth: $crate::ClientAuth) -> Self {
            self.map_config(|c| Ok(c.auth(auth)))
        }

        /// Sets the token endpoint. An invalid URL is reported by `build()`.
        #[must_use]
        pub fn token_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.token_endpoint(url))
        }

        /// Sets the revocation endpoint (RFC 7009).
        #[must_use]
        pub fn revocation_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.revocation_endpoint(url))
        }

        /// Sets the introspection endpoint (RFC 7662).
        #[must_use]
        pub fn introspection_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.introspection_endpoint(url))
        }

        /// The scope sent with password and client-credentials grants that name none.
        #[must_use]
        pub fn scope(self, scope: impl Into<String>) -> Self {
            let scope = scope.into();
            self.map_config(|c| Ok(c.scope(scope)))
        }

        /// Refresh this long before expiry, clamped to half the token's lifetime
        /// (see [`ClientConfig::leeway`]($crate::ClientConfig::leeway)).
        #[must_use]
        pub fn leeway(self, leeway: ::std::time::Duration) -> Self {
            self.map_config(|c| Ok(c.leeway(leeway)))
        }

        /// Where the bearer token goes in resource requests (header by default).
        #[must_use]
        pub fn bearer_placement(self, placement: $crate::BearerPlacement) -> Self {
            self.map_config(|c| Ok(c.bearer_placement(placement)))
        }

        /// Sets the authorization endpoint (set by discovery when the issuer is known).
        #[must_use]
        pub fn authorization_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.authorization_endpoint(url))
        }

        /// Sets the userinfo endpoint.
        #[must_use]
        pub fn userinfo_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.userinfo_endpoint(url))
        }

        /// Sets the provider's JWK Set URL.
        #[must_use]
        pub fn jwks_uri(self, url: &str) -> Self {
            self.map_config(|c| c.jwks_uri(url))
        }

        /// Sets the pushed authorization request endpoint (RFC 9126; discovery sets it too).
        #[must_use]
        pub fn pushed_authorization_request_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.pushed_authorization_request_endpoint(url))
        }

        /// Sends authorization requests as signed request objects (JAR, RFC 9101), signed
        /// with the client's key (`private_key_jwt`) or secret.
        #[must_use]
        pub fn signed_request_objects(self) -> Self {
            self.map_config(|c| Ok(c.signed_request_objects(true)))
        }

        /// Sets the device authorization endpoint (RFC 8628 §3.1; discovery sets it too).
        #[must_use]
        pub fn device_authorization_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.device_authorization_endpoint(url))
        }

        /// Sets the issuer identifier ID tokens and authorization responses must name.
        #[must_use]
        pub fn issuer(self, issuer: impl Into<String>) -> Self {
            let issuer = issuer.into();
            self.map_config(|c| Ok(c.issuer(issuer)))
        }

        /// Sets the redirect URI of the authorization code flow.
        #[must_use]
        pub fn redirect_uri(self, redirect_uri: impl Into<String>) -> Self {
            let redirect_uri = redirect_uri.into();
            self.map_config(|c| Ok(c.redirect_uri(redirect_uri)))
        }

        /// The algorithms ID tokens may be signed with (default `[RS256]`).
        #[must_use]
        pub fn id_token_algorithms(
            self,
            algorithms: impl Into<Vec<$crate::jose::Algorithm>>,
        ) -> Self {
            let algorithms = algorithms.into();
            self.map_config(|c| Ok(c.id_token_algorithms(algorithms)))
        }

        /// The clock-skew tolerance of ID token time checks (default 60 s).
        #[must_use]
        pub fn clock_skew(self, skew: ::std::time::Duration) -> Self {
            self.map_config(|c| Ok(c.clock_skew(skew)))
        }

        /// Applies provider metadata from discovery: endpoints, issuer, and whether
        /// authorization responses must carry `iss`.
        #[must_use]
        pub fn provider_metadata(self, metadata: &$crate::oidc::ProviderMetadata) -> Self {
            self.map_config(|c| c.with_metadata(metadata))
        }

        /// Allows plain `http` to hosts that are not loopback. Off by default.
        #[must_use]
        pub fn allow_insecure_http(self, allow: bool) -> Self {
            self.map_config(|c| Ok(c.allow_insecure_http(allow)))
        }
    };
}
