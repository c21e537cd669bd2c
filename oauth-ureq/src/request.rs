//! A request builder that feels like ureq's own and signs the request when it is sent.

use std::time::Duration;

use oauth_core::http::header::{CONTENT_TYPE, HeaderName};
use oauth_core::http::{self, HeaderValue, Method, Request, Response};
use oauth_core::url::Url;
use serde::Serialize;

use crate::{Error, OAuth2Session};

/// A resource request under construction. Nothing is sent until [`call`](Self::call),
/// [`send`](Self::send), [`send_json`](Self::send_json) or [`send_form`](Self::send_form).
///
/// Bodies are buffered so that a request refused with `401 invalid_token` can be replayed once
/// after a refresh.
///
/// `Debug` shows the method, the URL without its query, and header names only.
#[must_use = "a request is sent only by call() or one of the send methods"]
pub struct RequestBuilder {
    session: OAuth2Session,
    method: Method,
    url: Result<Url, Error>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    invalid_header: Option<Error>,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.as_ref().ok().map(|url| {
            let mut shown = url.clone();
            shown.set_query(None);
            shown.to_string()
        });
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(session: OAuth2Session, method: Method, url: &str) -> Self {
        let url = Url::parse(url).map_err(|e| {
            Error::from(oauth_core::ConfigError::InvalidUrl {
                what: "request",
                reason: e.to_string(),
            })
        });
        Self {
            session,
            method,
            url,
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

    /// Appends a query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        if let Ok(url) = &mut self.url {
            url.query_pairs_mut().append_pair(name, value);
        }
        self
    }

    /// A timeout for this request alone (the whole call).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request without a body.
    ///
    /// # Errors
    /// A core error (no usable token, a refused refresh such as `invalid_grant: Session not
    /// active`) or a transport error. HTTP error statuses are responses, not errors.
    pub fn call(self) -> Result<Response<ureq::Body>, Error> {
        self.execute(None)
    }

    /// Sends the request with this body.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn send(self, body: impl Into<Vec<u8>>) -> Result<Response<ureq::Body>, Error> {
        self.execute(Some(body.into()))
    }

    /// Sends `value` as JSON (`Content-Type: application/json`).
    ///
    /// # Errors
    /// [`Error::Json`] when `value` does not serialise, else as [`call`](Self::call).
    pub fn send_json(self, value: &impl Serialize) -> Result<Response<ureq::Body>, Error> {
        let body = serde_json::to_vec(value)?;
        self.content_type("application/json").execute(Some(body))
    }

    /// Sends form-encoded pairs (`Content-Type: application/x-www-form-urlencoded`).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn send_form<'a>(
        self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Response<ureq::Body>, Error> {
        let body = oauth_core::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.content_type(oauth_core::rfc6749::FORM_CONTENT_TYPE)
            .execute(Some(body.into_bytes()))
    }

    fn content_type(mut self, value: &'static str) -> Self {
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static(value)));
        self
    }

    fn execute(self, body: Option<Vec<u8>>) -> Result<Response<ureq::Body>, Error> {
        let Self {
            session,
            method,
            url,
            headers,
            timeout,
            invalid_header,
        } = self;
        if let Some(error) = invalid_header {
            return Err(error);
        }
        let url = url?;
        session.check_transport_security(&url)?;
        let mut replayed = false;
        loop {
            let bearer = session.authorize()?;
            let mut request = Request::builder()
                .method(method.clone())
                .uri(url.as_str())
                .body(body.clone().unwrap_or_default())
                .map_err(|e: http::Error| {
                    Error::from(oauth_core::ConfigError::InvalidUrl {
                        what: "request",
                        reason: e.to_string(),
                    })
                })?;
            for (name, value) in &headers {
                request.headers_mut().append(name.clone(), value.clone());
            }
            bearer.authorize(&mut request);
            let response = match (&body, request.body().is_empty()) {
                // No body at all: no `Content-Length: 0` either, as with ureq's own `call()`.
                (None, true) => run(&session, timeout, request.map(|_| ()))?,
                _ => run(&session, timeout, request)?,
            };
            if !session.needs_replay(&bearer, replayed, &response) {
                return Ok(response);
            }
            replayed = true;
        }
    }
}

fn run<B: ureq::AsSendBody>(
    session: &OAuth2Session,
    timeout: Option<Duration>,
    request: Request<B>,
) -> Result<Response<ureq::Body>, Error> {
    let agent = session.agent();
    if timeout.is_none() && session.statuses_are_responses() && session.redirects_drop_auth() {
        return Ok(agent.run(request)?);
    }
    let mut config = agent
        .configure_request(request)
        .http_status_as_error(false)
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::Never);
    if let Some(timeout) = timeout {
        config = config.timeout_global(Some(timeout));
    }
    Ok(agent.run(config.build())?)
}
