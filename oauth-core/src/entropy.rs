//! Randomness as an input: the core never draws random bytes on its own.
//!
//! Client assertions and JWT bearer grants carry a unique `jti`, and ECDSA and RSA
//! signatures draw randomness: both come from the caller's [`Entropy`]. The adapters give the
//! operating system's (`ring::rand::SystemRandom`, for which this trait is implemented);
//! tests give fixed bytes (`oauth_core::testing::FixedEntropy` with the `testing` feature).

use ring::rand::SecureRandom;

/// A source of unpredictable bytes.
pub trait Entropy: Send + Sync {
    /// Fills `dest` with unpredictable bytes (the `jti` of a JWT, say).
    ///
    /// # Errors
    /// [`EntropyUnavailable`] when the source has no randomness to give.
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyUnavailable>;

    /// The source `ring` draws from for ECDSA and RSA signatures (ring takes only its own
    /// sources: in practice the operating system's).
    fn signing_rng(&self) -> &dyn SecureRandom;
}

/// The entropy source had no randomness to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the entropy source failed")]
pub struct EntropyUnavailable;

impl Entropy for ring::rand::SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
        SecureRandom::fill(self, dest).map_err(|_| EntropyUnavailable)
    }

    fn signing_rng(&self) -> &dyn SecureRandom {
        self
    }
}
