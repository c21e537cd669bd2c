//! The transport: an HTTP/1.1 client doing non-blocking IO on the async-io reactor that
//! async-std and smol share.
//!
//! ```text
//!  HttpClient::send(request)
//!     │ origin = (scheme, host, port) ─► OriginPool: wait for one of N slots
//!     │                                   ├─ idle keep-alive connection? reuse it
//!     │                                   └─ else connect: async-std TcpStream (+ futures-rustls)
//!     │                                       ─► hyper::client::conn::http1::handshake
//!     │ the caller's task drives the connection while it waits for the response head
//!     └─ Response<Body>: the body streams (reading it drives the connection); read to the
//!        end, its connection goes back idle
//! ```
//!
//! hyper 1 does the HTTP/1.1 framing; this module owns the rest: the IO shim from `futures-io`
//! to `hyper::rt` (`io.rs`), connecting (`connect.rs`), the bounded keep-alive pool (`pool.rs`)
//! and the body that returns its connection (`body.rs`).
//!
//! What it does not do: redirects (a `3xx` is returned as it is, so a bearer token never
//! reaches another origin), proxies, HTTP/2, cookies, decompression.

mod body;
mod connect;
mod deadline;
mod io;
mod pool;

use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use oauth_core::http::header::{HOST, USER_AGENT};
use oauth_core::http::uri::{Parts, PathAndQuery};
use oauth_core::http::{HeaderValue, Request, Response, Uri};

pub use body::{Body, DEFAULT_RESPONSE_BODY_LIMIT};
use connect::Tls;
use deadline::Deadline;
use pool::{Lease, Origin, Pools};

use crate::TransportError;

/// The default bound on open connections per origin.
pub const DEFAULT_MAX_CONNECTIONS_PER_ORIGIN: usize = 16;
/// How long an idle keep-alive connection is kept for reuse.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default timeout of one HTTP call: waiting for a connection slot, connecting, sending,
/// receiving the response head and reading the body with [`Body`]'s read methods.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const DEFAULT_USER_AGENT: HeaderValue =
    HeaderValue::from_static(concat!("oauth-async-std/", env!("CARGO_PKG_VERSION")));

/// An HTTP/1.1 client on the async-std/smol reactor with keep-alive connection reuse per
/// origin, a bound on connections per origin, timeouts and no redirects.
///
/// Cheap to clone; clones share the pool. [`OAuth2Session`](crate::OAuth2Session) sends
/// everything through one; give it yours with
/// [`SessionBuilder::http_client`](crate::SessionBuilder::http_client) to share a pool.
///
/// ```no_run
/// # async_std::task::block_on(async {
/// use oauth_async_std::HttpClient;
/// use oauth_async_std::oauth_core::http::Request;
///
/// let client = HttpClient::builder().max_connections_per_origin(4).build();
/// let request = Request::get("http://127.0.0.1:8080/health").body(Vec::new())?;
/// let response = client.send(request).await?;
/// let text = response.into_body().read_to_string().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// ```
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    timeout: Duration,
    max_connections_per_origin: usize,
    idle_timeout: Duration,
    tls: OnceLock<Tls>,
    /// Trust anchors (DER) added to the default ones when `tls` is made.
    extra_roots: Vec<Vec<u8>>,
    pools: Pools,
    connections_opened: AtomicU64,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.inner.timeout)
            .field(
                "max_connections_per_origin",
                &self.inner.max_connections_per_origin,
            )
            .field("idle_timeout", &self.inner.idle_timeout)
            .field("connections_opened", &self.connections_opened())
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Builds an [`HttpClient`].
#[must_use]
#[derive(Debug)]
pub struct HttpClientBuilder {
    timeout: Duration,
    max_connections_per_origin: usize,
    idle_timeout: Duration,
    tls: Option<Tls>,
    extra_roots: Vec<Vec<u8>>,
}

impl HttpClientBuilder {
    /// Trusts this certificate (DER) for `https` besides the webpki-roots anchors: an
    /// organisation's private CA. Ignored when a whole [`tls_config`](Self::tls_config) is
    /// given.
    #[cfg(feature = "rustls")]
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(der.into());
        self
    }

    /// The timeout of one whole call, body read included (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(oauth_core::MAX_TIMEOUT);
        self
    }

    /// At most this many connections open per origin, busy or idle (default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_ORIGIN`], at least 1). Requests beyond it wait for a
    /// connection to come free, within their timeout.
    pub fn max_connections_per_origin(mut self, max: usize) -> Self {
        self.max_connections_per_origin = max.max(1);
        self
    }

    /// How long an idle connection is kept for reuse (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Uses this rustls configuration for `https` (default: the ring provider, webpki-roots
    /// trust anchors, ALPN `http/1.1`). Only HTTP/1.1 is spoken, whatever ALPN offers.
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: Arc<futures_rustls::rustls::ClientConfig>) -> Self {
        self.tls = Some(Tls::new(config));
        self
    }

    /// Builds the client. Nothing is connected until the first request.
    pub fn build(self) -> HttpClient {
        let tls = OnceLock::new();
        if let Some(config) = self.tls {
            let _ = tls.set(config);
        }
        HttpClient {
            inner: Arc::new(Inner {
                timeout: self.timeout,
                max_connections_per_origin: self.max_connections_per_origin,
                idle_timeout: self.idle_timeout,
                tls,
                extra_roots: self.extra_roots,
                pools: Pools::default(),
                connections_opened: AtomicU64::new(0),
            }),
        }
    }
}

impl HttpClient {
    /// A client with the defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts configuring a client.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder {
            timeout: DEFAULT_TIMEOUT,
            max_connections_per_origin: DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            tls: None,
            extra_roots: Vec::new(),
        }
    }

    /// Sends `request` as it is (no redirects followed, error statuses are responses) within
    /// the client's timeout.
    ///
    /// # Errors
    /// [`TransportError`]: no connection, TLS failure, timeout, the connection failing.
    pub async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Body>, TransportError> {
        self.send_with_timeout(request, self.inner.timeout).await
    }

    /// Sends `request` within `timeout` instead of the client's.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_with_timeout(
        &self,
        request: Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Response<Body>, TransportError> {
        self.send_within(request, timeout, self.inner.idle_timeout)
            .await
    }

    /// Sends within `timeout` on a connection idle for less than `max_idle`.
    async fn send_within(
        &self,
        request: Request<Vec<u8>>,
        timeout: Duration,
        max_idle: Duration,
    ) -> Result<Response<Body>, TransportError> {
        // One timer per call: it bounds the response head here, and the body read after.
        let mut deadline = Deadline::new(timeout);
        let dispatch = pin!(self.dispatch(request, max_idle));
        let response = deadline.bound(dispatch).await??;
        Ok(response.map(|body| body.with_deadline(deadline)))
    }

    /// How many connections this client (and its clones) has opened so far: with keep-alive,
    /// far fewer than requests; never more at once per origin than the bound.
    #[must_use]
    pub fn connections_opened(&self) -> u64 {
        self.inner.connections_opened.load(Ordering::Relaxed)
    }

    /// The bound on open connections per origin.
    #[must_use]
    pub fn max_connections_per_origin(&self) -> usize {
        self.inner.max_connections_per_origin
    }

    /// The timeout of one call.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// One call to a token, revocation or introspection endpoint: no redirects, the body read
    /// whole but refused past `limit` (by its `Content-Length` or as it arrives), all within
    /// the client's timeout, on a connection idle for less than
    /// [`ENDPOINT_MAX_IDLE`](oauth_core::ENDPOINT_MAX_IDLE).
    pub(crate) async fn call_endpoint(
        &self,
        request: Request<Vec<u8>>,
        limit: u64,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        let max_idle = self.inner.idle_timeout.min(oauth_core::ENDPOINT_MAX_IDLE);
        let (parts, mut body) = self
            .send_within(request, self.inner.timeout, max_idle)
            .await?
            .into_parts();
        let bytes = body.read_capped(Some(&parts.headers), limit).await?;
        Ok(Response::from_parts(parts, bytes))
    }

    async fn dispatch(
        &self,
        request: Request<Vec<u8>>,
        max_idle: Duration,
    ) -> Result<Response<Body>, TransportError> {
        let (origin, request) = prepare(request)?;
        let pool = self
            .inner
            .pools
            .get(&origin, self.inner.max_connections_per_origin);
        let slot = pool.slot().await;
        let mut request = request.map(|body| Full::new(Bytes::from(body)));
        // A keep-alive connection the server closes as it is taken (its idle timeout, say)
        // either refuses the request before writing a byte of it, or closes before a byte of
        // the response: then the request goes to the next connection, the latter only when it
        // is idempotent (RFC 9110 §9.2.2), as browsers and Go's net/http do. Token requests
        // are POSTs and are never sent twice. Bounded by the pool's size.
        for _ in 0..self.inner.max_connections_per_origin {
            let Some(mut conn) = pool.take_idle(max_idle) else {
                break;
            };
            if !conn.ready().await {
                continue;
            }
            let copy = request
                .method()
                .is_idempotent()
                .then(|| duplicate(&request));
            match conn.send(request).await {
                Ok(response) => {
                    conn.note_keep_alive(response.headers());
                    let lease = Lease { conn, slot, pool };
                    return Ok(response.map(|incoming| Body::new(incoming, lease)));
                }
                Err(mut refused) => match (refused.take_message(), copy) {
                    (Some(unsent), _) => request = unsent,
                    (None, Some(copy)) if refused.error().is_incomplete_message() => {
                        request = copy;
                    }
                    _ => return Err(refused.into_error().into()),
                },
            }
        }
        self.inner
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        // Boxed: connecting (TLS state included) is rare next to reuse, and unboxed it would
        // make every request's future several kilobytes larger.
        let mut conn = Box::pin(connect::open(&origin, self.tls(&origin)?)).await?;
        let response = conn
            .send(request)
            .await
            .map_err(|e| TransportError::Http(e.into_error()))?;
        conn.note_keep_alive(response.headers());
        let lease = Lease { conn, slot, pool };
        Ok(response.map(|incoming| Body::new(incoming, lease)))
    }

    fn tls(&self, origin: &Origin) -> Result<Option<&Tls>, TransportError> {
        if !origin.https {
            return Ok(None);
        }
        if let Some(tls) = self.inner.tls.get() {
            return Ok(Some(tls));
        }
        #[cfg(feature = "rustls")]
        {
            // Made at the first https request: a bad extra root is that request's error.
            let _ = self
                .inner
                .tls
                .set(Tls::with_roots(&self.inner.extra_roots)?);
            Ok(self.inner.tls.get())
        }
        #[cfg(not(feature = "rustls"))]
        Ok(None)
    }
}

/// Splits off the origin and turns the request into what goes on the wire: origin-form target
/// (RFC 9112 §3.2.1), a `Host` header, a default `User-Agent`.
fn prepare(mut request: Request<Vec<u8>>) -> Result<(Origin, Request<Vec<u8>>), TransportError> {
    let uri = request.uri();
    let unsupported = |reason| TransportError::Unsupported {
        origin: format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.host().unwrap_or("")
        ),
        reason,
    };
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(unsupported("only http and https URLs can be sent")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| unsupported("the URL has no host"))?;
    let origin = Origin {
        https,
        host: authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: oauth_core::resource::explicit_port(uri)
            .map_err(|_| unsupported("the port is not a number from 0 to 65535"))?
            .unwrap_or(if https { 443 } else { 80 }),
    };
    // Userinfo never goes into `Host`.
    let host = authority
        .as_str()
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, host)| host);
    let host = HeaderValue::from_str(host).map_err(|_| unsupported("the host is not valid"))?;
    let mut target = Parts::default();
    target.path_and_query = Some(
        uri.path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    );
    let target = Uri::from_parts(target).map_err(|_| unsupported("the URL is not valid"))?;
    *request.uri_mut() = target;
    let headers = request.headers_mut();
    if !headers.contains_key(HOST) {
        headers.insert(HOST, host);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, DEFAULT_USER_AGENT);
    }
    Ok((origin, request))
}

/// A copy of a request about to be sent on a reused connection, to send again if that
/// connection turns out closed.
fn duplicate(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}
