//! The session: the shared async driver ([`oauth_async_driver::Driver`]) over tokio, its
//! [`Runtime`] being reqwest for endpoint calls and tokio for tasks and timers.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, SystemTime};

use oauth_async_driver::{BoxFuture, Driver, Runtime};
use oauth_core::flow::{Authorize, EndpointCall, Fetch, Flow};
use oauth_core::hooks::UpdateHooks;
use oauth_core::http::{Method, Request, Response};
use oauth_core::{
    Bearer, ClientConfig, Grant, Introspection, ResourceVerdict, Token, TokenRef, TokenSession,
};

use crate::Error;
use crate::builder::SessionBuilder;
use crate::endpoint::Clients;
use crate::request::RequestBuilder;

/// An async OAuth 2.0 session: a reqwest client that fetches, injects and refreshes its own
/// bearer token.
///
/// `Clone + Send + Sync`; clones share the token, the single-flight state and the clients, so
/// clone it into every task. Calls must run on a tokio runtime.
#[derive(Clone)]
pub struct OAuth2Session {
    driver: Arc<Driver<Clients>>,
}

impl fmt::Debug for OAuth2Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Session")
            .field("state", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl Runtime for Clients {
    type Error = Error;

    fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, Error>> + Send {
        self.call(request)
    }

    async fn spawn<T: Send + 'static>(
        &self,
        future: BoxFuture<Result<T, Error>>,
    ) -> Result<T, Error> {
        match tokio::spawn(future).await {
            Ok(outcome) => outcome,
            Err(e) => match e.try_into_panic() {
                // A panicking hook panics in the caller, as it would without a task.
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(_) => Err(Error::ExchangeCancelled),
            },
        }
    }

    fn detach(&self, future: BoxFuture<()>) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(future));
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

impl OAuth2Session {
    /// Starts building a session for `client_id` (a public client until a secret is set).
    pub fn builder(client_id: impl Into<String>) -> SessionBuilder {
        SessionBuilder::new(client_id.into())
    }

    pub(crate) fn new(state: TokenSession, clients: Clients, hooks: UpdateHooks) -> Self {
        Self {
            driver: Arc::new(Driver::new(clients, state, hooks)),
        }
    }

    /// Requests a token with `grant` (password, client credentials, …) and makes it the
    /// session's token ([`Fetch::grant`]). The claims of an earlier login are cleared.
    ///
    /// Dropping this future does not cancel the exchange once it is under way: it goes on in
    /// a task of its own and the session takes its answer all the same.
    ///
    /// # Errors
    /// [`Error::Core`] with the server's OAuth error (`invalid_grant: Invalid user
    /// credentials`, say) or an unexpected response; [`Error::Transport`] when the call fails;
    /// [`Error::BodyTooLarge`]. The session's previous token is kept on any error.
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

    /// Replaces the token (the update hook is not called: the caller knows). An exchange in
    /// flight is then superseded (its answer is dropped); the claims of an earlier login are
    /// cleared.
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

    /// The reqwest client resource requests are sent with.
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        &self.driver.runtime().resource
    }

    oauth_core::request_methods!(RequestBuilder, reqwest::IntoUrl);

    /// A request with any method, signed with the session's token when sent. An invalid URL
    /// is reported by `send`, as in reqwest.
    pub fn request<U: reqwest::IntoUrl>(&self, method: Method, url: U) -> RequestBuilder {
        RequestBuilder::new(self.clone(), self.client().request(method, url))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TokenSession> {
        self.driver.lock()
    }

    /// The bearer for one resource request ([`Authorize`]): while the token is fresh, one
    /// short lock and no `.await` that suspends.
    pub(crate) async fn authorize(&self) -> Result<Bearer, Error> {
        self.drive(Authorize::new()).await
    }

    /// Gives a resource response to the core: `true` when the request must be replayed.
    pub(crate) fn needs_replay(
        &self,
        bearer: &Bearer,
        replayed: bool,
        response: &reqwest::Response,
    ) -> bool {
        let verdict = self.lock().handle_resource_response(
            bearer,
            replayed,
            response.status(),
            response.headers(),
        );
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
}
