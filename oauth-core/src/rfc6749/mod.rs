//! The OAuth 2.0 framework (RFC 6749): grants, the token request (§4, §6) and the token
//! response (§5.1, §5.2).

pub mod authorization;
mod grant;
pub(crate) mod response;

pub use authorization::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, CodeExchange, IdTokenExpectations,
    PendingAuthorization, PushedAuthorization, authorization_url, authorization_url_with,
    parse_pushed_authorization_response, pushed_authorization_request, pushed_authorization_url,
};
pub use grant::Grant;
pub use response::parse_token_response;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request};
use url::Url;
use url::form_urlencoded::Serializer;

use crate::client::ClientConfig;
use crate::error::{ConfigError, Error};
use crate::rfc7523::Mint;

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
/// [`UsageError::MintUnavailable`](crate::UsageError::MintUnavailable) when the client
/// authenticates with a JWT or the grant is a JWT bearer grant: build those with
/// [`token_request_with`].
pub fn token_request(config: &ClientConfig, grant: &Grant) -> Result<Request<Vec<u8>>, Error> {
    token_request_with(config, grant, &Mint::NONE)
}

/// [`token_request`] for requests that carry a JWT minted now (`client_secret_jwt`,
/// `private_key_jwt`, the JWT bearer grant): `mint` gives the time and the entropy.
///
/// # Errors
/// As [`token_request`]; [`ConfigError::SigningKey`] when the key cannot sign.
pub fn token_request_with(
    config: &ClientConfig,
    grant: &Grant,
    mint: &Mint<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    let url = config.endpoint("token", config.token_endpoint.as_ref())?;
    let mut form = Serializer::new(String::with_capacity(128));
    form.append_pair("grant_type", grant.grant_type());
    grant.append_params(&mut form, config, mint)?;
    if let Some(scope) = grant.effective_scope(config.scope.as_deref()) {
        form.append_pair("scope", scope);
    }
    form_post(config, &url, form, mint)
}

/// A form body for an endpoint, waiting for its client authentication (which may be minted
/// only when the request is sent).
pub(crate) struct PreparedPost {
    url: Url,
    body: String,
}

impl PreparedPost {
    /// A form for the endpoint `url` of `which`, after the configuration's checks.
    pub(crate) fn new(
        config: &ClientConfig,
        which: &'static str,
        url: Option<&Url>,
        fill: impl FnOnce(&mut Serializer<'_, String>),
    ) -> Result<Self, Error> {
        let url = config.endpoint(which, url)?;
        let mut form = Serializer::new(String::new());
        fill(&mut form);
        Ok(Self {
            url,
            body: form.finish(),
        })
    }

    /// The request, authenticated now.
    pub(crate) fn finish(
        self,
        config: &ClientConfig,
        mint: &Mint<'_>,
    ) -> Result<Request<Vec<u8>>, Error> {
        // Pairs appended from here are joined to the body's with `&`.
        form_post(
            config,
            &self.url,
            Serializer::for_suffix(self.body, 0),
            mint,
        )
    }
}

/// A form POST with client authentication and `Accept: application/json`, shared by the token,
/// revocation, introspection and device authorization requests.
pub(crate) fn form_post(
    config: &ClientConfig,
    url: &Url,
    mut form: Serializer<'_, String>,
    mint: &Mint<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    let authorization = config.authenticate(&mut form, mint)?;
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
