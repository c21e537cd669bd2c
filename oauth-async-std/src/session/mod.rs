//! The session: the shared async driver ([`oauth_async_driver::Driver`]) over async-std, its
//! [`Runtime`] being the crate's own [`HttpClient`] for endpoint calls and async-std's global
//! executor and async-io's timers for tasks and waits (both also run under `smol::block_on`).

mod builder;
mod oidc;

use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, SystemTime};

use futures_lite::FutureExt as _;
use oauth_async_driver::{BoxFuture, Driver, Runtime};
use oauth_core::flow::{Authorize, EndpointCall, Fetch, Flow};
use oauth_core::hooks::UpdateHooks;
use oauth_core::http::{Method, Request, Response};
use oauth_core::{
    Bearer, ClientConfig, Grant, Introspection, ResourceVerdict, Token, TokenRef, TokenSession,
};

pub use builder::SessionBuilder;

use crate::request::RequestBuilder;
use crate::{Error, HttpClient};

/// An async OAuth 2.0 session: an HTTP client that fetches, injects and refreshes its own
/// bearer token. Cheap to clone; clones share the token and the connection pool.
#[derive(Clone)]
pub struct OAuth2Session {
    driver: Arc<Driver<Endpoints>>,
}

/// The transport half: the HTTP client and the cap on endpoint responses.
#[derive(Debug)]
pub(crate) struct Endpoints {
    client: HttpClient,
    body_limit: u64,
}

impl Runtime for Endpoints {
    type Error = Error;

    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        Ok(self.client.call_endpoint(request, self.body_limit).await?)
    }

    async fn spawn<T: Send + 'static>(
        &self,
        future: BoxFuture<Result<T, Error>>,
    ) -> Result<T, Error> {
        // A panic (in a user's hook, say) resumes in the caller, as it would without a task.
        let task = async_std::task::spawn(AssertUnwindSafe(future).catch_unwind());
        task.await.unwrap_or_else(|panic| resume_unwind(panic))
    }

    fn detach(&self, future: BoxFuture<()>) {
        drop(async_std::task::spawn(future));
    }

    async fn sleep(&self, duration: Duration) {
        async_io::Timer::after(duration).await;
    }
}

impl std::fmt::Debug for OAuth2Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Session")
            .field("state", &*self.lock())
            .field("client", self.http_client())
            .finish_non_exhaustive()
    }
}

impl OAuth2Session {
    /// Starts building a session for `client_id` (a public client until a secret is set).
    pub fn builder(client_id: impl Into<String>) -> SessionBuilder {
        SessionBuilder::new(client_id.into())
    }

    /// Requests a token with `grant` (password, client credentials, …) and makes it the
    /// session's token ([`Fetch::grant`]). The claims of an earlier login are cleared.
    ///
    /// Once sent, the exchange goes on in a task of its own if this future is dropped: its
    /// token is still stored.
    ///
    /// # Errors
    /// [`Error::Core`] with the server's OAuth error (`invalid_grant: Invalid user
    /// credentials`, say) or an unexpected response; [`Error::Transport`] when the call fails.
    /// The session's previous token is kept on any error.
    pub async fn fetch_token(&self, grant: Grant) -> Result<Token, Error> {
        self.drive(Fetch::grant(grant)).await
    }

    /// Refreshes the token now (or fetches a new client-credentials token), even if it is
    /// still fresh, and even after an `invalid_grant` ([`Fetch::refresh`]).
    ///
    /// # Errors
    /// As [`fetch_token`](Self::fetch_token); [`UsageError::RefreshInFlight`](oauth_core::UsageError::RefreshInFlight)
    /// while another refresh is in flight (nothing is sent: its result becomes the session's
    /// token in a moment).
    pub async fn refresh_token(&self) -> Result<Token, Error> {
        self.drive(Fetch::refresh()).await
    }

    /// Revokes a token (RFC 7009). The session keeps its token until told otherwise.
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub async fn revoke_token(&self, token: TokenRef<'_>) -> Result<(), Error> {
        self.drive(EndpointCall::revocation(self.config(), token))
            .await
    }

    /// Introspects a token (RFC 7662).
    ///
    /// # Errors
    /// The server's OAuth error, an unexpected response, or a transport error.
    pub async fn introspect_token(&self, token: TokenRef<'_>) -> Result<Introspection, Error> {
        self.drive(EndpointCall::introspection(self.config(), token))
            .await
    }

    /// The current token.
    #[must_use]
    pub fn token(&self) -> Option<Token> {
        self.lock().token().cloned()
    }

    /// Replaces the token (the update hooks are not called: the caller knows). The claims of
    /// an earlier login are cleared.
    pub fn set_token(&self, token: Token) {
        let _ = self.lock().set_token(token);
        self.driver.wake_all();
    }

    /// When the session will refresh its token (`expires_at` minus the clamped leeway).
    #[must_use]
    pub fn refresh_at(&self) -> Option<SystemTime> {
        self.lock().refresh_at()
    }

    /// The client configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        self.driver.config()
    }

    /// The HTTP client the session sends with (its pool, its counters).
    #[must_use]
    pub fn http_client(&self) -> &HttpClient {
        &self.driver.runtime().client
    }

    oauth_core::request_methods!(RequestBuilder, AsRef<str>);

    /// A request with any method, signed with the session's token when sent.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.as_ref())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TokenSession> {
        self.driver.lock()
    }

    /// The bearer for one resource request ([`Authorize`]): while the token is fresh, one
    /// short lock and no `.await` that suspends.
    pub(crate) fn authorize(&self) -> impl Future<Output = Result<Bearer, Error>> + Send + '_ {
        self.drive(Authorize::new())
    }

    /// Gives a resource response to the core: `true` when the request must be replayed.
    pub(crate) fn needs_replay(
        &self,
        bearer: &Bearer,
        replayed: bool,
        response: &Response<crate::Body>,
    ) -> bool {
        let (status, headers) = (response.status(), response.headers());
        let verdict = self
            .lock()
            .handle_resource_response(bearer, replayed, status, headers);
        verdict == ResourceVerdict::Replay
    }

    /// Runs `flow` to its end with the session's driver.
    pub(crate) async fn drive<F>(&self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow + Send + 'static,
        F::Output: Send + 'static,
    {
        self.driver.drive(flow).await
    }

    fn new(client: HttpClient, body_limit: u64, state: TokenSession, hooks: UpdateHooks) -> Self {
        let endpoints = Endpoints { client, body_limit };
        Self {
            driver: Arc::new(Driver::new(endpoints, state, hooks)),
        }
    }
}
