//! The harness's one error type. Written by hand: the harness may use only `oauth-core`, `http`
//! and `serde_json`, so no `thiserror`.

use std::fmt;
use std::io;
use std::time::Duration;

/// Everything the harness itself can fail with: its HTTP client, the stub server, or the test
/// authorization server's process.
///
/// Each message names what was being done and, where it helps, what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum HarnessError {
    /// The request cannot be sent as given (not an absolute `http://` URI, a header value
    /// that cannot go on the wire). Fix the request.
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },
    /// A socket operation failed (connection refused or reset, broken pipe).
    Io {
        /// What the harness was doing, e.g. `connect to http://127.0.0.1:4000/token`.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The peer took longer than the timeout.
    Timeout {
        /// What the harness was doing.
        context: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The peer's answer is not valid HTTP/1.1 (or stopped in the middle).
    Protocol {
        /// What the harness was doing.
        context: String,
        /// What was wrong with the bytes.
        reason: String,
    },
    /// A response body is larger than the limit the harness accepts.
    BodyTooLarge {
        /// What the harness was doing.
        context: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// `node` or `npm` is not on `PATH`. Install Node.js 20 or later.
    MissingNode,
    /// `npm ci` in `tests/server` failed or timed out.
    NpmInstall {
        /// Why it failed.
        reason: String,
        /// npm's stdout and stderr.
        output: String,
    },
    /// The test authorization server did not print its `READY` line.
    ServerStart {
        /// Why the start is considered failed.
        reason: String,
        /// The server's stderr (and stray stdout) so far.
        log: String,
    },
    /// A test-only route answered something other than what the harness expects.
    UnexpectedResponse {
        /// Which call, e.g. `DELETE /admin/realms/master/sessions/…`.
        what: String,
        /// The HTTP status received.
        status: u16,
        /// The body received (lossily decoded, cut to 512 bytes).
        body: String,
    },
}

impl HarnessError {
    /// True for [`HarnessError::Timeout`].
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    pub(crate) fn unexpected(what: impl Into<String>, status: u16, body: &[u8]) -> Self {
        let cut = body.len().min(512);
        Self::UnexpectedResponse {
            what: what.into(),
            status,
            body: String::from_utf8_lossy(&body[..cut]).into_owned(),
        }
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest { reason } => write!(f, "invalid request: {reason}"),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::Timeout { context, after } => {
                write!(f, "{context}: timed out after {after:?}")
            }
            Self::Protocol { context, reason } => {
                write!(f, "{context}: malformed HTTP/1.1 response: {reason}")
            }
            Self::BodyTooLarge { context, limit } => {
                write!(f, "{context}: response body exceeds {limit} bytes")
            }
            Self::MissingNode => f.write_str(
                "node and npm are required to run the real-server tests: \
                 install Node.js 20+ (Debian: apt-get install nodejs npm)",
            ),
            Self::NpmInstall { reason, output } => write!(
                f,
                "npm ci in tests/server failed: {reason}\n---- npm output ----\n{output}"
            ),
            Self::ServerStart { reason, log } => write!(
                f,
                "the test authorization server did not start: {reason}\n\
                 ---- oidc-provider log ----\n{log}"
            ),
            Self::UnexpectedResponse { what, status, body } => {
                write!(f, "{what}: unexpected HTTP {status}: {body}")
            }
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
