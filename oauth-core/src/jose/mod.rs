//! JOSE: JSON Web Keys (RFC 7517, RFC 8037), their thumbprints (RFC 7638), compact JWS
//! verification (RFC 7515) with the algorithms of RFC 7518 §3 and RFC 8037 §3.1 for ID
//! tokens, and signing ([`SigningKey`]) for client assertions and JWT bearer grants.
//!
//! Verification runs on `ring`. Each algorithm is bound to the key type it belongs to, so a
//! token cannot pick a weaker check than its key allows: `none` is refused outright, and an
//! HMAC algorithm never runs with a public key (the "HS256 signed with the RSA public key"
//! attack fails at key selection).

mod jwk;
mod jws;
mod sign;

pub use jwk::{Jwk, Jwks, KeyUse};
pub use jws::{Algorithm, Jws};
pub use sign::SigningKey;
pub(crate) use sign::json_string;

/// Why a JOSE object was refused. Messages name the check and never quote key material or
/// token contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The compact serialization is not three base64url segments, or a segment does not decode.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// The JOSE header is not a JSON object with a string `alg`.
    #[error("malformed JOSE header: {0}")]
    MalformedHeader(&'static str),
    /// `alg` is `none` or not one this library verifies.
    #[error("unsupported or refused algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The header lists `crit` extensions, which this library does not understand (RFC 7515
    /// §4.1.11 requires refusing them).
    #[error("critical header extensions are not supported")]
    CriticalExtension,
    /// No key of the set has the token's `kid` (or, without a `kid`, fits its algorithm). The
    /// provider may have rotated its keys: fetch the key set again.
    #[error("no key found for kid {kid:?} and algorithm {alg}")]
    UnknownKey {
        /// The token's `kid`, if it had one.
        kid: Option<String>,
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// The key cannot be used with the token's algorithm (wrong type, curve or `alg`).
    #[error("key does not match algorithm {0}")]
    KeyMismatch(Algorithm),
    /// The key's parameters do not form a usable key.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
}

pub(crate) fn b64url_decode(segment: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
}

pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
