//! The session: the shared async driver ([`oauth_async_driver::Driver`]) over tokio, its
//! [`Runtime`] being reqwest for endpoint calls and tokio for tasks and timers.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use oauth_async_driver::{BoxFuture, Driver, Runtime};
use oauth_core::flow::Authorize;
use oauth_core::hooks::UpdateHooks;
use oauth_core::http::{Method, Request, Response};
use oauth_core::{Bearer, ClientConfig, ResourceVerdict, TokenSession};

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

    pub(crate) fn new(
        state: TokenSession,
        clients: Clients,
        hooks: UpdateHooks,
        store: Option<Arc<dyn oauth_core::store::AsyncStore>>,
    ) -> Self {
        Self {
            driver: Arc::new(Driver::new(clients, state, hooks).with_store(store)),
        }
    }

    oauth_core::session_methods!(async, await, driver);

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
        self.driver.drive(Authorize::new()).await
    }

    /// Gives a resource response to the core (with the number of replays so far): `true`
    /// when the request must be replayed.
    pub(crate) fn needs_replay(
        &self,
        bearer: &Bearer,
        replays: u32,
        response: &reqwest::Response,
    ) -> bool {
        // Only a DPoP-bound token needs the origin (its nonces are per origin): no parse on
        // the bearer hot path.
        let uri = if bearer.is_dpop() {
            response.url().as_str().parse().unwrap_or_default()
        } else {
            oauth_core::http::Uri::default()
        };
        let verdict = self.lock().handle_resource_response(
            bearer,
            replays,
            &uri,
            response.status(),
            response.headers(),
        );
        verdict == ResourceVerdict::Replay
    }
}
