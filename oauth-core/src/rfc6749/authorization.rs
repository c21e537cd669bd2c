//! The authorization code flow's front channel: the authorization request (RFC 6749 §4.1.1,
//! OIDC Core §3.1.2.1) with state, PKCE S256 (RFC 7636) and nonce from injected entropy, and
//! the authorization response (RFC 6749 §4.1.2, §4.1.2.1) checked for state and, when the
//! provider sends it, issuer (RFC 9207).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::ClientConfig;
use crate::error::{CallbackError, ConfigError, Error, OAuthError, UsageError};
use crate::jose::b64url_encode;
use crate::rfc6749::Grant;
use crate::rfc6749::PreparedPost;
use crate::rfc6749::response::{ResponseView, take_text};
use crate::rfc7523::Mint;
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
    authorization_url_with(config, request, entropy, &Mint::NONE)
}

/// [`authorization_url`] for a client that signs its requests (JAR, RFC 9101:
/// [`ClientConfig::signed_request_objects`]): the URL then carries only `client_id` and the
/// request object, minted with `mint`.
///
/// # Errors
/// As [`authorization_url`]; [`UsageError::PushedAuthorizationRequired`] when the provider
/// accepts pushed requests only (use [`pushed_authorization_request`]).
pub fn authorization_url_with(
    config: &ClientConfig,
    request: &AuthorizationRequest,
    entropy: &[u8; AUTHORIZATION_ENTROPY],
    mint: &Mint<'_>,
) -> Result<(Url, PendingAuthorization), Error> {
    if config.require_par {
        return Err(UsageError::PushedAuthorizationRequired.into());
    }
    let mut url = config.endpoint("authorization", config.authorization_endpoint.as_ref())?;
    let (params, pending) = authorization_params(config, request, entropy)?;
    {
        let mut query = url.query_pairs_mut();
        if config.request_objects {
            let object = request_object(config, &params, mint)?;
            query
                .append_pair("client_id", &config.client_id)
                .append_pair("request", &object);
        } else {
            // `response_type` first, then `client_id`, then the rest.
            let mut pairs = params.iter();
            if let Some((name, value)) = pairs.next() {
                query.append_pair(name.as_ref(), value);
            }
            query.append_pair("client_id", &config.client_id);
            for (name, value) in pairs {
                query.append_pair(name.as_ref(), value);
            }
        }
    }
    Ok((url, pending))
}

/// The pushed authorization request (RFC 9126 §2.1): the authorization request's parameters
/// (or its signed request object) in a form POST to the pushed authorization request
/// endpoint, with the client's authentication. Send it, read the answer with
/// [`parse_pushed_authorization_response`], and send the browser to
/// [`pushed_authorization_url`].
///
/// # Errors
/// As [`authorization_url_with`], and [`ConfigError::MissingEndpoint`] without a pushed
/// authorization request endpoint.
pub fn pushed_authorization_request(
    config: &ClientConfig,
    request: &AuthorizationRequest,
    entropy: &[u8; AUTHORIZATION_ENTROPY],
    mint: &Mint<'_>,
) -> Result<(http::Request<Vec<u8>>, PendingAuthorization), Error> {
    let (params, pending) = authorization_params(config, request, entropy)?;
    let object = if config.request_objects {
        Some(request_object(config, &params, mint)?)
    } else {
        None
    };
    // Every authentication method but Basic puts `client_id` in the body already.
    let basic = matches!(config.auth, crate::ClientAuth::SecretBasic { .. });
    let post = PreparedPost::new(
        config,
        "pushed authorization request",
        config.par_endpoint.as_ref(),
        |form| {
            if basic {
                form.append_pair("client_id", &config.client_id);
            }
            match &object {
                Some(object) => {
                    form.append_pair("request", object);
                }
                None => {
                    for (name, value) in &params {
                        form.append_pair(name.as_ref(), value);
                    }
                }
            }
        },
    )?;
    Ok((post.finish(config, mint)?, pending))
}

/// The answer to a pushed authorization request (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedAuthorization {
    /// The reference to the pushed request, for the authorization URL.
    pub request_uri: String,
    /// How long it is valid.
    pub expires_in: Duration,
}

/// Reads the answer to a pushed authorization request.
///
/// # Errors
/// [`Error::OAuth`] for an error answer (`invalid_request`, `invalid_client`, …),
/// [`Error::Response`] naming what is missing.
pub fn parse_pushed_authorization_response<B: AsRef<[u8]>>(
    response: &http::Response<B>,
) -> Result<PushedAuthorization, Error> {
    let view = ResponseView::of(response);
    let mut map: serde_json::Map<String, serde_json::Value> = view.decode_success()?;
    let request_uri = take_text(&mut map, "request_uri")
        .map_err(|_| view.malformed("request_uri is not a string"))?
        .ok_or_else(|| view.malformed("request_uri is missing"))?;
    let expires_in = map
        .remove("expires_in")
        .and_then(|v| crate::token::seconds(&v, "expires_in").ok())
        .ok_or_else(|| view.malformed("expires_in is missing or not a number of seconds"))?;
    Ok(PushedAuthorization {
        request_uri,
        expires_in,
    })
}

/// The URL to send the browser to after a pushed request: only `client_id` and
/// `request_uri` (RFC 9126 §4).
///
/// # Errors
/// [`ConfigError`] when the authorization endpoint is missing or insecure.
pub fn pushed_authorization_url(
    config: &ClientConfig,
    pushed: &PushedAuthorization,
) -> Result<Url, Error> {
    let mut url = config.endpoint("authorization", config.authorization_endpoint.as_ref())?;
    url.query_pairs_mut()
        .append_pair("client_id", &config.client_id)
        .append_pair("request_uri", &pushed.request_uri);
    Ok(url)
}

/// The request object (RFC 9101 §4): the parameters as claims, with `iss` (the client),
/// `aud` (the issuer), `client_id`, `iat`, `exp` a minute later and a fresh `jti`, signed with
/// the client's key, or its secret (HS256).
fn request_object(
    config: &ClientConfig,
    params: &[(Cow<'static, str>, String)],
    mint: &Mint<'_>,
) -> Result<String, Error> {
    let key = match &config.auth {
        crate::ClientAuth::PrivateKeyJwt { key } | crate::ClientAuth::SecretJwt { key, .. } => {
            key.clone()
        }
        crate::ClientAuth::SecretBasic { secret, .. }
        | crate::ClientAuth::SecretPost { secret } => {
            crate::jose::SigningKey::hmac(secret.secret().as_bytes(), crate::jose::Algorithm::HS256)
                .map_err(|e| ConfigError::SigningKey(e.to_string()))?
        }
        crate::ClientAuth::None => {
            return Err(ConfigError::Missing("key to sign request objects").into());
        }
    };
    let audience = config
        .issuer
        .clone()
        .ok_or(ConfigError::Missing("issuer"))?;
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), config.client_id.clone().into());
    claims.insert("aud".into(), audience.into());
    claims.insert("client_id".into(), config.client_id.clone().into());
    for (name, value) in params {
        let value = match (name.as_ref(), value.parse::<u64>()) {
            ("max_age", Ok(seconds)) => serde_json::Value::from(seconds),
            _ => serde_json::Value::from(value.clone()),
        };
        claims.insert(name.to_string(), value);
    }
    mint.sign_claims(
        &key,
        claims,
        crate::rfc7523::REQUEST_OBJECT_LIFETIME,
        Some("oauth-authz-req+jwt"),
    )
}

/// An authorization request's parameters, in order.
type Params = Vec<(Cow<'static, str>, String)>;

/// The parameters of an authorization request (all but `client_id`) and what to keep for the
/// callback.
fn authorization_params(
    config: &ClientConfig,
    request: &AuthorizationRequest,
    entropy: &[u8; AUTHORIZATION_ENTROPY],
) -> Result<(Params, PendingAuthorization), Error> {
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
    let mut params: Vec<(&'static str, String)> = vec![
        ("response_type", "code".to_owned()),
        ("redirect_uri", redirect_uri.clone()),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope.to_owned()));
    }
    params.push(("state", state.clone()));
    params.push(("code_challenge", challenge));
    params.push(("code_challenge_method", "S256".to_owned()));
    if let Some(nonce) = &nonce {
        params.push(("nonce", nonce.clone()));
    }
    if let Some(prompt) = &request.prompt {
        params.push(("prompt", prompt.clone()));
    }
    if let Some(hint) = &request.login_hint {
        params.push(("login_hint", hint.clone()));
    }
    if let Some(max_age) = request.max_age {
        params.push(("max_age", max_age.as_secs().to_string()));
    }
    let mut params: Vec<(Cow<'static, str>, String)> = params
        .into_iter()
        .map(|(n, v)| (Cow::Borrowed(n), v))
        .collect();
    for (name, value) in &request.params {
        params.push((Cow::Owned(name.clone()), value.clone()));
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
    Ok((params, pending))
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
