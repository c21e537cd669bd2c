//! OpenID Connect on the blocking session: each method runs a core flow
//! ([`oauth_core::flow`]) with the session's driver.

use oauth_core::flow::{Login, Userinfo, ValidateIdToken};
use oauth_core::oidc::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, IdTokenClaims, IdTokenExpectations, MetadataKind,
    PendingAuthorization, UserInfo, authorization_url, discovery_request, parse_discovery_response,
};
use oauth_core::url::Url;
use oauth_core::{AccessToken, IdToken, Token};
use ring::rand::SecureRandom as _;

use crate::session::{SessionBuilder, call_endpoint, default_agent};
use crate::{Error, OAuth2Session};

impl SessionBuilder {
    /// Fetches the provider's metadata from `issuer` (OpenID Connect Discovery) and takes its
    /// endpoints and issuer; the document's `issuer` must equal `issuer` exactly. The call
    /// goes through the [`agent`](Self::agent) if one was set before, else through an agent
    /// for this call only, so settings made after `discover` still shape the session's.
    ///
    /// # Errors
    /// A configuration error already met, a transport error, or a document that is not
    /// metadata for this issuer.
    pub fn discover(self, issuer: &str) -> Result<Self, Error> {
        let settings = &self.settings;
        let request = discovery_request(&settings.config.clone()?, issuer, MetadataKind::OpenId)?;
        let agent = self.agent.clone();
        let agent = agent.unwrap_or_else(|| default_agent(settings.timeout));
        let response = call_endpoint(&agent, request, settings.body_limit, settings.timeout)?;
        let metadata = parse_discovery_response(&response, issuer)?;
        Ok(self.provider_metadata(&metadata))
    }
}

impl OAuth2Session {
    /// A builder for `client_id` configured by discovery from `issuer`.
    ///
    /// # Errors
    /// As [`SessionBuilder::discover`].
    pub fn from_issuer(
        issuer: &str,
        client_id: impl Into<String>,
    ) -> Result<SessionBuilder, Error> {
        Self::builder(client_id).discover(issuer)
    }

    /// The URL to send the user's browser to (authorization code flow with PKCE S256, state
    /// and, for the `openid` scope, nonce, drawn from the operating system), and what to keep
    /// until the callback.
    ///
    /// # Errors
    /// [`oauth_core::ConfigError`] when the authorization endpoint or redirect URI is missing;
    /// [`Error::Entropy`] when the operating system has no randomness to give.
    pub fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<(Url, PendingAuthorization), Error> {
        let mut entropy = [0u8; AUTHORIZATION_ENTROPY];
        ring::rand::SystemRandom::new()
            .fill(&mut entropy)
            .map_err(|_| Error::Entropy)?;
        Ok(authorization_url(self.config(), request, &entropy)?)
    }

    /// Handles the redirect back from the provider ([`Login`]): checks it (state, issuer,
    /// error), exchanges the code with the PKCE verifier, validates the ID token (fetching the
    /// provider's keys as needed), and only then makes the new token the session's.
    ///
    /// # Errors
    /// [`oauth_core::Error::Callback`] for a forged or stale redirect, the provider's OAuth
    /// error (`access_denied`), [`oauth_core::Error::IdToken`] naming a failed check, or a
    /// transport error. The session's previous token is kept on any error.
    pub fn exchange_code(
        &self,
        pending: PendingAuthorization,
        callback_url: &str,
    ) -> Result<Token, Error> {
        self.drive(Login::new(pending, callback_url)?)
    }

    /// The claims of the ID token validated by the last [`exchange_code`](Self::exchange_code),
    /// while the session holds that login's grant: [`set_token`](Self::set_token) and
    /// [`fetch_token`](Self::fetch_token) clear them, refreshes keep them.
    #[must_use]
    pub fn id_token_claims(&self) -> Option<IdTokenClaims> {
        self.lock().id_token_claims().cloned()
    }

    /// The user's claims from the userinfo endpoint ([`Userinfo`]), with the session's token
    /// (renewed first when due, replayed once after a `401` `invalid_token`); their `sub`
    /// must be the ID token's.
    ///
    /// # Errors
    /// [`oauth_core::UsageError::NoIdToken`] before an OpenID Connect login; the server's OAuth
    /// error; a response about another subject; a transport error.
    pub fn userinfo(&self) -> Result<UserInfo, Error> {
        self.drive(Userinfo::new())
    }

    /// Validates an ID token against the provider's keys ([`ValidateIdToken`]), fetching them
    /// when missing or stale, and once more when the token names a `kid` the cached set lacks.
    ///
    /// # Errors
    /// [`oauth_core::Error::IdToken`] naming the failed check, or a transport error.
    pub fn validate_id_token(
        &self,
        id_token: &IdToken,
        expectations: &IdTokenExpectations,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims, Error> {
        let flow = ValidateIdToken::new(
            id_token.clone(),
            expectations.clone(),
            access_token.cloned(),
        );
        self.drive(flow)
    }
}
