//! The stub's threads: one accepting connections, one per connection reading requests and
//! writing the scripted answers.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use http::header::CONNECTION;
use http::{Method, StatusCode};

use super::{Body, Fault, JSON, Kind, Recorded, TokenShape};
use crate::HarnessError;
use crate::wire::{Framing, Head, WireReader};

/// How often blocked stub threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// How long the stub waits for a client that does not read what it writes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request body the stub reads.
const MAX_REQUEST_BODY: usize = 16 << 20;

/// The stub server. Stops its threads on drop.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Fault>,
    default: Option<Fault>,
    recorded: Vec<Recorded>,
    connections: usize,
    tokens_sent: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker must not hide the requests it recorded from the test.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaultServer {
    /// Starts a stub on a free port of `127.0.0.1` with an empty script: until faults are
    /// pushed, every request gets `500` `no scripted response`.
    ///
    /// # Errors
    /// [`HarnessError::Io`] when it cannot listen or spawn its thread.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with(None)
    }

    /// Starts a stub that answers `fault` whenever the script is empty, e.g. always
    /// [`Fault::token`] for benchmarks and stress tests.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn with_default(fault: Fault) -> Result<Self, HarnessError> {
        Self::start_with(Some(fault))
    }

    fn start_with(default: Option<Fault>) -> Result<Self, HarnessError> {
        let io = |context: &str| {
            let context = context.to_owned();
            move |source| HarnessError::Io { context, source }
        };
        let listener = TcpListener::bind("127.0.0.1:0").map_err(io("fault server: bind"))?;
        let addr = listener
            .local_addr()
            .map_err(io("fault server: local address"))?;
        let shared = Arc::new(Shared::default());
        lock(&shared.state).default = default;
        let accept = thread::Builder::new()
            .name(format!("fault-server-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(&listener, &shared)
            })
            .map_err(io("fault server: spawn accept thread"))?;
        Ok(Self {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Appends a fault to the script.
    pub fn push(&self, fault: Fault) {
        lock(&self.shared.state).queue.push_back(fault);
    }

    /// Appends several faults to the script, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared.state).queue.extend(faults);
    }

    /// How many scripted faults are still waiting for a request.
    #[must_use]
    pub fn pending(&self) -> usize {
        lock(&self.shared.state).queue.len()
    }

    /// `http://127.0.0.1:<port>{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request read so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.state).recorded.clone()
    }

    /// How many connections were accepted so far.
    #[must_use]
    pub fn connections(&self) -> usize {
        lock(&self.shared.state).connections
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept call; the loop then sees the flag.
        let _wake = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // Out of descriptors, say: back off instead of spinning.
            thread::sleep(POLL);
            continue;
        };
        let id = {
            let mut state = lock(&shared.state);
            state.connections += 1;
            state.connections
        };
        let spawned = thread::Builder::new()
            .name(format!("fault-server-conn-{id}"))
            .spawn({
                let shared = Arc::clone(shared);
                move || serve_connection(stream, id, &shared)
            });
        if let Ok(handle) = spawned {
            let mut workers = lock(&shared.workers);
            workers.retain(|w| !w.is_finished());
            workers.push(handle);
        }
    }
}

/// A stream whose reads give up when the server stops.
struct Stoppable<'a> {
    stream: &'a TcpStream,
    stop: &'a AtomicBool,
}

impl Read for Stoppable<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(io::Error::other("fault server stopping"));
                    }
                }
                other => return other,
            }
        }
    }
}

fn serve_connection(stream: TcpStream, id: usize, shared: &Shared) {
    if stream.set_read_timeout(Some(POLL)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut reader = WireReader::new(Stoppable {
        stream: &stream,
        stop: &shared.stop,
    });
    loop {
        let Ok(Some(raw)) = reader.read_head() else {
            return;
        };
        let Ok(head) = Head::parse(&raw) else {
            return;
        };
        // Clients that ask before sending a body (RFC 9110 §10.1.1) get their go-ahead.
        if head.has_token(http::header::EXPECT, "100-continue")
            && (&stream)
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .is_err()
        {
            return;
        }
        let body = match head.framing(Framing::Length(0)) {
            Ok(Framing::Length(n)) if n <= MAX_REQUEST_BODY => reader.read_exact_body(n),
            Ok(Framing::Chunked) => reader.read_chunked(MAX_REQUEST_BODY),
            _ => return,
        };
        let Ok(body) = body else {
            return;
        };
        let keep_alive = head.start[2] == "HTTP/1.1" && !head.has_token(CONNECTION, "close");
        let fault = {
            let mut state = lock(&shared.state);
            state.recorded.push(Recorded {
                method: Method::from_bytes(head.start[0].as_bytes()).unwrap_or_default(),
                path: head.start[1].clone(),
                headers: head.headers,
                body,
                connection: id,
            });
            state
                .queue
                .pop_front()
                .or_else(|| state.default.clone())
                .unwrap_or_else(|| Fault::respond(500, "text/plain", "no scripted response"))
        };
        match answer(&stream, fault, keep_alive, shared) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Writes the answer; `Ok(true)` when the connection stays open for the next request.
fn answer(
    mut stream: &TcpStream,
    fault: Fault,
    keep_alive: bool,
    shared: &Shared,
) -> io::Result<bool> {
    match fault.kind {
        Kind::Answer {
            status,
            headers,
            body,
        } => {
            let body = match body {
                Body::Fixed(bytes) => bytes,
                Body::Token(shape) => {
                    let n = {
                        let mut state = lock(&shared.state);
                        state.tokens_sent += 1;
                        state.tokens_sent
                    };
                    token_body(shape, n)
                }
            };
            let mut head = status_line(status);
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            if !keep_alive {
                head.push_str("Connection: close\r\n");
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            stream.write_all(&bytes)?;
            stream.flush()?;
            Ok(keep_alive)
        }
        Kind::Slow { delay, then } => {
            let until = Instant::now() + delay;
            while Instant::now() < until {
                if shared.stop.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
            }
            answer(stream, *then, keep_alive, shared)
        }
        Kind::DropMidResponse => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Le")?;
            stream.flush()?;
            Ok(false)
        }
        Kind::CloseWithoutResponse => Ok(false),
        Kind::Oversized(len) => {
            let head = format!(
                "{}Content-Type: {JSON}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
                status_line(200)
            );
            stream.write_all(head.as_bytes())?;
            let piece = [b'x'; 16 * 1024];
            let mut left = len;
            while left > 0 && !shared.stop.load(Ordering::SeqCst) {
                let n = left.min(piece.len());
                stream.write_all(&piece[..n])?;
                left -= n;
            }
            Ok(false)
        }
        Kind::Raw(bytes) => {
            stream.write_all(&bytes)?;
            stream.flush()?;
            Ok(false)
        }
    }
}

fn status_line(status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    format!("HTTP/1.1 {status} {reason}\r\n")
}

fn token_body(shape: TokenShape, n: u64) -> Vec<u8> {
    match shape {
        TokenShape::Json => format!(
            r#"{{"access_token":"stub-at-{n}","token_type":"Bearer","expires_in":3600,"refresh_token":"stub-rt-{n}","scope":"profile email"}}"#
        ),
        TokenShape::StringExpiresIn => format!(
            r#"{{"access_token":"stub-at-{n}","token_type":"Bearer","expires_in":"3600","refresh_token":"stub-rt-{n}","scope":"profile email"}}"#
        ),
        TokenShape::Form => format!(
            "access_token=stub-at-{n}&token_type=bearer&expires_in=3600&refresh_token=stub-rt-{n}&scope=profile+email"
        ),
    }
    .into_bytes()
}
