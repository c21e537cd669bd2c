//! Compact JWS (RFC 7515 §7.1) parsing and verification (RFC 7515 §5.2).

use std::fmt;

use ring::signature::{self, UnparsedPublicKey};
use serde::Deserializer as _;
use serde::de::{IgnoredAny, MapAccess, Visitor};

use super::jwk::{Curve, Jwk, Jwks, Material};
use super::{JoseError, b64url_decode};
use crate::token::{Key, Text};

/// A signature algorithm this library verifies (RFC 7518 §3.1, RFC 8037 §3.1). `none` is not
/// one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(
    clippy::upper_case_acronyms,
    reason = "the names are the registered JOSE identifiers"
)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl Algorithm {
    /// Reads a registered name; `none` and unknown names are refused.
    ///
    /// # Errors
    /// [`JoseError::UnsupportedAlgorithm`].
    pub fn from_name(name: &str) -> Result<Self, JoseError> {
        Ok(match name {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            other => {
                return Err(JoseError::UnsupportedAlgorithm(
                    other.chars().take(32).collect(),
                ));
            }
        })
    }

    /// The registered name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(
            self,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512
        )
    }

    pub(crate) fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The digest that `at_hash` and `c_hash` use with this algorithm (OIDC Core §3.1.3.6).
    pub(crate) fn digest(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::RS256 | Self::PS256 | Self::ES256 | Self::HS256 => &ring::digest::SHA256,
            Self::RS384 | Self::PS384 | Self::ES384 | Self::HS384 => &ring::digest::SHA384,
            // Ed25519 hashes with SHA-512 (OIDC errata for EdDSA).
            Self::RS512 | Self::PS512 | Self::HS512 | Self::EdDSA => &ring::digest::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed compact JWS, not yet verified.
///
/// `Debug` shows the header fields only.
#[derive(Clone)]
pub struct Jws {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Jws {
    /// Parses a compact JWS: three base64url segments, a JSON header with a supported `alg`
    /// and no `crit`.
    ///
    /// # Errors
    /// [`JoseError`] naming what is wrong; five segments (an encrypted JWT) are refused.
    pub fn parse(compact: &str) -> Result<Self, JoseError> {
        let mut parts = compact.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed("not three segments"));
        };
        if parts.next().is_some() {
            return Err(JoseError::Malformed(
                "more than three segments (encrypted JWTs are not supported)",
            ));
        }
        let header =
            b64url_decode(header_b64).ok_or(JoseError::Malformed("header is not base64url"))?;
        let payload =
            b64url_decode(payload_b64).ok_or(JoseError::Malformed("payload is not base64url"))?;
        let signature = b64url_decode(signature_b64)
            .ok_or(JoseError::Malformed("signature is not base64url"))?;
        let header = JoseHeader::parse(&header)?;
        let alg = Algorithm::from_name(&header.alg.ok_or(JoseError::MalformedHeader("no alg"))?)?;
        if header.crit {
            return Err(JoseError::CriticalExtension);
        }
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        Ok(Self {
            alg,
            kid: header.kid,
            typ: header.typ,
            signing_input: compact[..signing_input_len].to_owned(),
            payload,
            signature,
        })
    }

    /// The header's algorithm.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's key id.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's type.
    #[must_use]
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The payload. Unverified until [`verify`](Self::verify) or
    /// [`verify_with_set`](Self::verify_with_set) succeeded.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Verifies the signature with one key.
    ///
    /// # Errors
    /// [`JoseError::KeyMismatch`] when the key does not fit the algorithm,
    /// [`JoseError::BadSignature`] when the signature is wrong.
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        if !key.fits(self.alg) {
            return Err(JoseError::KeyMismatch(self.alg));
        }
        let message = self.signing_input.as_bytes();
        let signature = self.signature.as_slice();
        let verified = match (key.material(), self.alg) {
            (Material::Rsa { n, e, .. }, alg) => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            (Material::Ec { curve, x, y, .. }, _) => {
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                let params = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                };
                UnparsedPublicKey::new(params, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::Ed25519 { x, .. }, _) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature)
                .is_ok(),
            (Material::Oct { k }, alg) => {
                let hmac = match alg {
                    Algorithm::HS256 => ring::hmac::HMAC_SHA256,
                    Algorithm::HS384 => ring::hmac::HMAC_SHA384,
                    _ => ring::hmac::HMAC_SHA512,
                };
                let secret = b64url_decode(k.secret()).ok_or(JoseError::InvalidKey("oct key"))?;
                ring::hmac::verify(&ring::hmac::Key::new(hmac, &secret), message, signature).is_ok()
            }
        };
        if verified {
            Ok(())
        } else {
            Err(JoseError::BadSignature)
        }
    }

    /// Verifies the signature with the set's key of the token's `kid` (or, without a `kid`,
    /// any key that fits the algorithm), returning the key that verified.
    ///
    /// # Errors
    /// [`JoseError::UnknownKey`] when no key fits (fetch the set again: the provider may have
    /// rotated keys); [`JoseError::BadSignature`] when the fitting keys do not verify.
    pub fn verify_with_set<'a>(&self, keys: &'a Jwks) -> Result<&'a Jwk, JoseError> {
        let mut tried = false;
        for key in keys.candidates(self.kid(), self.alg) {
            tried = true;
            if self.verify(key).is_ok() {
                return Ok(key);
            }
        }
        if tried {
            Err(JoseError::BadSignature)
        } else {
            Err(JoseError::UnknownKey {
                kid: self.kid.clone(),
                alg: self.alg,
            })
        }
    }
}

/// The JOSE header members this library reads, taken in one pass without building JSON values.
#[derive(Default)]
struct JoseHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    crit: bool,
}

impl JoseHeader {
    fn parse(json: &[u8]) -> Result<Self, JoseError> {
        let mut header = Self::default();
        let mut wrong: Option<&'static str> = None;
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        deserializer
            .deserialize_map(HeaderVisitor {
                header: &mut header,
                wrong: &mut wrong,
            })
            .map_err(|_| JoseError::MalformedHeader("not a JSON object"))?;
        deserializer
            .end()
            .map_err(|_| JoseError::MalformedHeader("not a JSON object"))?;
        match wrong {
            Some(name) => Err(JoseError::MalformedHeader(name)),
            None => Ok(header),
        }
    }
}

struct HeaderVisitor<'a> {
    header: &'a mut JoseHeader,
    wrong: &'a mut Option<&'static str>,
}

impl<'de> Visitor<'de> for HeaderVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let (slot, name) = match key.as_ref() {
                "alg" => (&mut self.header.alg, "alg"),
                "kid" => (&mut self.header.kid, "kid"),
                "typ" => (&mut self.header.typ, "typ"),
                "crit" => {
                    self.header.crit = true;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            match map.next_value::<Text<'de>>()? {
                Text::Str(value) => *slot = Some(value.into_owned()),
                Text::Null => {}
                Text::Other => {
                    self.wrong.get_or_insert(name);
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Jws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jws")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}
