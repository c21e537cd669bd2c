//! A token shared by a fleet: the store's protocol, written once here, carried out by any
//! backend (Redis in `oauth-redis`, or your own).
//!
//! Without a store a session keeps its token in memory, and one process makes one renewal per
//! expiry however many callers it has. With a store, every session attached to the same
//! record (the replicas of a service, the runs of a command-line tool) shares one token and
//! one renewal per expiry between them: with rotating refresh tokens and reuse detection, a
//! second replica refreshing with the same refresh token would make the server revoke the
//! grant for all.
//!
//! # The record
//!
//! The backend keeps one record: a version (a number that only grows) and the token, sealed
//! with AES-256-GCM under the caller's [`StoreKey`] (the backend never sees a token in clear),
//! plus one lease (an owner id that expires on its own). A session remembers the version its
//! token came from.
//!
//! # The protocol
//!
//! | when | the session asks | and then |
//! |---|---|---|
//! | its token is fresh | nothing: the hot path never touches the store | |
//! | it has no token | [`StoreRequest::Read`] | adopts the record's token, if any |
//! | its token is due (one caller per process) | [`StoreRequest::Acquire`] a lease | |
//! | … the lease is taken, the record newer | | adopts it, releases the lease if it is fresh, else renews |
//! | … the lease is taken, the record the same | sends the refresh, then [`StoreRequest::Commit`] | the commit succeeds only if the record is still the version it renewed (compare-and-set), and frees the lease |
//! | … another replica holds the lease, token still usable | [`StoreRequest::Watch`] for at most [`StoreSettings::remote_wait`] (the other callers of the process are served the old token) | adopts the commit as soon as it is stored; if none came, serves the old token and asks again after another `remote_wait` |
//! | … another replica holds the lease, token unusable | [`StoreRequest::Watch`] the record, then `Acquire` again | the commit wakes the watchers; if the holder died, its lease expires and the next `Acquire` takes it |
//! | the renewal failed | [`StoreRequest::Release`] | the next replica may try |
//! | the commit failed (store down, or emptied meanwhile) | [`StoreRequest::Put`] at the next request (after [`RENEWAL_BACKOFF`](crate::session::RENEWAL_BACKOFF) while the store fails) | the fleet gets the newest token; nobody presents the rotated refresh token |
//! | the token cannot be served (expired, refused) | [`StoreRequest::Read`] once | adopts a newer token another replica stored (a new login, say) |
//! | an explicit `fetch_token` / `refresh_token` succeeded | [`StoreRequest::Put`] | the record takes the new token whatever it held |
//! | the store cannot be reached | nothing more | [`Unreachable`] decides: renew alone, or serve the token while usable and then fail |
//!
//! DPoP-bound tokens (RFC 9449) can be shared only by replicas that hold the key they are
//! bound to: give every replica the same `DpopKey` (the builders refuse a key generated per
//! session together with a store).
//!
//! A record's version never goes back: a commit's version is one more than both the record's
//! and the session's, so a store that lost its contents (a restart without persistence) is
//! filled again by the next renewal and every replica adopts it.
//!
//! # What a backend must do
//!
//! Carry out each [`StoreRequest`] atomically on the server side and answer with the
//! [`StoreReply`] its documentation names; wake every `Watch` when a commit or put changes the
//! record (or return at `until` at the latest; returning earlier is allowed). Implement
//! [`BlockingStore`] for blocking adapters, [`AsyncStore`] for async ones.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

mod seal;

pub use seal::StoreKey;
pub(crate) use seal::{open, seal};

/// How long a lease lasts if its holder never commits or releases it (it died): longer than
/// a renewal can take (a token request, a DPoP nonce's second try, a key fetch for a
/// refreshed ID token: two of the adapters' 30 s timeouts), since a lease that lapses under a
/// live renewal lets another replica present the same refresh token.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(65);

/// How long a session watches for another replica's renewal while its own token is still
/// usable, and then serves that token before it looks at the store again.
pub const DEFAULT_REMOTE_WAIT: Duration = Duration::from_secs(1);

/// The record as a backend keeps it: a version and the sealed token (opaque to the backend).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreRecord {
    /// Grows with each commit or put; never 0 for a stored record.
    pub version: u64,
    /// The token, sealed with the caller's [`StoreKey`].
    pub sealed: Vec<u8>,
}

impl fmt::Debug for StoreRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreRecord")
            .field("version", &self.version)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// A lease's owner id: random, drawn from the session's entropy, printable (hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseId(pub(crate) String);

impl LeaseId {
    /// A lease id from its text (for a backend's own tests and tools: sessions draw theirs).
    #[must_use]
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The id as text, to store as the lease's value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the session asks the store to do. Each is one atomic step on the server side.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreRequest {
    /// The record, if any: answer [`StoreReply::Record`].
    Read,
    /// Take the lease for `ttl` if nobody holds it (or `lease` already does: a step retried
    /// after a lost reply), and read the record in the same step: answer
    /// [`StoreReply::Acquired`] or [`StoreReply::Busy`].
    Acquire {
        /// The owner to record.
        lease: LeaseId,
        /// How long the lease lasts if never released.
        ttl: Duration,
    },
    /// If the record's version is still `expected` (0: no record), store `sealed` as
    /// `version`, free `lease` if it still holds it, and wake the watchers: answer
    /// [`StoreReply::Committed`]; otherwise change nothing and answer
    /// [`StoreReply::Conflict`] with the record as it is.
    Commit {
        /// The lease this renewal held.
        lease: LeaseId,
        /// The version the renewal started from.
        expected: u64,
        /// The new version.
        version: u64,
        /// The new token, sealed.
        sealed: Vec<u8>,
    },
    /// Store `sealed` whatever the record holds, as version `max(record, at_least) + 1`, and
    /// wake the watchers: answer [`StoreReply::Committed`] with that version.
    Put {
        /// The session's version: the new one is above it.
        at_least: u64,
        /// The new token, sealed.
        sealed: Vec<u8>,
    },
    /// Free the lease if `lease` still holds it: answer [`StoreReply::Released`].
    Release {
        /// The owner.
        lease: LeaseId,
    },
    /// Return once the record's version is no longer `seen` (answer [`StoreReply::Changed`]),
    /// or at `until` (answer [`StoreReply::Unchanged`]). Returning earlier is allowed.
    Watch {
        /// The version the session saw.
        seen: u64,
        /// The latest time to return.
        until: SystemTime,
    },
}

impl StoreRequest {
    /// A short name for logs: `read`, `acquire`, `commit`, `put`, `release`, `watch`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Acquire { .. } => "acquire",
            Self::Commit { .. } => "commit",
            Self::Put { .. } => "put",
            Self::Release { .. } => "release",
            Self::Watch { .. } => "watch",
        }
    }
}

/// A backend's answer to a [`StoreRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreReply {
    /// The record, if any (to `Read`).
    Record(Option<StoreRecord>),
    /// The lease is the caller's; the record as it was (to `Acquire`).
    Acquired(Option<StoreRecord>),
    /// Another owner holds the lease; the record as it is (to `Acquire`).
    Busy(Option<StoreRecord>),
    /// The record is now `version` (to `Commit`, `Put`).
    Committed {
        /// The stored version.
        version: u64,
    },
    /// The record changed since the renewal started; nothing was stored (to `Commit`).
    Conflict(Option<StoreRecord>),
    /// The lease is free or another's (to `Release`).
    Released,
    /// The record's version changed (to `Watch`).
    Changed,
    /// Nothing changed before `until` (to `Watch`).
    Unchanged,
}

/// What the session does when the store cannot be reached (or its record cannot be opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Unreachable {
    /// Serve the token while it is usable; once it is not, fail with [`StoreError`] rather
    /// than renew alone. The safe choice with rotating refresh tokens and reuse detection: two
    /// replicas renewing alone would make the server revoke the grant.
    #[default]
    FailWhenUnusable,
    /// Renew alone, as a session without a store would (and commit when the store is back).
    /// The choice for grants without refresh tokens (client credentials), where a second
    /// renewal costs only a request.
    RenewLocally,
}

/// The session's side of a store: the key its token is sealed with, and the protocol's times.
#[derive(Clone)]
pub struct StoreSettings {
    pub(crate) key: StoreKey,
    pub(crate) unreachable: Unreachable,
    pub(crate) lease: Duration,
    pub(crate) remote_wait: Duration,
}

impl StoreSettings {
    /// Settings sealing tokens with `key`, failing while the store is unreachable and the
    /// token unusable, with a lease of [`DEFAULT_LEASE`] and a wait of
    /// [`DEFAULT_REMOTE_WAIT`].
    #[must_use]
    pub fn new(key: StoreKey) -> Self {
        Self {
            key,
            unreachable: Unreachable::default(),
            lease: DEFAULT_LEASE,
            remote_wait: DEFAULT_REMOTE_WAIT,
        }
    }

    /// What to do when the store cannot be reached.
    #[must_use]
    pub fn unreachable(mut self, policy: Unreachable) -> Self {
        self.unreachable = policy;
        self
    }

    /// How long a lease lasts if its holder dies: longer than a renewal can take (the token
    /// request's timeout, twice if a DPoP nonce or a key fetch adds a call), short enough for
    /// the fleet to wait out.
    #[must_use]
    pub fn lease(mut self, ttl: Duration) -> Self {
        self.lease = ttl;
        self
    }

    /// How long a session with a still-usable token watches for another replica's renewal,
    /// and then serves its token, before the store is asked again.
    #[must_use]
    pub fn remote_wait(mut self, wait: Duration) -> Self {
        self.remote_wait = wait;
        self
    }

    /// The policy when the store cannot be reached.
    #[must_use]
    pub fn unreachable_policy(&self) -> Unreachable {
        self.unreachable
    }

    /// The lease's time to live.
    #[must_use]
    pub fn lease_ttl(&self) -> Duration {
        self.lease
    }
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("key", &self.key)
            .field("unreachable", &self.unreachable)
            .field("lease", &self.lease)
            .field("remote_wait", &self.remote_wait)
            .finish()
    }
}

/// Why the store could not serve the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or failed the step (the text is the backend's, with
    /// no token or key in it). Check the store; the session falls back as its [`Unreachable`]
    /// policy says.
    #[error("token store unreachable: {0}")]
    Unreachable(String),
    /// The stored record cannot be opened with this session's key (another key, or a damaged
    /// record). Give every replica the same key.
    #[error("token store record cannot be opened: {0}")]
    Unreadable(&'static str),
    /// The backend answered a step with a reply that does not belong to it.
    #[error("token store answered {reply} to {request}")]
    Protocol {
        /// The request's name.
        request: &'static str,
        /// The reply, as debug text (no secrets: records show their length only).
        reply: String,
    },
    /// The session asked the store for a step but the driver has no store attached.
    #[error("no token store is attached to the driver")]
    NotAttached,
}

/// A boxed, sendable future, as [`AsyncStore::execute`] returns it.
pub type StoreFuture<'a> =
    Pin<Box<dyn Future<Output = Result<StoreReply, StoreError>> + Send + 'a>>;

/// A store a blocking driver carries the session's steps out on.
pub trait BlockingStore: Send + Sync + fmt::Debug {
    /// The session's side: the key and the protocol's times.
    fn settings(&self) -> &StoreSettings;

    /// Carries out one step (blocking, in a bounded time; a `Watch` until a change or its
    /// `until`).
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] when the backend cannot be reached or fails.
    fn execute(&self, request: &StoreRequest) -> Result<StoreReply, StoreError>;
}

/// A store an async driver carries the session's steps out on.
pub trait AsyncStore: Send + Sync + fmt::Debug {
    /// The session's side: the key and the protocol's times.
    fn settings(&self) -> &StoreSettings;

    /// Carries out one step, in a bounded time (a step that never ends holds up the callers
    /// waiting for the renewal). A `Watch` may be dropped by the driver at its `until`.
    fn execute<'a>(&'a self, request: &'a StoreRequest) -> StoreFuture<'a>;
}

/// Adds the setters of the session's side to a backend's builder: `unreachable`, `lease` and
/// `remote_wait` (see [`StoreSettings`]). The backend must have a field
/// `settings: StoreSettings`.
#[macro_export]
macro_rules! store_settings_setters {
    () => {
        /// What a session does when the store cannot be reached (default:
        /// `Unreachable::FailWhenUnusable`: serve the token while usable, then fail).
        #[must_use]
        pub fn unreachable(mut self, policy: $crate::store::Unreachable) -> Self {
            self.settings = self.settings.unreachable(policy);
            self
        }

        /// How long a lease lasts if its holder dies (default 65 s): longer than a renewal
        /// can take.
        #[must_use]
        pub fn lease(mut self, ttl: ::std::time::Duration) -> Self {
            self.settings = self.settings.lease(ttl);
            self
        }

        /// How long a session with a still-usable token watches for another replica's
        /// renewal, and then serves its token, before the store is asked again (default 1 s).
        #[must_use]
        pub fn remote_wait(mut self, wait: ::std::time::Duration) -> Self {
            self.settings = self.settings.remote_wait(wait);
            self
        }
    };
}
