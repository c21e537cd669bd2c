//! A request builder that feels like ureq's own and signs the request when it is sent.

use std::time::Duration;

use oauth_core::ResourceVerdict;
use oauth_core::http::{Method, Request, Response};
use oauth_core::resource::ResourceRequest;
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
    request: ResourceRequest,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.request.fmt(f)
    }
}

impl RequestBuilder {
    pub(crate) fn new(session: OAuth2Session, method: Method, url: &str) -> Self {
        let request = ResourceRequest::new(method, url);
        Self { session, request }
    }

    /// Adds a header. An invalid name or value is reported when the request is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request.header(name, value);
        self
    }

    /// Appends a query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.request.query(name, value);
        self
    }

    /// A timeout for this request alone (the whole call).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.request.timeout(timeout);
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
    pub fn send_json(mut self, value: &impl Serialize) -> Result<Response<ureq::Body>, Error> {
        let body = serde_json::to_vec(value)?;
        self.request.content_type("application/json");
        self.execute(Some(body))
    }

    /// Sends form-encoded pairs (`Content-Type: application/x-www-form-urlencoded`).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn send_form<'a>(
        mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Response<ureq::Body>, Error> {
        let body = oauth_core::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.request
            .content_type(oauth_core::rfc6749::FORM_CONTENT_TYPE);
        self.execute(Some(body.into_bytes()))
    }

    /// Signs and sends; replays once with a renewed token after a `401 invalid_token`.
    fn execute(self, body: Option<Vec<u8>>) -> Result<Response<ureq::Body>, Error> {
        let session = self.session;
        let prepared = self.request.prepare(session.config(), body)?;
        let mut replayed = false;
        loop {
            let bearer = session.authorize()?;
            let request = prepared.signed(&bearer);
            let timeout = prepared.timeout();
            let response = if prepared.has_body() || !request.body().is_empty() {
                run(&session, timeout, request)?
            } else {
                // No body at all: no `Content-Length: 0` either, as with ureq's own `call()`.
                run(&session, timeout, request.map(|_| ()))?
            };
            let (status, headers) = (response.status(), response.headers());
            let verdict = session
                .lock()
                .handle_resource_response(&bearer, replayed, status, headers);
            if verdict != ResourceVerdict::Replay {
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
    if timeout.is_none() && session.plain_agent() {
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
