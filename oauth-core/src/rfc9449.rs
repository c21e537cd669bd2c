//! DPoP, sender-constrained tokens (RFC 9449): the proof JWT (§4.2), `ath` (§4.3), server
//! nonces (§8, §9) and the key a session holds.
//!
//! A session with a [`DpopKey`] sends a proof with every token request and, when the server
//! issues `token_type` `DPoP`, presents the token as `Authorization: DPoP …` with a proof per
//! resource request. A `use_dpop_nonce` answer (token endpoint: `400`; resource:
//! `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`) is answered with one retry
//! carrying the `DPoP-Nonce` just received; the latest nonce of each origin is remembered.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, Uri};

use crate::entropy::Entropy;
use crate::error::{ConfigError, Error};
use crate::jose::{Algorithm, JoseError, Jwk, SigningKey, b64url_encode, json_string};
use crate::rfc7523::fresh_jti_and_iat;
use crate::secret::AccessToken;

/// The request header that carries a proof.
pub const DPOP_HEADER: &str = "dpop";

/// The response header that carries a server nonce (§8.1).
pub const NONCE_HEADER: &str = "dpop-nonce";

/// `typ` of a proof's JOSE header.
pub const PROOF_TYPE: &str = "dpop+jwt";

/// The key a session proves possession of. ES256 by default; ES384, EdDSA and RSA
/// (RS*/PS*, from a key of your own) too.
///
/// `Debug` shows the algorithm and the key's thumbprint (`jkt`), never the key. Cheap to clone.
#[derive(Clone)]
pub struct DpopKey {
    key: SigningKey,
    /// The JOSE header of every proof: `alg`, `typ` and the public JWK.
    header: Arc<str>,
    thumbprint: Arc<str>,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.algorithm())
            .field("jkt", &self.thumbprint)
            .finish()
    }
}

impl PartialEq for DpopKey {
    fn eq(&self, other: &Self) -> bool {
        self.thumbprint == other.thumbprint
    }
}

impl Eq for DpopKey {}

impl DpopKey {
    /// A new ES256 key, drawn from `entropy`.
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] when the entropy source fails.
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, JoseError> {
        Self::generate_with(Algorithm::ES256, entropy)
    }

    /// A new key for `alg` (ES256, ES384 or EdDSA).
    ///
    /// # Errors
    /// As [`SigningKey::generate`].
    pub fn generate_with(alg: Algorithm, entropy: &dyn Entropy) -> Result<Self, JoseError> {
        Self::from_key(SigningKey::generate(alg, entropy)?, entropy)
    }

    /// A key of your own (kept across restarts, so that bound refresh tokens stay usable).
    ///
    /// # Errors
    /// [`JoseError::KeyMismatch`] for an HMAC key (a proof needs a public key).
    pub fn from_key(key: SigningKey, entropy: &dyn Entropy) -> Result<Self, JoseError> {
        let jwk = key
            .public_jwk(entropy)?
            .ok_or(JoseError::KeyMismatch(key.algorithm()))?;
        let thumbprint = Jwk::from_json(&jwk)?.thumbprint();
        let header = format!(
            r#"{{"alg":"{}","typ":"{PROOF_TYPE}","jwk":{jwk}}}"#,
            key.algorithm()
        );
        Ok(Self {
            key,
            header: header.into(),
            thumbprint: thumbprint.into(),
        })
    }

    /// The JWK SHA-256 thumbprint of the public key (`jkt`, RFC 7638): what the server binds
    /// tokens to (`cnf.jkt`) and what `dpop_jkt` names in an authorization request.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The signing key.
    #[must_use]
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// A proof for a request with `method` to `uri` at `now` (§4.2): `jti` fresh from
    /// `entropy`, `htm`, `htu` (the URI without query and fragment), `iat`, and `ath` (§4.3)
    /// for a request that carries `access_token`, `nonce` when the server gave one.
    ///
    /// # Errors
    /// [`UsageError::EntropyUnavailable`](crate::UsageError::EntropyUnavailable),
    /// [`ConfigError::SigningKey`].
    pub fn proof(
        &self,
        method: &Method,
        uri: &Uri,
        now: SystemTime,
        entropy: &dyn Entropy,
        access_token: Option<&AccessToken>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        let ath = access_token.map(access_token_hash);
        self.proof_with_ath(method, uri, now, entropy, ath.as_deref(), nonce)
    }

    pub(crate) fn proof_with_ath(
        &self,
        method: &Method,
        uri: &Uri,
        now: SystemTime,
        entropy: &dyn Entropy,
        ath: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        let (jti, iat) = fresh_jti_and_iat(now, entropy)?;
        let mut claims = format!(
            r#"{{"jti":"{jti}","htm":{},"htu":{},"iat":{iat}"#,
            json_string(method.as_str()),
            json_string(&htu(uri)),
        );
        if let Some(ath) = ath {
            claims.push_str(&format!(r#","ath":"{ath}""#));
        }
        if let Some(nonce) = nonce {
            claims.push_str(&format!(r#","nonce":{}"#, json_string(nonce)));
        }
        claims.push('}');
        self.key
            .sign_compact(&self.header, &claims, entropy)
            .map_err(|e| ConfigError::SigningKey(e.to_string()).into())
    }
}

/// `ath`: base64url of the SHA-256 of the access token (§4.2).
#[must_use]
pub fn access_token_hash(access_token: &AccessToken) -> String {
    b64url_encode(
        ring::digest::digest(&ring::digest::SHA256, access_token.secret().as_bytes()).as_ref(),
    )
}

/// `htu`: the request URI without query and fragment (§4.2).
#[must_use]
pub fn htu(uri: &Uri) -> String {
    let mut out = String::new();
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        out.push_str(authority.as_str());
    }
    out.push_str(uri.path());
    out
}

/// `scheme://authority` of `uri`: nonces are kept per origin.
pub(crate) fn origin(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or(""),
        uri.authority().map_or("", |a| a.as_str())
    )
}

/// The latest server nonce of each origin, shared by a session and its bearers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nonces(Arc<Mutex<HashMap<String, String>>>);

/// Origins whose nonce is remembered, at most (a hostile resource cannot grow the map).
const MAX_NONCE_ORIGINS: usize = 64;

impl Nonces {
    pub(crate) fn get(&self, uri: &Uri) -> Option<String> {
        self.lock().get(&origin(uri)).cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `uri`; true when it is new.
    pub(crate) fn remember(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= 256)
        else {
            return false;
        };
        let mut nonces = self.lock();
        let key = origin(uri);
        if nonces.get(&key).map(String::as_str) == Some(nonce) {
            return false;
        }
        if nonces.len() >= MAX_NONCE_ORIGINS && !nonces.contains_key(&key) {
            nonces.clear();
        }
        nonces.insert(key, nonce.to_owned());
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What signs one token's resource requests: the key, the entropy, the nonces.
#[derive(Clone)]
pub(crate) struct DpopSigner {
    pub(crate) key: DpopKey,
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) nonces: Nonces,
    pub(crate) ath: Arc<str>,
}

impl fmt::Debug for DpopSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopSigner")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl DpopSigner {
    /// The `DPoP` header for a request with `method` to `uri` at `now`.
    pub(crate) fn header(
        &self,
        method: &Method,
        uri: &Uri,
        now: SystemTime,
    ) -> Result<HeaderValue, Error> {
        let nonce = self.nonces.get(uri);
        let proof = self.key.proof_with_ath(
            method,
            uri,
            now,
            &*self.entropy,
            Some(&self.ath),
            nonce.as_deref(),
        )?;
        HeaderValue::try_from(proof)
            .map_err(|_| ConfigError::InvalidHeaderValue("DPoP proof").into())
    }
}

/// Whether a response asks for a (new) nonce: `use_dpop_nonce` in a `WWW-Authenticate: DPoP`
/// challenge, or as the OAuth error of a token endpoint answer.
pub(crate) fn asks_for_nonce(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(crate::rfc6750::parse_www_authenticate)
        .any(|c| {
            c.scheme().eq_ignore_ascii_case("DPoP") && c.param("error") == Some("use_dpop_nonce")
        })
}
