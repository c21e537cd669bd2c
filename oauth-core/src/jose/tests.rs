//! RFC 7515 Appendix A, RFC 7638 §3.1 and RFC 8037 Appendix A test vectors, and the refusals.

use super::*;

const PAYLOAD_B64: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 A.1: HS256.
const A1_KEY: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const A1_HEADER: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
const A1_SIGNATURE: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// RFC 7515 A.2: RS256.
const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const A2_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/// RFC 7515 A.3: ES256.
const A3_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const A3_SIGNATURE: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// RFC 8037 A.4: Ed25519.
const ED25519_KEY: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const ED25519_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// RFC 7638 §3.1: the RSA key of RFC 7517 A.1 and its thumbprint.
const THUMBPRINT_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

fn rsa_key() -> Jwk {
    Jwk::from_json(&format!(
        r#"{{"kty":"RSA","kid":"2010-12-29","n":"{A2_N}","e":"AQAB"}}"#
    ))
    .expect("A.2 key")
}

#[test]
fn rfc7515_a1_hs256() {
    let jws = Jws::parse(&format!("{A1_HEADER}.{PAYLOAD_B64}.{A1_SIGNATURE}")).expect("parses");
    assert_eq!(jws.alg(), Algorithm::HS256);
    assert_eq!(jws.typ(), Some("JWT"));
    jws.verify(&Jwk::from_json(A1_KEY).expect("key"))
        .expect("verifies");
    assert!(jws.payload().starts_with(br#"{"iss":"joe","#));
}

#[test]
fn rfc7515_a2_rs256() {
    let jws = Jws::parse(&format!(
        "eyJhbGciOiJSUzI1NiJ9.{PAYLOAD_B64}.{A2_SIGNATURE}"
    ))
    .expect("parses");
    jws.verify(&rsa_key()).expect("verifies");
}

#[test]
fn rfc7515_a3_es256() {
    let jws = Jws::parse(&format!(
        "eyJhbGciOiJFUzI1NiJ9.{PAYLOAD_B64}.{A3_SIGNATURE}"
    ))
    .expect("parses");
    jws.verify(&Jwk::from_json(A3_KEY).expect("key"))
        .expect("verifies");
}

#[test]
fn rfc8037_a4_ed25519() {
    let jws = Jws::parse(ED25519_JWS).expect("parses");
    assert_eq!(jws.alg(), Algorithm::EdDSA);
    jws.verify(&Jwk::from_json(ED25519_KEY).expect("key"))
        .expect("verifies");
    assert_eq!(jws.payload(), b"Example of Ed25519 signing");
}

#[test]
fn rfc7638_thumbprint() {
    let key = Jwk::from_json(&format!(
        r#"{{"kty":"RSA","n":"{THUMBPRINT_N}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
    ))
    .expect("key");
    assert_eq!(
        key.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn a_changed_payload_fails() {
    let tampered = PAYLOAD_B64.replace("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Uj");
    let jws =
        Jws::parse(&format!("eyJhbGciOiJSUzI1NiJ9.{tampered}.{A2_SIGNATURE}")).expect("parses");
    assert_eq!(jws.verify(&rsa_key()), Err(JoseError::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    // RFC 7515 A.5: an unsecured JWS.
    let error = Jws::parse(&format!("eyJhbGciOiJub25lIn0.{PAYLOAD_B64}.")).unwrap_err();
    assert_eq!(error, JoseError::UnsupportedAlgorithm("none".into()));
}

#[test]
fn hs256_with_an_rsa_public_key_is_refused() {
    // The classic confusion: HMAC over the token keyed with the RSA public key's bytes.
    let n = b64url_decode(A2_N).expect("n");
    let header = b64url_encode(br#"{"alg":"HS256","kid":"2010-12-29"}"#);
    let input = format!("{header}.{PAYLOAD_B64}");
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &n),
        input.as_bytes(),
    );
    let jws = Jws::parse(&format!("{input}.{}", b64url_encode(tag.as_ref()))).expect("parses");
    assert_eq!(
        jws.verify(&rsa_key()),
        Err(JoseError::KeyMismatch(Algorithm::HS256))
    );
    let set = Jwks::new(vec![rsa_key()]);
    assert!(matches!(
        jws.verify_with_set(&set),
        Err(JoseError::UnknownKey { .. })
    ));
}

#[test]
fn key_selection_by_kid_and_alg() {
    let jwks = format!(
        r#"{{"keys":[{A3_KEY},{{"kty":"RSA","kid":"2010-12-29","n":"{A2_N}","e":"AQAB"}},{{"kty":"RSA","kid":"enc","use":"enc","n":"{A2_N}","e":"AQAB"}},{{"kty":"weird"}}]}}"#
    );
    let set = Jwks::from_json(jwks.as_bytes()).expect("set");
    assert_eq!((set.keys().len(), set.skipped()), (3, 1));
    let rs = Jws::parse(&format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6IjIwMTAtMTItMjkifQ.{PAYLOAD_B64}.{A2_SIGNATURE}"
    ))
    .expect("parses");
    // The header changed, so the signature no longer verifies, but the key is found.
    assert_eq!(
        rs.verify_with_set(&set).unwrap_err(),
        JoseError::BadSignature
    );
    let es = Jws::parse(&format!(
        "eyJhbGciOiJFUzI1NiJ9.{PAYLOAD_B64}.{A3_SIGNATURE}"
    ))
    .expect("parses");
    assert_eq!(es.verify_with_set(&set).expect("verifies").kty(), "EC");
    let unknown = Jws::parse(&format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5ldyJ9.{PAYLOAD_B64}.{A2_SIGNATURE}"
    ))
    .expect("parses");
    assert_eq!(
        unknown.verify_with_set(&set).unwrap_err(),
        JoseError::UnknownKey {
            kid: Some("new".into()),
            alg: Algorithm::RS256
        }
    );
}

#[test]
fn malformed_inputs_are_named() {
    assert_eq!(
        Jws::parse("abc").unwrap_err(),
        JoseError::Malformed("not three segments")
    );
    assert!(matches!(
        Jws::parse("a.b.c.d.e").unwrap_err(),
        JoseError::Malformed(_)
    ));
    assert_eq!(
        Jws::parse("!!.a.b").unwrap_err(),
        JoseError::Malformed("header is not base64url")
    );
    let crit = b64url_encode(br#"{"alg":"RS256","crit":["exp"]}"#);
    assert_eq!(
        Jws::parse(&format!("{crit}.{PAYLOAD_B64}.")).unwrap_err(),
        JoseError::CriticalExtension
    );
}

#[test]
fn debug_hides_key_material() {
    let shown = format!("{:?}", Jwk::from_json(A1_KEY).expect("key"));
    assert!(!shown.contains("AyM1"), "{shown}");
}

#[test]
fn rfc7517_a1_public_key_set() {
    let set = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"}},{{"kty":"RSA","n":"{THUMBPRINT_N}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}]}}"#
    );
    let set = Jwks::from_json(set.as_bytes()).expect("set");
    assert_eq!(set.keys().len(), 2);
    // The EC key is for encryption: never picked to verify.
    assert_eq!(set.candidates(Some("1"), Algorithm::ES256).count(), 0);
    let rsa: Vec<_> = set.candidates(None, Algorithm::RS256).collect();
    assert_eq!(rsa.len(), 1);
    assert_eq!(rsa[0].kid(), Some("2011-04-29"));
    // Its alg is RS256: not usable for PS256.
    assert_eq!(set.candidates(None, Algorithm::PS256).count(), 0);
}
