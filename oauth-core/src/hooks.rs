//! The user's token-update hooks, delivered in the order the token changed: a blocking hook
//! while the session is locked, an async hook after it is released, one at a time (both may
//! be set: the blocking one sees each change first).
//!
//! No runtime is involved: the async hook's future is awaited by whatever task delivers.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::session::{TokenSession, TokenUpdate};

/// A hook run while the session's state is locked.
pub type BlockingHook = dyn Fn(&TokenUpdate) + Send + Sync;
/// The future an async hook returns.
pub type HookFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
/// A hook awaited after the state is unlocked.
pub type AsyncHook = dyn Fn(TokenUpdate) -> HookFuture + Send + Sync;

/// The session's update hooks: a blocking one, an async one, or both.
#[derive(Default)]
pub struct UpdateHooks {
    blocking: Option<Box<BlockingHook>>,
    deferred: Option<Box<AsyncHook>>,
}

impl std::fmt::Debug for UpdateHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateHooks")
            .field("blocking", &self.blocking.is_some())
            .field("async", &self.deferred.is_some())
            .finish()
    }
}

impl UpdateHooks {
    /// Sets the blocking hook.
    pub fn set_blocking(&mut self, hook: Box<BlockingHook>) {
        self.blocking = Some(hook);
    }

    /// Sets the async hook.
    pub fn set_async(&mut self, hook: Box<AsyncHook>) {
        self.deferred = Some(hook);
    }

    /// Whether a hook is set (the session then records its updates).
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.blocking.is_some() || self.deferred.is_some()
    }

    /// Call under the lock after each step: the blocking hook gets every queued change now,
    /// and each is queued for the async hook ([`deliver`](Self::deliver)).
    pub fn run_blocking(&self, session: &mut TokenSession) {
        while let Some(update) = session.poll_update() {
            if let Some(hook) = &self.blocking {
                hook(&update);
            }
            if self.deferred.is_some() {
                session.defer_update(update);
            }
        }
    }

    /// Call after releasing the lock: the async hook gets every queued change, one at a time
    /// and in order, whichever caller delivers (see [`TokenSession::next_deferred_update`]).
    pub async fn deliver(&self, state: &Mutex<TokenSession>) {
        let Some(hook) = &self.deferred else {
            return;
        };
        let mut turn = Turn {
            state,
            delivering: false,
        };
        loop {
            let next = lock(state).next_deferred_update(&mut turn.delivering);
            let Some(update) = next else {
                return;
            };
            hook(update).await;
        }
    }
}

/// Gives the delivery turn back if the deliverer stops early (its hook panicked, its task was
/// dropped), so later changes are still delivered.
struct Turn<'a> {
    state: &'a Mutex<TokenSession>,
    delivering: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.delivering {
            lock(self.state).end_delivery(&mut self.delivering);
        }
    }
}

/// Locks the session's state; a panic in a user hook poisons the mutex, but the state itself
/// is always consistent.
pub fn lock(state: &Mutex<TokenSession>) -> MutexGuard<'_, TokenSession> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds `on_token_update` and `on_token_update_async` to an adapter's session builder, which
/// must have a field `hooks: UpdateHooks`.
#[macro_export]
macro_rules! hook_setters {
    () => {
        /// Called once per real token change (fetch, refresh, re-fetch, login), to persist
        /// the token. It runs while the session's state is locked, so updates arrive in order
        /// and no request sees the new token before the hook does: keep it short, never block
        /// on IO here, and **do not call back into the session** (that would deadlock). Use
        /// the async hook for a database. Both hooks may be set: this one sees each change
        /// first.
        #[must_use]
        pub fn on_token_update(
            mut self,
            hook: impl Fn(&$crate::TokenUpdate) + Send + Sync + 'static,
        ) -> Self {
            self.hooks.set_blocking(Box::new(hook));
            self
        }

        /// Like [`on_token_update`](Self::on_token_update), for hooks that await (a database
        /// write). The hook's future is awaited after the new token is in place, one hook at
        /// a time and in the order of the changes; it may call into the session.
        #[must_use]
        pub fn on_token_update_async<F, Fut>(mut self, hook: F) -> Self
        where
            F: Fn($crate::TokenUpdate) -> Fut + Send + Sync + 'static,
            Fut: ::std::future::Future<Output = ()> + Send + 'static,
        {
            self.hooks
                .set_async(Box::new(move |update| Box::pin(hook(update))));
            self
        }
    };
}
