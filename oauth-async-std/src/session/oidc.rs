//! OpenID Connect discovery on the builder (one request, one parse, before a session exists);
//! the session's OpenID Connect methods are the shared ones ([`oauth_core::session_methods`]),
//! each a core flow.

use oauth_core::oidc::{MetadataKind, discovery_request, parse_discovery_response};

use super::SessionBuilder;
use crate::Error;

impl SessionBuilder {
    /// Fetches the provider's metadata from `issuer` (OpenID Connect Discovery) and takes its
    /// endpoints and issuer; the document's `issuer` must equal `issuer` exactly.
    ///
    /// The call goes through the [`http_client`](Self::http_client) if one was set before,
    /// else through a client made with the settings so far and used for this call only:
    /// [`timeout`](Self::timeout) and the other client settings made after `discover` still
    /// apply to the session.
    ///
    /// # Errors
    /// A configuration error already met, a transport error, or a document that is not
    /// metadata for this issuer.
    pub async fn discover(self, issuer: &str) -> Result<Self, Error> {
        let config = self.settings.config.clone()?;
        let request = discovery_request(&config, issuer, MetadataKind::OpenId)?;
        let limit = self.settings.body_limit;
        let response = self.early_client().call_endpoint(request, limit).await?;
        let metadata = parse_discovery_response(&response, issuer)?;
        Ok(self.provider_metadata(&metadata))
    }
}

#[cfg(test)]
mod tests {
    use oauth_core::oidc::AuthorizationRequest;

    use super::*;
    use crate::OAuth2Session;

    #[test]
    fn a_callback_that_fails_its_checks_sends_nothing_and_signs_nobody_in() {
        let session = OAuth2Session::builder("c")
            .authorization_endpoint("https://id.example/auth")
            .token_endpoint("http://127.0.0.1:9/token")
            .redirect_uri("http://127.0.0.1:53682/callback")
            .build()
            .expect("session");
        let (_, pending) = session
            .authorization_url(&AuthorizationRequest::new().scope("openid"))
            .expect("url");
        let error = async_std::task::block_on(session.exchange_code(
            pending,
            "http://127.0.0.1:53682/callback?code=x&state=forged",
        ))
        .unwrap_err();
        assert!(
            matches!(&error, Error::Core(oauth_core::Error::Callback(_))),
            "{error}"
        );
        assert_eq!(session.http_client().connections_opened(), 0);
        assert!(session.token().is_none() && session.id_token_claims().is_none());
    }
}
