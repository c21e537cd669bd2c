//! A request builder that signs the request when it is sent and replays it once after a
//! `401 invalid_token`.

use std::fmt;
use std::time::Duration;

use oauth_core::http::header::{CONTENT_TYPE, HeaderName};
use oauth_core::http::{HeaderValue, Method, Request, Response, Uri};
use oauth_core::url::{Url, form_urlencoded};
use serde::Serialize;

use crate::{Body, Error, OAuth2Session};

/// A resource request under construction. Nothing is sent until [`call`](Self::call),
/// [`send`](Self::send), [`send_json`](Self::send_json) or [`send_form`](Self::send_form) is
/// awaited.
///
/// Bodies are buffered so that a request refused with `401 invalid_token` can be replayed once
/// after a refresh. Redirects are not followed: a `3xx` is returned as it is, so the token is
/// never sent anywhere but the URL given here.
#[must_use = "a request is sent only by call() or one of the send methods"]
pub struct RequestBuilder {
    session: OAuth2Session,
    method: Method,
    /// The target as given, parsed as an `http::Uri` (what goes on the wire).
    target: Result<Uri, Error>,
    /// Pairs added with [`query`](Self::query), form-encoded.
    extra_query: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    invalid_header: Option<Error>,
}

/// Shows the method, the URL without its query and the header names: queries and header values
/// may carry secrets of their own (an API key, a signature).
impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.target.as_ref().map(|uri| {
            let query = uri.query().is_some() || !self.extra_query.is_empty();
            format!(
                "{}://{}{}{}",
                uri.scheme_str().unwrap_or_default(),
                uri.authority().map_or("", |a| a.as_str()),
                uri.path(),
                if query { "?[redacted]" } else { "" }
            )
        });
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &url)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(session: OAuth2Session, method: Method, url: &str) -> Self {
        Self {
            session,
            method,
            target: parse_target(url),
            extra_query: String::new(),
            headers: Vec::new(),
            timeout: None,
            invalid_header: None,
        }
    }

    /// Adds a header. An invalid name or value is reported when the request is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => self.headers.push((name, value)),
            _ => {
                self.invalid_header.get_or_insert(
                    oauth_core::ConfigError::InvalidHeaderValue("request header").into(),
                );
            }
        }
        self
    }

    /// Appends a query parameter (form-encoded).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        form_urlencoded::Serializer::for_suffix(&mut self.extra_query, 0).append_pair(name, value);
        self
    }

    /// A timeout for this request alone: the whole call, reading the body with [`Body`]'s
    /// read methods included (not a refresh it has to wait for first). Default: the HTTP
    /// client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request without a body.
    ///
    /// # Errors
    /// A core error (no usable token, a refused refresh such as `invalid_grant: Session not
    /// active`) or a transport error. HTTP error statuses are responses, not errors.
    pub async fn call(self) -> Result<Response<Body>, Error> {
        self.execute(Vec::new()).await
    }

    /// Sends the request with this body.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn send(self, body: impl Into<Vec<u8>>) -> Result<Response<Body>, Error> {
        self.execute(body.into()).await
    }

    /// Sends `value` as JSON (`Content-Type: application/json`).
    ///
    /// # Errors
    /// [`Error::Json`] when `value` does not serialise, else as [`call`](Self::call).
    pub async fn send_json(self, value: &impl Serialize) -> Result<Response<Body>, Error> {
        let body = serde_json::to_vec(value)?;
        self.content_type("application/json").execute(body).await
    }

    /// Sends form-encoded pairs (`Content-Type: application/x-www-form-urlencoded`).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn send_form<'a>(
        self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Response<Body>, Error> {
        let body = oauth_core::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.content_type(oauth_core::rfc6749::FORM_CONTENT_TYPE)
            .execute(body.into_bytes())
            .await
    }

    fn content_type(mut self, value: &'static str) -> Self {
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static(value)));
        self
    }

    async fn execute(self, body: Vec<u8>) -> Result<Response<Body>, Error> {
        if let Some(error) = self.invalid_header {
            return Err(error);
        }
        let target = with_query(self.target?, &self.extra_query)?;
        self.session.check_transport_security(&target)?;
        let client = self.session.http_client();
        let timeout = self.timeout.unwrap_or_else(|| client.timeout());
        // The first attempt, and at most one replay after a refresh.
        let mut replayed = false;
        loop {
            let bearer = self.session.authorize().await?;
            let mut request = Request::new(body.clone());
            *request.method_mut() = self.method.clone();
            *request.uri_mut() = target.clone();
            for (name, value) in &self.headers {
                request.headers_mut().append(name.clone(), value.clone());
            }
            bearer.authorize(&mut request);
            let response = client.send_with_timeout(request, timeout).await?;
            let replay =
                self.session
                    .needs_replay(&bearer, replayed, response.status(), response.headers());
            if !replay || replayed {
                return Ok(response);
            }
            replayed = true;
        }
    }
}

fn invalid_url(reason: impl fmt::Display) -> Error {
    oauth_core::ConfigError::InvalidUrl {
        what: "request",
        reason: reason.to_string(),
    }
    .into()
}

/// Parses a request URL. The common case (an absolute ASCII URL) goes straight to
/// `http::Uri`, the type the request is sent with; anything it refuses (spaces, non-ASCII
/// hosts, …) is normalised by the WHATWG parser of the `url` crate first, which costs about
/// as much again as signing the request (measured on the hot path of sequential requests).
fn parse_target(url: &str) -> Result<Uri, Error> {
    let direct = Uri::try_from(url)
        .ok()
        .filter(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some());
    if let Some(uri) = direct {
        return Ok(uri);
    }
    let normalised = Url::parse(url).map_err(invalid_url)?;
    let uri = Uri::try_from(normalised.as_str()).map_err(invalid_url)?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(invalid_url("not an http or https URL with a host"));
    }
    Ok(uri)
}

/// The target with the pairs of [`RequestBuilder::query`] appended.
fn with_query(target: Uri, extra_query: &str) -> Result<Uri, Error> {
    if extra_query.is_empty() {
        return Ok(target);
    }
    let separator = match target.query() {
        Some(query) if !query.is_empty() => "&",
        _ => "",
    };
    let with = format!(
        "{}://{}{}?{}{separator}{extra_query}",
        target.scheme_str().unwrap_or_default(),
        target.authority().map_or("", |a| a.as_str()),
        target.path(),
        target.query().unwrap_or_default(),
    );
    Uri::try_from(with).map_err(invalid_url)
}
