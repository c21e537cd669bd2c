//! Token exchanges in their own task, and the update hooks they call.
//!
//! Each exchange runs in a task spawned on async-std's global executor (which also runs under
//! `smol::block_on`). The caller awaits the task's handle; dropping that handle detaches the
//! task instead of cancelling it, so a caller that is cancelled (a timeout, a dropped future)
//! never cancels a refresh other callers wait for. If the task itself is torn down or panics
//! before the answer is applied, its [`Guard`] reports the exchange as failed, so waiters get
//! an error instead of waiting for an answer that never comes.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_std::task::JoinHandle;
use futures_lite::FutureExt as _;
use oauth_core::http::Request;
use oauth_core::{Exchange, ExchangeTicket, Token, TokenUpdate};

use super::{Shared, lock};
use crate::Error;

/// A panic caught in the exchange task, to resume in the caller.
pub(crate) type Panic = Box<dyn Any + Send>;

/// The synchronous update hook.
pub(crate) type SyncHook = dyn Fn(&TokenUpdate) + Send + Sync;
/// The asynchronous update hook, boxed.
pub(crate) type AsyncHook =
    dyn Fn(TokenUpdate) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// The most queued updates one task delivers before leaving the rest to the tasks that queued
/// them (each one delivers after queueing, so none is left behind).
const MAX_DELIVERIES: usize = 1024;

/// The user's hooks, and the order in which asynchronous ones are called.
pub(crate) struct Hooks {
    pub(crate) sync: Option<Box<SyncHook>>,
    pub(crate) on_async: Option<Box<AsyncHook>>,
    /// Updates waiting for the asynchronous hook, queued under the session lock so they are
    /// delivered in the order the token changed.
    queue: Mutex<VecDeque<TokenUpdate>>,
    /// Held while delivering, so one update's hook finishes before the next one starts.
    delivering: async_lock::Mutex<()>,
}

impl Hooks {
    pub(crate) fn new(sync: Option<Box<SyncHook>>, on_async: Option<Box<AsyncHook>>) -> Self {
        Self {
            sync,
            on_async,
            queue: Mutex::new(VecDeque::new()),
            delivering: async_lock::Mutex::new(()),
        }
    }

    /// Calls the synchronous hook (under the session lock) and queues the update for the
    /// asynchronous one.
    fn record(&self, update: TokenUpdate) -> Option<Panic> {
        let panic = self
            .sync
            .as_ref()
            .and_then(|hook| catch_unwind(AssertUnwindSafe(|| hook(&update))).err());
        if self.on_async.is_some() {
            lock(&self.queue).push_back(update);
        }
        panic
    }

    /// Delivers queued updates to the asynchronous hook, in order.
    async fn deliver(&self) -> Option<Panic> {
        let hook = self.on_async.as_ref()?;
        let _in_order = self.delivering.lock().await;
        let mut panic = None;
        for _ in 0..MAX_DELIVERIES {
            let next = lock(&self.queue).pop_front();
            let Some(update) = next else {
                break;
            };
            let outcome = match catch_unwind(AssertUnwindSafe(|| hook(update))) {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(p) => Err(p),
            };
            if let Err(p) = outcome {
                panic.get_or_insert(p);
            }
        }
        panic
    }
}

/// What an exchange task ends with: the caller's result, or a panic from a hook for the
/// caller to resume.
pub(crate) type Outcome = Result<Result<Token, Error>, Panic>;

/// Spawns the exchange's task. The guard exists before the task does, so even a task that is
/// dropped before its first poll reports its exchange.
pub(crate) fn spawn(shared: &Arc<Shared>, exchange: Exchange) -> JoinHandle<Outcome> {
    let (ticket, request) = exchange.into_parts();
    let guard = Guard {
        shared: Arc::clone(shared),
        ticket: Some(ticket.clone()),
    };
    async_std::task::spawn(run(Arc::clone(shared), guard, ticket, request))
}

/// Sends the exchange's request, applies the answer, wakes the waiters, calls the hooks.
async fn run(
    shared: Arc<Shared>,
    guard: Guard,
    ticket: ExchangeTicket,
    request: Request<Vec<u8>>,
) -> Outcome {
    // Before the request leaves: lifetimes count from here (never longer than the server's).
    let sent_at = SystemTime::now();
    let response = shared
        .client
        .call_endpoint(request, shared.body_limit)
        .await;
    let (outcome, panic) = {
        let mut state = shared.lock();
        let applied = match response {
            Ok(response) => state
                .handle_token_response(&ticket, &response, sent_at)
                .map_err(Error::from),
            Err(transport) => {
                state.handle_exchange_failure(&ticket);
                Err(transport.into())
            }
        };
        guard.disarm();
        record(&shared, applied)
    };
    announce(&shared, outcome, panic).await
}

/// Call under the session lock, right after the core applied an answer: a token change goes to
/// the synchronous hook now and is queued for the asynchronous one, so both see changes in
/// the order they happened.
pub(crate) fn record(
    shared: &Shared,
    applied: Result<TokenUpdate, Error>,
) -> (Result<Token, Error>, Option<Panic>) {
    match applied {
        Ok(update) => {
            let token = update.new_token().clone();
            (Ok(token), shared.hooks.record(update))
        }
        Err(error) => (Err(error), None),
    }
}

/// Call after releasing the session lock: wakes the callers waiting for the token, then
/// delivers the queued updates to the asynchronous hook.
pub(crate) async fn announce(
    shared: &Shared,
    outcome: Result<Token, Error>,
    mut panic: Option<Panic>,
) -> Outcome {
    shared.exchange_ended.notify(usize::MAX);
    if let Some(p) = shared.hooks.deliver().await {
        panic.get_or_insert(p);
    }
    match panic {
        Some(p) => Err(p),
        None => Ok(outcome),
    }
}

/// Reports the exchange as failed unless disarmed: the task was dropped or unwound before it
/// could apply the answer.
struct Guard {
    shared: Arc<Shared>,
    ticket: Option<ExchangeTicket>,
}

impl Guard {
    fn disarm(mut self) {
        self.ticket = None;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.shared.lock().handle_exchange_failure(&ticket);
            self.shared.exchange_ended.notify(usize::MAX);
        }
    }
}
