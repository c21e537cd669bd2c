//! What the session keeps of an OpenID Connect login: the provider's key cache and the
//! validated claims of the login behind the current token.

use super::{ExchangeTicket, TokenSession, TokenUpdate};
use crate::error::Error;
use crate::oidc::{IdTokenClaims, JwksCache};
use crate::token::Token;

impl TokenSession {
    /// Uses this key cache (its TTL and re-fetch interval) for ID token validation.
    #[must_use]
    pub fn with_jwks_cache(mut self, jwks: JwksCache) -> Self {
        self.jwks = jwks;
        self
    }

    /// The provider's keys, as cached for ID token validation.
    #[must_use]
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// The key cache, to store or mark a fetch ([`crate::flow::ValidateIdToken`] does).
    pub fn jwks_mut(&mut self) -> &mut JwksCache {
        &mut self.jwks
    }

    /// [`commit_token`](Self::commit_token) for a code exchange whose ID token was validated:
    /// the token and its login's claims change together.
    ///
    /// # Errors
    /// As [`commit_token`](Self::commit_token).
    pub fn commit_login(
        &mut self,
        ticket: &ExchangeTicket,
        token: Token,
        claims: Option<IdTokenClaims>,
    ) -> Result<TokenUpdate, Error> {
        let update = self.commit_token(ticket, token)?;
        self.claims = claims;
        Ok(update)
    }

    /// The validated ID token claims of the login behind the current token. A new grant
    /// ([`set_token`](Self::set_token), a fetch) clears them, since it may be another user's;
    /// a refresh continues the same grant and keeps them.
    #[must_use]
    pub fn id_token_claims(&self) -> Option<&IdTokenClaims> {
        self.claims.as_ref()
    }
}
