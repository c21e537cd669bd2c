use super::*;

fn config() -> ClientConfig {
    ClientConfig::new("admin-cli")
        .authorization_endpoint("https://as.example/auth?tenant=1")
        .expect("url")
        .redirect_uri("http://127.0.0.1:4000/callback")
        .issuer("https://as.example")
}

fn entropy() -> [u8; AUTHORIZATION_ENTROPY] {
    let mut e = [0u8; AUTHORIZATION_ENTROPY];
    for (i, b) in e.iter_mut().enumerate() {
        *b = u8::try_from(i).expect("small");
    }
    e
}

#[test]
fn url_carries_state_pkce_and_nonce_from_the_entropy() {
    let request = AuthorizationRequest::new()
        .scope("openid email")
        .prompt("login")
        .max_age(Duration::from_secs(300));
    let (url, pending) = authorization_url(&config(), &request, &entropy()).expect("url");
    assert_eq!(
        url.as_str(),
        "https://as.example/auth?tenant=1&response_type=code&client_id=admin-cli\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcallback&scope=openid+email\
         &state=AAECAwQFBgcICQoLDA0ODw\
         &code_challenge=bIeEEJ0ry7gh7qIC3JSmluTwY9ojq4Xh5mey_Zok5bg&code_challenge_method=S256\
         &nonce=MDEyMzQ1Njc4OTo7PD0-Pw&prompt=login&max_age=300"
    );
    assert_eq!(pending.state(), "AAECAwQFBgcICQoLDA0ODw");
    assert!(!format!("{pending:?}").contains("EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8"));
}

#[test]
fn no_nonce_without_openid() {
    let (url, _) = authorization_url(
        &config(),
        &AuthorizationRequest::new().scope("api"),
        &entropy(),
    )
    .expect("url");
    assert!(!url.as_str().contains("nonce"));
}

fn pending() -> PendingAuthorization {
    authorization_url(
        &config(),
        &AuthorizationRequest::new().scope("openid"),
        &entropy(),
    )
    .expect("url")
    .1
}

#[test]
fn good_callback_gives_the_code_exchange() {
    let exchange = pending()
        .callback("http://127.0.0.1:4000/callback?code=c0de&state=AAECAwQFBgcICQoLDA0ODw&iss=https%3A%2F%2Fas.example")
        .expect("exchange");
    let config = ClientConfig::new("admin-cli")
        .token_endpoint("https://as.example/token")
        .expect("url");
    let request = crate::token_request(&config, &exchange.grant).expect("request");
    assert_eq!(
        std::str::from_utf8(request.body()).expect("utf-8"),
        "grant_type=authorization_code&code=c0de&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcallback\
         &code_verifier=EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8&client_id=admin-cli"
    );
    assert_eq!(
        exchange.expectations.nonce.as_deref(),
        Some("MDEyMzQ1Njc4OTo7PD0-Pw")
    );
}

#[test]
fn state_mismatch_and_missing_state_are_refused() {
    let error = pending()
        .callback("http://127.0.0.1:4000/callback?code=c&state=forged")
        .unwrap_err();
    assert_eq!(error, Error::Callback(CallbackError::StateMismatch));
    let error = pending()
        .callback("http://127.0.0.1:4000/callback?code=c")
        .unwrap_err();
    assert_eq!(error, Error::Callback(CallbackError::MissingState));
}

#[test]
fn error_redirect_is_an_oauth_error_not_a_missing_code() {
    let error = pending()
        .callback("http://127.0.0.1:4000/callback?error=access_denied&error_description=End-User+denied&state=AAECAwQFBgcICQoLDA0ODw")
        .unwrap_err();
    assert_eq!(error.to_string(), "access_denied: End-User denied");
    assert_eq!(error.oauth_error().and_then(OAuthError::status), None);
}

#[test]
fn issuer_mix_up_is_refused() {
    let error = pending()
        .callback("http://127.0.0.1:4000/callback?code=c&state=AAECAwQFBgcICQoLDA0ODw&iss=https%3A%2F%2Fevil.example")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the authorization response comes from issuer \"https://evil.example\", expected \"https://as.example\""
    );
}

#[test]
fn missing_code_is_named() {
    let error = pending()
        .callback("http://127.0.0.1:4000/callback?state=AAECAwQFBgcICQoLDA0ODw")
        .unwrap_err();
    assert_eq!(error, Error::Callback(CallbackError::MissingCode));
}

#[test]
fn pending_authorization_survives_a_session_store() {
    let stored = serde_json::to_string(&pending()).expect("serialise");
    let restored: PendingAuthorization = serde_json::from_str(&stored).expect("deserialise");
    restored
        .callback("http://127.0.0.1:4000/callback?code=c&state=AAECAwQFBgcICQoLDA0ODw")
        .expect("exchange");
}

#[test]
fn a_pushed_request_carries_every_parameter_and_the_url_only_its_reference() {
    let config = config()
        .pushed_authorization_request_endpoint("https://as.example/par")
        .expect("url");
    let request = AuthorizationRequest::new().scope("openid");
    let (push, pending) =
        pushed_authorization_request(&config, &request, &entropy(), &Mint::NONE).expect("push");
    assert_eq!(push.uri(), "https://as.example/par");
    assert_eq!(
        std::str::from_utf8(push.body()).expect("utf-8"),
        "response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcallback&scope=openid\
         &state=AAECAwQFBgcICQoLDA0ODw&code_challenge="
            .to_owned()
            + &crate::rfc7636::pkce_pair(&entropy()[16..48].try_into().expect("32")).1
            + "&code_challenge_method=S256&nonce=MDEyMzQ1Njc4OTo7PD0-Pw&client_id=admin-cli"
    );
    assert_eq!(pending.state(), "AAECAwQFBgcICQoLDA0ODw");
    let answer = http::Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .body(br#"{"request_uri":"urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c","expires_in":60}"#.to_vec())
        .expect("response");
    let pushed = parse_pushed_authorization_response(&answer).expect("pushed");
    assert_eq!(pushed.expires_in, Duration::from_secs(60));
    assert_eq!(
        pushed_authorization_url(&config, &pushed)
            .expect("url")
            .as_str(),
        "https://as.example/auth?tenant=1&client_id=admin-cli\
         &request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c"
    );
    let refused = http::Response::builder()
        .status(200)
        .body(br#"{"expires_in":60}"#.to_vec())
        .expect("response");
    let error = parse_pushed_authorization_response(&refused).expect_err("no request_uri");
    assert!(error.to_string().contains("request_uri"), "{error}");
}

#[test]
fn a_provider_that_requires_pushed_requests_refuses_a_plain_url() {
    let config = config().require_pushed_authorization_requests(true);
    let error = authorization_url(&config, &AuthorizationRequest::new(), &entropy())
        .expect_err("pushed only");
    assert_eq!(
        error.usage_error(),
        Some(&UsageError::PushedAuthorizationRequired)
    );
}

#[test]
fn a_signed_request_object_holds_the_parameters_and_the_url_only_client_id_and_it() {
    struct Counting(std::sync::Mutex<u8>, ring::rand::SystemRandom);
    impl crate::Entropy for Counting {
        fn fill(&self, dest: &mut [u8]) -> Result<(), crate::EntropyUnavailable> {
            let mut next = self.0.lock().expect("lock");
            for b in dest {
                *b = *next;
                *next = next.wrapping_add(1);
            }
            Ok(())
        }
        fn signing_rng(&self) -> &dyn ring::rand::SecureRandom {
            &self.1
        }
    }
    #[allow(
        clippy::disallowed_methods,
        reason = "HS256 draws nothing; ring needs a source"
    )]
    let source = Counting(std::sync::Mutex::new(0), ring::rand::SystemRandom::new());
    let secret = "request-object-secret";
    let config = config()
        .client_secret_jwt(secret)
        .signed_request_objects(true);
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_771_834_670);
    let (url, _) = authorization_url_with(
        &config,
        &AuthorizationRequest::new()
            .scope("openid")
            .max_age(Duration::from_secs(60)),
        &entropy(),
        &Mint::new(now, &source),
    )
    .expect("url");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tenant", "client_id", "request"]);
    let jws = crate::jose::Jws::parse(&pairs[2].1).expect("jws");
    jws.verify(&crate::jose::Jwk::from_client_secret(
        &crate::ClientSecret::new(secret),
    ))
    .expect("signed with the secret");
    assert_eq!(jws.typ(), Some("oauth-authz-req+jwt"));
    let claims: serde_json::Value = serde_json::from_slice(jws.payload()).expect("json");
    assert_eq!(claims["iss"], "admin-cli");
    assert_eq!(claims["aud"], "https://as.example");
    assert_eq!(claims["client_id"], "admin-cli");
    assert_eq!(claims["response_type"], "code");
    assert_eq!(claims["state"], "AAECAwQFBgcICQoLDA0ODw");
    assert_eq!(claims["max_age"], 60);
    assert_eq!(claims["iat"], 1_771_834_670u64);
    assert_eq!(claims["exp"], 1_771_834_730u64);
    assert_eq!(claims["jti"], "AAECAwQFBgcICQoLDA0ODw");
}
