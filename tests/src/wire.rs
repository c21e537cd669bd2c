//! HTTP/1.1 message framing (RFC 9112) shared by the harness's client and its stub server:
//! a buffered reader that finds the end of a head, and reads bodies by `Content-Length`, by
//! chunked coding (§7.1) or until the connection closes.

use std::io::{self, Read};

use http::{HeaderMap, HeaderName, HeaderValue};

/// The largest head (start line and headers) either side accepts.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// Why a message could not be read.
#[derive(Debug)]
pub(crate) enum WireError {
    Io(io::Error),
    /// The connection closed before the message was complete.
    Eof(&'static str),
    Malformed(String),
    TooLarge,
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// A reader that keeps what it read past the current message.
pub(crate) struct WireReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> WireReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(8 * 1024),
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    fn fill(&mut self) -> Result<usize, WireError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.inner.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Reads a head up to and including the blank line. `Ok(None)` when the stream ends
    /// before any byte of a new message (a peer closing an idle keep-alive connection).
    pub(crate) fn read_head(&mut self) -> Result<Option<Vec<u8>>, WireError> {
        let mut searched: usize = 0;
        loop {
            // Resume the search where the last one stopped, minus a partial terminator.
            let from = searched.saturating_sub(3);
            if let Some(end) = find(&self.buf[from..], b"\r\n\r\n") {
                let end = from + end + 4;
                return Ok(Some(self.take(end)));
            }
            searched = self.buf.len();
            if searched > MAX_HEAD {
                return Err(WireError::Malformed(format!(
                    "head longer than {MAX_HEAD} bytes"
                )));
            }
            if self.fill()? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(WireError::Eof("in the middle of the head"))
                };
            }
        }
    }

    /// Reads one CRLF-terminated line, without the CRLF.
    fn read_line(&mut self) -> Result<Vec<u8>, WireError> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let mut line = self.take(end + 2);
                line.truncate(end);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(WireError::Malformed("chunk line too long".into()));
            }
            if self.fill()? == 0 {
                return Err(WireError::Eof("in a chunk line"));
            }
        }
    }

    /// Reads exactly `n` body bytes.
    pub(crate) fn read_exact_body(&mut self, n: usize) -> Result<Vec<u8>, WireError> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(WireError::Eof("before Content-Length bytes arrived"));
            }
        }
        Ok(self.take(n))
    }

    /// Decodes a chunked body (RFC 9112 §7.1), trailers discarded, at most `limit` bytes.
    pub(crate) fn read_chunked(&mut self, limit: usize) -> Result<Vec<u8>, WireError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let line = String::from_utf8_lossy(&line);
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| WireError::Malformed(format!("bad chunk size {size:?}")))?;
            if size == 0 {
                // Trailer fields, up to the blank line.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > limit {
                return Err(WireError::TooLarge);
            }
            body.extend_from_slice(&self.read_exact_body(size)?);
            if !self.read_line()?.is_empty() {
                return Err(WireError::Malformed(
                    "chunk data longer than its size".into(),
                ));
            }
        }
    }

    /// Reads until the peer closes, at most `limit` bytes.
    pub(crate) fn read_to_close(&mut self, limit: usize) -> Result<Vec<u8>, WireError> {
        loop {
            if self.buf.len() > limit {
                return Err(WireError::TooLarge);
            }
            if self.fill()? == 0 {
                return Ok(std::mem::take(&mut self.buf));
            }
        }
    }
}

/// A parsed head: the three parts of the start line and the header fields.
pub(crate) struct Head {
    pub(crate) start: [String; 3],
    pub(crate) headers: HeaderMap,
}

/// How the body of a message is delimited.
pub(crate) enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

impl Head {
    /// Parses a head as returned by [`WireReader::read_head`].
    pub(crate) fn parse(raw: &[u8]) -> Result<Self, WireError> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| WireError::Malformed("head is not UTF-8".into()))?;
        let mut lines = text.split("\r\n");
        let start_line = lines.next().unwrap_or_default();
        let mut parts = start_line.splitn(3, ' ');
        let mut part = || parts.next().unwrap_or_default().to_owned();
        let start = [part(), part(), part()];
        if start[1].is_empty() {
            return Err(WireError::Malformed(format!(
                "bad start line {start_line:?}"
            )));
        }
        let mut headers = HeaderMap::new();
        for line in lines.take_while(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| WireError::Malformed(format!("header line without ':' {line:?}")))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| WireError::Malformed(format!("bad header name {name:?}")))?;
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| WireError::Malformed(format!("bad value for header {name}")))?;
            headers.append(name, value);
        }
        Ok(Self { start, headers })
    }

    /// The body framing the headers announce (RFC 9112 §6.3); `no_length` is what a message
    /// without either header gets (until close for responses, empty for requests).
    pub(crate) fn framing(&self, no_length: Framing) -> Result<Framing, WireError> {
        if let Some(te) = self.headers.get(http::header::TRANSFER_ENCODING) {
            let te = te.to_str().unwrap_or_default().to_ascii_lowercase();
            return Ok(if te.trim().ends_with("chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        }
        match self.headers.get(http::header::CONTENT_LENGTH) {
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .map(Framing::Length)
                .ok_or_else(|| WireError::Malformed("bad Content-Length".into())),
            None => Ok(no_length),
        }
    }

    /// Whether a header's comma-separated values hold `token` (case-insensitive).
    pub(crate) fn has_token(&self, name: http::header::HeaderName, token: &str) -> bool {
        self.headers.get_all(name).iter().any(|v| {
            v.to_str()
                .unwrap_or_default()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
