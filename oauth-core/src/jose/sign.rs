//! Signing compact JWS (RFC 7515) on `ring`: client assertions (RFC 7523), JWT bearer grants.
//!
//! ECDSA and RSA signatures draw randomness, which the core never draws on its own: the
//! caller's [`Entropy`] signs. ECDSA keys are bound to `ring` at their first signature (ring
//! draws a nonce key when it loads one); they are checked for their curve when loaded.

use std::fmt;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::jws::Algorithm;
use super::{JoseError, b64url_decode, b64url_encode};
use crate::entropy::Entropy;

/// A private key (or an HMAC secret) that signs JWTs.
///
/// Load one from PEM (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY`), DER or a private
/// JWK. `Debug` shows the algorithm and `kid`, never the key. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<Inner>,
    kid: Option<String>,
}

struct Inner {
    alg: Algorithm,
    material: Material,
}

enum Material {
    Hmac(ring::hmac::Key),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Ecdsa {
        source: EcSource,
        loaded: OnceLock<EcdsaKeyPair>,
    },
}

enum EcSource {
    Pkcs8(Zeroizing<Vec<u8>>),
    Parts {
        private: Zeroizing<Vec<u8>>,
        public: Vec<u8>,
    },
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.inner.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SigningKey {
    /// The same loaded key (a clone) with the same `kid`.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) && self.kid == other.kid
    }
}

impl Eq for SigningKey {}

impl SigningKey {
    /// An HMAC key (`HS256`, `HS384` or `HS512`) from a shared secret: its UTF-8 octets are the
    /// key (RFC 7518 §3.2; OIDC Core §9 for `client_secret_jwt`).
    ///
    /// # Errors
    /// [`JoseError::KeyMismatch`] for an algorithm that is not HMAC.
    pub fn hmac(secret: &[u8], alg: Algorithm) -> Result<Self, JoseError> {
        let digest = match alg {
            Algorithm::HS256 => ring::hmac::HMAC_SHA256,
            Algorithm::HS384 => ring::hmac::HMAC_SHA384,
            Algorithm::HS512 => ring::hmac::HMAC_SHA512,
            other => return Err(JoseError::KeyMismatch(other)),
        };
        Ok(Self::new(
            alg,
            Material::Hmac(ring::hmac::Key::new(digest, secret)),
        ))
    }

    /// A key from PEM: PKCS#8 (`-----BEGIN PRIVATE KEY-----`: RSA, EC P-256/P-384 or
    /// Ed25519) or PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`). `alg` picks the RSA scheme
    /// (`RS256` … `PS512`); EC and Ed25519 keys have one algorithm each and must be given it.
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] for a PEM that holds no such key (SEC1 `EC PRIVATE KEY`
    /// files must be converted to PKCS#8 first: `openssl pkcs8 -topk8 -nocrypt`),
    /// [`JoseError::KeyMismatch`] when the key does not fit `alg`.
    pub fn from_pem(pem: &str, alg: Algorithm) -> Result<Self, JoseError> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der, alg),
            "RSA PRIVATE KEY" => {
                rsa_scheme(alg)?;
                let key = RsaKeyPair::from_der(&der)
                    .map_err(|_| JoseError::InvalidKey("not a usable RSA private key"))?;
                Ok(Self::new(alg, Material::Rsa(key)))
            }
            "EC PRIVATE KEY" => Err(JoseError::InvalidKey(
                "SEC1 EC key: convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)",
            )),
            _ => Err(JoseError::InvalidKey("PEM holds no private key")),
        }
    }

    /// A key from PKCS#8 DER (RSA, EC P-256/P-384 or Ed25519); see [`from_pem`](Self::from_pem).
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem).
    pub fn from_pkcs8_der(der: &[u8], alg: Algorithm) -> Result<Self, JoseError> {
        let material = match alg {
            alg if alg.is_rsa() => Material::Rsa(
                RsaKeyPair::from_pkcs8(der)
                    .map_err(|_| JoseError::InvalidKey("not a usable RSA PKCS#8 key"))?,
            ),
            Algorithm::EdDSA => Material::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|_| JoseError::InvalidKey("not a usable Ed25519 PKCS#8 key"))?,
            ),
            Algorithm::ES256 | Algorithm::ES384 => {
                if pkcs8_curve(der) != Some(alg) {
                    return Err(JoseError::KeyMismatch(alg));
                }
                Material::Ecdsa {
                    source: EcSource::Pkcs8(Zeroizing::new(der.to_vec())),
                    loaded: OnceLock::new(),
                }
            }
            other => return Err(JoseError::KeyMismatch(other)),
        };
        Ok(Self::new(alg, material))
    }

    /// A key from a private JWK (RFC 7517; RSA with `d`, `p`, `q`, `dp`, `dq`, `qi`; EC P-256
    /// or P-384 with `d`; OKP Ed25519 with `d`; `oct` with `k`). Its `kid` is kept; its `alg`
    /// is used unless `alg` is given.
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] naming the missing or bad member, [`JoseError::KeyMismatch`]
    /// when the key does not fit the algorithm.
    pub fn from_jwk(json: &str, alg: Option<Algorithm>) -> Result<Self, JoseError> {
        let raw: PrivateJwk =
            serde_json::from_str(json).map_err(|_| JoseError::InvalidKey("not a JWK object"))?;
        let alg = match (alg, raw.alg.as_deref()) {
            (Some(alg), _) => alg,
            (None, Some(name)) => Algorithm::from_name(name)?,
            (None, None) => match (raw.kty.as_str(), raw.crv.as_deref()) {
                ("EC", Some("P-256")) => Algorithm::ES256,
                ("EC", Some("P-384")) => Algorithm::ES384,
                ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
                _ => return Err(JoseError::InvalidKey("JWK without alg")),
            },
        };
        let field = |value: &Option<String>, what: &'static str| {
            value
                .as_deref()
                .and_then(b64url_decode)
                .map(Zeroizing::new)
                .ok_or(JoseError::InvalidKey(what))
        };
        let material = match raw.kty.as_str() {
            "oct" => {
                let k = field(&raw.k, "oct JWK without a valid k")?;
                return Ok(Self::hmac(&k, alg)?.with_kid_opt(raw.kid.clone()));
            }
            "RSA" => {
                rsa_scheme(alg)?;
                let n = field(&raw.n, "RSA JWK without a valid n")?;
                let e = field(&raw.e, "RSA JWK without a valid e")?;
                let d = field(&raw.d, "RSA JWK without a valid d")?;
                let p = field(&raw.p, "RSA JWK without a valid p")?;
                let q = field(&raw.q, "RSA JWK without a valid q")?;
                let dp = field(&raw.dp, "RSA JWK without a valid dp")?;
                let dq = field(&raw.dq, "RSA JWK without a valid dq")?;
                let qi = field(&raw.qi, "RSA JWK without a valid qi")?;
                let components = ring::rsa::KeyPairComponents {
                    public_key: ring::rsa::PublicKeyComponents {
                        n: n.as_slice(),
                        e: e.as_slice(),
                    },
                    d: d.as_slice(),
                    p: p.as_slice(),
                    q: q.as_slice(),
                    dP: dp.as_slice(),
                    dQ: dq.as_slice(),
                    qInv: qi.as_slice(),
                };
                Material::Rsa(
                    RsaKeyPair::from_components(&components)
                        .map_err(|_| JoseError::InvalidKey("not a usable RSA private key"))?,
                )
            }
            "EC" => {
                let expected = match raw.crv.as_deref() {
                    Some("P-256") => Algorithm::ES256,
                    Some("P-384") => Algorithm::ES384,
                    _ => return Err(JoseError::InvalidKey("unsupported EC curve")),
                };
                if alg != expected {
                    return Err(JoseError::KeyMismatch(alg));
                }
                let x = field(&raw.x, "EC JWK without a valid x")?;
                let y = field(&raw.y, "EC JWK without a valid y")?;
                let d = field(&raw.d, "EC JWK without a valid d")?;
                let len = if alg == Algorithm::ES256 { 32 } else { 48 };
                if x.len() != len || y.len() != len || d.len() != len {
                    return Err(JoseError::InvalidKey("EC JWK members of the wrong length"));
                }
                let mut public = Vec::with_capacity(1 + 2 * len);
                public.push(4);
                public.extend_from_slice(&x);
                public.extend_from_slice(&y);
                Material::Ecdsa {
                    source: EcSource::Parts { private: d, public },
                    loaded: OnceLock::new(),
                }
            }
            "OKP" => {
                if raw.crv.as_deref() != Some("Ed25519") || alg != Algorithm::EdDSA {
                    return Err(JoseError::KeyMismatch(alg));
                }
                let x = field(&raw.x, "OKP JWK without a valid x")?;
                let d = field(&raw.d, "OKP JWK without a valid d")?;
                Material::Ed25519(
                    Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                        .map_err(|_| JoseError::InvalidKey("not a usable Ed25519 key"))?,
                )
            }
            _ => return Err(JoseError::InvalidKey("unsupported key type")),
        };
        Ok(Self::new(alg, material).with_kid_opt(raw.kid.clone()))
    }

    /// Sets the `kid` put in the JOSE header of every JWT this key signs.
    #[must_use]
    pub fn with_kid(self, kid: impl Into<String>) -> Self {
        self.with_kid_opt(Some(kid.into()))
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// The `kid` of the JOSE header, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Signs `claims` (a JSON object, serialized as given) as a compact JWS with the header
    /// `{"alg":…,"kid":…}` (and `typ` when given).
    ///
    /// # Errors
    /// [`JoseError::InvalidKey`] when an ECDSA key is refused at its first use, or the entropy
    /// source fails.
    pub fn sign_jwt(
        &self,
        typ: Option<&str>,
        claims: &str,
        entropy: &dyn Entropy,
    ) -> Result<String, JoseError> {
        let mut header = String::with_capacity(64);
        header.push_str("{\"alg\":\"");
        header.push_str(self.inner.alg.name());
        header.push('"');
        if let Some(kid) = &self.kid {
            header.push_str(",\"kid\":");
            header.push_str(&json_string(kid));
        }
        if let Some(typ) = typ {
            header.push_str(",\"typ\":");
            header.push_str(&json_string(typ));
        }
        header.push('}');
        self.sign_compact(&header, claims, entropy)
    }

    /// Signs `claims` under the JOSE `header` given as is (a JSON object naming this key's
    /// `alg`).
    pub(crate) fn sign_compact(
        &self,
        header: &str,
        claims: &str,
        entropy: &dyn Entropy,
    ) -> Result<String, JoseError> {
        let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut token = String::with_capacity(
            (header.len() + claims.len()) * 4 / 3 + 2 + self.signature_len() * 4 / 3 + 4,
        );
        b64.encode_string(header.as_bytes(), &mut token);
        token.push('.');
        b64.encode_string(claims.as_bytes(), &mut token);
        let signature = self.sign(token.as_bytes(), entropy)?;
        token.push('.');
        token.push_str(&b64url_encode(&signature));
        Ok(token)
    }

    /// The public half of the key as a JWK with only its required members, in the order of
    /// RFC 7638 (so it is also the input of its thumbprint): `{"crv","kty","x","y"}` for EC,
    /// `{"e","kty","n"}` for RSA, `{"crv","kty","x"}` for Ed25519. `None` for an HMAC key,
    /// which has no public half.
    ///
    /// # Errors
    /// As [`sign`](Self::sign) (an ECDSA key is bound to ring on first use).
    pub fn public_jwk(&self, entropy: &dyn Entropy) -> Result<Option<String>, JoseError> {
        Ok(Some(match &self.inner.material {
            Material::Hmac(_) => return Ok(None),
            Material::Ed25519(key) => {
                use ring::signature::KeyPair as _;
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    b64url_encode(key.public_key().as_ref())
                )
            }
            Material::Rsa(key) => {
                let public: ring::rsa::PublicKeyComponents<Vec<u8>> = key.public().into();
                format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64url_encode(&public.e),
                    b64url_encode(&public.n)
                )
            }
            Material::Ecdsa { source, loaded } => {
                use ring::signature::KeyPair as _;
                let key = self.loaded_ec(source, loaded, entropy)?;
                let point = key.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if self.inner.alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                format!(
                    r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url_encode(&point[1..=half]),
                    b64url_encode(&point[1 + half..])
                )
            }
        }))
    }

    fn loaded_ec<'a>(
        &self,
        source: &EcSource,
        loaded: &'a OnceLock<EcdsaKeyPair>,
        entropy: &dyn Entropy,
    ) -> Result<&'a EcdsaKeyPair, JoseError> {
        match loaded.get() {
            Some(key) => Ok(key),
            None => {
                let key = load_ec(self.inner.alg, source, entropy)?;
                Ok(loaded.get_or_init(|| key))
            }
        }
    }

    /// A new key for `alg` (ES256, ES384 or EdDSA), drawn from `entropy`'s ring source.
    ///
    /// # Errors
    /// [`JoseError::KeyMismatch`] for an algorithm this cannot generate (RSA: ring generates
    /// no RSA keys; HMAC), [`JoseError::InvalidKey`] when the entropy source fails.
    pub fn generate(alg: Algorithm, entropy: &dyn Entropy) -> Result<Self, JoseError> {
        let failed = |_| JoseError::InvalidKey("the entropy source failed");
        let rng = entropy.signing_rng();
        let pkcs8 = match alg {
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, rng)
                    .map_err(failed)?
            }
            Algorithm::ES384 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, rng)
                    .map_err(failed)?
            }
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(rng).map_err(failed)?,
            other => return Err(JoseError::KeyMismatch(other)),
        };
        Self::from_pkcs8_der(pkcs8.as_ref(), alg)
    }

    /// The raw signature of `message` (JWS form: `r || s` for ECDSA).
    ///
    /// # Errors
    /// As [`sign_jwt`](Self::sign_jwt).
    pub fn sign(&self, message: &[u8], entropy: &dyn Entropy) -> Result<Vec<u8>, JoseError> {
        let failed = |_| JoseError::InvalidKey("the entropy source failed while signing");
        match &self.inner.material {
            Material::Hmac(key) => Ok(ring::hmac::sign(key, message).as_ref().to_vec()),
            Material::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
            Material::Rsa(key) => {
                let padding = rsa_scheme(self.inner.alg)?;
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(padding, entropy.signing_rng(), message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            Material::Ecdsa { source, loaded } => {
                let key = self.loaded_ec(source, loaded, entropy)?;
                Ok(key
                    .sign(entropy.signing_rng(), message)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec())
            }
        }
    }

    fn new(alg: Algorithm, material: Material) -> Self {
        Self {
            inner: Arc::new(Inner { alg, material }),
            kid: None,
        }
    }

    fn with_kid_opt(mut self, kid: Option<String>) -> Self {
        if kid.is_some() {
            self.kid = kid;
        }
        self
    }

    fn signature_len(&self) -> usize {
        match self.inner.alg {
            Algorithm::ES256 | Algorithm::HS256 => 64,
            Algorithm::ES384 | Algorithm::HS384 => 96,
            Algorithm::EdDSA | Algorithm::HS512 => 64,
            _ => 512,
        }
    }
}

fn load_ec(
    alg: Algorithm,
    source: &EcSource,
    entropy: &dyn Entropy,
) -> Result<EcdsaKeyPair, JoseError> {
    let curve = if alg == Algorithm::ES256 {
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING
    } else {
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING
    };
    let rng = entropy.signing_rng();
    match source {
        EcSource::Pkcs8(der) => EcdsaKeyPair::from_pkcs8(curve, der, rng),
        EcSource::Parts { private, public } => {
            EcdsaKeyPair::from_private_key_and_public_key(curve, private, public, rng)
        }
    }
    .map_err(|_| JoseError::InvalidKey("not a usable EC private key"))
}

fn rsa_scheme(alg: Algorithm) -> Result<&'static dyn signature::RsaEncoding, JoseError> {
    Ok(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        other => return Err(JoseError::KeyMismatch(other)),
    })
}

/// The curve named in an EC PKCS#8 key (its `namedCurve` object identifier).
fn pkcs8_curve(der: &[u8]) -> Option<Algorithm> {
    // DER of the OIDs 1.2.840.10045.3.1.7 (P-256) and 1.3.132.0.34 (P-384).
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let head = &der[..der.len().min(40)];
    let has = |oid: &[u8]| head.windows(oid.len()).any(|w| w == oid);
    if has(P256) {
        Some(Algorithm::ES256)
    } else if has(P384) {
        Some(Algorithm::ES384)
    } else {
        None
    }
}

/// The label and DER bytes of the first PEM block.
fn pem_decode(pem: &str) -> Result<(String, Zeroizing<Vec<u8>>), JoseError> {
    crate::pem::blocks(pem)
        .and_then(|blocks| blocks.into_iter().next())
        .ok_or(JoseError::InvalidKey("not a PEM private key"))
}

/// A JSON string literal.
pub(crate) fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    k: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl Drop for PrivateJwk {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for member in [
            &mut self.k,
            &mut self.d,
            &mut self.p,
            &mut self.q,
            &mut self.dp,
            &mut self.dq,
            &mut self.qi,
        ] {
            if let Some(value) = member.as_mut() {
                value.zeroize();
            }
        }
    }
}
