//! Building a session: the shared setters ([`oauth_core::session_builder_setters`] and
//! [`oauth_core::hook_setters`]) and the HTTP client's own.

use std::time::Duration;

use oauth_core::SessionSettings;
use oauth_core::hooks::UpdateHooks;

use super::OAuth2Session;
use crate::transport::DEFAULT_MAX_CONNECTIONS_PER_ORIGIN;
use crate::{Error, HttpClient};

/// Builds an [`OAuth2Session`]. The client-configuration setters are the same in every
/// adapter; an invalid value is reported by [`build`](Self::build).
#[must_use]
#[derive(Debug)]
pub struct SessionBuilder {
    pub(super) settings: SessionSettings,
    client: Option<HttpClient>,
    max_connections_per_origin: usize,
    hooks: UpdateHooks,
    store: Option<std::sync::Arc<dyn oauth_core::store::AsyncStore>>,
}

impl SessionBuilder {
    pub(super) fn new(client_id: String) -> Self {
        Self {
            settings: SessionSettings::new(client_id),
            client: None,
            max_connections_per_origin: DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
            hooks: UpdateHooks::default(),
            store: None,
        }
    }

    oauth_core::session_builder_setters!();
    oauth_core::hook_setters!();
    oauth_core::store_setter!(AsyncStore);

    /// Sends with this HTTP client (its pool, TLS and timeout) instead of one the session
    /// makes; [`timeout`](Self::timeout) and
    /// [`max_connections_per_origin`](Self::max_connections_per_origin) then do not apply.
    pub fn http_client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// The most connections the session's own client opens to one origin (default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_ORIGIN`]); more concurrent requests queue for one.
    pub fn max_connections_per_origin(mut self, max: usize) -> Self {
        self.max_connections_per_origin = max;
        self
    }

    /// Builds the session.
    ///
    /// # Errors
    /// The first configuration error met by the setters (an invalid endpoint URL, say).
    pub fn build(mut self) -> Result<OAuth2Session, Error> {
        let state = self.settings.session(
            self.hooks.is_set(),
            std::sync::Arc::new(ring::rand::SystemRandom::new()),
        )?;
        let client = self.early_client();
        let body_limit = self.settings.body_limit;
        Ok(OAuth2Session::new(
            client, body_limit, state, self.hooks, self.store,
        ))
    }

    /// The client given, or one made with the settings so far.
    pub(super) fn early_client(&self) -> HttpClient {
        self.client.clone().unwrap_or_else(|| {
            own_client(
                self.settings.timeout,
                self.max_connections_per_origin,
                &self.settings.root_certificates,
            )
        })
    }
}

fn own_client(
    timeout: Duration,
    max_connections_per_origin: usize,
    roots: &[Vec<u8>],
) -> HttpClient {
    let builder = HttpClient::builder()
        .timeout(timeout)
        .max_connections_per_origin(max_connections_per_origin);
    #[cfg(feature = "rustls")]
    let builder = roots
        .iter()
        .fold(builder, |b, der| b.add_root_certificate_der(der.clone()));
    #[cfg(not(feature = "rustls"))]
    let _ = roots;
    builder.build()
}
