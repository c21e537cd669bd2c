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
