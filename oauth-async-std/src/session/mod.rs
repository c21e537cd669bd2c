//! The session: the shared async driver ([`oauth_async_driver::Driver`]) over async-std, its
//! [`Runtime`] being the crate's own [`HttpClient`] for endpoint calls and async-std's global
//! executor and async-io's timers for tasks and waits (both also run under `smol::block_on`).

mod builder;
mod oidc;

use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use futures_lite::FutureExt as _;
use oauth_async_driver::{BoxFuture, Driver, Runtime};
use oauth_core::flow::Authorize;
use oauth_core::hooks::UpdateHooks;
use oauth_core::http::{Method, Request, Response};
use oauth_core::{Bearer, ClientConfig, TokenSession};

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

    oauth_core::session_methods!(async, await, driver);

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
        self.driver.drive(Authorize::new())
    }

    fn new(
        client: HttpClient,
        body_limit: u64,
        state: TokenSession,
        hooks: UpdateHooks,
        store: Option<Arc<dyn oauth_core::store::AsyncStore>>,
    ) -> Self {
        let endpoints = Endpoints { client, body_limit };
        Self {
            driver: Arc::new(Driver::new(endpoints, state, hooks).with_store(store)),
        }
    }
}
