//! The authorization code flow's front channel: the authorization request (RFC 6749 §4.1.1,
//! OIDC Core §3.1.2.1) with state, PKCE S256 (RFC 7636) and nonce from injected entropy, and
//! the authorization response (RFC 6749 §4.1.2, §4.1.2.1) checked for state and, when the
//! provider sends it, issuer (RFC 9207).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::ClientConfig;
use crate::error::{CallbackError, ConfigError, Error, OAuthError};
use crate::jose::b64url_encode;
use crate::rfc6749::Grant;
use crate::rfc7636::pkce_pair;
use crate::secret::PkceCodeVerifier;

/// How many random octets [`authorization_url`] takes: 16 for `state`, 32 for the PKCE
/// verifier, 16 for `nonce`.
pub const AUTHORIZATION_ENTROPY: usize = 64;

/// What to ask for beyond the client's configuration.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRequest {
    scope: Option<String>,
    prompt: Option<String>,
    login_hint: Option<String>,
    max_age: Option<Duration>,
    params: Vec<(String, String)>,
}

impl AuthorizationRequest {
    /// A request with the configured scope.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The scope to ask for (include `openid` for OpenID Connect).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// `prompt` (OIDC Core §3.1.2.1): `login`, `consent`, `none`, `select_account`.
    #[must_use]
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// `login_hint`: who is expected to sign in.
    #[must_use]
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// `max_age`: the longest time since the user last authenticated; the ID token's
    /// `auth_time` is checked against it.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Any other parameter (`acr_values`, `ui_locales`, a vendor's).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

/// What the client must remember between the redirect to the provider and the callback.
///
/// It holds the PKCE verifier, a secret: not `Clone`, redacted in `Debug`. It is
/// `Serialize`/`Deserialize` so a web application can keep it in its session store; keep it
/// server side.
#[derive(Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: String,
    verifier: PkceCodeVerifier,
    nonce: Option<String>,
    redirect_uri: String,
    max_age: Option<u64>,
    issuer: Option<String>,
    require_iss: bool,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("redirect_uri", &self.redirect_uri)
            .field("nonce", &self.nonce.is_some())
            .finish_non_exhaustive()
    }
}

/// What ID token validation must check for this login (OIDC Core §3.1.3.7 steps 11 and 13).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenExpectations {
    /// The `nonce` sent in the authorization request.
    pub nonce: Option<String>,
    /// The `max_age` sent, in seconds.
    pub max_age: Option<u64>,
}

impl IdTokenExpectations {
    /// The ID token of the code exchange's answer, to validate: required when a nonce was
    /// sent (the scope had `openid`, so the answer must be a login), optional otherwise.
    ///
    /// # Errors
    /// [`Error::IdToken`] when a nonce was sent and the answer has no `id_token`.
    pub fn id_token_of<'a>(
        &self,
        token: &'a crate::Token,
    ) -> Result<Option<&'a crate::IdToken>, Error> {
        match token.id_token() {
            None if self.nonce.is_some() => {
                Err(crate::oidc::IdTokenError::Claim("id_token").into())
            }
            id_token => Ok(id_token),
        }
    }
}

/// The code exchange to make after a successful callback, and what its ID token must match.
#[derive(Debug)]
pub struct CodeExchange {
    /// The authorization-code grant with the redirect URI and the PKCE verifier.
    pub grant: Grant,
    /// What the ID token of the answer must carry.
    pub expectations: IdTokenExpectations,
}

/// Builds the authorization URL (RFC 6749 §4.1.1) with `response_type=code`, `state`, an S256
/// PKCE challenge and, when the scope has `openid`, a `nonce`, all from `entropy` (see
/// [`AUTHORIZATION_ENTROPY`]). Send the user's browser to the URL; keep the
/// [`PendingAuthorization`] for the callback.
///
/// # Errors
/// [`ConfigError`] when the authorization endpoint or the redirect URI is missing, or the
/// endpoint is insecure.
pub fn authorization_url(
    config: &ClientConfig,
    request: &AuthorizationRequest,
    entropy: &[u8; AUTHORIZATION_ENTROPY],
) -> Result<(Url, PendingAuthorization), Error> {
    let mut url = config.endpoint("authorization", config.authorization_endpoint.as_ref())?;
    let redirect_uri = config
        .redirect_uri
        .clone()
        .ok_or(ConfigError::Missing("redirect URI"))?;
    let (state_bytes, rest) = entropy.split_at(16);
    let (verifier_bytes, nonce_bytes) = rest.split_at(32);
    let state = b64url_encode(state_bytes);
    let mut verifier_entropy = [0u8; 32];
    verifier_entropy.copy_from_slice(verifier_bytes);
    let (verifier, challenge) = pkce_pair(&verifier_entropy);
    let scope = request.scope.as_deref().or(config.scope.as_deref());
    let openid = scope.is_some_and(|s| s.split(' ').any(|s| s == "openid"));
    let nonce = openid.then(|| b64url_encode(nonce_bytes));
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", &redirect_uri);
        if let Some(scope) = scope {
            query.append_pair("scope", scope);
        }
        query
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(nonce) = &nonce {
            query.append_pair("nonce", nonce);
        }
        if let Some(prompt) = &request.prompt {
            query.append_pair("prompt", prompt);
        }
        if let Some(hint) = &request.login_hint {
            query.append_pair("login_hint", hint);
        }
        if let Some(max_age) = request.max_age {
            query.append_pair("max_age", &max_age.as_secs().to_string());
        }
        for (name, value) in &request.params {
            query.append_pair(name, value);
        }
    }
    let pending = PendingAuthorization {
        state,
        verifier,
        nonce,
        redirect_uri,
        max_age: request.max_age.map(|d| d.as_secs()),
        issuer: config.issuer.clone(),
        require_iss: config.require_iss_in_callback,
    };
    Ok((url, pending))
}

impl PendingAuthorization {
    /// The `state` sent.
    #[must_use]
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The `nonce` sent (with the `openid` scope), which the ID token must carry.
    #[must_use]
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// Checks the authorization response the browser was redirected to and returns the code
    /// exchange. In order: `iss` (RFC 9207 §2.4) when present or required, `state` in
    /// constant time (RFC 6749 §10.12), then `error` (§4.1.2.1) or `code`.
    ///
    /// # Errors
    /// [`Error::Callback`] for a failed check; [`Error::OAuth`] when the provider redirected
    /// with an error (`access_denied`, say).
    pub fn callback(self, callback_url: &str) -> Result<CodeExchange, Error> {
        let url = Url::parse(callback_url).map_err(|_| CallbackError::InvalidUrl)?;
        // response_mode=query puts the parameters in the query; fragment responses put them
        // after '#'.
        let pairs: Vec<(String, String)> = match url.query() {
            Some(query) if !query.is_empty() => url.query_pairs().into_owned().collect(),
            _ => url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        };
        let param = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        match (param("iss"), &self.issuer) {
            (Some(found), Some(expected)) if found != expected => {
                return Err(CallbackError::IssuerMismatch {
                    expected: expected.clone(),
                    found: found.chars().take(256).collect(),
                }
                .into());
            }
            (None, _) if self.require_iss => return Err(CallbackError::MissingIssuer.into()),
            _ => {}
        }
        let state = param("state").ok_or(CallbackError::MissingState)?;
        if !constant_time_eq(state.as_bytes(), self.state.as_bytes()) {
            return Err(CallbackError::StateMismatch.into());
        }
        if let Some(error) = param("error") {
            let mut oauth = OAuthError::new(error);
            oauth.error_description = param("error_description").map(str::to_owned);
            oauth.error_uri = param("error_uri").map(str::to_owned);
            return Err(oauth.into());
        }
        let code = param("code").ok_or(CallbackError::MissingCode)?;
        Ok(CodeExchange {
            grant: Grant::authorization_code(code)
                .redirect_uri(self.redirect_uri)
                .pkce_verifier(self.verifier),
            expectations: IdTokenExpectations {
                nonce: self.nonce,
                max_age: self.max_age,
            },
        })
    }
}

/// Compares without an early exit, so the time taken does not tell how much matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
