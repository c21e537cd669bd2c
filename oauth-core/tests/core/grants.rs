//! JWTs minted per request (RFC 7523), token exchange (RFC 8693) and device authorization
//! (RFC 8628): exact request bytes from fixed keys, time and entropy, and the exact polling
//! schedule.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth_core::flow::{DeviceToken, Flow, Step};
use oauth_core::jose::{Algorithm, Jwk, Jws, SigningKey};
use oauth_core::rfc7009::{TokenRef, revocation_request_with};
use oauth_core::rfc7523::{AssertionAudience, JwtBearer, Mint};
use oauth_core::rfc8628::{DeviceAuthorization, parse_device_authorization_response};
use oauth_core::rfc8693::{TokenExchange, token_type};
use oauth_core::testing::{FixedEntropy, ManualClock};
use oauth_core::{
    AccessToken, Authorization, ClientConfig, ClientSecret, Entropy, Error, Grant, TokenSession,
    UsageError, parse_token_response, token_request, token_request_with,
};
use serde_json::{Value, json};

use crate::{render, response};

const TOKEN_ENDPOINT: &str = "https://as.example/token";
const SECRET: &str = "jwt-secret-client-secret-0123456789abcdef";
const EC_PK8: &[u8] = include_bytes!("../fixtures/keys/ec-p256.pk8");
const RSA_PK8: &[u8] = include_bytes!("../fixtures/keys/rsa-2048.pk8");
const JWKS: &[u8] = include_bytes!("../fixtures/keys/test-keys.jwks.json");

/// ECDSA and RSA signatures draw from ring's source, the only one ring takes; every other
/// byte these tests see is fixed.
fn entropy() -> FixedEntropy {
    #[allow(clippy::disallowed_methods)]
    let signing = ring::rand::SystemRandom::new();
    FixedEntropy::new(0, signing)
}

fn now() -> SystemTime {
    ManualClock::new().now()
}

fn config(client_id: &str) -> ClientConfig {
    ClientConfig::new(client_id)
        .token_endpoint(TOKEN_ENDPOINT)
        .expect("url")
        .revocation_endpoint("https://as.example/revoke")
        .expect("url")
        .issuer("https://as.example")
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn ed25519_jwk() -> (String, Jwk) {
    let seed = [7u8; 32];
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
    use ring::signature::KeyPair as _;
    let x = b64(pair.public_key().as_ref());
    let private = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "d": b64(&seed), "x": x});
    let public = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": x});
    (
        private.to_string(),
        Jwk::from_json(&public.to_string()).expect("public jwk"),
    )
}

fn test_key(kid: &str) -> Jwk {
    let mut set: Value = serde_json::from_slice(JWKS).expect("jwks");
    let key = set["keys"]
        .as_array_mut()
        .expect("keys")
        .iter_mut()
        .find(|k| k["kid"] == kid)
        .expect("kid");
    key.as_object_mut().expect("object").remove("alg");
    Jwk::from_json(&key.to_string()).expect("jwk")
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field(body: &[u8], name: &str) -> String {
    form(body)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// The assertion's claims, after its signature verified with `key`.
fn verified_claims(assertion: &str, key: &Jwk) -> Value {
    let jws = Jws::parse(assertion).expect("compact JWS");
    jws.verify(key).expect("signature verifies");
    serde_json::from_slice(jws.payload()).expect("claims")
}

fn jti(first_byte: u8) -> String {
    let bytes: Vec<u8> = (first_byte..first_byte + 16).collect();
    b64(&bytes)
}

#[test]
fn client_secret_jwt_request_is_exact_and_the_server_key_verifies_it() {
    let config = config("jwt-secret-client").client_secret_jwt(SECRET);
    let entropy = entropy();
    let request = token_request_with(
        &config,
        &Grant::client_credentials(),
        &Mint::new(now(), &entropy),
    )
    .expect("request");
    let assertion = field(request.body(), "client_assertion");
    let claims = verified_claims(
        &assertion,
        &Jwk::from_client_secret(&ClientSecret::new(SECRET)),
    );
    assert_eq!(
        claims,
        json!({"iss": "jwt-secret-client", "sub": "jwt-secret-client", "aud": TOKEN_ENDPOINT,
               "jti": jti(0), "iat": 1_771_834_670u64, "exp": 1_771_834_730u64})
    );
    assert_eq!(
        render(&request),
        format!(
            "POST {TOKEN_ENDPOINT}\naccept: application/json\ncontent-type: application/x-www-form-urlencoded\n\n\
             grant_type=client_credentials&client_id=jwt-secret-client\
             &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
             &client_assertion={PINNED_HS256}"
        )
    );
}

/// Checked independently: Python's `hmac` gives the same signature over this input.
const PINNED_HS256: &str = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqd3Qtc2VjcmV0LWNsaWVudCIsInN1YiI6Imp3dC1zZWNyZXQtY2xpZW50IiwiYXVkIjoiaHR0cHM6Ly9hcy5leGFtcGxlL3Rva2VuIiwianRpIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EdyIsImlhdCI6MTc3MTgzNDY3MCwiZXhwIjoxNzcxODM0NzMwfQ.nYAe1mcY3YtPqq05B_Ynl_6dihd-_wff85XGKTX8TPA";
/// Ed25519 signatures are deterministic (RFC 8032): the whole assertion is fixed.
const PINNED_EDDSA: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEifQ.eyJpc3MiOiJwcml2YXRlLWtleS1jbGllbnQiLCJzdWIiOiJwcml2YXRlLWtleS1jbGllbnQiLCJhdWQiOiJodHRwczovL2FzLmV4YW1wbGUvdG9rZW4iLCJqdGkiOiJBQUVDQXdRRkJnY0lDUW9MREEwT0R3IiwiaWF0IjoxNzcxODM0NjcwLCJleHAiOjE3NzE4MzQ3MzB9.fbtQYmz2Lz8WZ3hWnC4a8xTGdlrXYGHGmOIADr_q5GTTYTLUH3oElZDiapTdrGo61AVEfwSHhtUpMkwWAHLRAg";
const PINNED_JWT_BEARER: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEifQ.eyJpc3MiOiJzdmNAZXhhbXBsZSIsInN1YiI6InN2Y0BleGFtcGxlIiwiYXVkIjoiaHR0cHM6Ly9hcy5leGFtcGxlL3Rva2VuIiwianRpIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EdyIsImlhdCI6MTc3MTgzNDY3MCwiZXhwIjoxNzcxODM0NzkwLCJzY29wZSI6InJlYWQifQ.nPRl_ihmZMtwDD2OWKfXkT6HvRvK9LiNpXEBw5ppdimntQawemY7EwCUSJg-J6piFgKQYls6FTYq-GOnRIuoDQ";

#[test]
fn private_key_jwt_with_ed25519_is_exact() {
    let (private, public) = ed25519_jwk();
    let key = SigningKey::from_jwk(&private, None).expect("key");
    assert_eq!(
        (key.algorithm(), key.kid()),
        (Algorithm::EdDSA, Some("ed-1"))
    );
    let config = config("private-key-client").private_key_jwt(key);
    let entropy = entropy();
    let request = token_request_with(
        &config,
        &Grant::client_credentials(),
        &Mint::new(now(), &entropy),
    )
    .expect("request");
    let assertion = field(request.body(), "client_assertion");
    let claims = verified_claims(&assertion, &public);
    assert_eq!(claims["jti"], json!(jti(0)));
    assert_eq!(assertion, PINNED_EDDSA);
}

#[test]
fn es256_from_pkcs8_signs_the_exact_input_and_verifies() {
    let key = SigningKey::from_pkcs8_der(EC_PK8, Algorithm::ES256)
        .expect("key")
        .with_kid("test-ec");
    let config = config("private-key-client")
        .private_key_jwt(key)
        .assertion_audience(AssertionAudience::Issuer);
    let entropy = entropy();
    let request = token_request_with(
        &config,
        &Grant::client_credentials(),
        &Mint::new(now(), &entropy),
    )
    .expect("request");
    let assertion = field(request.body(), "client_assertion");
    let claims = verified_claims(&assertion, &test_key("test-ec"));
    assert_eq!(claims["aud"], json!("https://as.example"));
    let signing_input = assertion.rsplit_once('.').expect("three segments").0;
    assert_eq!(
        signing_input,
        format!(
            "{}.{}",
            b64(br#"{"alg":"ES256","kid":"test-ec"}"#),
            b64(format!(
                r#"{{"iss":"private-key-client","sub":"private-key-client","aud":"https://as.example","jti":"{}","iat":1771834670,"exp":1771834730}}"#,
                jti(0)
            )
            .as_bytes())
        )
    );
}

#[test]
fn rsa_keys_load_from_pem_and_sign_rs256_and_ps256() {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(RSA_PK8);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let entropy = entropy();
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let key = SigningKey::from_pem(&pem, alg).expect("key");
        let jwt = key
            .sign_jwt(None, r#"{"sub":"x"}"#, &entropy)
            .expect("signs");
        let jws = Jws::parse(&jwt).expect("jws");
        assert_eq!(jws.alg(), alg);
        jws.verify(&test_key("test-rsa")).expect("verifies");
    }
    assert!(SigningKey::from_pem(&pem, Algorithm::ES256).is_err());
    assert!(
        SigningKey::from_pem(
            "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----",
            Algorithm::ES256
        )
        .is_err()
    );
}

#[test]
fn every_request_mints_a_fresh_assertion_for_the_token_endpoint() {
    let config = config("jwt-secret-client").client_secret_jwt(SECRET);
    let entropy = entropy();
    let key = Jwk::from_client_secret(&ClientSecret::new(SECRET));
    let first = token_request_with(
        &config,
        &Grant::client_credentials(),
        &Mint::new(now(), &entropy),
    )
    .expect("request");
    let later = now() + Duration::from_secs(10);
    let access = AccessToken::new("at-1");
    let revoke = revocation_request_with(
        &config,
        TokenRef::Access(&access),
        &Mint::new(later, &entropy),
    )
    .expect("request");
    let first = verified_claims(&field(first.body(), "client_assertion"), &key);
    let second = verified_claims(&field(revoke.body(), "client_assertion"), &key);
    assert_eq!(
        (first["jti"].clone(), second["jti"].clone()),
        (json!(jti(0)), json!(jti(16)))
    );
    assert_eq!(second["iat"], json!(1_771_834_680u64));
    assert_eq!(
        second["aud"],
        json!(TOKEN_ENDPOINT),
        "the token endpoint, also for revocation"
    );
    assert_eq!(field(revoke.body(), "token"), "at-1");
}

#[test]
fn builders_without_time_and_entropy_refuse_jwt_clients_by_name() {
    let config = config("jwt-secret-client").client_secret_jwt(SECRET);
    let error = token_request(&config, &Grant::client_credentials()).expect_err("needs a mint");
    assert_eq!(error.usage_error(), Some(&UsageError::MintUnavailable));
    let mut session = TokenSession::new(config);
    let error = session
        .fetch(&Grant::client_credentials(), now())
        .expect_err("a session without entropy cannot mint");
    assert_eq!(error.usage_error(), Some(&UsageError::MintUnavailable));
    // Debug and Display of the configuration and errors hold no secret.
    let shown = format!("{:?} {error}", session.config());
    assert!(!shown.contains(SECRET), "{shown}");
}

fn token_answer(body: &Value) -> http::Response<Vec<u8>> {
    response(200, Some("application/json"), body.to_string().as_bytes())
}

#[test]
fn a_jwt_bearer_session_mints_a_new_assertion_when_its_token_is_due() {
    let (private, public) = ed25519_jwk();
    let key = SigningKey::from_jwk(&private, None).expect("key");
    let grant = Grant::jwt_bearer(
        JwtBearer::new(key, "svc@example", "svc@example")
            .claim("scope", "read")
            .lifetime(Duration::from_secs(120)),
    );
    assert!(
        !format!("{grant:?}").contains("d\":"),
        "no key material in Debug"
    );
    let entropy: Arc<dyn Entropy> = Arc::new(entropy());
    let mut session = TokenSession::new(
        ClientConfig::new("svc")
            .token_endpoint(TOKEN_ENDPOINT)
            .expect("url"),
    )
    .with_entropy(entropy);
    let mut clock = ManualClock::new();
    let exchange = session.fetch(&grant, clock.now()).expect("request");
    let first = exchange.request().body().clone();
    assert_eq!(
        std::str::from_utf8(&first).expect("utf-8"),
        format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={PINNED_JWT_BEARER}&client_id=svc"
        )
    );
    let claims = verified_claims(&field(&first, "assertion"), &public);
    assert_eq!(
        claims,
        json!({"iss": "svc@example", "sub": "svc@example", "aud": TOKEN_ENDPOINT, "jti": jti(0),
               "iat": 1_771_834_670u64, "exp": 1_771_834_790u64, "scope": "read"})
    );
    session
        .handle_token_response(
            exchange.ticket(),
            &token_answer(
                &json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 60}),
            ),
            clock.now(),
        )
        .expect("token");
    clock.advance(Duration::from_secs(45));
    let Authorization::Refetch(refetch) = session.poll_authorization(clock.now()) else {
        panic!("a due token without a refresh token is fetched again with the grant");
    };
    let again = verified_claims(&field(refetch.request().body(), "assertion"), &public);
    assert_eq!(
        (again["jti"].clone(), again["iat"].clone()),
        (json!(jti(16)), json!(1_771_834_715u64))
    );
}

#[test]
fn a_token_exchange_request_and_its_typed_answer() {
    let exchange = TokenExchange::new("subject-at", token_type::ACCESS_TOKEN)
        .actor("actor-jwt", token_type::JWT)
        .audience("api-b")
        .resource("https://b.example/")
        .requested_token_type(token_type::ACCESS_TOKEN)
        .scope("read");
    let grant: Grant = exchange.into();
    assert!(grant.is_repeatable());
    let shown = format!("{grant:?}");
    assert!(
        !shown.contains("subject-at") && !shown.contains("actor-jwt"),
        "{shown}"
    );
    let config = ClientConfig::new("svc")
        .token_endpoint(TOKEN_ENDPOINT)
        .expect("url")
        .client_secret_basic("s");
    let request = token_request(&config, &grant).expect("request");
    assert_eq!(
        std::str::from_utf8(request.body()).expect("utf-8"),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
         &subject_token=subject-at\
         &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
         &actor_token=actor-jwt&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt\
         &audience=api-b&resource=https%3A%2F%2Fb.example%2F\
         &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=read"
    );
    let token = parse_token_response(
        &token_answer(
            &json!({"access_token": "jwt-b", "issued_token_type": token_type::JWT,
                              "token_type": "N_A", "expires_in": 300}),
        ),
        now(),
    )
    .expect("token");
    assert_eq!(token.issued_token_type(), Some(token_type::JWT));
    assert!(!token.is_bearer());
}

fn device_answer(interval: Option<u64>, expires_in: u64) -> DeviceAuthorization {
    let mut body = json!({"device_code": "dc-1", "user_code": "WDJB-MJHT",
        "verification_uri": "https://as.example/device",
        "verification_uri_complete": "https://as.example/device?user_code=WDJB-MJHT",
        "expires_in": expires_in});
    if let Some(interval) = interval {
        body["interval"] = json!(interval);
    }
    parse_device_authorization_response(&token_answer(&body), now()).expect("answer")
}

fn oauth_error(code: &str) -> http::Response<Vec<u8>> {
    response(
        400,
        Some("application/json"),
        json!({"error": code}).to_string().as_bytes(),
    )
}

/// Drives `flow` from `now()`, answering each send from `answers`; returns the send times
/// (seconds after the start) and the outcome.
fn drive_device(
    flow: &mut DeviceToken,
    mut answers: Vec<http::Response<Vec<u8>>>,
) -> (Vec<u64>, Result<oauth_core::Token, Error>) {
    let start = now();
    let mut at = start;
    let mut session = TokenSession::new(
        ClientConfig::new("tv")
            .token_endpoint(TOKEN_ENDPOINT)
            .expect("url"),
    );
    let mut sent = Vec::new();
    answers.reverse();
    for _ in 0..1_000 {
        match flow.poll(&mut session, at) {
            Step::Send(call) => {
                assert_eq!(field(call.request().body(), "device_code"), "dc-1");
                sent.push(at.duration_since(start).expect("later").as_secs());
                let answer = answers.pop().expect("a scripted answer for every poll");
                flow.handle_response(&mut session, answer, at);
            }
            Step::Wait { until } => {
                assert!(until > at && until <= at + oauth_core::flow::WAIT_SLICE);
                at = until;
            }
            Step::Done(result) => return (sent, result),
            _ => panic!("unexpected step"),
        }
    }
    panic!("the flow never ended");
}

#[test]
fn device_authorization_request_and_answer() {
    let config = ClientConfig::new("tv")
        .device_authorization_endpoint("https://as.example/device/auth")
        .expect("url")
        .scope("openid offline_access");
    let request =
        oauth_core::rfc8628::device_authorization_request(&config, None).expect("request");
    assert_eq!(
        render(&request),
        "POST https://as.example/device/auth\naccept: application/json\ncontent-type: application/x-www-form-urlencoded\n\nscope=openid+offline_access&client_id=tv"
    );
    let answer = device_answer(None, 600);
    assert_eq!(answer.user_code(), "WDJB-MJHT");
    assert_eq!(answer.verification_uri(), "https://as.example/device");
    assert_eq!(
        answer.verification_uri_complete(),
        Some("https://as.example/device?user_code=WDJB-MJHT")
    );
    assert_eq!(
        answer.interval(),
        Duration::from_secs(5),
        "RFC 8628 §3.2 default"
    );
    assert_eq!(answer.expires_at(), now() + Duration::from_secs(600));
    assert!(
        !format!("{answer:?}").contains("dc-1"),
        "the device code stays out of Debug"
    );
    let missing = parse_device_authorization_response(
        &token_answer(&json!({"device_code": "dc", "expires_in": 5})),
        now(),
    )
    .expect_err("no user code");
    assert!(missing.to_string().contains("user_code"), "{missing}");
}

#[test]
fn device_polling_follows_the_interval_and_slows_down_for_good() {
    let mut flow = DeviceToken::new(device_answer(Some(2), 600));
    let (sent, result) = drive_device(
        &mut flow,
        vec![
            oauth_error("authorization_pending"),
            oauth_error("slow_down"),
            oauth_error("authorization_pending"),
            token_answer(&json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60})),
        ],
    );
    // First poll one interval in; slow_down makes 2 s into 7 s for every later poll.
    assert_eq!(sent, vec![2, 4, 11, 18]);
    assert_eq!(result.expect("token").access_token().secret(), "at");
    assert_eq!(flow.interval(), Duration::from_secs(7));
}

#[test]
fn device_polling_stops_on_denial_expiry_and_cancel() {
    let (sent, result) = drive_device(
        &mut DeviceToken::new(device_answer(Some(1), 600)),
        vec![
            oauth_error("authorization_pending"),
            oauth_error("access_denied"),
        ],
    );
    assert_eq!(sent, vec![1, 2]);
    assert_eq!(
        result.expect_err("denied").oauth_error().map(|e| e.error()),
        Some("access_denied")
    );

    let (sent, result) = drive_device(
        &mut DeviceToken::new(device_answer(Some(4), 10)),
        vec![
            oauth_error("authorization_pending"),
            oauth_error("authorization_pending"),
        ],
    );
    assert_eq!(sent, vec![4, 8], "no poll after the code's expiry at 10 s");
    assert_eq!(
        result.expect_err("expired").usage_error(),
        Some(&UsageError::DeviceCodeExpired)
    );

    let authorization = device_answer(Some(3), 600);
    let mut flow = DeviceToken::new(authorization.clone());
    authorization.cancel();
    let (sent, result) = drive_device(&mut flow, vec![]);
    assert!(sent.is_empty());
    assert_eq!(
        result.expect_err("cancelled").usage_error(),
        Some(&UsageError::Cancelled)
    );
}

#[test]
fn keys_refuse_what_they_cannot_sign() {
    assert!(SigningKey::hmac(b"k", Algorithm::RS256).is_err());
    assert!(
        SigningKey::from_pkcs8_der(EC_PK8, Algorithm::ES384).is_err(),
        "a P-256 key is not ES384"
    );
    assert!(
        SigningKey::from_jwk(
            r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}"#,
            None
        )
        .is_err()
    );
    assert!(SigningKey::from_jwk("not json", None).is_err());
    let (private, _) = ed25519_jwk();
    let key = SigningKey::from_jwk(&private, None).expect("key");
    let shown = format!("{key:?}");
    assert!(!shown.contains(&b64(&[7u8; 32])), "{shown}");
}
