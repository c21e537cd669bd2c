//! Token changes queued for the update hooks, delivered in the order they happened.

use super::{TokenSession, TokenUpdate};

impl TokenSession {
    /// Keeps every token change (fetch, refresh, re-fetch; not `set_token`) in a queue for an
    /// update hook, read with [`poll_update`](Self::poll_update) or
    /// [`next_deferred_update`](Self::next_deferred_update). Off by default: a driver without
    /// a hook keeps nothing.
    pub fn record_updates(&mut self, on: bool) {
        self.record_updates = on;
        if !on {
            self.updates.clear();
            self.deferred.clear();
        }
    }

    /// The oldest token change not yet delivered, for a hook called while the session is
    /// locked: drain it after every step, and the hook sees every change once, in order.
    pub fn poll_update(&mut self) -> Option<TokenUpdate> {
        self.updates.pop_front()
    }

    /// Queues a change taken with [`poll_update`](Self::poll_update) for a hook that runs
    /// outside the lock, read with [`next_deferred_update`](Self::next_deferred_update).
    pub fn defer_update(&mut self, update: TokenUpdate) {
        self.deferred.push_back(update);
    }

    /// The next deferred token change (see [`defer_update`](Self::defer_update)) for a hook
    /// that runs *outside* the lock (an async hook), one deliverer at a time so changes still
    /// arrive in order. `delivering` is the caller's own
    /// flag, `false` to start: a caller that gets `Some` has become the deliverer
    /// (`delivering` is set) and calls again after the hook; `None` means nothing to deliver,
    /// or another caller is delivering (it will deliver what was queued meanwhile). A
    /// deliverer that stops early (its hook panicked) gives the turn back with
    /// [`end_delivery`](Self::end_delivery).
    pub fn next_deferred_update(&mut self, delivering: &mut bool) -> Option<TokenUpdate> {
        if self.delivering && !*delivering {
            return None;
        }
        let next = self.deferred.pop_front();
        self.delivering = next.is_some();
        *delivering = self.delivering;
        next
    }

    /// Gives back the delivery turn taken by [`next_deferred_update`](Self::next_deferred_update).
    pub fn end_delivery(&mut self, delivering: &mut bool) {
        if *delivering {
            self.delivering = false;
            *delivering = false;
        }
    }
}
