//! Every check of §3.1.3.7, passed and failed, with tokens signed by the test keys.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use serde_json::{Value, json};

use super::*;

const RSA_PK8: &[u8] = include_bytes!("../../../tests/fixtures/keys/rsa-2048.pk8");
const EC_PK8: &[u8] = include_bytes!("../../../tests/fixtures/keys/ec-p256.pk8");
const JWKS: &[u8] = include_bytes!("../../../tests/fixtures/keys/test-keys.jwks.json");
const ISSUER: &str = "https://as.example";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_771_834_670)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "admin", "aud": "admin-cli",
        "exp": unix(now()) + 300, "iat": unix(now()), "nonce": "n-0S6_WzA2Mj",
        "auth_time": unix(now()) - 10, "email": "admin@example.test",
    })
}

#[allow(
    clippy::disallowed_methods,
    reason = "tests sign tokens; the library itself never draws randomness"
)]
fn sign(header: &Value, claims: &Value) -> IdToken {
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes())
    );
    let rng = ring::rand::SystemRandom::new();
    let signature = match header["alg"].as_str() {
        Some("RS256") => {
            let key = RsaKeyPair::from_pkcs8(RSA_PK8).expect("rsa key");
            let mut sig = vec![0; key.public().modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                .expect("signs");
            sig
        }
        Some("ES256") => {
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, EC_PK8, &rng)
                .expect("ec key");
            key.sign(&rng, input.as_bytes())
                .expect("signs")
                .as_ref()
                .to_vec()
        }
        Some("HS256") => {
            let secret = header["x-secret"]
                .as_str()
                .expect("x-secret in test header");
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        _ => Vec::new(),
    };
    IdToken::new(format!("{input}.{}", b64url_encode(&signature)))
}

fn rs256(claims: &Value) -> IdToken {
    sign(&json!({"alg": "RS256", "kid": "test-rsa"}), claims)
}

fn verifier() -> IdTokenVerifier {
    let config = ClientConfig::new("admin-cli")
        .issuer(ISSUER)
        .id_token_algorithms([Algorithm::RS256, Algorithm::ES256]);
    IdTokenVerifier::new(&config).expect("verifier")
}

fn expectations() -> IdTokenExpectations {
    IdTokenExpectations {
        nonce: Some("n-0S6_WzA2Mj".into()),
        max_age: Some(3600),
    }
}

fn keys() -> Jwks {
    Jwks::from_json(JWKS).expect("jwks")
}

fn validate(token: &IdToken) -> Result<IdTokenClaims, IdTokenError> {
    verifier().validate(token, &keys(), &expectations(), None, now())
}

#[test]
fn a_good_rs256_token_validates() {
    let claims = validate(&rs256(&claims())).expect("valid");
    assert_eq!(claims.sub(), "admin");
    assert_eq!(claims.extra()["email"], "admin@example.test");
}

#[test]
fn a_good_es256_token_validates() {
    validate(&sign(&json!({"alg": "ES256", "kid": "test-ec"}), &claims())).expect("valid");
}

#[test]
fn step_1_encrypted_tokens_are_refused() {
    assert_eq!(
        validate(&IdToken::new("a.b.c.d.e")),
        Err(IdTokenError::Encrypted)
    );
}

#[test]
fn step_2_wrong_issuer() {
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    assert_eq!(
        validate(&rs256(&c)).unwrap_err().to_string(),
        "ID token check 2 (iss): issued by \"https://evil.example\", expected \"https://as.example\""
    );
}

#[test]
fn step_3_wrong_audience() {
    let mut c = claims();
    c["aud"] = json!("someone-else");
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::Audience));
}

#[test]
fn steps_4_5_several_audiences_need_azp_of_the_client() {
    let mut c = claims();
    c["aud"] = json!(["admin-cli", "api"]);
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::AuthorizedParty));
    c["azp"] = json!("api");
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::AuthorizedParty));
    c["azp"] = json!("admin-cli");
    validate(&rs256(&c)).expect("valid");
}

#[test]
fn step_6_bad_signature_and_unknown_kid() {
    let token = rs256(&claims());
    let mut tampered = token.secret().to_owned();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    assert!(matches!(
        validate(&IdToken::new(tampered)),
        Err(IdTokenError::Signature(JoseError::BadSignature))
    ));
    let unknown = sign(&json!({"alg": "RS256", "kid": "rotated-away"}), &claims());
    assert_eq!(
        validate(&unknown),
        Err(IdTokenError::UnknownKey {
            kid: Some("rotated-away".into())
        })
    );
}

#[test]
fn step_7_alg_none_and_algorithms_outside_the_list() {
    let none = sign(&json!({"alg": "none"}), &claims());
    assert!(matches!(
        validate(&none),
        Err(IdTokenError::Signature(JoseError::UnsupportedAlgorithm(_)))
    ));
    let only_es = IdTokenVerifier::new(
        &ClientConfig::new("admin-cli")
            .issuer(ISSUER)
            .id_token_algorithms([Algorithm::ES256]),
    )
    .expect("verifier");
    assert_eq!(
        only_es.validate(&rs256(&claims()), &keys(), &expectations(), None, now()),
        Err(IdTokenError::AlgorithmNotAllowed(Algorithm::RS256))
    );
}

#[test]
fn step_8_hs256_keyed_with_the_rsa_public_key_is_refused() {
    // An attacker signs with HMAC keyed by the provider's public modulus.
    let jwks: Value = serde_json::from_slice(JWKS).expect("json");
    let n = jwks["keys"][0]["n"].as_str().expect("n").to_owned();
    let forged = sign(
        &json!({"alg": "HS256", "kid": "test-rsa", "x-secret": n}),
        &claims(),
    );
    // Not allowed by default; and even when HS256 is allowed it is keyed by the client secret.
    assert_eq!(
        validate(&forged),
        Err(IdTokenError::AlgorithmNotAllowed(Algorithm::HS256))
    );
    let hs = IdTokenVerifier::new(
        &ClientConfig::new("admin-cli")
            .issuer(ISSUER)
            .client_secret_basic("the-real-client-secret-0123456789")
            .id_token_algorithms([Algorithm::HS256]),
    )
    .expect("verifier");
    assert!(matches!(
        hs.validate(&forged, &keys(), &expectations(), None, now()),
        Err(IdTokenError::Signature(JoseError::BadSignature))
    ));
    let genuine = sign(
        &json!({"alg": "HS256", "x-secret": "the-real-client-secret-0123456789"}),
        &claims(),
    );
    hs.validate(&genuine, &keys(), &expectations(), None, now())
        .expect("valid");
}

#[test]
fn step_9_expired_beyond_the_skew() {
    let mut c = claims();
    c["exp"] = json!(unix(now()) - 61);
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::Expired));
    c["exp"] = json!(unix(now()) - 59);
    validate(&rs256(&c)).expect("inside the 60 s skew");
}

#[test]
fn step_10_issued_in_the_future_beyond_the_skew() {
    let mut c = claims();
    c["iat"] = json!(unix(now()) + 61);
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::IssuedInFuture));
    c["iat"] = json!(unix(now()) + 59);
    validate(&rs256(&c)).expect("inside the skew");
}

#[test]
fn step_11_wrong_or_missing_nonce() {
    let mut c = claims();
    c["nonce"] = json!("replayed");
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::Nonce));
    c.as_object_mut().expect("object").remove("nonce");
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::Nonce));
}

#[test]
fn step_13_max_age() {
    let mut c = claims();
    c["auth_time"] = json!(unix(now()) - 3600 - 61);
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::MaxAge));
    c.as_object_mut().expect("object").remove("auth_time");
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::MaxAge));
}

#[test]
fn at_hash_is_checked_against_the_access_token() {
    // §3.1.3.6: left half of SHA-256 of the access token, base64url.
    let access_token = AccessToken::new("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.secret().as_bytes());
    let mut c = claims();
    c["at_hash"] = json!(b64url_encode(&digest.as_ref()[..16]));
    let token = rs256(&c);
    verifier()
        .validate(&token, &keys(), &expectations(), Some(&access_token), now())
        .expect("valid");
    assert_eq!(
        verifier().validate(
            &token,
            &keys(),
            &expectations(),
            Some(&AccessToken::new("other")),
            now()
        ),
        Err(IdTokenError::AtHash)
    );
}

#[test]
fn missing_claims_are_named() {
    let mut c = claims();
    c.as_object_mut().expect("object").remove("sub");
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::Claim("sub")));
}

#[test]
fn cache_fetches_keys_and_refetches_once_on_rotation() {
    use crate::oidc::{IdTokenStep, JwksCache};
    let config = ClientConfig::new("admin-cli")
        .issuer(ISSUER)
        .jwks_uri("https://as.example/jwks")
        .expect("url");
    let verifier = IdTokenVerifier::new(&config).expect("verifier");
    let answer = |jwks: &str| {
        http::Response::builder()
            .status(200)
            .body(jwks.as_bytes().to_vec())
            .expect("response")
    };
    let mut cache = JwksCache::default();
    let token = rs256(&claims());
    let step = |cache: &JwksCache, token: &IdToken, at: SystemTime, just_fetched: bool| {
        cache.validate_id_token(
            &config,
            &verifier,
            token,
            &expectations(),
            None,
            at,
            just_fetched,
        )
    };
    // No keys yet: fetch, then validate.
    assert!(matches!(
        step(&cache, &token, now(), false),
        Ok(IdTokenStep::Fetch(_))
    ));
    cache
        .handle_jwks_response(&answer(std::str::from_utf8(JWKS).expect("utf-8")), now())
        .expect("keys");
    assert!(matches!(
        step(&cache, &token, now(), true),
        Ok(IdTokenStep::Validated(_))
    ));

    // The provider rotates to kid "rotated". Right after a fetch, an unknown kid is an error
    // without a request; a minute later, one re-fetch.
    let rotated = sign(&json!({"alg": "RS256", "kid": "rotated"}), &claims());
    assert!(matches!(
        step(&cache, &rotated, now() + Duration::from_secs(10), false),
        Err(crate::Error::IdToken(IdTokenError::UnknownKey { .. }))
    ));
    let later = now() + Duration::from_secs(61);
    assert!(matches!(
        step(&cache, &rotated, later, false),
        Ok(IdTokenStep::Fetch(_))
    ));
    let rotated_set = std::str::from_utf8(JWKS)
        .expect("utf-8")
        .replace("test-rsa", "rotated");
    cache
        .handle_jwks_response(&answer(&rotated_set), later)
        .expect("keys");
    assert!(matches!(
        step(&cache, &rotated, later, true),
        Ok(IdTokenStep::Validated(_))
    ));
    // After a fetch, a still-unknown kid is final: no loop.
    let made_up = sign(&json!({"alg": "RS256", "kid": "made-up"}), &claims());
    assert!(matches!(
        step(&cache, &made_up, later, true),
        Err(crate::Error::IdToken(IdTokenError::UnknownKey { .. }))
    ));
}

#[test]
fn huge_times_do_not_panic() {
    let mut c = claims();
    c["exp"] = json!(u64::MAX);
    assert_eq!(validate(&rs256(&c)), Err(IdTokenError::Claim("exp")));
    let mut c = claims();
    c["iat"] = json!(u64::MAX / 2);
    assert!(validate(&rs256(&c)).is_err());
}

#[test]
fn debug_of_an_exchange_hides_the_grant() {
    let mut session = crate::TokenSession::new(
        ClientConfig::new("c")
            .token_endpoint("https://as.example/token")
            .expect("url"),
    );
    let exchange = session
        .fetch(
            &crate::Grant::password("admin", "pa55word"),
            std::time::SystemTime::UNIX_EPOCH,
        )
        .expect("exchange");
    let shown = format!("{exchange:?}");
    assert!(
        !shown.contains("pa55word") && !shown.contains("112, 97"),
        "{shown}"
    );
}

#[test]
fn claims_follow_the_grant_not_the_token() {
    let login_claims = validate(&rs256(&claims())).expect("valid");
    let config = ClientConfig::new("admin-cli")
        .token_endpoint("https://as.example/token")
        .expect("url");
    let mut session = crate::TokenSession::new(config);
    let ok = |body: &str| {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .expect("response")
    };
    let token = |at: &str| {
        crate::parse_token_response(
            &ok(&format!(
                r#"{{"access_token":"{at}","token_type":"Bearer","refresh_token":"rt"}}"#
            )),
            now(),
        )
        .expect("token")
    };
    let login = || crate::Grant::authorization_code("code");

    let (ticket, _) = session
        .fetch(&login(), std::time::SystemTime::UNIX_EPOCH)
        .expect("exchange")
        .into_parts();
    session
        .commit_login(&ticket, token("a1"), Some(login_claims.clone()))
        .expect("login");
    assert_eq!(
        session.id_token_claims().map(IdTokenClaims::sub),
        Some("admin")
    );

    // A refresh continues the grant: the claims stay.
    let (ticket, _) = session.refresh(now()).expect("refresh").into_parts();
    session
        .handle_token_response(
            &ticket,
            &ok(r#"{"access_token":"a2","token_type":"Bearer"}"#),
            now(),
        )
        .expect("refreshed");
    assert!(session.id_token_claims().is_some());

    // A fetch starts a new grant, perhaps another user's: they go.
    let (ticket, _) = session
        .fetch(
            &crate::Grant::client_credentials(),
            std::time::SystemTime::UNIX_EPOCH,
        )
        .expect("exchange")
        .into_parts();
    session
        .handle_token_response(
            &ticket,
            &ok(r#"{"access_token":"a3","token_type":"Bearer"}"#),
            now(),
        )
        .expect("fetched");
    assert!(session.id_token_claims().is_none());

    // So does a token set by hand.
    let (ticket, _) = session
        .fetch(&login(), std::time::SystemTime::UNIX_EPOCH)
        .expect("exchange")
        .into_parts();
    session
        .commit_login(&ticket, token("a4"), Some(login_claims))
        .expect("login");
    let _ = session.set_token(crate::Token::bearer("someone-else"));
    assert!(session.id_token_claims().is_none());
}

#[test]
fn a_refreshed_id_token_must_be_the_logins_user_and_authentication() {
    let login = validate(&rs256(&claims())).expect("login");
    let refreshed = |change: &dyn Fn(&mut Value)| {
        let mut c = claims();
        c["iat"] = json!(unix(now()) + 60);
        c["exp"] = json!(unix(now()) + 360);
        c.as_object_mut().expect("object").remove("nonce");
        change(&mut c);
        let no_nonce = IdTokenExpectations::default();
        verifier()
            .validate(
                &rs256(&c),
                &keys(),
                &no_nonce,
                None,
                now() + Duration::from_secs(60),
            )
            .expect("valid on its own")
    };
    assert_eq!(login.check_refreshed(&refreshed(&|_| {})), Ok(()));
    assert_eq!(
        login.check_refreshed(&refreshed(&|c| c["nonce"] = json!("n-0S6_WzA2Mj"))),
        Ok(()),
        "the login's nonce may come back"
    );
    for (claim, change) in [
        (
            "sub",
            &(|c: &mut Value| c["sub"] = json!("mallory")) as &dyn Fn(&mut Value),
        ),
        ("nonce", &|c: &mut Value| c["nonce"] = json!("another")),
        ("auth_time", &|c: &mut Value| {
            c["auth_time"] = json!(unix(now()) + 30)
        }),
        ("iat", &|c: &mut Value| c["iat"] = json!(unix(now()) - 60)),
        ("azp", &|c: &mut Value| c["azp"] = json!("admin-cli")),
    ] {
        assert_eq!(
            login.check_refreshed(&refreshed(change)),
            Err(IdTokenError::Refreshed(claim)),
            "{claim}"
        );
    }
}
