//! DPoP (RFC 9449): exact proofs from a fixed key, time and entropy; the session's proofs on
//! token requests, DPoP-bound tokens presented with a proof per request; the nonce retries of
//! the token endpoint and of a resource, once each, never a loop.

use std::sync::Arc;

use http::{Method, StatusCode, Uri};
use oauth_core::flow::{Fetch, Flow, Step};
use oauth_core::jose::{Jwk, Jws, SigningKey};
use oauth_core::rfc9449::{DpopKey, access_token_hash, htu};
use oauth_core::testing::{FixedEntropy, ManualClock, ScriptedServer};
use oauth_core::{
    AccessToken, Authorization, ClientConfig, Entropy, Grant, ResourceVerdict, TokenSession,
    UsageError,
};
use serde_json::{Value, json};

fn entropy() -> FixedEntropy {
    #[allow(clippy::disallowed_methods)]
    let signing = ring::rand::SystemRandom::new();
    FixedEntropy::new(0, signing)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The public key of the Ed25519 seed `[9; 32]`, base64url.
fn ed25519_x() -> String {
    use ring::signature::KeyPair as _;
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).expect("seed");
    b64(pair.public_key().as_ref())
}

/// An Ed25519 key (deterministic signatures) and its public JWK.
fn key(entropy: &dyn Entropy) -> (DpopKey, Jwk) {
    let seed = [9u8; 32];
    let x = ed25519_x();
    let private = json!({"kty": "OKP", "crv": "Ed25519", "d": b64(&seed), "x": x});
    let signing = SigningKey::from_jwk(&private.to_string(), None).expect("key");
    let public =
        Jwk::from_json(&json!({"kty": "OKP", "crv": "Ed25519", "x": x}).to_string()).expect("jwk");
    (
        DpopKey::from_key(signing, entropy).expect("dpop key"),
        public,
    )
}

fn claims(proof: &str, key: &Jwk) -> (Value, Value) {
    let jws = Jws::parse(proof).expect("jws");
    jws.verify(key).expect("signature");
    let header: Value = {
        use base64::Engine as _;
        let segment = proof.split('.').next().expect("header");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(segment)
                .expect("b64"),
        )
        .expect("json")
    };
    (
        header,
        serde_json::from_slice(jws.payload()).expect("claims"),
    )
}

#[test]
fn a_proof_is_exact_for_a_fixed_key_time_and_entropy() {
    let entropy = entropy();
    let (key, public) = key(&entropy);
    let uri: Uri = "https://rs.example/api/items?page=2#top"
        .parse()
        .expect("uri");
    let token = AccessToken::new("at-1");
    let proof = key
        .proof(
            &Method::GET,
            &uri,
            ManualClock::new().now(),
            &entropy,
            Some(&token),
            Some("n-1"),
        )
        .expect("proof");
    let (header, claims) = claims(&proof, &public);
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "dpop+jwt",
               "jwk": {"crv": "Ed25519", "kty": "OKP", "x": ed25519_x()}})
    );
    assert_eq!(
        claims,
        json!({"jti": b64(&(0u8..16).collect::<Vec<_>>()), "htm": "GET",
               "htu": "https://rs.example/api/items", "iat": 1_771_834_670u64,
               "ath": access_token_hash(&token), "nonce": "n-1"})
    );
    assert_eq!(
        htu(&uri),
        "https://rs.example/api/items",
        "no query, no fragment"
    );
    assert_eq!(key.thumbprint(), public.thumbprint());
    assert_eq!(proof, PINNED_PROOF);
    assert!(!format!("{key:?}").contains(&b64(&[9u8; 32])));
}

/// Ed25519 signatures are deterministic (RFC 8032): the whole proof is fixed.
const PINNED_PROOF: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6ImRwb3Arand0IiwiandrIjp7ImNydiI6IkVkMjU1MTkiLCJrdHkiOiJPS1AiLCJ4IjoiX1Jja09GcWd4MXRrLTNqTllDLWgyWkg5Nl9kckU4V08xd0xxeURYcDloZyJ9fQ.eyJqdGkiOiJBQUVDQXdRRkJnY0lDUW9MREEwT0R3IiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9ycy5leGFtcGxlL2FwaS9pdGVtcyIsImlhdCI6MTc3MTgzNDY3MCwiYXRoIjoiUjhQWWFJUWRjWUVka1NjOVRlR3lpVXFTQWVkbUNRdU9RSW1QUmgxRTNISSIsIm5vbmNlIjoibi0xIn0.sCtClwKoqHhA0zkL8P45JIFAAKXwADSQ9b2exN5OEL3WndhIGCEXXbVfMqUb21n2aDxmf8ZBVSlVOezdxz72BQ";

fn session(entropy: Arc<dyn Entropy>, key: DpopKey) -> TokenSession {
    TokenSession::new(
        ClientConfig::new("admin-cli")
            .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
            .expect("url"),
    )
    .with_entropy(entropy)
    .with_dpop(key)
}

fn answer(status: u16, body: &Value, nonce: Option<&str>) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(nonce) = nonce {
        builder = builder.header("dpop-nonce", nonce);
    }
    builder
        .body(body.to_string().into_bytes())
        .expect("response")
}

fn dpop_token(access_token: &str) -> Value {
    json!({"access_token": access_token, "token_type": "DPoP", "expires_in": 60,
           "refresh_token": "rt-1"})
}

/// Runs `flow`, answering its sends from `answers`; returns the proofs sent and the outcome.
fn run<F: Flow>(
    session: &mut TokenSession,
    flow: &mut F,
    mut answers: Vec<http::Response<Vec<u8>>>,
    public: &Jwk,
) -> (Vec<Value>, Step<F::Output>) {
    let now = ManualClock::new().now();
    answers.reverse();
    let mut proofs = Vec::new();
    for _ in 0..10 {
        match flow.poll(session, now) {
            Step::Send(call) => {
                let proof = call
                    .request()
                    .headers()
                    .get("dpop")
                    .expect("every token request carries a proof")
                    .to_str()
                    .expect("ascii");
                proofs.push(claims(proof, public).1);
                let response = answers.pop().expect("an answer per request");
                flow.handle_response(session, response, now);
            }
            other => return (proofs, other),
        }
    }
    panic!("no end");
}

#[test]
fn a_token_request_carries_a_proof_and_a_dpop_token_is_presented_with_one() {
    let entropy: Arc<dyn Entropy> = Arc::new(entropy());
    let (key, public) = key(&*entropy);
    let mut session = session(Arc::clone(&entropy), key);
    let (proofs, step) = run(
        &mut session,
        &mut Fetch::grant(Grant::password("admin", "admin")),
        vec![answer(200, &dpop_token("at-1"), None)],
        &public,
    );
    assert!(matches!(step, Step::Done(Ok(_))));
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0]["htm"], "POST");
    assert_eq!(proofs[0]["htu"], ScriptedServer::TOKEN_ENDPOINT);
    assert!(
        proofs[0].get("ath").is_none(),
        "no access token on a token request"
    );

    let Authorization::Ready(bearer) = session.poll_authorization(ManualClock::new().now()) else {
        panic!("a DPoP token is usable by a DPoP session");
    };
    assert!(bearer.is_dpop());
    let mut request = http::Request::get("https://rs.example/r?x=1")
        .body(Vec::new())
        .expect("request");
    bearer
        .authorize_at(&mut request, ManualClock::new().now())
        .expect("signed");
    assert_eq!(request.headers()["authorization"], "DPoP at-1");
    let proof = request.headers()["dpop"].to_str().expect("ascii");
    let (_, claims) = claims(proof, &public);
    assert_eq!(
        claims["ath"],
        json!(access_token_hash(&AccessToken::new("at-1")))
    );
    assert_eq!(claims["htu"], "https://rs.example/r");
}

#[test]
fn the_token_endpoint_nonce_is_answered_with_one_retry_never_two() {
    let entropy: Arc<dyn Entropy> = Arc::new(entropy());
    let (key, public) = key(&*entropy);
    let use_nonce = |nonce| {
        answer(
            400,
            &json!({"error": "use_dpop_nonce", "error_description": "nonce is required"}),
            Some(nonce),
        )
    };
    let mut session = session(Arc::clone(&entropy), key.clone());
    let (proofs, step) = run(
        &mut session,
        &mut Fetch::grant(Grant::password("admin", "admin")),
        vec![
            use_nonce("n-1"),
            answer(200, &dpop_token("at-1"), Some("n-2")),
        ],
        &public,
    );
    assert!(matches!(step, Step::Done(Ok(_))), "{step:?}");
    let nonces: Vec<&Value> = proofs.iter().map(|p| &p["nonce"]).collect();
    assert_eq!(nonces, [&Value::Null, &json!("n-1")]);
    assert_ne!(
        proofs[0]["jti"], proofs[1]["jti"],
        "a new proof for the retry"
    );

    // The latest nonce (from the success) goes with the next request, the refresh.
    let (proofs, step) = run(
        &mut session,
        &mut Fetch::refresh(),
        vec![answer(200, &dpop_token("at-2"), None)],
        &public,
    );
    assert!(matches!(step, Step::Done(Ok(_))));
    assert_eq!(proofs[0]["nonce"], "n-2");

    // A server that keeps asking gets one retry, then its error.
    let mut session = session_fresh(&entropy, key);
    let (proofs, step) = run(
        &mut session,
        &mut Fetch::grant(Grant::password("admin", "admin")),
        vec![use_nonce("n-1"), use_nonce("n-2")],
        &public,
    );
    assert_eq!(proofs.len(), 2);
    let Step::Done(Err(error)) = step else {
        panic!("the second refusal is the caller's");
    };
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("use_dpop_nonce")
    );
}

fn session_fresh(entropy: &Arc<dyn Entropy>, key: DpopKey) -> TokenSession {
    session(Arc::clone(entropy), key)
}

#[test]
fn a_resource_nonce_is_answered_with_one_replay_carrying_it() {
    let entropy: Arc<dyn Entropy> = Arc::new(entropy());
    let (key, public) = key(&*entropy);
    let mut session = session(Arc::clone(&entropy), key);
    let (_, step) = run(
        &mut session,
        &mut Fetch::grant(Grant::password("admin", "admin")),
        vec![answer(200, &dpop_token("at-1"), None)],
        &public,
    );
    assert!(matches!(step, Step::Done(Ok(_))));
    let now = ManualClock::new().now();
    let uri: Uri = "https://rs.example/r".parse().expect("uri");
    let Authorization::Ready(bearer) = session.poll_authorization(now) else {
        panic!("ready");
    };
    let mut challenge = http::HeaderMap::new();
    challenge.insert(
        "www-authenticate",
        "DPoP error=\"use_dpop_nonce\", error_description=\"nonce required\""
            .parse()
            .expect("header"),
    );
    challenge.insert("dpop-nonce", "rn-1".parse().expect("header"));
    assert_eq!(
        session.handle_resource_response(&bearer, 0, &uri, StatusCode::UNAUTHORIZED, &challenge),
        ResourceVerdict::Replay
    );
    let proof = bearer
        .dpop_proof(&Method::GET, &uri, now)
        .expect("proof")
        .expect("dpop");
    assert_eq!(
        claims(proof.to_str().expect("ascii"), &public).1["nonce"],
        "rn-1"
    );
    assert_eq!(
        session.handle_resource_response(&bearer, 1, &uri, StatusCode::UNAUTHORIZED, &challenge),
        ResourceVerdict::Accept,
        "one replay for a nonce, never a loop"
    );
    // Another origin has no nonce.
    let other: Uri = "https://other.example/r".parse().expect("uri");
    let proof = bearer
        .dpop_proof(&Method::GET, &other, now)
        .expect("proof")
        .expect("dpop");
    assert!(
        claims(proof.to_str().expect("ascii"), &public)
            .1
            .get("nonce")
            .is_none()
    );
}

#[test]
fn a_dpop_token_without_a_key_is_refused_by_name() {
    let mut session = TokenSession::new(ClientConfig::new("c"));
    let now = ManualClock::new().now();
    let token: oauth_core::Token = serde_json::from_value(
        json!({"access_token": "at", "token_type": "DPoP", "expires_at": 1_771_834_730u64}),
    )
    .expect("token");
    let _ = session.set_token(token);
    let Authorization::Fail(error) = session.poll_authorization(now) else {
        panic!("refused");
    };
    assert_eq!(
        error.usage_error(),
        Some(&UsageError::UnsupportedTokenType("DPoP".into()))
    );
}
