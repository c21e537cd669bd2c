//! Calls to the token, revocation, introspection, discovery, JWKS and userinfo endpoints: the
//! core's request value sent with the no-redirect client, the answer read chunk by chunk up to
//! the body limit.

use std::time::Duration;

use oauth_core::http::{Request, Response};

use crate::Error;

/// The transport half of a session: two reqwest clients and the limits of endpoint calls.
pub(crate) struct Clients {
    /// Resource requests.
    pub(crate) resource: reqwest::Client,
    /// Token, revocation, introspection, discovery, JWKS and userinfo calls: no redirects.
    pub(crate) endpoint: reqwest::Client,
    pub(crate) limits: Limits,
    /// The configured token endpoint, parsed once.
    pub(crate) token_endpoint: Option<reqwest::Url>,
}

impl Clients {
    /// Sends one endpoint request; error statuses are answers for the core to read.
    pub(crate) async fn call(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let known = self.token_endpoint.as_ref();
        call_endpoint(&self.endpoint, request, self.limits, known).await
    }
}

/// The bounds of one endpoint call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) body_limit: u64,
}

/// Sends one endpoint request with `client` (which must not follow redirects), before or after
/// the session exists (discovery runs on the builder). `known` is a URL parsed before, reused
/// when the request goes there.
pub(crate) async fn call_endpoint(
    client: &reqwest::Client,
    request: Request<Vec<u8>>,
    limits: Limits,
    known: Option<&reqwest::Url>,
) -> Result<Response<Vec<u8>>, Error> {
    let (parts, body) = request.into_parts();
    // The core built the URI from a configured URL: reuse it rather than parse it again
    // (with IDNA processing, a measurable part of a loopback token round trip).
    let url = match known {
        Some(known) if parts.uri == known.as_str() => known.clone(),
        _ => reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| {
            oauth_core::ConfigError::InvalidUrl {
                what: "endpoint",
                reason: e.to_string(),
            }
        })?,
    };
    let mut request = reqwest::Request::new(parts.method, url.clone());
    *request.headers_mut() = parts.headers;
    *request.version_mut() = parts.version;
    *request.body_mut() = Some(body.into());
    *request.timeout_mut() = Some(limits.timeout);
    let mut response = client.execute(request).await?;
    if response.url() != &url {
        return Err(Error::EndpointRedirected);
    }
    let limit = limits.body_limit;
    if response
        .content_length()
        .is_some_and(|announced| announced > limit)
    {
        return Err(Error::BodyTooLarge { limit });
    }
    // Chunk by chunk: a body without Content-Length is cut at the limit, never buffered whole.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Error::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    let mut answer = Response::new(body);
    *answer.status_mut() = response.status();
    *answer.version_mut() = response.version();
    *answer.headers_mut() = std::mem::take(response.headers_mut());
    Ok(answer)
}
