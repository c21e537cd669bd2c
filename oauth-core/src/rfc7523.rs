//! JWTs for client authentication and authorization grants (RFC 7523): the client assertion
//! of `client_secret_jwt` and `private_key_jwt` (§2.2, OIDC Core §9) and the JWT bearer
//! grant (§2.1).
//!
//! Both are minted per request, from the request's time and fresh entropy (a [`Mint`]): a
//! `jti` of 16 random bytes, `iat` now, `exp` a short lifetime later. Nothing minted is ever
//! reused, so a server that records `jti`s (RFC 7523 §3 item 7) accepts every request.

use std::time::{Duration, SystemTime};

use crate::client::ClientConfig;
use crate::entropy::Entropy;
use crate::error::{ConfigError, Error, UsageError};
use crate::jose::{JoseError, SigningKey, json_string};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long a client assertion is valid (`exp` - `iat`): short, since it is minted for one
/// request.
pub const CLIENT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The default lifetime of a JWT bearer grant's assertion.
pub const JWT_BEARER_LIFETIME: Duration = Duration::from_secs(300);

/// How long a request object (RFC 9101) is valid.
pub const REQUEST_OBJECT_LIFETIME: Duration = Duration::from_secs(60);

/// Random bytes in a `jti` (base64url: 22 characters).
pub const JTI_ENTROPY: usize = 16;

/// What a request minted now needs: the time and an entropy source.
#[derive(Clone, Copy)]
pub struct Mint<'a> {
    now: Option<SystemTime>,
    entropy: Option<&'a dyn Entropy>,
}

impl std::fmt::Debug for Mint<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mint")
            .field("now", &self.now)
            .field("entropy", &self.entropy.is_some())
            .finish()
    }
}

impl<'a> Mint<'a> {
    /// JWTs minted at `now` with `entropy`.
    #[must_use]
    pub fn new(now: SystemTime, entropy: &'a dyn Entropy) -> Self {
        Self {
            now: Some(now),
            entropy: Some(entropy),
        }
    }

    /// No inputs: building a request that needs a JWT fails with
    /// [`UsageError::MintUnavailable`].
    pub(crate) const NONE: Mint<'static> = Mint {
        now: None,
        entropy: None,
    };

    /// A mint at `now` with `entropy` if there is one.
    pub(crate) fn maybe(now: SystemTime, entropy: Option<&'a dyn Entropy>) -> Self {
        Self {
            now: Some(now),
            entropy,
        }
    }

    fn inputs(&self) -> Result<(SystemTime, &'a dyn Entropy), Error> {
        match (self.now, self.entropy) {
            (Some(now), Some(entropy)) => Ok((now, entropy)),
            _ => Err(UsageError::MintUnavailable.into()),
        }
    }

    /// Signs `claims` (built by `claims(iat, jti)`) with `key`.
    fn sign(
        &self,
        key: &SigningKey,
        claims: impl FnOnce(u64, &str) -> String,
    ) -> Result<String, Error> {
        let (now, entropy) = self.inputs()?;
        let (jti, iat) = fresh_jti_and_iat(now, entropy)?;
        key.sign_jwt(None, &claims(iat, &jti), entropy)
            .map_err(|e| signing_failed(&e))
    }
}

/// A new `jti` (base64url of [`JTI_ENTROPY`] bytes from `entropy`) and `iat` (whole seconds of
/// `now`), for every JWT minted per request.
pub(crate) fn fresh_jti_and_iat(
    now: SystemTime,
    entropy: &dyn Entropy,
) -> Result<(String, u64), Error> {
    let mut bytes = [0u8; JTI_ENTROPY];
    entropy
        .fill(&mut bytes)
        .map_err(|_| UsageError::EntropyUnavailable)?;
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok((crate::jose::b64url_encode(&bytes), iat))
}

impl Mint<'_> {
    /// Signs `claims` with `jti`, `iat` and `exp` (`lifetime` later) added, under `typ`.
    pub(crate) fn sign_claims(
        &self,
        key: &SigningKey,
        mut claims: serde_json::Map<String, serde_json::Value>,
        lifetime: Duration,
        typ: Option<&str>,
    ) -> Result<String, Error> {
        let (now, entropy) = self.inputs()?;
        let (jti, iat) = fresh_jti_and_iat(now, entropy)?;
        claims.insert("jti".into(), jti.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), (iat + lifetime.as_secs()).into());
        let claims = serde_json::Value::Object(claims).to_string();
        key.sign_jwt(typ, &claims, entropy)
            .map_err(|e| signing_failed(&e))
    }
}

fn signing_failed(error: &JoseError) -> Error {
    ConfigError::SigningKey(error.to_string()).into()
}

/// The `aud` of client assertions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The token endpoint URL, also for revocation and introspection requests (RFC 7523 §3
    /// item 3). The default; the bundled test server (oidc-provider) accepts it, the issuer
    /// and the URL of the endpoint called.
    #[default]
    TokenEndpoint,
    /// The issuer identifier, which some servers require instead.
    Issuer,
    /// Exactly this value.
    Custom(String),
}

/// The client assertion of `config`'s JWT authentication (`client_secret_jwt` or
/// `private_key_jwt`), minted now (RFC 7523 §3): `iss` and `sub` the client id, `aud` (see
/// [`AssertionAudience`]), a fresh `jti`, `iat`, `exp` [`CLIENT_ASSERTION_LIFETIME`] later.
/// The request builders add it themselves; this is for requests of your own.
///
/// # Errors
/// [`ConfigError::Missing`] when the client does not authenticate with a JWT;
/// [`UsageError::MintUnavailable`], [`UsageError::EntropyUnavailable`],
/// [`ConfigError::SigningKey`] as for the request builders.
pub fn client_assertion(config: &ClientConfig, mint: &Mint<'_>) -> Result<String, Error> {
    match &config.auth {
        crate::ClientAuth::SecretJwt { key, .. } | crate::ClientAuth::PrivateKeyJwt { key } => {
            assertion_for(config, key, &config.assertion_audience, mint)
        }
        _ => Err(ConfigError::Missing("client assertion key").into()),
    }
}

/// The client assertion for `key`.
pub(crate) fn assertion_for(
    config: &ClientConfig,
    key: &SigningKey,
    audience: &AssertionAudience,
    mint: &Mint<'_>,
) -> Result<String, Error> {
    let aud = match audience {
        AssertionAudience::TokenEndpoint => config
            .token_endpoint
            .as_ref()
            .map(|url| url.as_str().to_owned())
            .ok_or(ConfigError::MissingEndpoint("token"))?,
        AssertionAudience::Issuer => config
            .issuer
            .clone()
            .ok_or(ConfigError::Missing("issuer"))?,
        AssertionAudience::Custom(aud) => aud.clone(),
    };
    let client_id = json_string(&config.client_id);
    let aud = json_string(&aud);
    let lifetime = CLIENT_ASSERTION_LIFETIME.as_secs();
    mint.sign(key, |iat, jti| {
        format!(
            r#"{{"iss":{client_id},"sub":{client_id},"aud":{aud},"jti":"{jti}","iat":{iat},"exp":{}}}"#,
            iat + lifetime
        )
    })
}

/// A JWT bearer grant (RFC 7523 §2.1): a session that holds one mints a fresh assertion for
/// every token request and, like client credentials, simply fetches a new token when the old
/// one is due. Google-style service accounts work this way.
///
/// `Debug` shows the claims and the key's `alg` and `kid`, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtBearer {
    key: SigningKey,
    issuer: String,
    subject: String,
    audience: Option<String>,
    lifetime: Duration,
    claims: serde_json::Map<String, serde_json::Value>,
}

impl JwtBearer {
    /// Assertions signed by `key`, with this `iss` and `sub`; `aud` is the token endpoint URL
    /// unless [`audience`](Self::audience) says otherwise, the lifetime
    /// [`JWT_BEARER_LIFETIME`].
    pub fn new(key: SigningKey, issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            key,
            issuer: issuer.into(),
            subject: subject.into(),
            audience: None,
            lifetime: JWT_BEARER_LIFETIME,
            claims: serde_json::Map::new(),
        }
    }

    /// The `aud` claim (Google wants its token URI; others the issuer).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How long each assertion is valid (`exp` - `iat`), at least one second.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// Adds a claim (Google's `scope`, say). The registered claims `iss`, `sub`, `aud`,
    /// `jti`, `iat` and `exp` are the library's: setting one here has no effect.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        let name = name.into();
        if !matches!(name.as_str(), "iss" | "sub" | "aud" | "jti" | "iat" | "exp") {
            self.claims.insert(name, value.into());
        }
        self
    }

    /// The assertion for a request minted now.
    pub(crate) fn assertion(
        &self,
        config: &ClientConfig,
        mint: &Mint<'_>,
    ) -> Result<String, Error> {
        let aud = match &self.audience {
            Some(aud) => aud.clone(),
            None => config
                .token_endpoint
                .as_ref()
                .map(|url| url.as_str().to_owned())
                .ok_or(ConfigError::MissingEndpoint("token"))?,
        };
        let iss = json_string(&self.issuer);
        let sub = json_string(&self.subject);
        let aud = json_string(&aud);
        let lifetime = self.lifetime.as_secs();
        let extra = if self.claims.is_empty() {
            String::new()
        } else {
            let object = serde_json::Value::Object(self.claims.clone()).to_string();
            format!(",{}", &object[1..object.len() - 1])
        };
        mint.sign(&self.key, |iat, jti| {
            format!(
                r#"{{"iss":{iss},"sub":{sub},"aud":{aud},"jti":"{jti}","iat":{iat},"exp":{}{extra}}}"#,
                iat + lifetime
            )
        })
    }
}
