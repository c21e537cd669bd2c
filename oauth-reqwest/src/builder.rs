//! The session builder: the core's client configuration (shared setters), the two reqwest
//! clients, limits, the update hook and the provider's key cache.

use std::time::Duration;

use oauth_core::hooks::UpdateHooks;
use oauth_core::{BearerPlacement, ClientConfig, ConfigError, SessionSettings};

use crate::Error;
use crate::endpoint::{Clients, Limits};
use crate::session::OAuth2Session;
use crate::tls::install_crypto_provider;

/// Builds an [`OAuth2Session`].
///
/// The client-configuration setters ([`token_endpoint`](Self::token_endpoint),
/// [`client_secret_basic`](Self::client_secret_basic), [`leeway`](Self::leeway), …) are the
/// same in every adapter; an invalid value is reported by [`build`](Self::build).
#[must_use]
#[derive(Debug)]
pub struct SessionBuilder {
    settings: SessionSettings,
    client: Option<reqwest::Client>,
    endpoint_client: Option<reqwest::Client>,
    hooks: UpdateHooks,
    store: Option<std::sync::Arc<dyn oauth_core::store::AsyncStore>>,
}

impl SessionBuilder {
    pub(crate) fn new(client_id: String) -> Self {
        Self {
            settings: SessionSettings::new(client_id),
            client: None,
            endpoint_client: None,
            hooks: UpdateHooks::default(),
            store: None,
        }
    }

    oauth_core::session_builder_setters!();
    oauth_core::hook_setters!();
    oauth_core::store_setter!(AsyncStore);

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

    /// The configuration so far, or the first error a setter met.
    pub(crate) fn config(&self) -> Result<ClientConfig, ConfigError> {
        self.settings.config.clone()
    }

    /// The client for endpoint calls made before `build` (discovery): the user's endpoint
    /// client, else the session's own, built now and kept for the session.
    pub(crate) fn early_endpoint_client(&mut self) -> Result<reqwest::Client, Error> {
        if let Some(client) = &self.endpoint_client {
            return Ok(client.clone());
        }
        let client = own_endpoint_client(self.settings.timeout, &self.settings.root_certificates)?;
        self.endpoint_client = Some(client.clone());
        Ok(client)
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            timeout: self.settings.timeout,
            body_limit: self.settings.body_limit,
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
    pub fn build(mut self) -> Result<OAuth2Session, Error> {
        let state = self.settings.session(
            self.hooks.is_set(),
            std::sync::Arc::new(ring::rand::SystemRandom::new()),
        )?;
        let (limits, config) = (self.limits(), state.config());
        let resource = match self.client {
            Some(client) => client,
            None => {
                install_crypto_provider();
                let roots = &self.settings.root_certificates;
                own_resource_client(limits.timeout, config.configured_bearer_placement(), roots)?
            }
        };
        let endpoint = match self.endpoint_client {
            Some(client) => client,
            None => own_endpoint_client(limits.timeout, &self.settings.root_certificates)?,
        };
        let token_endpoint = config.configured_token_endpoint().cloned();
        let clients = Clients {
            resource,
            endpoint,
            limits,
            token_endpoint,
        };
        Ok(OAuth2Session::new(state, clients, self.hooks, self.store))
    }
}

/// The settings of every client the session builds: a whole-call timeout, and no `Referer`
/// (with query placement it would carry the token across a redirect).
fn own_client(timeout: Duration, roots: &[Vec<u8>]) -> Result<reqwest::ClientBuilder, Error> {
    let mut builder = reqwest::Client::builder().timeout(timeout).referer(false);
    for der in roots {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(der)?);
    }
    Ok(builder)
}

/// The client the session builds for resource requests. With the token in the body or the URL
/// (which reqwest carries across a redirect, unlike `Authorization`), redirects are followed
/// within the origin only: a `307` or `308` to another origin would replay the body, token
/// and all, there.
fn own_resource_client(
    timeout: Duration,
    placement: BearerPlacement,
    roots: &[Vec<u8>],
) -> Result<reqwest::Client, Error> {
    // Resource requests too: none is written as a server's keep-alive closes it.
    let client = own_client(timeout, roots)?.pool_idle_timeout(oauth_core::ENDPOINT_MAX_IDLE);
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
fn own_endpoint_client(timeout: Duration, roots: &[Vec<u8>]) -> Result<reqwest::Client, Error> {
    install_crypto_provider();
    Ok(own_client(timeout, roots)?
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(oauth_core::ENDPOINT_MAX_IDLE)
        .build()?)
}
