//! Proof Key for Code Exchange (RFC 7636): a verifier from injected entropy (§4.1) and its
//! S256 challenge (§4.2).

use crate::jose::b64url_encode;
use crate::secret::PkceCodeVerifier;

/// A verifier of 43 characters (the base64url of 32 random octets, as §4.1 recommends) and
/// its S256 challenge.
#[must_use]
pub fn pkce_pair(entropy: &[u8; 32]) -> (PkceCodeVerifier, String) {
    let verifier = b64url_encode(entropy);
    let challenge = code_challenge_s256(&verifier);
    (PkceCodeVerifier::new(verifier), challenge)
}

/// `BASE64URL(SHA256(ASCII(code_verifier)))` (§4.2).
#[must_use]
pub fn code_challenge_s256(verifier: &str) -> String {
    b64url_encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let entropy = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let (verifier, challenge) = pkce_pair(&entropy);
        assert_eq!(
            verifier.secret(),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
