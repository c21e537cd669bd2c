//! Token revocation (RFC 7009): the request (§2.1) and its response (§2.2, §2.2.1).

use http::{Request, Response};
use url::form_urlencoded::Serializer;

use crate::client::ClientConfig;
use crate::error::Error;
use crate::rfc6749::PreparedPost;
use crate::rfc6749::response::ResponseView;
use crate::rfc7523::Mint;
use crate::secret::{AccessToken, RefreshToken};

/// A token to revoke or introspect; its kind becomes the `token_type_hint` (RFC 7009 §2.1).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TokenRef<'a> {
    /// An access token (`token_type_hint=access_token`).
    Access(&'a AccessToken),
    /// A refresh token (`token_type_hint=refresh_token`).
    Refresh(&'a RefreshToken),
}

impl TokenRef<'_> {
    pub(crate) fn append_to(self, form: &mut Serializer<'_, String>) {
        let (token, hint) = match self {
            Self::Access(t) => (t.secret(), "access_token"),
            Self::Refresh(t) => (t.secret(), "refresh_token"),
        };
        form.append_pair("token", token);
        form.append_pair("token_type_hint", hint);
    }
}

/// Builds a revocation request (RFC 7009 §2.1).
///
/// # Errors
/// [`crate::ConfigError`] when the revocation endpoint is missing or insecure;
/// [`crate::UsageError::MintUnavailable`] for a client that authenticates with a JWT (use
/// [`revocation_request_with`]).
pub fn revocation_request(
    config: &ClientConfig,
    token: TokenRef<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    revocation_request_with(config, token, &Mint::NONE)
}

/// [`revocation_request`] for a client that authenticates with a JWT minted now.
///
/// # Errors
/// As [`revocation_request`]; [`crate::ConfigError::SigningKey`] when the key cannot sign.
pub fn revocation_request_with(
    config: &ClientConfig,
    token: TokenRef<'_>,
    mint: &Mint<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    prepare_revocation(config, token)?.finish(config, mint)
}

pub(crate) fn prepare_revocation(
    config: &ClientConfig,
    token: TokenRef<'_>,
) -> Result<PreparedPost, Error> {
    PreparedPost::new(
        config,
        "revocation",
        config.revocation_endpoint.as_ref(),
        |form| token.append_to(form),
    )
}

/// Reads a revocation response: any 2xx is success, whatever its body (§2.2), unless the body
/// is an OAuth error.
///
/// # Errors
/// [`Error::OAuth`] for an error response (§2.2.1), [`Error::Response`] for anything else that
/// is not a 2xx.
pub fn parse_revocation_response<B: AsRef<[u8]>>(response: &Response<B>) -> Result<(), Error> {
    let view = ResponseView::of(response);
    if view.is_success() && response.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match view.decode_success::<serde_json::Map<String, serde_json::Value>>() {
        Ok(_) => Ok(()),
        // A 2xx with a body that is not JSON still means "revoked".
        Err(Error::Response(_)) if view.is_success() => Ok(()),
        Err(e) => Err(e),
    }
}
