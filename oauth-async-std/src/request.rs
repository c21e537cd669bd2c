//! A request builder that signs the request when it is sent and replays it once after a
//! `401 invalid_token`.

use std::time::Duration;

use oauth_core::http::{Method, Response};
use oauth_core::resource::ResourceRequest;
use serde::Serialize;

use crate::{Body, Error, OAuth2Session};

/// A resource request under construction. Nothing is sent until [`call`](Self::call),
/// [`send`](Self::send), [`send_json`](Self::send_json) or [`send_form`](Self::send_form) is
/// awaited.
///
/// Bodies are buffered so that a request refused with `401 invalid_token` can be replayed once
/// after a refresh. Redirects are not followed: a `3xx` is returned as it is, so the token is
/// never sent anywhere but the URL given here.
///
/// `Debug` shows the method, the URL without its query and the header names: queries and
/// header values may carry secrets of their own (an API key, a signature).
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

    /// Appends a query parameter (form-encoded).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.request.query(name, value);
        self
    }

    /// A timeout for this request alone: the whole call, reading the body with [`Body`]'s
    /// read methods included (not a refresh it has to wait for first). Default: the HTTP
    /// client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.request.timeout(timeout);
        self
    }

    /// Sends the request without a body.
    ///
    /// # Errors
    /// A core error (no usable token, a refused refresh such as `invalid_grant: Session not
    /// active`) or a transport error. HTTP error statuses are responses, not errors.
    pub async fn call(self) -> Result<Response<Body>, Error> {
        self.execute(None).await
    }

    /// Sends the request with this body.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn send(self, body: impl Into<Vec<u8>>) -> Result<Response<Body>, Error> {
        self.execute(Some(body.into())).await
    }

    /// Sends `value` as JSON (`Content-Type: application/json`).
    ///
    /// # Errors
    /// [`Error::Json`] when `value` does not serialise, else as [`call`](Self::call).
    pub async fn send_json(mut self, value: &impl Serialize) -> Result<Response<Body>, Error> {
        let body = serde_json::to_vec(value)?;
        self.request.content_type("application/json");
        self.execute(Some(body)).await
    }

    /// Sends form-encoded pairs (`Content-Type: application/x-www-form-urlencoded`).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn send_form<'a>(
        mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Response<Body>, Error> {
        let body = oauth_core::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.request
            .content_type(oauth_core::rfc6749::FORM_CONTENT_TYPE);
        self.execute(Some(body.into_bytes())).await
    }

    /// Signs and sends; replays once with a renewed token after a `401 invalid_token`.
    async fn execute(self, body: Option<Vec<u8>>) -> Result<Response<Body>, Error> {
        let session = self.session;
        let prepared = self.request.prepare(session.config(), body)?;
        let client = session.http_client();
        let timeout = prepared.timeout().unwrap_or_else(|| client.timeout());
        let mut replayed = false;
        loop {
            let bearer = session.authorize().await?;
            let request = prepared.signed(&bearer);
            let response = client.send_with_timeout(request, timeout).await?;
            if replayed || !session.needs_replay(&bearer, replayed, &response) {
                return Ok(response);
            }
            replayed = true;
        }
    }
}
