//! A stored token sealed with AES-256-GCM (ring): the backend holds ciphertext only.
//!
//! Layout: `1` (the format), a 12-byte nonce from the session's entropy, then the token's
//! JSON encrypted and tagged. The format byte and a fixed label are the associated data.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use super::StoreError;
use crate::entropy::Entropy;
use crate::error::{Error, UsageError};
use crate::token::Token;

const FORMAT: u8 = 1;
const LABEL: &[u8] = b"oauth-core token record";

/// The key every replica seals and opens the stored token with: 32 bytes, the same for the
/// whole fleet, kept as secret as the client's credentials. `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    /// A key from 32 bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A key from its base64url text (43 characters, with or without padding), as a secret
    /// manager or an environment variable gives it.
    ///
    /// # Errors
    /// [`StoreError::Unreadable`] when the text is not 32 bytes of base64url.
    pub fn from_base64url(text: &str) -> Result<Self, StoreError> {
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim().trim_end_matches('='))
                .map_err(|_| StoreError::Unreadable("the key is not base64url"))?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Unreadable("the key is not 32 bytes"))?;
        Ok(Self::from_bytes(bytes))
    }

    /// A new random key, for a fleet's set-up (store it where every replica reads it).
    ///
    /// # Errors
    /// [`UsageError::EntropyUnavailable`] when `entropy` fails.
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        entropy
            .fill(bytes.as_mut())
            .map_err(|_| UsageError::EntropyUnavailable)?;
        Ok(Self(bytes))
    }

    /// The key as base64url text.
    ///
    /// **Secret**: whoever has it can read the stored tokens.
    #[must_use]
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_ref())
    }

    fn aead(&self) -> LessSafeKey {
        // 32 bytes is AES-256's key length, so the key is always accepted.
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, self.0.as_ref()).unwrap_or_else(|_| unreachable!()),
        )
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey([redacted])")
    }
}

fn aad() -> Aad<[u8; LABEL.len() + 1]> {
    let mut data = [0u8; LABEL.len() + 1];
    data[0] = FORMAT;
    data[1..].copy_from_slice(LABEL);
    Aad::from(data)
}

/// Seals `token` under `key` with a nonce drawn from `entropy`.
pub(crate) fn seal(key: &StoreKey, token: &Token, entropy: &dyn Entropy) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    entropy
        .fill(&mut nonce)
        .map_err(|_| UsageError::EntropyUnavailable)?;
    let mut body = Zeroizing::new(
        serde_json::to_vec(token)
            .map_err(|_| StoreError::Unreadable("the token could not be serialized"))?,
    );
    key.aead()
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(), &mut *body)
        .map_err(|_| StoreError::Unreadable("the token could not be sealed"))?;
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + body.len());
    sealed.push(FORMAT);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&body);
    Ok(sealed)
}

/// Opens a sealed token.
pub(crate) fn open(key: &StoreKey, sealed: &[u8]) -> Result<Token, StoreError> {
    let Some((&FORMAT, rest)) = sealed.split_first() else {
        return Err(StoreError::Unreadable("unknown record format"));
    };
    if rest.len() < NONCE_LEN {
        return Err(StoreError::Unreadable("the record is truncated"));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| StoreError::Unreadable("the record is truncated"))?;
    let mut body = Zeroizing::new(ciphertext.to_vec());
    let plain = key
        .aead()
        .open_in_place(nonce, aad(), &mut body)
        .map_err(|_| StoreError::Unreadable("wrong key, or the record was altered"))?;
    serde_json::from_slice(plain).map_err(|_| StoreError::Unreadable("the token is not valid"))
}
