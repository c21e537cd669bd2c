//! # oauth-async-driver: the one async driver of `oauth-core`'s flows
//!
//! Every operation of an OAuth 2.0 session is a flow in [`oauth_core::flow`]; this crate runs
//! any of them on any async runtime, the way quinn runs its sans-IO core on tokio and smol
//! alike: the adapter supplies a small [`Runtime`] (send an endpoint request, spawn, sleep,
//! read the clock) and the rest is written once, here. `oauth-reqwest` (tokio) and
//! `oauth-async-std` (async-std, smol) are both this driver over their own transport.
//!
//! ```text
//!  Driver::drive(flow): lock ─ poll ─ unlock
//!     Send(call), shared          → Runtime::spawn the rest (no caller's cancellation or stall
//!                                   holds up the callers waiting for it), await it
//!     Send(call), consumes grant  → run it here; if this future is dropped, detach the rest
//!     Send(call)                  → Runtime::send, lock ─ handle ─ blocking hook ─ unlock,
//!                                   wake the waiters, then the async hook
//!     Store(step)                 → Runtime::spawn the rest: the store step (a watch raced
//!                                   against `until`), handle, hooks, wake the waiters
//!     Wait(until)                 → listen, poll again; still waiting: the wake-up or `until`
//!     Done(result)                → return it
//! ```
//!
//! The state lock is a `std` mutex held only for the core's synchronous calls, never across an
//! `.await`: while the token is fresh, a request's authorization is one short lock and no
//! suspension.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use event_listener::Event;
use oauth_core::flow::{Call, Failed, Flow, Next, Operation};
use oauth_core::hooks::{UpdateHooks, lock};
use oauth_core::http::{Request, Response};
use oauth_core::store::{AsyncStore, StoreError, StoreReply, StoreRequest};
use oauth_core::{ClientConfig, TokenSession};

oauth_core::driver_tracing!();

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What an async adapter supplies: its transport for endpoint calls, its runtime's tasks and
/// timers, and the clock.
pub trait Runtime: Send + Sync + 'static {
    /// The adapter's error type.
    type Error: From<oauth_core::Error> + std::fmt::Display + Send + 'static;

    /// Sends one endpoint request (token, revocation, introspection, JWKS, userinfo) with the
    /// adapter's security policy: no redirects, the body capped, a timeout.
    fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, Self::Error>> + Send;

    /// Runs `future` in a task of its own and awaits its output; a panic in it resumes in the
    /// caller; a task torn down before its end (the runtime shut down) is an error.
    fn spawn<T: Send + 'static>(
        &self,
        future: BoxFuture<Result<T, Self::Error>>,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send;

    /// Runs `future` in a task of its own, nobody awaiting it (a caller dropped the future
    /// that was running it). Outside a runtime it may be dropped.
    fn detach(&self, future: BoxFuture<()>);

    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// The current time.
    fn now(&self) -> SystemTime {
        #[allow(
            clippy::disallowed_methods,
            reason = "the adapter's clock, read on the core's behalf"
        )]
        SystemTime::now()
    }
}

/// The session's shared state and its driver: the core's [`TokenSession`], the waiters'
/// wake-ups, the update hooks and the adapter's runtime. Share it in an `Arc`.
#[derive(Debug)]
pub struct Driver<R: Runtime> {
    runtime: R,
    config: ClientConfig,
    state: Mutex<TokenSession>,
    changed: Event,
    hooks: UpdateHooks,
    store: Option<Arc<dyn AsyncStore>>,
}

impl<R: Runtime> Driver<R> {
    /// A driver for `state`, sending with `runtime`, giving token changes to `hooks`.
    pub fn new(runtime: R, state: TokenSession, hooks: UpdateHooks) -> Self {
        Self {
            runtime,
            config: state.config().clone(),
            state: Mutex::new(state),
            changed: Event::new(),
            hooks,
            store: None,
        }
    }

    /// Carries out the session's store steps on `store` (the session was given its
    /// settings with `TokenSession::with_store`).
    #[must_use]
    pub fn with_store(mut self, store: Option<Arc<dyn AsyncStore>>) -> Self {
        self.store = store;
        self
    }

    /// The adapter's runtime (its transport).
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    /// The configuration, which never changes (read without the lock).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Locks the session's state, for a synchronous look or change. Never hold it across an
    /// `.await`.
    pub fn lock(&self) -> MutexGuard<'_, TokenSession> {
        lock(&self.state)
    }

    /// Wakes every caller waiting for the state to change (after `set_token`, say).
    pub fn wake_all(&self) {
        self.changed.notify(usize::MAX);
    }

    /// Runs `flow` to its end (see the crate documentation).
    ///
    /// # Errors
    /// The flow's error: the core's, or the transport's from [`Runtime::send`].
    pub async fn drive<F>(self: &Arc<Self>, flow: F) -> Result<F::Output, R::Error>
    where
        F: Flow + Send + 'static,
        F::Output: Send + 'static,
    {
        let running = Running {
            driver: Arc::clone(self),
            op: Operation::new(flow),
        };
        drive(running).await
    }
}

/// A flow being driven; if it is dropped with a call out (its task torn down, or unwinding),
/// the call is reported as failed, so nobody waits for its answer.
struct Running<R: Runtime, F: Flow> {
    driver: Arc<Driver<R>>,
    op: Operation<F, R::Error>,
}

impl<R: Runtime, F: Flow> Drop for Running<R, F> {
    fn drop(&mut self) {
        if self.op.is_outstanding() {
            let driver = &self.driver;
            let mut state = driver.lock();
            self.op.abandon(&mut state, driver.runtime.now());
            driver.hooks.run_blocking(&mut state);
            drop(state);
            driver.wake_all();
        }
    }
}

impl<R: Runtime, F: Flow> Running<R, F> {
    /// Sends the call, hands the answer to the core, runs the hooks and wakes the waiters.
    async fn send(&mut self, call: Call) {
        let driver = Arc::clone(&self.driver);
        let logged = trace::call(&call);
        let sent_at = driver.runtime.now();
        let answer = driver.runtime.send(call.into_request()).await;
        logged.answered(&answer);
        {
            let mut state = driver.lock();
            self.op.handle(&mut state, answer, sent_at);
            driver.hooks.run_blocking(&mut state);
        }
        driver.wake_all();
        driver.hooks.deliver(&driver.state).await;
    }
}

impl<R: Runtime, F: Flow> Running<R, F> {
    /// Carries out a store step (a watch at most until its `until`), hands the answer to the
    /// core, runs the hooks and wakes the waiters.
    async fn store(&mut self, request: StoreRequest) {
        let driver = Arc::clone(&self.driver);
        let reply = match &driver.store {
            None => Err(StoreError::NotAttached),
            Some(store) => match &request {
                StoreRequest::Watch { until, .. } => {
                    let wait = until
                        .duration_since(driver.runtime.now())
                        .unwrap_or_default();
                    let timeout = async {
                        driver.runtime.sleep(wait).await;
                        Ok(StoreReply::Unchanged)
                    };
                    futures_lite::future::or(store.execute(&request), timeout).await
                }
                _ => store.execute(&request).await,
            },
        };
        trace::stored(&request, &reply);
        {
            let mut state = driver.lock();
            self.op
                .handle_store(&mut state, reply, driver.runtime.now());
            driver.hooks.run_blocking(&mut state);
        }
        driver.wake_all();
        driver.hooks.deliver(&driver.state).await;
    }
}

async fn drive<R, F>(mut running: Running<R, F>) -> Result<F::Output, R::Error>
where
    R: Runtime,
    F: Flow + Send + 'static,
    F::Output: Send + 'static,
{
    let driver = Arc::clone(&running.driver);
    let mut listener = None;
    loop {
        let next = running.op.poll(&mut driver.lock(), driver.runtime.now());
        match next {
            Next::Send(call) if call.is_shared() => {
                return driver.runtime.spawn(finish(running, Out::Call(call))).await;
            }
            Next::Send(call) if call.consumes_grant() => {
                let runtime = Arc::clone(&driver);
                return Detachable::new(finish(running, Out::Call(call)), runtime).await;
            }
            Next::Send(call) => running.send(call).await,
            // Store steps belong to a renewal others wait for (or an explicit fetch): like a
            // shared call, they go on in a task of their own.
            Next::Store(request) => {
                return driver
                    .runtime
                    .spawn(finish(running, Out::Store(request)))
                    .await;
            }
            Next::Wait(until) => match listener.take() {
                // Listening before looking again: a call answered in between still wakes us.
                None => {
                    trace::waiting();
                    listener = Some(driver.changed.listen());
                }
                Some(listener) => {
                    let now = driver.runtime.now();
                    let slice = until.duration_since(now).unwrap_or_default();
                    futures_lite::future::or(listener, driver.runtime.sleep(slice)).await;
                }
            },
            Next::Done(result) => {
                driver.hooks.run_blocking(&mut driver.lock());
                driver.hooks.deliver(&driver.state).await;
                let result = result.map_err(Failed::into_error);
                trace::ended(&result);
                return result;
            }
        }
    }
}

/// What a flow has out when the rest of it may run in a task of its own.
#[allow(
    clippy::large_enum_variant,
    reason = "one value, moved once into the task that carries it out"
)]
enum Out {
    Call(Call),
    Store(StoreRequest),
}

/// Carries out `out` (sends the call, or the store step), then drives the flow on: the part
/// that may run in a task of its own.
fn finish<R, F>(mut running: Running<R, F>, out: Out) -> BoxFuture<Result<F::Output, R::Error>>
where
    R: Runtime,
    F: Flow + Send + 'static,
    F::Output: Send + 'static,
{
    Box::pin(async move {
        match out {
            Out::Call(call) => running.send(call).await,
            Out::Store(request) => running.store(request).await,
        }
        drive(running).await
    })
}

/// A future run in its caller's task that moves to a task of its own if the caller drops it
/// unfinished, so that an exchange's answer is applied even then.
struct Detachable<R: Runtime, T: Send + 'static> {
    future: Option<BoxFuture<Result<T, R::Error>>>,
    driver: Arc<Driver<R>>,
}

impl<R: Runtime, T: Send + 'static> Detachable<R, T> {
    fn new(future: BoxFuture<Result<T, R::Error>>, driver: Arc<Driver<R>>) -> Self {
        Self {
            future: Some(future),
            driver,
        }
    }
}

impl<R: Runtime, T: Send + 'static> Future for Detachable<R, T> {
    type Output = Result<T, R::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(future) = this.future.as_mut() else {
            return Poll::Pending;
        };
        let outcome = ready!(future.as_mut().poll(cx));
        this.future = None;
        Poll::Ready(outcome)
    }
}

impl<R: Runtime, T: Send + 'static> Drop for Detachable<R, T> {
    fn drop(&mut self) {
        // While unwinding, the future may be the one that panicked: dropping it lets its
        // operation report the call.
        if let (Some(future), false) = (self.future.take(), std::thread::panicking()) {
            self.driver.runtime.detach(Box::pin(async move {
                let _ = future.await;
            }));
        }
    }
}
