//! OpenID Connect on the blocking session: discovery, the authorization URL, the code
//! exchange with ID token validation, and userinfo. The decisions are the core's
//! ([`oauth_core::oidc`]); this file fetches what the core asks for.

use std::time::SystemTime;

use oauth_core::oidc::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, CodeExchange, IdTokenClaims, IdTokenExpectations,
    IdTokenStep, IdTokenVerifier, MetadataKind, PendingAuthorization, UserInfo, authorization_url,
    discovery_request, parse_discovery_response, parse_userinfo_response, userinfo_request,
};
use oauth_core::url::Url;
use oauth_core::{AccessToken, IdToken, Token, UsageError, parse_token_response};
use ring::rand::SecureRandom as _;

use crate::session::{SessionBuilder, call_endpoint};
use crate::{Error, OAuth2Session};

impl SessionBuilder {
    /// Fetches the provider's metadata from `issuer` (OpenID Connect Discovery) and takes its
    /// endpoints and issuer; the document's `issuer` must equal `issuer` exactly.
    ///
    /// # Errors
    /// A configuration error already met, a transport error, or a document that is not
    /// metadata for this issuer.
    pub fn discover(self, issuer: &str) -> Result<Self, Error> {
        let config = self.config.clone()?;
        let request = discovery_request(&config, issuer, MetadataKind::OpenId)?;
        // The user's agent if one is set; otherwise one for this call only, so settings made
        // after `discover` (a timeout, say) still shape the session's own agent.
        let response = match &self.agent {
            Some(agent) => call_endpoint(agent, request, self.body_limit, self.timeout)?,
            None => call_endpoint(
                &crate::session::default_agent(self.timeout),
                request,
                self.body_limit,
                self.timeout,
            )?,
        };
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
    /// as needed), and only then makes the new token the session's.
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
        let CodeExchange {
            grant,
            expectations,
        } = pending.callback(callback_url)?;
        let (ticket, request) = self.lock().fetch(&grant)?.into_parts();
        let sent_at = SystemTime::now();
        let response = call_endpoint(
            &self.shared.agent,
            request,
            self.shared.body_limit,
            self.shared.timeout,
        )?;
        let token = parse_token_response(&response, sent_at)?;
        let claims = match expectations.id_token_of(&token)? {
            Some(id_token) => {
                Some(self.validate_id_token(id_token, &expectations, Some(token.access_token()))?)
            }
            None => None,
        };
        let mut state = self.lock();
        let update = state.commit_login(&ticket, token, claims)?;
        if let Some(hook) = &self.shared.on_update {
            hook(&update);
        }
        drop(state);
        self.shared.exchange_ended.notify_all();
        Ok(update.new_token().clone())
    }

    /// The claims of the ID token validated by the last [`exchange_code`](Self::exchange_code),
    /// while the session holds that login's grant: [`set_token`](Self::set_token) and
    /// [`fetch_token`](Self::fetch_token) clear them, refreshes keep them.
    #[must_use]
    pub fn id_token_claims(&self) -> Option<IdTokenClaims> {
        self.lock().id_token_claims().cloned()
    }

    /// Fetches the user's claims from the userinfo endpoint with the session's token
    /// (refreshed first when due); their `sub` must be the ID token's.
    ///
    /// # Errors
    /// [`UsageError::NoIdToken`] before an OpenID Connect login; the server's OAuth error; a
    /// response about another subject.
    pub fn userinfo(&self) -> Result<UserInfo, Error> {
        let sub = self
            .lock()
            .id_token_claims()
            .map(|c| c.sub().to_owned())
            .ok_or_else(|| oauth_core::Error::from(UsageError::NoIdToken))?;
        // Like any request of the session: one refresh and one replay after a `401` with
        // `invalid_token`, as the core decides.
        let mut replayed = false;
        loop {
            let bearer = self.authorize()?;
            let request = userinfo_request(&self.shared.config, bearer.access_token())?;
            let response = call_endpoint(
                &self.shared.agent,
                request,
                self.shared.body_limit,
                self.shared.timeout,
            )?;
            let verdict = self.lock().handle_resource_response(
                &bearer,
                replayed,
                response.status(),
                response.headers(),
            );
            if replayed || verdict != oauth_core::ResourceVerdict::Replay {
                return Ok(parse_userinfo_response(&response, &sub)?);
            }
            replayed = true;
        }
    }

    /// Validates an ID token against the provider's keys, fetching them when missing or stale,
    /// and once more when the token names a `kid` the cached set lacks.
    ///
    /// # Errors
    /// [`oauth_core::Error::IdToken`] naming the failed check, or a transport error.
    pub fn validate_id_token(
        &self,
        id_token: &IdToken,
        expectations: &IdTokenExpectations,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims, Error> {
        let config = &self.shared.config;
        let verifier = IdTokenVerifier::new(config)?;
        let mut just_fetched = false;
        // At most two rounds: after a fetch the core never asks for another.
        loop {
            let now = SystemTime::now();
            let step = self.jwks().validate_id_token(
                config,
                &verifier,
                id_token,
                expectations,
                access_token,
                now,
                just_fetched,
            )?;
            match step {
                IdTokenStep::Validated(claims) => return Ok(claims),
                IdTokenStep::Fetch(request) => {
                    let response = call_endpoint(
                        &self.shared.agent,
                        request,
                        self.shared.body_limit,
                        self.shared.timeout,
                    )
                    .inspect_err(|_| self.jwks().handle_jwks_failure(SystemTime::now()))?;
                    self.jwks()
                        .handle_jwks_response(&response, SystemTime::now())?;
                    just_fetched = true;
                }
                _ => return Err(Error::UnknownStep("an ID token step")),
            }
        }
    }
}
