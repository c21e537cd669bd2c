//! ID tokens signed with the test keys of `oauth-core/tests/fixtures/keys`, for negative tests
//! against the real provider (a kid it never published, say).

use oauth_core::IdToken;
use oauth_core::jose::Jws;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

const RSA_PK8: &[u8] = include_bytes!("../../../oauth-core/tests/fixtures/keys/rsa-2048.pk8");

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An RS256 ID token for `issuer` and `client_id`, signed by a test key under `kid`.
pub(crate) fn forged_id_token(issuer: &str, client_id: &str, kid: &str) -> IdToken {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let header = json!({"alg": "RS256", "kid": kid});
    let claims =
        json!({"iss": issuer, "sub": "admin", "aud": client_id, "iat": now, "exp": now + 300});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = RsaKeyPair::from_pkcs8(RSA_PK8).expect("test key");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("signs");
    let token = format!("{input}.{}", b64(&signature));
    assert!(Jws::parse(&token).is_ok());
    IdToken::new(token)
}
