//! The session's side of a shared token store (see [`crate::store`]): the version its token
//! came from, sealing and adopting records, and the states a renewal shared with other
//! replicas passes through.

use std::time::SystemTime;

use super::timing::{Stage, stage};
use super::{ExchangeTicket, Renewal, TokenSession, TokenUpdate, UpdateKind};
use crate::error::Error;
use crate::store::{LeaseId, StoreError, StoreRecord, StoreSettings, open, seal};

/// A session's attachment to a store.
#[derive(Debug)]
pub(super) struct StoreState {
    pub(super) settings: StoreSettings,
    /// The version of the record the token came from, or was committed as (0: none).
    pub(super) version: u64,
    /// The token is newer than the store's (its commit failed): when to store it again.
    pub(super) unsaved: Option<SystemTime>,
}

impl TokenSession {
    /// Shares the session's token through a store (see [`crate::store`]): the driver carries
    /// out the store steps the flows ask for. Needs an entropy source
    /// ([`with_entropy`](Self::with_entropy)) for lease ids and sealing nonces.
    #[must_use]
    pub fn with_store(mut self, settings: StoreSettings) -> Self {
        self.store = Some(StoreState {
            settings,
            version: 0,
            unsaved: None,
        });
        self
    }

    /// The store settings, when the session shares its token through a store.
    #[must_use]
    pub fn store_settings(&self) -> Option<&StoreSettings> {
        self.store.as_ref().map(|store| &store.settings)
    }

    /// The version of the stored record the token came from (0: none, or no store).
    #[must_use]
    pub fn store_version(&self) -> u64 {
        self.store.as_ref().map_or(0, |store| store.version)
    }

    /// Records that the current token is stored as `version`.
    pub(crate) fn stored_as(&mut self, version: u64) {
        if let Some(store) = &mut self.store {
            store.version = store.version.max(version);
            store.unsaved = None;
        }
    }

    /// Records that the current token did not reach the store: a request from `retry_at` on
    /// stores it first.
    pub(crate) fn mark_unsaved(&mut self, retry_at: SystemTime) {
        if let Some(store) = &mut self.store {
            store.unsaved = Some(retry_at);
        }
    }

    /// Whether the token must be stored again at `now`.
    pub(crate) fn unsaved_due(&self, now: SystemTime) -> bool {
        self.token.is_some()
            && self
                .store
                .as_ref()
                .and_then(|store| store.unsaved)
                .is_some_and(|at| now >= at)
    }

    /// A new lease id (16 random bytes, hex).
    pub(crate) fn new_lease(&self) -> Result<LeaseId, Error> {
        let mut bytes = [0u8; 16];
        self.fill_entropy(&mut bytes)?;
        Ok(LeaseId(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The current token, sealed for the store.
    pub(crate) fn seal_token(&self) -> Result<Vec<u8>, Error> {
        let (Some(store), Some(token)) = (&self.store, &self.token) else {
            return Err(StoreError::NotAttached.into());
        };
        let entropy = self
            .entropy
            .as_ref()
            .ok_or(crate::error::UsageError::MintUnavailable)?;
        seal(&store.settings.key, token, &*entropy.0)
    }

    /// Adopts `record` if it is newer than the session's token: the token is replaced (an
    /// update of kind [`UpdateKind::Adopted`]), and `ticket`'s renewal, if any, ends.
    /// `Ok(None)` when the record is not newer.
    pub(crate) fn adopt_record(
        &mut self,
        record: Option<&StoreRecord>,
        ticket: Option<&ExchangeTicket>,
    ) -> Result<Option<TokenUpdate>, Error> {
        let Some(store) = &self.store else {
            return Err(StoreError::NotAttached.into());
        };
        let Some(record) = record.filter(|r| r.version > store.version) else {
            return Ok(None);
        };
        let token = open(&store.settings.key, &record.sealed)?;
        if let Some(ticket) = ticket {
            self.end_exchange(ticket);
        }
        let update = self.replace(token, UpdateKind::Adopted);
        self.stored_as(record.version);
        Ok(Some(update))
    }

    /// Whether the token may be sent at `now` without a renewal first (fresh, or due but
    /// still valid).
    pub(crate) fn may_serve(&self, now: SystemTime) -> bool {
        self.token.as_ref().is_some_and(|token| {
            self.presentable(token)
                && !self.rejected_by_resource
                && stage(token, self.config.leeway, now) != Stage::Expired
        })
    }

    /// Whether the token is fresh at `now` (no renewal due).
    pub(crate) fn is_fresh(&self, now: SystemTime) -> bool {
        self.token.as_ref().is_some_and(|token| {
            !self.rejected_by_resource && stage(token, self.config.leeway, now) == Stage::Fresh
        })
    }

    /// Ends `ticket`'s renewal without a failure while another replica renews: the token is
    /// served as it is until `until`, then the store is asked again.
    pub(crate) fn defer_renewal(&mut self, ticket: &ExchangeTicket, until: SystemTime) {
        self.on_the_wire.retain(|(id, ..)| *id != ticket.id);
        if matches!(self.renewal, Renewal::InFlight { id, .. } if id == ticket.id) {
            self.renewal = Renewal::Backoff { until };
        }
    }
}
