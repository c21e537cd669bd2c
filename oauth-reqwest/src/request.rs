//! A request builder that wraps reqwest's own and signs the request when it is sent.

use std::fmt;
use std::time::Duration;

use oauth_core::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use oauth_core::http::{self, Version};
use oauth_core::resource::redacted_url;
use oauth_core::{Bearer, BearerPlacement};
use serde::Serialize;

use crate::{Error, OAuth2Session};

/// A resource request under construction: reqwest's [`reqwest::RequestBuilder`], signed with
/// the session's token by [`send`](Self::send).
///
/// A request refused with `401` and `WWW-Authenticate: Bearer error="invalid_token"` is
/// replayed after a refresh when its body can be sent twice (no body, bytes, text, JSON,
/// form; not a stream).
#[must_use = "a request is sent only by send()"]
pub struct RequestBuilder {
    session: OAuth2Session,
    inner: reqwest::RequestBuilder,
}

/// Shows the method and the URL without credentials or query: they may carry secrets.
impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = self.inner.try_clone().and_then(|b| b.build().ok());
        let (method, url) = match &built {
            Some(request) => (Some(request.method()), Some(redacted_url(request.url()))),
            None => (None, None),
        };
        f.debug_struct("RequestBuilder")
            .field("method", &method)
            .field("url", &url)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(session: OAuth2Session, inner: reqwest::RequestBuilder) -> Self {
        Self { session, inner }
    }

    fn map(mut self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// Adds a header. An invalid name or value is reported by [`send`](Self::send). An
    /// `Authorization` header is replaced by the session's token.
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(key, value))
    }

    /// Adds these headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|b| b.headers(headers))
    }

    /// Appends query parameters (`&[("page", "2")]`, a struct, a map).
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|b| b.query(query))
    }

    /// Sends `value` as JSON (`Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        self.map(|b| b.json(value))
    }

    /// Sends a form-encoded body (`Content-Type: application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.map(|b| b.form(form))
    }

    /// Sets the body.
    pub fn body<T: Into<reqwest::Body>>(self, body: T) -> Self {
        self.map(|b| b.body(body))
    }

    /// A timeout for this request alone, from connecting to the end of the body.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// The HTTP version to use.
    pub fn version(self, version: Version) -> Self {
        self.map(|b| b.version(version))
    }

    /// Signs the request with the session's token, refreshing first when the core says so,
    /// and sends it.
    ///
    /// # Errors
    /// A core error (no usable token, a refused refresh such as `invalid_grant: Session not
    /// active`, plain http to a non-loopback host), a transport error (including an invalid
    /// URL, header or body from the builder). HTTP error statuses are responses, not errors.
    pub async fn send(self) -> Result<reqwest::Response, Error> {
        let session = self.session;
        let mut request = self.inner.build()?;
        session.config().check_transport_security(request.url())?;
        let mut replays = 0;
        loop {
            // Kept before signing, for a replay with the renewed token; a streamed body
            // cannot be sent twice (the next request renews the token).
            let spare = request.try_clone();
            let bearer = session.authorize().await?;
            sign(&mut request, &bearer)?;
            let response = execute(&session, request, &bearer).await?;
            match spare {
                Some(spare) if session.needs_replay(&bearer, replays, &response) => {
                    request = spare;
                    replays += 1;
                }
                _ => return Ok(response),
            }
        }
    }
}

async fn execute(
    session: &OAuth2Session,
    request: reqwest::Request,
    bearer: &Bearer,
) -> Result<reqwest::Response, Error> {
    session
        .client()
        .execute(request)
        .await
        .map_err(|e| hide_token(e, bearer).into())
}

/// reqwest's errors show the URL, which holds the token with query placement, and any
/// `user:password@` a resource URL was given with.
pub(crate) fn hide_token(error: reqwest::Error, bearer: &Bearer) -> reqwest::Error {
    let credentials = error.url().is_some_and(|u| u.password().is_some());
    if bearer.placement() == BearerPlacement::Header && !credentials {
        error
    } else {
        error.without_url()
    }
}

/// Puts the token where the configuration wants it, as the core's [`Bearer::authorize`] does.
pub(crate) fn sign(request: &mut reqwest::Request, bearer: &Bearer) -> Result<(), Error> {
    if bearer.placement() == BearerPlacement::Header {
        // The hot path: no copy of the URL or body.
        request
            .headers_mut()
            .insert(AUTHORIZATION, bearer.header_value().clone());
        if bearer.is_dpop() {
            let uri = request
                .url()
                .as_str()
                .parse::<oauth_core::http::Uri>()
                .map_err(|_| Error::UnsignableRequest("its URL is not a valid URI"))?;
            let now = std::time::SystemTime::now();
            if let Some(proof) = bearer.dpop_proof(request.method(), &uri, now)? {
                request
                    .headers_mut()
                    .insert(oauth_core::rfc9449::DPOP_HEADER, proof);
            }
        }
        return Ok(());
    }
    // Query and form-body placements: the core edits an `http::Request`; carry the URL and
    // body there and back.
    let body = match request.body() {
        None => Vec::new(),
        Some(body) => body
            .as_bytes()
            .ok_or(Error::UnsignableRequest(
                "a streamed body cannot carry the access token",
            ))?
            .to_vec(),
    };
    let had_body = request.body().is_some();
    let mut carrier = http::Request::builder()
        .uri(request.url().as_str())
        .body(body)
        .map_err(|_| Error::UnsignableRequest("its URL is not a valid URI"))?;
    bearer.authorize(&mut carrier);
    let (parts, body) = carrier.into_parts();
    *request.url_mut() = reqwest::Url::parse(&parts.uri.to_string())
        .map_err(|_| Error::UnsignableRequest("its signed URL does not parse"))?;
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        request.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    if had_body || !body.is_empty() {
        *request.body_mut() = Some(body.into());
    }
    Ok(())
}
