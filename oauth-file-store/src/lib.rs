//! # oauth-file-store: a token shared by the runs of a command-line tool
//!
//! The file backend of `oauth-core`'s token store, for tools whose runs (often several at
//! once: a shell loop, parallel jobs) share one login: each run adopts the stored token, and
//! when it is due one run renews while the others wait for it, so a rotating refresh token is
//! never presented twice. The protocol (leases, versions, who waits, who renews) is
//! `oauth-core`'s `store` module; this crate carries its steps out on files:
//!
//! | file | holds |
//! |---|---|
//! | `PATH` | the record: its version and the token sealed with AES-256-GCM under the caller's key |
//! | `PATH.lease` | the lease: its owner and when it expires |
//! | `PATH.lock` | locked (the operating system's exclusive file lock) while one step runs; a process that dies lets go of it |
//!
//! Every file is written whole to a temporary file, then renamed over the old one (readers
//! never see half a record), and created owner-only (`0600` on Unix). A watch looks at the
//! record's version every 50 ms until it changes or the watch's deadline.
//!
//! It is a [`BlockingStore`] (give it to `oauth-ureq`'s builder); for fleets of services use
//! `oauth-redis`.
//!
//! ```no_run
//! use oauth_core::store::StoreKey;
//! use oauth_file_store::FileStore;
//!
//! let key = StoreKey::from_base64url(&std::env::var("MY_TOOL_STORE_KEY")?)?;
//! let store = FileStore::new(dirs_next_home().join(".my-tool/token"), key);
//! let session = oauth_ureq::OAuth2Session::builder("my-tool")
//!     .token_endpoint("https://auth.example/token")
//!     .store(store)
//!     .build()?;
//! # fn dirs_next_home() -> std::path::PathBuf { std::path::PathBuf::from("/tmp") }
//! # let _ = session;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::store::{
    BlockingStore, StoreError, StoreKey, StoreRecord, StoreReply, StoreRequest, StoreSettings,
};
use serde::{Deserialize, Serialize};

/// How often a watch looks at the record.
const WATCH_POLL: Duration = Duration::from_millis(50);
/// How long a step waits for another step's lock before the store counts as unreachable.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// A token store in files (see the [crate documentation](crate)).
#[derive(Debug)]
pub struct FileStore {
    record: PathBuf,
    lease: PathBuf,
    lock: PathBuf,
    settings: StoreSettings,
}

#[derive(Serialize, Deserialize)]
struct RecordFile {
    version: u64,
    sealed: String,
}

#[derive(Serialize, Deserialize)]
struct LeaseFile {
    owner: String,
    until_ms: u128,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn unreachable(what: &str, error: &io::Error) -> StoreError {
    StoreError::Unreachable(format!("{what}: {error}"))
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Opens `path` for writing, new, owner-only.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes `bytes` to `path` whole: a temporary file beside it, synced, renamed over it.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = with_suffix(path, &format!(".{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temporary);
    let mut file = create_private(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)
}

/// A held step lock: the operating system's exclusive lock on `PATH.lock` (`flock` on Unix),
/// released when the file is closed, also when the process dies.
struct Locked(#[allow(dead_code, reason = "held for its lock")] File);

impl FileStore {
    /// A store at `path` (its directory must exist), sealing tokens with `key`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, key: StoreKey) -> Self {
        let record = path.into();
        Self {
            lease: with_suffix(&record, ".lease"),
            lock: with_suffix(&record, ".lock"),
            record,
            settings: StoreSettings::new(key),
        }
    }

    oauth_core::store_settings_setters!();

    /// The record's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.record
    }

    fn lock(&self) -> Result<Locked, StoreError> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&self.lock)
            .map_err(|e| unreachable("open the lock", &e))?;
        let deadline = SystemTime::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Locked(file)),
                Err(std::fs::TryLockError::WouldBlock) if SystemTime::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Unreachable("the store stayed locked".into()));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(unreachable("lock the store", &e));
                }
            }
        }
    }

    fn read_record(&self) -> Result<Option<StoreRecord>, StoreError> {
        let bytes = match fs::read(&self.record) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreachable("read the record", &e)),
        };
        let file: RecordFile = serde_json::from_slice(&bytes)
            .map_err(|_| StoreError::Unreadable("the record file is damaged"))?;
        let sealed = URL_SAFE_NO_PAD
            .decode(file.sealed)
            .map_err(|_| StoreError::Unreadable("the record file is damaged"))?;
        Ok(Some(StoreRecord {
            version: file.version,
            sealed,
        }))
    }

    fn write_record(&self, version: u64, sealed: &[u8]) -> Result<(), StoreError> {
        let file = RecordFile {
            version,
            sealed: URL_SAFE_NO_PAD.encode(sealed),
        };
        let bytes = serde_json::to_vec(&file).map_err(|_| StoreError::Unreadable("encode"))?;
        replace(&self.record, &bytes).map_err(|e| unreachable("write the record", &e))
    }

    /// The lease's owner while it has not expired.
    fn lease_owner(&self) -> Result<Option<String>, StoreError> {
        let bytes = match fs::read(&self.lease) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreachable("read the lease", &e)),
        };
        let lease: Option<LeaseFile> = serde_json::from_slice(&bytes).ok();
        Ok(lease.filter(|l| now_ms() < l.until_ms).map(|l| l.owner))
    }

    fn free_lease_of(&self, owner: &str) -> Result<(), StoreError> {
        if self.lease_owner()?.as_deref() == Some(owner) {
            fs::remove_file(&self.lease).map_err(|e| unreachable("free the lease", &e))?;
        }
        Ok(())
    }

    fn watch(&self, seen: u64, until: SystemTime) -> Result<StoreReply, StoreError> {
        loop {
            let version = self.read_record()?.map_or(0, |r| r.version);
            if version != seen {
                return Ok(StoreReply::Changed);
            }
            let left = until.duration_since(SystemTime::now()).unwrap_or_default();
            if left.is_zero() {
                return Ok(StoreReply::Unchanged);
            }
            std::thread::sleep(left.min(WATCH_POLL));
        }
    }
}

impl BlockingStore for FileStore {
    fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    fn execute(&self, request: &StoreRequest) -> Result<StoreReply, StoreError> {
        if let StoreRequest::Watch { seen, until } = request {
            return self.watch(*seen, *until);
        }
        let _locked = self.lock()?;
        let record = self.read_record()?;
        let current = record.as_ref().map_or(0, |r| r.version);
        Ok(match request {
            StoreRequest::Read => StoreReply::Record(record),
            StoreRequest::Acquire { lease, ttl } => {
                let owner = self.lease_owner()?;
                if owner.is_some_and(|owner| owner != lease.as_str()) {
                    StoreReply::Busy(record)
                } else {
                    let file = LeaseFile {
                        owner: lease.as_str().to_owned(),
                        until_ms: now_ms() + ttl.as_millis(),
                    };
                    let bytes =
                        serde_json::to_vec(&file).map_err(|_| StoreError::Unreadable("encode"))?;
                    replace(&self.lease, &bytes).map_err(|e| unreachable("take the lease", &e))?;
                    StoreReply::Acquired(record)
                }
            }
            StoreRequest::Commit {
                lease,
                expected,
                version,
                sealed,
            } => {
                if current != *expected {
                    return Ok(StoreReply::Conflict(record));
                }
                self.write_record(*version, sealed)?;
                self.free_lease_of(lease.as_str())?;
                StoreReply::Committed { version: *version }
            }
            StoreRequest::Put { at_least, sealed } => {
                let version = current.max(*at_least) + 1;
                self.write_record(version, sealed)?;
                StoreReply::Committed { version }
            }
            StoreRequest::Release { lease } => {
                self.free_lease_of(lease.as_str())?;
                StoreReply::Released
            }
            other => {
                return Err(StoreError::Protocol {
                    request: other.name(),
                    reply: "a step this store does not know".into(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use oauth_core::store::{
        BlockingStore, LeaseId, StoreError, StoreKey, StoreReply, StoreRequest,
    };
    use proptest::prelude::*;

    use super::FileStore;

    fn store(name: &str) -> FileStore {
        let dir =
            std::env::temp_dir().join(format!("oauth-file-store-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        FileStore::new(dir.join(name), StoreKey::from_bytes([5; 32]))
    }

    proptest! {
        /// A damaged record file (any bytes): a typed error naming it, never a panic.
        #[test]
        fn a_damaged_record_is_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let store = store("damaged");
            std::fs::write(store.path(), &bytes).expect("write");
            match store.execute(&StoreRequest::Read) {
                Ok(StoreReply::Record(_)) => {}
                Err(StoreError::Unreadable(what)) => prop_assert!(what.contains("damaged")),
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn a_lease_is_the_owners_until_released_and_a_commit_needs_the_version() {
        let store = store("lease");
        let _ = std::fs::remove_file(store.path());
        let (a, b) = (LeaseId::from_text("a"), LeaseId::from_text("b"));
        let ttl = std::time::Duration::from_secs(60);
        let acquire = |lease: &LeaseId| StoreRequest::Acquire {
            lease: lease.clone(),
            ttl,
        };
        assert_eq!(store.execute(&acquire(&a)), Ok(StoreReply::Acquired(None)));
        assert_eq!(
            store.execute(&acquire(&a)),
            Ok(StoreReply::Acquired(None)),
            "a retry"
        );
        assert_eq!(store.execute(&acquire(&b)), Ok(StoreReply::Busy(None)));
        let commit = |expected| StoreRequest::Commit {
            lease: a.clone(),
            expected,
            version: 1,
            sealed: vec![7],
        };
        assert!(matches!(
            store.execute(&commit(3)),
            Ok(StoreReply::Conflict(None))
        ));
        assert_eq!(
            store.execute(&commit(0)),
            Ok(StoreReply::Committed { version: 1 })
        );
        assert!(matches!(
            store.execute(&acquire(&b)),
            Ok(StoreReply::Acquired(Some(_)))
        ));
        let release = StoreRequest::Release { lease: a.clone() };
        assert_eq!(store.execute(&release), Ok(StoreReply::Released));
        assert!(
            matches!(store.execute(&acquire(&a)), Ok(StoreReply::Busy(_))),
            "b's"
        );
    }
}
