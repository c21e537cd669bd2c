//! ID token validation, numbered after OpenID Connect Core 1.0 §3.1.3.7 (and §3.1.3.8 for
//! `at_hash`).
//!
//! The signature (steps 6 to 8) is checked before any claim is believed; the claim checks
//! then run in the specification's order. Each failure is its own variant, named after the
//! step.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod claims;

use claims::RawClaims;

use crate::client::ClientConfig;
use crate::error::ConfigError;
use crate::jose::{Algorithm, JoseError, Jwk, Jwks, Jws, b64url_encode};
use crate::rfc6749::authorization::{IdTokenExpectations, constant_time_eq};
use crate::secret::{AccessToken, ClientSecret, IdToken};
use crate::token::ExtraFields;

/// A failed ID token check. The message names the check; claim values are quoted only for
/// `iss`, which is public.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Step 1: an encrypted ID token (five segments); not supported.
    #[error("ID token check 1 (decryption): encrypted ID tokens are not supported")]
    Encrypted,
    /// The token is not a JWS with a JSON claims object.
    #[error("ID token is malformed: {0}")]
    Malformed(String),
    /// Step 2: `iss` is not the provider's issuer.
    #[error("ID token check 2 (iss): issued by {found:?}, expected {expected:?}")]
    Issuer {
        /// The expected issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// Step 3: `aud` does not contain the client id.
    #[error("ID token check 3 (aud): the client is not an audience")]
    Audience,
    /// Steps 4 and 5: several audiences without `azp`, or an `azp` that is not the client.
    #[error("ID token check 4-5 (azp): the authorized party is missing or not the client")]
    AuthorizedParty,
    /// Step 6: no key of the provider's set has the token's `kid`. Fetch the keys again.
    #[error("ID token check 6 (signature): no provider key for kid {kid:?}")]
    UnknownKey {
        /// The token's `kid`.
        kid: Option<String>,
    },
    /// Step 6 or 8: the signature does not verify (or the algorithm does not fit the key).
    #[error("ID token check 6 (signature): {0}")]
    Signature(JoseError),
    /// Step 7: the algorithm is not in the allow-list.
    #[error("ID token check 7 (alg): {0} is not an allowed algorithm")]
    AlgorithmNotAllowed(Algorithm),
    /// Step 8: an `HS*` token but the client has no secret.
    #[error("ID token check 8 (alg): an HMAC-signed token needs a client secret")]
    NoClientSecret,
    /// Step 9: the token expired (beyond the clock skew).
    #[error("ID token check 9 (exp): the token expired")]
    Expired,
    /// Step 10: `iat` is in the future beyond the clock skew.
    #[error("ID token check 10 (iat): the token is issued in the future")]
    IssuedInFuture,
    /// Step 11: `nonce` missing or different from the one sent.
    #[error("ID token check 11 (nonce): the nonce does not match the request")]
    Nonce,
    /// Step 13: `max_age` was requested and `auth_time` is missing or too old.
    #[error("ID token check 13 (auth_time): the authentication is older than max_age")]
    MaxAge,
    /// OIDC Core §12.2: an ID token that came with a refresh names another `iss`, `sub`,
    /// `aud`, `azp`, `auth_time` or `nonce` than the login's, or an earlier `iat`. The
    /// refreshed token is not used; sign the user in again if it persists.
    #[error("refreshed ID token check (OIDC Core 12.2): {0} is not the login's")]
    Refreshed(&'static str),
    /// §3.1.3.8: `at_hash` does not match the access token.
    #[error("ID token check 3.1.3.8 (at_hash): the access token hash does not match")]
    AtHash,
    /// A required claim is missing or of the wrong type.
    #[error("ID token claim {0} is missing or mistyped")]
    Claim(&'static str),
}

/// The claims of a validated ID token (OIDC Core §2).
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenClaims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: SystemTime,
    iat: SystemTime,
    auth_time: Option<SystemTime>,
    nonce: Option<String>,
    azp: Option<String>,
    extra: ExtraFields,
}

impl IdTokenClaims {
    /// The issuer.
    #[must_use]
    pub fn iss(&self) -> &str {
        &self.iss
    }
    /// The subject: the user's stable identifier at the provider.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The audiences.
    #[must_use]
    pub fn aud(&self) -> &[String] {
        &self.aud
    }
    /// Expiry.
    #[must_use]
    pub fn exp(&self) -> SystemTime {
        self.exp
    }
    /// Issue time.
    #[must_use]
    pub fn iat(&self) -> SystemTime {
        self.iat
    }
    /// When the user authenticated.
    #[must_use]
    pub fn auth_time(&self) -> Option<SystemTime> {
        self.auth_time
    }
    /// The nonce.
    #[must_use]
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
    /// The authorized party.
    #[must_use]
    pub fn azp(&self) -> Option<&str> {
        self.azp.as_deref()
    }
    /// Every other claim (`email`, `name`, `acr`, `amr`, `at_hash`, …).
    #[must_use]
    pub fn extra(&self) -> &ExtraFields {
        &self.extra
    }
}

/// Validates ID tokens for one client and provider.
#[derive(Debug, Clone)]
pub struct IdTokenVerifier {
    issuer: String,
    client_id: String,
    algorithms: Vec<Algorithm>,
    clock_skew: Duration,
    client_secret: Option<ClientSecret>,
}

impl IdTokenVerifier {
    /// A verifier from the client configuration (issuer, client id, allowed algorithms, clock
    /// skew, client secret for `HS*`).
    ///
    /// # Errors
    /// [`ConfigError::Missing`] when no issuer is configured (set it or use discovery).
    pub fn new(config: &ClientConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: config
                .issuer
                .clone()
                .ok_or(ConfigError::Missing("issuer"))?,
            client_id: config.client_id.clone(),
            algorithms: config.id_token_algorithms.clone(),
            clock_skew: config.clock_skew,
            client_secret: config.client_secret().cloned(),
        })
    }

    /// Validates `id_token` at `now` against the provider's `keys` and this login's
    /// `expectations`; `access_token` is the one that came with it, for `at_hash`.
    ///
    /// # Errors
    /// The first failed check; [`IdTokenError::UnknownKey`] means the key set may be stale.
    pub fn validate(
        &self,
        id_token: &IdToken,
        keys: &Jwks,
        expectations: &IdTokenExpectations,
        access_token: Option<&AccessToken>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, IdTokenError> {
        // 1. Encrypted tokens have five segments.
        if id_token.secret().split('.').count() == 5 {
            return Err(IdTokenError::Encrypted);
        }
        let jws = Jws::parse(id_token.secret()).map_err(|e| match e {
            JoseError::UnsupportedAlgorithm(_) => IdTokenError::Signature(e),
            other => IdTokenError::Malformed(other.to_string()),
        })?;
        // 7. The algorithm must be allowed (checked first so a refused algorithm never runs).
        let alg = jws.alg();
        if !self.algorithms.contains(&alg) {
            return Err(IdTokenError::AlgorithmNotAllowed(alg));
        }
        // 6 and 8. The signature, by the provider's key of that kid, or by the client secret
        // for HMAC algorithms.
        if alg.name().starts_with("HS") {
            let secret = self
                .client_secret
                .as_ref()
                .ok_or(IdTokenError::NoClientSecret)?;
            jws.verify(&Jwk::from_client_secret(secret))
                .map_err(IdTokenError::Signature)?;
        } else {
            jws.verify_with_set(keys).map_err(|e| match e {
                JoseError::UnknownKey { kid, .. } => IdTokenError::UnknownKey { kid },
                other => IdTokenError::Signature(other),
            })?;
        }
        let mut claims = RawClaims::parse(jws.payload())?;
        let iss = claims.iss.take().ok_or(IdTokenError::Claim("iss"))?;
        let sub = claims.sub.take().ok_or(IdTokenError::Claim("sub"))?;
        let nonce = claims.nonce.take();
        let azp = claims.azp.take();
        let at_hash = claims.at_hash.take();
        // 2. iss is exactly the issuer.
        if iss != self.issuer {
            return Err(IdTokenError::Issuer {
                expected: self.issuer.clone(),
                found: iss.chars().take(256).collect(),
            });
        }
        // 3. aud contains the client id.
        let aud = claims.aud.take().ok_or(IdTokenError::Claim("aud"))?;
        if !aud.contains(&self.client_id) {
            return Err(IdTokenError::Audience);
        }
        // 4. Several audiences need an azp; 5. an azp must be the client.
        match &azp {
            None if aud.len() > 1 => return Err(IdTokenError::AuthorizedParty),
            Some(azp) if *azp != self.client_id => return Err(IdTokenError::AuthorizedParty),
            _ => {}
        }
        let time = |value: Option<Value>, name: &'static str| match value {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
                .map(Some)
                .ok_or(IdTokenError::Claim(name)),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(IdTokenError::Claim(name)),
        };
        let exp = time(claims.exp.take(), "exp")?.ok_or(IdTokenError::Claim("exp"))?;
        let iat = time(claims.iat.take(), "iat")?.ok_or(IdTokenError::Claim("iat"))?;
        let auth_time = time(claims.auth_time.take(), "auth_time")?;
        // 9. Not expired (with the clock skew).
        // A time too far in the future to add to saturates: never expired, always in the future.
        if exp
            .checked_add(self.clock_skew)
            .is_some_and(|limit| now >= limit)
        {
            return Err(IdTokenError::Expired);
        }
        // 10. Not issued in the future (with the clock skew).
        if now
            .checked_add(self.clock_skew)
            .is_none_or(|limit| iat > limit)
        {
            return Err(IdTokenError::IssuedInFuture);
        }
        // 11. The nonce sent comes back.
        if let Some(expected) = &expectations.nonce {
            match &nonce {
                Some(found) if constant_time_eq(found.as_bytes(), expected.as_bytes()) => {}
                _ => return Err(IdTokenError::Nonce),
            }
        }
        // 12. acr is the caller's business (it is in `extra`).
        // 13. With max_age, auth_time is required and recent enough.
        if let Some(max_age) = expectations.max_age {
            let auth_time = auth_time.ok_or(IdTokenError::MaxAge)?;
            let limit = auth_time
                .checked_add(Duration::from_secs(max_age))
                .and_then(|t| t.checked_add(self.clock_skew));
            if limit.is_some_and(|limit| now > limit) {
                return Err(IdTokenError::MaxAge);
            }
        }
        // §3.1.3.8: at_hash, when present and an access token came with the ID token.
        if let (Some(at_hash), Some(access_token)) = (&at_hash, access_token) {
            let digest = ring::digest::digest(alg.digest(), access_token.secret().as_bytes());
            let half = &digest.as_ref()[..digest.as_ref().len() / 2];
            if !constant_time_eq(b64url_encode(half).as_bytes(), at_hash.as_bytes()) {
                return Err(IdTokenError::AtHash);
            }
        }
        let mut extra = claims.extra;
        if let Some(at_hash) = at_hash {
            extra.push("at_hash", &Value::String(at_hash));
        }
        Ok(IdTokenClaims {
            iss,
            sub,
            aud,
            exp,
            iat,
            auth_time,
            nonce,
            azp,
            extra,
        })
    }
}

impl IdTokenClaims {
    /// Checks an ID token that came with a refresh against this login's (OIDC Core §12.2):
    /// the same `iss`, `sub`, `aud` and `azp`; an `iat` no earlier; `auth_time`, when present,
    /// the login's; and no `nonce` but the login's.
    ///
    /// # Errors
    /// [`IdTokenError::Refreshed`] naming the claim.
    pub fn check_refreshed(&self, refreshed: &Self) -> Result<(), IdTokenError> {
        let same = |ok: bool, claim| {
            if ok {
                Ok(())
            } else {
                Err(IdTokenError::Refreshed(claim))
            }
        };
        same(refreshed.iss == self.iss, "iss")?;
        same(refreshed.sub == self.sub, "sub")?;
        same(refreshed.aud == self.aud, "aud")?;
        same(refreshed.azp == self.azp, "azp")?;
        same(refreshed.iat >= self.iat, "iat")?;
        same(
            refreshed.auth_time.is_none() || refreshed.auth_time == self.auth_time,
            "auth_time",
        )?;
        same(
            refreshed.nonce.is_none() || refreshed.nonce == self.nonce,
            "nonce",
        )
    }
}

#[cfg(test)]
mod tests;
