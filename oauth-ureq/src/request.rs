//! A request builder that feels like ureq's own and signs the request when it is sent.

use std::time::Duration;

use oauth_core::ResourceVerdict;
use oauth_core::http::{Request, Response};
use serde::Serialize;

use crate::{Error, OAuth2Session};

oauth_core::buffered_request_builder!(OAuth2Session);

impl RequestBuilder {
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
        let body = self.json_body(value)?;
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
        let body = self.form_body(pairs);
        self.execute(Some(body))
    }

    /// Signs and sends; replays (at most twice) after a `401 invalid_token`, as the core says.
    fn execute(self, body: Option<Vec<u8>>) -> Result<Response<ureq::Body>, Error> {
        let session = self.session;
        let prepared = self.request.prepare(session.config(), body)?;
        let mut replays = 0;
        loop {
            let bearer = session.authorize()?;
            let request = prepared.signed(&bearer, std::time::SystemTime::now())?;
            let uri = request.uri().clone();
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
                .handle_resource_response(&bearer, replays, &uri, status, headers);
            if verdict != ResourceVerdict::Replay {
                return Ok(response);
            }
            replays += 1;
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
