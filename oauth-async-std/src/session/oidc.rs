//! OpenID Connect on the async session: discovery, the authorization URL, the code exchange
//! with ID token validation, and userinfo. The decisions are the core's
//! ([`oauth_core::flow`]); each method drives one of its flows.

use oauth_core::flow::{Login, Userinfo, ValidateIdToken};
use oauth_core::oidc::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, IdTokenClaims, IdTokenExpectations, MetadataKind,
    PendingAuthorization, UserInfo, authorization_url, discovery_request, parse_discovery_response,
};
use oauth_core::url::Url;
use oauth_core::{AccessToken, IdToken, Token};
use ring::rand::SecureRandom as _;

use super::{OAuth2Session, SessionBuilder};
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

impl OAuth2Session {
    /// A builder for `client_id` configured by discovery from `issuer`.
    ///
    /// # Errors
    /// As [`SessionBuilder::discover`].
    pub async fn from_issuer(
        issuer: &str,
        client_id: impl Into<String>,
    ) -> Result<SessionBuilder, Error> {
        Self::builder(client_id).discover(issuer).await
    }

    /// The URL to send the user's browser to (authorization code flow with PKCE S256, state
    /// and, for the `openid` scope, nonce), and what to keep until the callback.
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

    /// Handles the redirect back from the provider: checks it (state, issuer, error), exchanges
    /// the code with the PKCE verifier, validates the ID token (fetching the provider's keys
    /// as needed), and only then makes the new token the session's, stores the claims, calls
    /// the update hooks and wakes waiting requests.
    ///
    /// Once the callback passed its checks, the rest runs in a task of its own, like every
    /// token exchange: dropping this future does not lose the login (the provider accepts a
    /// code only once); the task still validates and stores it.
    ///
    /// # Errors
    /// [`oauth_core::Error::Callback`] for a forged or stale redirect, the provider's OAuth
    /// error (`access_denied`), [`oauth_core::Error::IdToken`] naming a failed check, or a
    /// transport error. The session's previous token and claims are kept on any error.
    pub async fn exchange_code(
        &self,
        pending: PendingAuthorization,
        callback_url: &str,
    ) -> Result<Token, Error> {
        self.drive(Login::new(pending, callback_url)?).await
    }

    /// The claims of the ID token validated by the last [`exchange_code`](Self::exchange_code),
    /// as long as the session holds that login's grant. `None` when that login had no ID
    /// token, and once the grant changes: [`set_token`](Self::set_token) or
    /// [`fetch_token`](Self::fetch_token). A refresh, explicit or automatic, continues the
    /// same grant and keeps them. Claims never describe another grant than the session's.
    #[must_use]
    pub fn id_token_claims(&self) -> Option<IdTokenClaims> {
        self.lock().id_token_claims().cloned()
    }

    /// Fetches the user's claims from the userinfo endpoint with the session's token
    /// (refreshed first when due, and once more after a `401` with `invalid_token`, like any
    /// request of the session); their `sub` must be the ID token's.
    ///
    /// # Errors
    /// [`oauth_core::UsageError::NoIdToken`] without the claims of a login (before an OpenID Connect login,
    /// or once its grant was replaced, see [`id_token_claims`](Self::id_token_claims)); the
    /// server's OAuth error; a response about another subject; a transport error.
    pub async fn userinfo(&self) -> Result<UserInfo, Error> {
        self.drive(Userinfo::new()).await
    }

    /// Validates an ID token against the provider's keys ([`ValidateIdToken`]), fetching them
    /// when missing or stale, and once more when the token names a `kid` the cached set lacks
    /// (at most once per [`jwks_cache`](SessionBuilder::jwks_cache) interval: a flood of
    /// made-up `kid`s is not a flood of requests). Concurrent callers share one fetch.
    ///
    /// # Errors
    /// [`oauth_core::Error::IdToken`] naming the failed check, or a transport error.
    pub async fn validate_id_token(
        &self,
        id_token: &IdToken,
        expectations: &IdTokenExpectations,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims, Error> {
        let (id_token, access_token) = (id_token.clone(), access_token.cloned());
        let flow = ValidateIdToken::new(id_token, expectations.clone(), access_token);
        self.drive(flow).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Type-checked, never run: every OpenID Connect future can be spawned on any executor.
    #[allow(dead_code, reason = "a compile-time check")]
    fn futures_are_send(
        session: &OAuth2Session,
        pending: PendingAuthorization,
        id_token: &IdToken,
        expectations: &IdTokenExpectations,
    ) {
        fn send<T: Send>(_: T) {}
        send(OAuth2Session::from_issuer("https://id.example", "c"));
        send(OAuth2Session::builder("c").discover("https://id.example"));
        send(session.exchange_code(pending, "http://127.0.0.1/callback"));
        send(session.userinfo());
        send(session.validate_id_token(id_token, expectations, None));
    }

    #[test]
    fn userinfo_before_a_login_is_misuse() {
        let session = OAuth2Session::builder("c").build().expect("session");
        let error = async_std::task::block_on(session.userinfo()).unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Core(oauth_core::Error::Usage(oauth_core::UsageError::NoIdToken))
            ),
            "{error}"
        );
    }

    #[test]
    fn authorization_url_draws_fresh_state_verifier_and_nonce() {
        let session = OAuth2Session::builder("c")
            .authorization_endpoint("https://id.example/auth")
            .redirect_uri("http://127.0.0.1:53682/callback")
            .build()
            .expect("session");
        let request = AuthorizationRequest::new().scope("openid");
        let (first, one) = session.authorization_url(&request).expect("url");
        let (second, two) = session.authorization_url(&request).expect("url");
        assert_ne!(one.state(), two.state());
        assert_ne!(first, second);
        for name in ["state", "code_challenge", "nonce"] {
            assert!(first.query_pairs().any(|(k, _)| k == name), "{name}");
        }
    }

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
