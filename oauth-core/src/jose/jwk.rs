//! JSON Web Keys and key sets (RFC 7517), OKP keys (RFC 8037), thumbprints (RFC 7638).

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::jws::Algorithm;
use super::{JoseError, b64url_decode, b64url_encode};
use crate::secret::SecretParam;

/// What a key is for (RFC 7517 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyUse {
    /// `sig`: signatures.
    Signature,
    /// `enc`: encryption; never used to verify.
    Encryption,
}

/// A public key (or an HMAC secret) as a JWK.
///
/// `Debug` shows the key type, `kid` and `alg`, never the material.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<KeyUse>,
    material: Material,
}

#[derive(Clone)]
pub(crate) enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        n_b64: String,
        e_b64: String,
    },
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
        x_b64: String,
        y_b64: String,
    },
    Ed25519 {
        x: Vec<u8>,
        x_b64: String,
    },
    Oct {
        k: SecretParam,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
}

impl Jwk {
    /// Parses one JWK from its JSON text.
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] for an unknown key type or curve, missing or undecodable
    /// parameters.
    pub fn from_json(json: &str) -> Result<Self, JoseError> {
        let value: Value =
            serde_json::from_str(json).map_err(|_| JoseError::InvalidKey("not a JSON object"))?;
        Self::from_value(value)
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, JoseError> {
        let raw: RawJwk =
            serde_json::from_value(value).map_err(|_| JoseError::InvalidKey("not a JWK object"))?;
        let decode = |field: Option<&String>, name: &'static str| {
            let text = field.ok_or(JoseError::InvalidKey(name))?;
            let bytes = b64url_decode(text).ok_or(JoseError::InvalidKey(name))?;
            Ok::<_, JoseError>((bytes, text.clone()))
        };
        let material = match raw.kty.as_str() {
            "RSA" => {
                let (n, n_b64) = decode(raw.n.as_ref(), "RSA key without a valid n")?;
                let (e, e_b64) = decode(raw.e.as_ref(), "RSA key without a valid e")?;
                Material::Rsa { n, e, n_b64, e_b64 }
            }
            "EC" => {
                let curve = match raw.crv.as_deref() {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    _ => return Err(JoseError::InvalidKey("unsupported EC curve")),
                };
                let (x, x_b64) = decode(raw.x.as_ref(), "EC key without a valid x")?;
                let (y, y_b64) = decode(raw.y.as_ref(), "EC key without a valid y")?;
                if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
                    return Err(JoseError::InvalidKey("EC coordinates of the wrong length"));
                }
                Material::Ec {
                    curve,
                    x,
                    y,
                    x_b64,
                    y_b64,
                }
            }
            "OKP" => {
                if raw.crv.as_deref() != Some("Ed25519") {
                    return Err(JoseError::InvalidKey("unsupported OKP curve"));
                }
                let (x, x_b64) = decode(raw.x.as_ref(), "OKP key without a valid x")?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidKey("Ed25519 key of the wrong length"));
                }
                Material::Ed25519 { x, x_b64 }
            }
            "oct" => {
                let k = raw
                    .k
                    .as_ref()
                    .ok_or(JoseError::InvalidKey("oct key without k"))?;
                b64url_decode(k).ok_or(JoseError::InvalidKey("oct key with an undecodable k"))?;
                Material::Oct {
                    k: SecretParam::new(k.clone()),
                }
            }
            _ => return Err(JoseError::InvalidKey("unsupported key type")),
        };
        let key_use = match raw.key_use.as_deref() {
            None => None,
            Some("sig") => Some(KeyUse::Signature),
            Some("enc") => Some(KeyUse::Encryption),
            Some(_) => return Err(JoseError::InvalidKey("unknown use")),
        };
        Ok(Self {
            kid: raw.kid,
            alg: raw.alg,
            key_use,
            material,
        })
    }

    /// An HMAC key from a shared secret, for ID tokens signed with the client secret
    /// (OIDC Core §10.1: the octets of the secret are the key).
    #[must_use]
    pub fn from_client_secret(secret: &crate::ClientSecret) -> Self {
        Self {
            kid: None,
            alg: None,
            key_use: Some(KeyUse::Signature),
            material: Material::Oct {
                k: SecretParam::new(b64url_encode(secret.secret().as_bytes())),
            },
        }
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is restricted to, if any.
    #[must_use]
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The key type (`RSA`, `EC`, `OKP`, `oct`).
    #[must_use]
    pub fn kty(&self) -> &'static str {
        match self.material {
            Material::Rsa { .. } => "RSA",
            Material::Ec { .. } => "EC",
            Material::Ed25519 { .. } => "OKP",
            Material::Oct { .. } => "oct",
        }
    }

    pub(crate) fn material(&self) -> &Material {
        &self.material
    }

    /// Whether this key may verify `alg`: its type (and curve) fit the algorithm, its own
    /// `alg` (if any) is the same, and it is not an encryption key.
    #[must_use]
    pub fn fits(&self, alg: Algorithm) -> bool {
        let type_fits = match (&self.material, alg) {
            (Material::Rsa { .. }, a) => a.is_rsa(),
            (
                Material::Ec {
                    curve: Curve::P256, ..
                },
                Algorithm::ES256,
            )
            | (
                Material::Ec {
                    curve: Curve::P384, ..
                },
                Algorithm::ES384,
            )
            | (Material::Ed25519 { .. }, Algorithm::EdDSA) => true,
            (Material::Oct { .. }, a) => a.is_hmac(),
            _ => false,
        };
        type_fits
            && self.alg.as_deref().is_none_or(|own| own == alg.name())
            && self.key_use != Some(KeyUse::Encryption)
    }

    /// The RFC 7638 thumbprint: base64url of the SHA-256 of the required members in
    /// lexicographic order.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        let canonical = match &self.material {
            Material::Rsa { n_b64, e_b64, .. } => {
                format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#)
            }
            Material::Ec {
                curve,
                x_b64,
                y_b64,
                ..
            } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{x_b64}","y":"{y_b64}"}}"#,
                curve.name()
            ),
            Material::Ed25519 { x_b64, .. } => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x_b64}"}}"#)
            }
            Material::Oct { k } => format!(r#"{{"k":"{}","kty":"oct"}}"#, k.secret()),
        };
        b64url_encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty())
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A JWK Set (RFC 7517 §5). Keys of types or curves this library cannot use are skipped, as
/// §5 asks, and counted.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
    skipped: usize,
}

impl Jwks {
    /// Parses a JWK Set document.
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] when the document is not an object with a `keys` array.
    pub fn from_json(json: &[u8]) -> Result<Self, JoseError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|_| JoseError::InvalidKey("JWKS is not JSON"))?;
        Self::from_value(value)
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, JoseError> {
        let Value::Object(mut object) = value else {
            return Err(JoseError::InvalidKey("JWKS is not an object"));
        };
        let Some(Value::Array(entries)) = object.remove("keys") else {
            return Err(JoseError::InvalidKey("JWKS has no keys array"));
        };
        let mut set = Self::default();
        for entry in entries {
            match Jwk::from_value(entry) {
                Ok(key) => set.keys.push(key),
                Err(_) => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// A set of the given keys.
    #[must_use]
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys, skipped: 0 }
    }

    /// The usable keys.
    #[must_use]
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// How many entries were skipped as unusable.
    #[must_use]
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The keys that may verify a token with this `kid` and algorithm: with a `kid`, the keys
    /// of that id; without, every key that fits the algorithm.
    pub fn candidates<'a, 'k>(
        &'a self,
        kid: Option<&'k str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Jwk> + use<'a, 'k> {
        self.keys
            .iter()
            .filter(move |key| kid.is_none_or(|kid| key.kid() == Some(kid)))
            .filter(move |key| key.fits(alg))
    }
}
