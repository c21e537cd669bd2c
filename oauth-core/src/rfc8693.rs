//! OAuth 2.0 Token Exchange (RFC 8693): the request (§2.1) as a [`Grant`], and the token
//! types of §3. The answer is a token response whose `issued_token_type` is
//! [`Token::issued_token_type`](crate::Token::issued_token_type).

use crate::rfc6749::Grant;

/// `grant_type` of a token exchange (§2.1).
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type identifiers (§3).
pub mod token_type {
    /// An OAuth access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
    /// A base64url-encoded SAML 1.1 assertion.
    pub const SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
    /// A base64url-encoded SAML 2.0 assertion.
    pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
}

/// A token exchange request (§2.1), turned into a [`Grant`] to send: as a one-off call, or as
/// a session's grant (a session re-exchanges the same subject token when its token is due and
/// it holds no refresh token).
///
/// `Debug` (through the grant) never shows the subject or actor token.
#[derive(Debug, Clone)]
pub struct TokenExchange {
    grant: Grant,
}

impl TokenExchange {
    /// Exchanges `subject_token`, of type `subject_token_type` (a [`token_type`] URI).
    #[must_use]
    pub fn new(subject_token: &str, subject_token_type: impl Into<String>) -> Self {
        Self {
            grant: Grant::custom(TOKEN_EXCHANGE_GRANT_TYPE)
                .secret_param("subject_token", subject_token)
                .param("subject_token_type", subject_token_type)
                .repeatable(true),
        }
    }

    /// The party acting for the subject (delegation, §1.1).
    #[must_use]
    pub fn actor(mut self, actor_token: &str, actor_token_type: impl Into<String>) -> Self {
        self.grant = self
            .grant
            .secret_param("actor_token", actor_token)
            .param("actor_token_type", actor_token_type);
        self
    }

    /// A logical name of the target service (may be given more than once).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.grant = self.grant.param("audience", audience);
        self
    }

    /// The URI of the target service (may be given more than once; RFC 8707).
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.grant = self.grant.param("resource", resource);
        self
    }

    /// The type of token wanted (a [`token_type`] URI).
    #[must_use]
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.grant = self.grant.param("requested_token_type", token_type);
        self
    }

    /// The scope wanted.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.grant = self.grant.scope(scope);
        self
    }

    /// The grant to send.
    #[must_use]
    pub fn into_grant(self) -> Grant {
        self.grant
    }
}

impl From<TokenExchange> for Grant {
    fn from(exchange: TokenExchange) -> Self {
        exchange.grant
    }
}
