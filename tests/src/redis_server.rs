//! A real `redis-server` (Debian's package) for the store tests: a child process on a free
//! loopback port with persistence off, stopped (by its handle) when dropped, and a tiny RESP
//! client for the harness's own look at its raw contents.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::HarnessError;

/// A `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

/// A reply of the RESP protocol, as the harness reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    /// `+OK`
    Simple(String),
    /// `-ERR …`
    Error(String),
    /// `:1`
    Integer(i64),
    /// A bulk string (`None`: nil).
    Bulk(Option<Vec<u8>>),
    /// An array.
    Array(Vec<Self>),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let context = context.into();
    move |source| HarnessError::Io { context, source }
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port (no RDB, no AOF) and waits (at most 10 s)
    /// until it answers `PING`.
    ///
    /// # Errors
    /// [`HarnessError::ServerStart`] when it cannot be spawned (install Debian's
    /// `redis-server`) or does not answer.
    pub fn start() -> Result<Self, HarnessError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(io("redis: pick a free port"))?
            .port();
        Self::start_on(port)
    }

    /// Starts it on `port` (a restart on the port of one that stopped).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_on(port: u16) -> Result<Self, HarnessError> {
        let dir = std::env::temp_dir().join(format!("oauth-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io("redis: make its directory"))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::ServerStart {
                reason: format!("cannot spawn redis-server (apt-get install redis-server): {e}"),
                log: String::new(),
            })?;
        let mut server = Self {
            child: Some(child),
            port,
            dir,
        };
        let started = Instant::now();
        loop {
            if let Ok(Resp::Simple(pong)) = server.command(&["PING"]) {
                if pong == "PONG" {
                    return Ok(server);
                }
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(Child::try_wait) {
                return Err(HarnessError::ServerStart {
                    reason: format!("redis-server on port {port} exited: {status}"),
                    log: String::new(),
                });
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(HarnessError::ServerStart {
                    reason: format!("redis-server on port {port} did not answer PING in 10 s"),
                    log: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:<port>/`
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (`SIGKILL`) and waits for it: its contents are gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts a new one on the same port, empty (a restart without persistence).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill();
        let fresh = Self::start_on(self.port)?;
        *self = fresh;
        Ok(())
    }

    /// Sends one command and reads its reply.
    ///
    /// # Errors
    /// [`HarnessError::Io`] when the server cannot be reached, [`HarnessError::Protocol`] on a
    /// malformed reply.
    pub fn command(&self, args: &[&str]) -> Result<Resp, HarnessError> {
        let context = format!("redis {}", args.first().copied().unwrap_or_default());
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(io(context.clone()))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(io(context.clone()))?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        stream.write_all(&request).map_err(io(context.clone()))?;
        read_reply(&mut BufReader::new(stream), &context)
    }

    /// Every key and the raw bytes it holds (a string's value; a hash's fields and values), to
    /// look for anything stored in clear.
    ///
    /// # Errors
    /// As [`command`](Self::command).
    pub fn raw_contents(&self) -> Result<Vec<(String, Vec<u8>)>, HarnessError> {
        let Resp::Array(keys) = self.command(&["KEYS", "*"])? else {
            return Ok(Vec::new());
        };
        let mut contents = Vec::new();
        for key in keys {
            let Resp::Bulk(Some(key)) = key else { continue };
            let key = String::from_utf8_lossy(&key).into_owned();
            let value = match self.command(&["TYPE", &key])? {
                Resp::Simple(kind) if kind == "hash" => self.command(&["HGETALL", &key])?,
                _ => self.command(&["GET", &key])?,
            };
            contents.push((key, flatten(value)));
        }
        Ok(contents)
    }
}

fn flatten(reply: Resp) -> Vec<u8> {
    match reply {
        Resp::Bulk(Some(bytes)) => bytes,
        Resp::Array(items) => items.into_iter().flat_map(flatten).collect(),
        Resp::Simple(text) | Resp::Error(text) => text.into_bytes(),
        Resp::Integer(n) => n.to_string().into_bytes(),
        Resp::Bulk(None) => Vec::new(),
    }
}

fn read_reply(reader: &mut impl BufRead, context: &str) -> Result<Resp, HarnessError> {
    let protocol = |reason: &str| HarnessError::Protocol {
        context: context.to_owned(),
        reason: reason.to_owned(),
    };
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(io(context.to_owned()))?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line
        .split_at_checked(1)
        .ok_or_else(|| protocol("empty reply"))?;
    let number = || rest.parse::<i64>().map_err(|_| protocol("bad length"));
    Ok(match kind {
        "+" => Resp::Simple(rest.to_owned()),
        "-" => Resp::Error(rest.to_owned()),
        ":" => Resp::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Resp::Bulk(None),
            Ok(len) => {
                let mut bytes = vec![0; len + 2];
                reader
                    .read_exact(&mut bytes)
                    .map_err(io(context.to_owned()))?;
                bytes.truncate(len);
                Resp::Bulk(Some(bytes))
            }
        },
        "*" => {
            let count = usize::try_from(number()?).unwrap_or(0);
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                items.push(read_reply(reader, context)?);
            }
            Resp::Array(items)
        }
        _ => return Err(protocol("unknown reply type")),
    })
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
