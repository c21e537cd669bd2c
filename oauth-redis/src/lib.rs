//! # oauth-redis: one token for a fleet, through Redis
//!
//! A token store for the `oauth-ureq`, `oauth-reqwest` and `oauth-async-std` sessions: every
//! process attached to the same record (the replicas of a service) shares one token, and the
//! fleet makes one renewal per expiry. The protocol (leases, versions, who waits, who renews)
//! is `oauth-core`'s `store` module; this crate only carries its steps out on Redis:
//!
//! | step | on the server, atomically |
//! |---|---|
//! | read | `HMGET {name}:record v t` |
//! | acquire | a script: `SET {name}:lease owner NX PX ttl`, then the record |
//! | commit | a script: compare the record's version, `HSET` the new one, free the lease if still ours, `PUBLISH {name}:changed` |
//! | put | a script: `HSET` above the current version, `PUBLISH` |
//! | release | a script: `DEL` the lease if still ours |
//! | watch | `SUBSCRIBE {name}:changed`, then a look at the version; the first message or the driver's deadline ends it |
//!
//! The record holds the token sealed with AES-256-GCM under the caller's key: Redis (and its
//! backups, replicas and `MONITOR`) never sees a token in clear. While the session's token is
//! fresh, no request touches Redis. Keys use a `{name}` hash tag, so a cluster keeps a
//! record's keys in one slot (Sentinel and Cluster connections are the `redis` crate's).
//!
//! ```no_run
//! use oauth_core::store::{StoreKey, Unreachable};
//! use oauth_redis::RedisStore;
//!
//! let key = StoreKey::from_base64url(&std::env::var("TOKEN_STORE_KEY")?)?;
//! let store = RedisStore::open("redis://127.0.0.1:6379/", "billing-api", key)?
//!     .unreachable(Unreachable::FailWhenUnusable);
//! let session = oauth_ureq::OAuth2Session::builder("billing-api")
//!     .token_endpoint("https://auth.example/token")
//!     .store(store)
//!     .build()?;
//! # let _ = session;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Features: the blocking store is always there (for `oauth-ureq`); `tokio` (for
//! `oauth-reqwest`) and `smol` (for `oauth-async-std`: smol's connections run under async-std,
//! both sit on async-io) add the async one. With both, each connection takes the runtime it is
//! made in.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use oauth_core::store::{
    BlockingStore, StoreError, StoreKey, StoreReply, StoreRequest, StoreSettings,
};
use redis::Client;

#[cfg(any(feature = "tokio", feature = "smol"))]
mod aio;
mod scripts;

/// How long connecting to Redis, and each command, may take before the step fails as
/// unreachable.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The names of one record's keys.
#[derive(Debug, Clone)]
struct Keys {
    record: String,
    lease: String,
    channel: String,
}

impl Keys {
    fn new(name: &str) -> Self {
        Self {
            record: format!("{{{name}}}:record"),
            lease: format!("{{{name}}}:lease"),
            channel: format!("{{{name}}}:changed"),
        }
    }
}

/// A Redis token store (see the [crate documentation](crate)). Give it to a session builder's
/// `.store(..)`; each process of the fleet opens its own, with the same name and key.
pub struct RedisStore {
    client: Client,
    keys: Keys,
    settings: StoreSettings,
    timeout: Duration,
    blocking: Mutex<Option<redis::Connection>>,
    #[cfg(any(feature = "tokio", feature = "smol"))]
    shared: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's connection info may hold a password: not shown.
        f.debug_struct("RedisStore")
            .field("record", &self.keys.record)
            .field("settings", &self.settings)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn unreachable(error: &redis::RedisError) -> StoreError {
    StoreError::Unreachable(error.to_string())
}

impl RedisStore {
    /// A store for the record `name` on the Redis at `url` (`redis://host:port/db`, or
    /// `rediss://` with the `redis` crate's TLS features), sealing tokens with `key`. Nothing
    /// connects yet: the first store step does.
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] when the URL is not a Redis URL.
    pub fn open(url: &str, name: &str, key: StoreKey) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(|e| unreachable(&e))?;
        Ok(Self::with_client(client, name, key))
    }

    /// A store for the record `name` over `client` (any connection the `redis` crate makes).
    #[must_use]
    pub fn with_client(client: Client, name: &str, key: StoreKey) -> Self {
        Self {
            client,
            keys: Keys::new(name),
            settings: StoreSettings::new(key),
            timeout: DEFAULT_REDIS_TIMEOUT,
            blocking: Mutex::new(None),
            #[cfg(any(feature = "tokio", feature = "smol"))]
            shared: Mutex::new(None),
        }
    }

    oauth_core::store_settings_setters!();

    /// How long connecting and each command may take (default [`DEFAULT_REDIS_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The names of the record's keys in Redis: the record (a hash of `v` and the sealed
    /// `t`), the lease, and the channel commits are published on.
    #[must_use]
    pub fn key_names(&self) -> [&str; 3] {
        [&self.keys.record, &self.keys.lease, &self.keys.channel]
    }

    /// Runs `command` on the cached blocking connection; a broken connection (Redis
    /// restarted) is replaced once.
    fn with_connection<T>(
        &self,
        command: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut cached = lock(&self.blocking);
        for attempt in 0..2 {
            let connection = match cached.as_mut() {
                Some(connection) => connection,
                None => cached.insert(self.connect()?),
            };
            match command(connection) {
                Ok(value) => return Ok(value),
                Err(error) if attempt == 0 && is_connection_error(&error) => *cached = None,
                Err(error) => {
                    *cached = None;
                    return Err(unreachable(&error));
                }
            }
        }
        Err(StoreError::Unreachable(
            "the connection kept failing".into(),
        ))
    }

    fn connect(&self) -> Result<redis::Connection, StoreError> {
        let connection = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| unreachable(&e))?;
        connection
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| connection.set_write_timeout(Some(self.timeout)))
            .map_err(|e| unreachable(&e))?;
        Ok(connection)
    }

    fn read_version(&self) -> Result<u64, StoreError> {
        let reply = self.execute(&StoreRequest::Read)?;
        Ok(scripts::version_of(&reply))
    }

    /// A blocking watch: subscribed first, then a look, then messages until `until`, looking
    /// at the version again each timeout slice in case a message was lost.
    fn watch(&self, seen: u64, until: SystemTime) -> Result<StoreReply, StoreError> {
        let mut connection = self.connect()?;
        let mut pubsub = connection.as_pubsub();
        pubsub
            .subscribe(&self.keys.channel)
            .map_err(|e| unreachable(&e))?;
        loop {
            if self.read_version()? != seen {
                return Ok(StoreReply::Changed);
            }
            let left = until.duration_since(SystemTime::now()).unwrap_or_default();
            if left.is_zero() {
                return Ok(StoreReply::Unchanged);
            }
            pubsub
                .set_read_timeout(Some(left.min(self.timeout)))
                .map_err(|e| unreachable(&e))?;
            match pubsub.get_message() {
                Ok(_) => return Ok(StoreReply::Changed),
                Err(error) if error.is_timeout() => {}
                Err(error) => return Err(unreachable(&error)),
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn is_connection_error(error: &redis::RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}

impl BlockingStore for RedisStore {
    fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    fn execute(&self, request: &StoreRequest) -> Result<StoreReply, StoreError> {
        if let StoreRequest::Watch { seen, until } = request {
            return self.watch(*seen, *until);
        }
        let Some(invocation) = scripts::invocation(&self.keys, request) else {
            return Err(StoreError::NotAttached);
        };
        let value = self.with_connection(|c| invocation.invoke::<redis::Value>(c))?;
        scripts::reply(request, value)
    }
}
