//! OpenID Connect on the async session: discovery, the authorization URL, the code exchange
//! with ID token validation, and userinfo. The decisions are the core's
//! ([`oauth_core::oidc`]); this file fetches what the core asks for. The key cache and the
//! claims sit behind `std` mutexes locked only for the core's synchronous calls, never across
//! an `.await`.
//!
//! ```text
//!  exchange_code(pending, callback)
//!     │ pending.callback(url): state, iss, error           (core; nothing sent on failure)
//!     │ core.fetch(code grant) ─► spawned task: POST token endpoint
//!     │     parse_token_response ─► validate_id_token: JwksCache says Use ─► claims
//!     │                                                        └► Fetch ─► GET jwks_uri, again
//!     └ only then: core.commit_token, claims stored, sync hook, wake waiters, async hook
//! ```

use std::panic::resume_unwind;
use std::sync::{Arc, MutexGuard};
use std::time::SystemTime;

use oauth_core::oidc::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, CodeExchange, IdTokenClaims, IdTokenExpectations,
    IdTokenStep, IdTokenVerifier, JwksCache, MetadataKind, PendingAuthorization, UserInfo,
    authorization_url, discovery_request, parse_discovery_response, parse_userinfo_response,
    userinfo_request,
};
use oauth_core::url::Url;
use oauth_core::{AccessToken, Exchange, IdToken, Token, UsageError, parse_token_response};
use ring::rand::SecureRandom as _;

use super::exchange::{Outcome, announce, record};
use super::{OAuth2Session, SessionBuilder, Shared, lock};
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
        let config = self.config.clone()?;
        let request = discovery_request(&config, issuer, MetadataKind::OpenId)?;
        let response = self
            .early_client()
            .call_endpoint(request, self.body_limit)
            .await?;
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
        Ok(authorization_url(&self.shared.config, request, &entropy)?)
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
        let CodeExchange {
            grant,
            expectations,
        } = pending.callback(callback_url)?;
        let exchange = self.shared.lock().fetch(&grant)?;
        let task = async_std::task::spawn(login(Arc::clone(&self.shared), exchange, expectations));
        match task.await {
            Ok(outcome) => outcome,
            Err(panic) => resume_unwind(panic),
        }
    }

    /// The claims of the ID token validated by the last [`exchange_code`](Self::exchange_code),
    /// as long as the session holds that login's grant. `None` when that login had no ID
    /// token, and once the grant changes: [`set_token`](Self::set_token) or
    /// [`fetch_token`](Self::fetch_token). A refresh, explicit or automatic, continues the
    /// same grant and keeps them. Claims never describe another grant than the session's.
    #[must_use]
    pub fn id_token_claims(&self) -> Option<IdTokenClaims> {
        self.shared.lock().id_token_claims().cloned()
    }

    /// Fetches the user's claims from the userinfo endpoint with the session's token
    /// (refreshed first when due, and once more after a `401` with `invalid_token`, like any
    /// request of the session); their `sub` must be the ID token's.
    ///
    /// # Errors
    /// [`UsageError::NoIdToken`] without the claims of a login (before an OpenID Connect login,
    /// or once its grant was replaced, see [`id_token_claims`](Self::id_token_claims)); the
    /// server's OAuth error; a response about another subject; a transport error.
    pub async fn userinfo(&self) -> Result<UserInfo, Error> {
        let sub = self
            .shared
            .lock()
            .id_token_claims()
            .map(|claims| claims.sub().to_owned());
        let sub = sub.ok_or_else(|| oauth_core::Error::from(UsageError::NoIdToken))?;
        // The first attempt, and at most one replay after a refresh.
        let mut replayed = false;
        loop {
            let bearer = self.authorize().await?;
            let request = userinfo_request(&self.shared.config, bearer.access_token())?;
            let response = self
                .shared
                .client
                .call_endpoint(request, self.shared.body_limit)
                .await?;
            if replayed || !self.needs_replay(&bearer, false, response.status(), response.headers())
            {
                return Ok(parse_userinfo_response(&response, &sub)?);
            }
            replayed = true;
        }
    }

    /// Validates an ID token against the provider's keys, fetching them when missing or stale,
    /// and once more when the token names a `kid` the cached set lacks (at most once per
    /// [`jwks_cache`](SessionBuilder::jwks_cache) interval: a flood of made-up `kid`s is not a
    /// flood of requests to the provider).
    ///
    /// # Errors
    /// [`oauth_core::Error::IdToken`] naming the failed check, or a transport error.
    pub async fn validate_id_token(
        &self,
        id_token: &IdToken,
        expectations: &IdTokenExpectations,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims, Error> {
        let config = &self.shared.config;
        let verifier = IdTokenVerifier::new(config)?;
        let mut just_fetched = false;
        // At most two rounds: after a fetch the core never asks for another.
        for _ in 0..2 {
            let step = self.jwks().validate_id_token(
                config,
                &verifier,
                id_token,
                expectations,
                access_token,
                SystemTime::now(),
                just_fetched,
            )?;
            match step {
                IdTokenStep::Validated(claims) => return Ok(claims),
                IdTokenStep::Fetch(request) if !just_fetched => {
                    let response = self
                        .shared
                        .client
                        .call_endpoint(request, self.shared.body_limit)
                        .await
                        .inspect_err(|_| self.jwks().handle_jwks_failure(SystemTime::now()))?;
                    self.jwks()
                        .handle_jwks_response(&response, SystemTime::now())?;
                    just_fetched = true;
                }
                IdTokenStep::Fetch(_) => break,
                _ => return Err(Error::UnknownStep("an ID token step")),
            }
        }
        Err(Error::UnknownStep("a second key fetch for one ID token"))
    }

    fn jwks(&self) -> MutexGuard<'_, JwksCache> {
        lock(&self.shared.jwks)
    }
}

/// The code exchange's task: the token request, the ID token check, then the commit. Nothing
/// is reported to the core on failure: a fetch is not a renewal other callers wait for.
async fn login(
    shared: Arc<Shared>,
    exchange: Exchange,
    expectations: IdTokenExpectations,
) -> Outcome {
    let session = OAuth2Session { shared };
    let (ticket, request) = exchange.into_parts();
    // Before the request leaves: lifetimes count from here (never longer than the server's).
    let sent_at = SystemTime::now();
    let checked = async {
        let response = session
            .shared
            .client
            .call_endpoint(request, session.shared.body_limit)
            .await?;
        let token = parse_token_response(&response, sent_at)?;
        let claims = match expectations.id_token_of(&token)? {
            Some(id_token) => Some(
                session
                    .validate_id_token(id_token, &expectations, Some(token.access_token()))
                    .await?,
            ),
            None => None,
        };
        Ok::<_, Error>((token, claims))
    };
    let (token, claims) = match checked.await {
        Ok(checked) => checked,
        Err(error) => return Ok(Err(error)),
    };
    let shared = &session.shared;
    let (outcome, panic) = {
        let mut state = shared.lock();
        let committed = state
            .commit_login(&ticket, token, claims)
            .map_err(Error::from);
        record(shared, committed)
    };
    announce(shared, outcome, panic).await
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
                Error::Core(oauth_core::Error::Usage(UsageError::NoIdToken))
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
