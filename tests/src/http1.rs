//! A tiny blocking HTTP/1.1 client (RFC 9112) over [`std::net::TcpStream`]: the harness's own
//! calls to the test routes, and a transport for driving the sans-IO core by hand.
//!
//! One request per connection (`Connection: close`), plain `http` only, no redirects followed,
//! no TLS. The timeout bounds the whole exchange: connecting, writing and every read share one
//! deadline, so a server that trickles bytes cannot stretch it.
//!
//! ```no_run
//! use std::time::Duration;
//! let request = http::Request::get("http://127.0.0.1:8080/test/stats").body(Vec::new())?;
//! let response = oauth_tests::http1::send(&request, Duration::from_secs(5))?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Method, Request, Response, StatusCode, Version};

use crate::HarnessError;
use crate::wire::{Framing, Head, WireError, WireReader};

/// The largest response body [`send`] accepts: 1 MiB.
pub const MAX_BODY: usize = 1 << 20;

/// Sends `request` and reads the whole response.
///
/// Sets `Host`, `Content-Length` and `Connection: close` (replacing any the request has);
/// every other header is sent as given. The body is read by `Content-Length`, chunked coding
/// or until the server closes, and may be at most [`MAX_BODY`] bytes. Interim `1xx` responses
/// are skipped.
///
/// # Errors
/// [`HarnessError::InvalidRequest`] for a URI that is not absolute `http://`,
/// [`HarnessError::Timeout`] when `timeout` elapses, [`HarnessError::Io`] for socket errors,
/// [`HarnessError::Protocol`] for an answer that is not HTTP/1.1 or stops in the middle, and
/// [`HarnessError::BodyTooLarge`].
pub fn send(
    request: &Request<Vec<u8>>,
    timeout: Duration,
) -> Result<Response<Vec<u8>>, HarnessError> {
    let context = format!("{} {}", request.method(), request.uri());
    let target = Target::of(request)?;
    let deadline = Instant::now() + timeout;
    let fail = |e: WireError| wire_error(&context, timeout, e);

    let stream = connect(&target, deadline).map_err(|e| io_error(&context, timeout, e))?;
    let head = request_head(request, &target);
    let mut writer = Deadlined {
        stream: &stream,
        deadline,
    };
    writer
        .write_all(&head)
        .and_then(|()| writer.write_all(request.body()))
        .and_then(|()| writer.flush())
        .map_err(|e| io_error(&context, timeout, e))?;

    let mut reader = WireReader::new(Deadlined {
        stream: &stream,
        deadline,
    });
    loop {
        let raw = reader
            .read_head()
            .map_err(fail)?
            .ok_or_else(|| fail(WireError::Eof("before any response byte")))?;
        let head = Head::parse(&raw).map_err(fail)?;
        let status = parse_status(&head).map_err(fail)?;
        if status.is_informational() {
            continue;
        }
        let no_body = request.method() == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let body = if no_body {
            Vec::new()
        } else {
            match head.framing(Framing::UntilClose).map_err(fail)? {
                Framing::Length(n) if n > MAX_BODY => return Err(fail(WireError::TooLarge)),
                Framing::Length(n) => reader.read_exact_body(n),
                Framing::Chunked => reader.read_chunked(MAX_BODY),
                Framing::UntilClose => reader.read_to_close(MAX_BODY),
            }
            .map_err(fail)?
        };
        let version = if head.start[0] == "HTTP/1.0" {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.version_mut() = version;
        *response.headers_mut() = head.headers;
        return Ok(response);
    }
}

/// Where a request goes.
struct Target {
    host: String,
    port: u16,
    /// The `Host` header value: the authority as written in the URI.
    authority: String,
    path_and_query: String,
}

impl Target {
    fn of(request: &Request<Vec<u8>>) -> Result<Self, HarnessError> {
        let uri = request.uri();
        let invalid = |reason: &str| HarnessError::InvalidRequest {
            reason: format!("{reason}: {uri}"),
        };
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(invalid("only plain http is supported")),
            None => return Err(invalid("the URI must be absolute")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host in URI"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Self {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

fn connect(target: &Target, deadline: Instant) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
    for addr in addrs {
        let remaining = remaining(deadline)?;
        match TcpStream::connect_timeout(&addr, remaining) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn request_head(request: &Request<Vec<u8>>, target: &Target) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\n",
        request.method(),
        target.path_and_query,
        target.authority
    )
    .into_bytes();
    for (name, value) in request.headers() {
        if [HOST, CONTENT_LENGTH, CONNECTION, TRANSFER_ENCODING].contains(name) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            request.body().len()
        )
        .as_bytes(),
    );
    head
}

fn parse_status(head: &Head) -> Result<StatusCode, WireError> {
    if !head.start[0].starts_with("HTTP/1.") {
        return Err(WireError::Malformed(format!(
            "status line starts with {:?}",
            head.start[0]
        )));
    }
    StatusCode::from_bytes(head.start[1].as_bytes())
        .map_err(|_| WireError::Malformed(format!("bad status code {:?}", head.start[1])))
}

/// The time left before `deadline`, or a `TimedOut` error.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
    } else {
        Ok(left)
    }
}

/// A stream whose every read and write is bounded by one deadline.
struct Deadlined<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream
            .set_read_timeout(Some(remaining(self.deadline)?))?;
        self.stream.read(buf)
    }
}

impl Write for Deadlined<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream
            .set_write_timeout(Some(remaining(self.deadline)?))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

fn io_error(context: &str, timeout: Duration, e: io::Error) -> HarnessError {
    if is_timeout(&e) {
        HarnessError::Timeout {
            context: context.to_owned(),
            after: timeout,
        }
    } else {
        HarnessError::Io {
            context: context.to_owned(),
            source: e,
        }
    }
}

fn wire_error(context: &str, timeout: Duration, e: WireError) -> HarnessError {
    match e {
        WireError::Io(e) => io_error(context, timeout, e),
        WireError::Eof(when) => HarnessError::Protocol {
            context: context.to_owned(),
            reason: format!("connection closed {when}"),
        },
        WireError::Malformed(reason) => HarnessError::Protocol {
            context: context.to_owned(),
            reason,
        },
        WireError::TooLarge => HarnessError::BodyTooLarge {
            context: context.to_owned(),
            limit: MAX_BODY,
        },
    }
}
