//! A request builder that signs the request when it is sent and replays it once after a
//! `401 invalid_token`.

use oauth_core::ResourceVerdict;
use oauth_core::http::Response;
use serde::Serialize;

use crate::{Body, Error, OAuth2Session};

/// The most of a refused (`401`) response's body read before a replay, to keep its connection.
const REFUSAL_DRAIN_LIMIT: u64 = 64 * 1024;

oauth_core::buffered_request_builder!(OAuth2Session);

impl RequestBuilder {
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
        let body = self.json_body(value)?;
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
        let body = self.form_body(pairs);
        self.execute(Some(body)).await
    }

    /// Signs and sends; replays (at most twice) after a `401 invalid_token`, as the core says.
    async fn execute(self, body: Option<Vec<u8>>) -> Result<Response<Body>, Error> {
        let session = self.session;
        let prepared = self.request.prepare(session.config(), body)?;
        let client = session.http_client();
        let timeout = prepared.timeout().unwrap_or_else(|| client.timeout());
        let mut replays = 0;
        loop {
            let bearer = session.authorize().await?;
            let request = prepared.signed(&bearer, std::time::SystemTime::now())?;
            let uri = request.uri().clone();
            let response = client.send_with_timeout(request, timeout).await?;
            let (status, headers) = (response.status(), response.headers());
            let verdict = session
                .lock()
                .handle_resource_response(&bearer, replays, &uri, status, headers);
            if verdict != ResourceVerdict::Replay {
                return Ok(response);
            }
            // Read the refusal's (small) body so its connection goes back to the pool rather
            // than being closed; a large one is not worth it.
            let _ = response
                .into_body()
                .limit(REFUSAL_DRAIN_LIMIT)
                .read_to_vec()
                .await;
            replays += 1;
        }
    }
}
