//! The adapter's errors: a core error (the server refused or misbehaved; configuration;
//! misuse), a transport error from the HTTP client, or a body that could not be encoded or
//! decoded.

use std::io;
use std::time::Duration;

oauth_core::adapter_error! {
    transport: TransportError;
    /// A request body could not be serialised to JSON.
    #[error("request body is not serialisable as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A response body read with [`Body::read_to_string`](crate::Body::read_to_string) or
    /// [`Body::read_json`](crate::Body::read_json) is not UTF-8 or not the JSON asked for.
    #[error("response body cannot be decoded: {0}")]
    Decode(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why an HTTP call failed. Messages name the origin (`scheme://host:port`), never the path or
/// query, where a token may travel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No TCP connection could be opened (refused, unreachable, name not resolved). Check the
    /// URL and that the server runs.
    #[error("cannot connect to {origin}: {source}")]
    Connect {
        /// `scheme://host:port`.
        origin: String,
        /// The socket error.
        source: io::Error,
    },
    /// The TLS handshake failed (untrusted certificate, name mismatch, no common protocol).
    #[error("TLS handshake with {origin} failed: {source}")]
    Tls {
        /// `scheme://host:port`.
        origin: String,
        /// rustls' error, as futures-rustls reports it.
        source: io::Error,
    },
    /// The default TLS configuration could not be built; pass one with
    /// [`HttpClientBuilder::tls_config`](crate::HttpClientBuilder).
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// The call did not finish within its timeout. Nothing was changed; retry later or raise
    /// the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The response body is larger than the limit; the connection was closed without reading
    /// the rest. An endpoint that sends this much is broken or hostile.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The HTTP exchange broke: the connection closed mid-message, the response did not parse.
    #[error("{0}")]
    Http(#[from] hyper::Error),
    /// The URL cannot be sent: not `http`/`https`, no host, or `https` without the `rustls`
    /// feature.
    #[error("cannot send to {origin}: {reason}")]
    Unsupported {
        /// `scheme://host` as far as it could be read.
        origin: String,
        /// Why.
        reason: &'static str,
    },
}
