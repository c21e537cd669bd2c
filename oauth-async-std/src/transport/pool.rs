//! Keep-alive connections per origin, and the bound on how many an origin may have open.
//!
//! Each origin (scheme, host, port) has a semaphore of `max_connections_per_origin` permits and
//! a stack of idle connections. A request first takes a permit (waiting when every connection
//! of the origin is busy), then the most recently used idle connection, and opens a new one
//! only when none is idle. A connection goes back to the stack when its response body has been
//! read to the end, before its permit is released; so an origin never has more connections
//! open than it has permits, however many tasks send at once.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_lock::{Semaphore, SemaphoreGuardArc};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;

/// The request half of one HTTP/1.1 connection.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// The IO half of one HTTP/1.1 connection: hyper's `Connection` future, which reads and
/// writes the socket when polled.
type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// One HTTP/1.1 connection, driven by whoever uses it.
///
/// hyper's examples spawn the `Connection` future as a task of its own. Here the task that
/// sends a request polls it instead, together with the response it waits for and then with the
/// body it reads: the whole exchange runs on the caller's thread, with no hop to an executor
/// thread and back (on loopback those hops cost more than the request). An idle connection is
/// polled by nobody; one the server closed meanwhile is noticed when it is next taken, and a
/// request it refuses unsent goes to another.
pub(crate) struct Conn {
    pub(crate) sender: Sender,
    driver: Option<Driver>,
    /// How long the server keeps the connection open while idle, from its last response's
    /// `Keep-Alive: timeout=N` (RFC 9112 Appendix C.2.2 leaves it to the server to say).
    keep_alive: Option<Duration>,
}

impl Conn {
    pub(crate) fn new(
        sender: Sender,
        driver: impl Future<Output = hyper::Result<()>> + Send + 'static,
    ) -> Self {
        Self {
            sender,
            driver: Some(Box::pin(driver)),
            keep_alive: None,
        }
    }

    /// Records the idle timeout a response announced (`Keep-Alive: timeout=N`), if any.
    pub(crate) fn note_keep_alive(&mut self, headers: &oauth_core::http::HeaderMap) {
        self.keep_alive = headers
            .get_all("keep-alive")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("timeout")
                    .then(|| value.trim().trim_matches('"').parse::<u64>().ok())?
            })
            .next()
            .map(Duration::from_secs);
    }

    /// How long this connection may stay idle before reuse: the pool's limit, and a second
    /// less than the server's announced timeout, so that no request is written just as the
    /// server closes the connection (a POST lost that way cannot be sent again).
    fn idle_limit(&self, pool_limit: Duration) -> Duration {
        self.keep_alive.map_or(pool_limit, |server| {
            pool_limit.min(server.saturating_sub(KEEP_ALIVE_MARGIN))
        })
    }

    /// Lets the connection read and write what it can; `false` once it has ended, after which
    /// every exchange waiting on it fails.
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(driver) = &mut self.driver {
            if driver.as_mut().poll(cx).is_ready() {
                // Dropping hyper's connection fails whatever still waits on it.
                self.driver = None;
            }
        }
        self.driver.is_some()
    }

    /// Waits for `future` (an exchange on this connection) while driving the connection.
    pub(crate) async fn drive<F: Future>(driver: &mut Option<Driver>, future: F) -> F::Output {
        let mut future = pin!(future);
        poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            if let Some(running) = driver {
                if running.as_mut().poll(cx).is_ready() {
                    *driver = None;
                }
                // The connection may have made what `future` waits for.
                return future.as_mut().poll(cx);
            }
            Poll::Pending
        })
        .await
    }

    /// Waits until the connection can take a request; `false` when it cannot any more.
    pub(crate) async fn ready(&mut self) -> bool {
        // Nobody polled the connection while it was idle: let it read first, so that a close
        // the server sent meanwhile is seen now rather than after a request was written.
        poll_fn(|cx| {
            self.poll_drive(cx);
            Poll::Ready(())
        })
        .await;
        !self.is_closed()
            && Self::drive(&mut self.driver, self.sender.ready())
                .await
                .is_ok()
    }

    /// Sends `request` and waits for the response head.
    pub(crate) async fn send(
        &mut self,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<
        hyper::Response<hyper::body::Incoming>,
        hyper::client::conn::TrySendError<hyper::Request<Full<Bytes>>>,
    > {
        let response = self.sender.try_send_request(request);
        Self::drive(&mut self.driver, response).await
    }

    fn is_closed(&self) -> bool {
        self.driver.is_none() || self.sender.is_closed()
    }
}

/// Where a connection goes: requests to one origin share its connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    /// The host as it goes to the resolver and to TLS: no brackets around IPv6 literals.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// How much sooner than the server's announced keep-alive timeout an idle connection is
/// dropped.
const KEEP_ALIVE_MARGIN: Duration = Duration::from_secs(1);

/// Every origin's pool.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    origins: Mutex<HashMap<Origin, Arc<OriginPool>>>,
}

impl Pools {
    pub(crate) fn get(&self, origin: &Origin, max_connections: usize) -> Arc<OriginPool> {
        let mut origins = lock(&self.origins);
        if let Some(pool) = origins.get(origin) {
            return Arc::clone(pool);
        }
        let pool = Arc::new(OriginPool {
            slots: Arc::new(Semaphore::new(max_connections)),
            idle: Mutex::new(Vec::new()),
            max_idle: max_connections,
        });
        origins.insert(origin.clone(), Arc::clone(&pool));
        pool
    }
}

/// One origin's connections.
pub(crate) struct OriginPool {
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
}

impl fmt::Debug for OriginPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginPool")
            .field("idle", &lock(&self.idle).len())
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl OriginPool {
    /// Waits until the origin has a connection slot free.
    pub(crate) async fn slot(&self) -> SemaphoreGuardArc {
        self.slots.acquire_arc().await
    }

    /// The most recently used idle connection that is still open and not idle for longer than
    /// `idle_timeout`; closed and stale ones are dropped on the way.
    pub(crate) fn take_idle(&self, idle_timeout: Duration) -> Option<Conn> {
        let mut idle = lock(&self.idle);
        // Bounded: each turn pops one entry.
        while let Some(entry) = idle.pop() {
            if !entry.conn.is_closed()
                && entry.since.elapsed() < entry.conn.idle_limit(idle_timeout)
            {
                return Some(entry.conn);
            }
        }
        None
    }

    fn put_idle(&self, conn: Conn) {
        if conn.is_closed() {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }
}

/// A connection in use, with the slot it occupies. Released to the pool when the response
/// body is complete; dropped otherwise, which closes the connection and frees the slot.
pub(crate) struct Lease {
    pub(crate) conn: Conn,
    pub(crate) slot: SemaphoreGuardArc,
    pub(crate) pool: Arc<OriginPool>,
}

impl Lease {
    /// Gives the connection back for reuse, then frees its slot: in this order a task waiting
    /// for the slot finds the connection idle instead of opening another.
    pub(crate) fn release(self) {
        let Self { conn, slot, pool } = self;
        pool.put_idle(conn);
        drop(slot);
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
