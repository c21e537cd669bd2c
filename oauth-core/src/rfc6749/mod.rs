//! The OAuth 2.0 framework (RFC 6749): grants, the token request (§4, §6) and the token
//! response (§5.1, §5.2).

pub mod authorization;
mod grant;
pub(crate) mod response;

pub use authorization::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, CodeExchange, IdTokenExpectations,
    PendingAuthorization, authorization_url,
};
pub use grant::Grant;
pub use response::parse_token_response;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request};
use url::Url;
use url::form_urlencoded::Serializer;

use crate::client::ClientConfig;
use crate::error::{ConfigError, Error};

/// The media type of every request body this crate builds.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Builds the token request for `grant` (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6): a form POST to
/// the token endpoint with the client's authentication.
///
/// Send it, then give the answer and the time the request was *sent* to
/// [`parse_token_response`].
///
/// # Errors
/// [`ConfigError`] when the token endpoint is missing or insecure, or the credentials cannot be
/// put in a header.
pub fn token_request(config: &ClientConfig, grant: &Grant) -> Result<Request<Vec<u8>>, Error> {
    let url = config.endpoint("token", config.token_endpoint.as_ref())?;
    let mut form = Serializer::new(String::with_capacity(128));
    form.append_pair("grant_type", grant.grant_type());
    for (name, value) in grant.params() {
        form.append_pair(name, value);
    }
    if let Some(scope) = grant.effective_scope(config.scope.as_deref()) {
        form.append_pair("scope", scope);
    }
    form_post(config, &url, form)
}

/// A form POST with client authentication and `Accept: application/json`, shared by the token,
/// revocation and introspection requests.
pub(crate) fn form_post(
    config: &ClientConfig,
    url: &Url,
    mut form: Serializer<'_, String>,
) -> Result<Request<Vec<u8>>, Error> {
    let authorization = config.authenticate(&mut form)?;
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
    if let Some(value) = authorization {
        builder = builder.header(AUTHORIZATION, value);
    }
    builder.body(form.finish().into_bytes()).map_err(|e| {
        Error::Config(ConfigError::InvalidUrl {
            what: "endpoint",
            reason: e.to_string(),
        })
    })
}
