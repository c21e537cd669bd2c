//! The store protocol's reference backend.

use std::collections::HashMap;
use std::time::SystemTime;

/// The store protocol's reference backend, in memory and sans-IO: the caller gives `now`
/// (lease expiry) and a `Watch` answers at once. It shows what every backend must do (see
/// [`crate::store`]); the tests share one between several sessions as replicas.
#[derive(Debug, Default)]
pub struct MemoryStore {
    record: Option<crate::store::StoreRecord>,
    lease: Option<(String, SystemTime)>,
    unreachable: bool,
    counts: HashMap<&'static str, usize>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The record as stored (sealed).
    #[must_use]
    pub fn record(&self) -> Option<&crate::store::StoreRecord> {
        self.record.as_ref()
    }

    /// The lease's owner while it has not expired at `now`.
    #[must_use]
    pub fn lease_owner(&self, now: SystemTime) -> Option<&str> {
        self.lease
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(owner, _)| owner.as_str())
    }

    /// Loses everything (a restart without persistence).
    pub fn clear(&mut self) {
        self.record = None;
        self.lease = None;
    }

    /// Makes every step fail as unreachable (or work again).
    pub fn set_unreachable(&mut self, unreachable: bool) {
        self.unreachable = unreachable;
    }

    /// How many steps of this name (`acquire`, `commit`, …) were asked.
    #[must_use]
    pub fn steps(&self, name: &str) -> usize {
        self.counts.get(name).copied().unwrap_or(0)
    }

    /// Carries out one step at `now`.
    ///
    /// # Errors
    /// [`StoreError::Unreachable`](crate::store::StoreError::Unreachable) while unreachable.
    pub fn execute(
        &mut self,
        request: &crate::store::StoreRequest,
        now: SystemTime,
    ) -> Result<crate::store::StoreReply, crate::store::StoreError> {
        use crate::store::{StoreError, StoreRecord, StoreReply, StoreRequest};
        *self.counts.entry(request.name()).or_default() += 1;
        if self.unreachable {
            return Err(StoreError::Unreachable("connection refused".into()));
        }
        let current = self.record.as_ref().map_or(0, |r| r.version);
        let holds = |lease: &Option<(String, SystemTime)>, id: &str| {
            lease
                .as_ref()
                .is_some_and(|(o, until)| o == id && now < *until)
        };
        Ok(match request {
            StoreRequest::Read => StoreReply::Record(self.record.clone()),
            StoreRequest::Acquire { lease, ttl } => {
                let owner = self.lease_owner(now);
                if owner.is_some_and(|owner| owner != lease.as_str()) {
                    StoreReply::Busy(self.record.clone())
                } else {
                    self.lease = Some((lease.as_str().to_owned(), now + *ttl));
                    StoreReply::Acquired(self.record.clone())
                }
            }
            StoreRequest::Commit {
                lease,
                expected,
                version,
                sealed,
            } => {
                if current != *expected {
                    return Ok(StoreReply::Conflict(self.record.clone()));
                }
                self.record = Some(StoreRecord {
                    version: *version,
                    sealed: sealed.clone(),
                });
                if holds(&self.lease, lease.as_str()) {
                    self.lease = None;
                }
                StoreReply::Committed { version: *version }
            }
            StoreRequest::Put { at_least, sealed } => {
                let version = current.max(*at_least) + 1;
                self.record = Some(StoreRecord {
                    version,
                    sealed: sealed.clone(),
                });
                StoreReply::Committed { version }
            }
            StoreRequest::Release { lease } => {
                if holds(&self.lease, lease.as_str()) {
                    self.lease = None;
                }
                StoreReply::Released
            }
            StoreRequest::Watch { seen, .. } if current != *seen => StoreReply::Changed,
            StoreRequest::Watch { .. } => StoreReply::Unchanged,
        })
    }
}
