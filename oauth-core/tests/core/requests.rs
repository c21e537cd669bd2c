use oauth_core::{
    AccessToken, BasicEncoding, ClientAuth, ClientConfig, Grant, PkceCodeVerifier, RefreshToken,
    TokenRef, introspection_request, revocation_request, token_request,
};

use crate::render;

const TOKEN: &str = "http://localhost:8080/realms/master/protocol/openid-connect/token";

fn public() -> ClientConfig {
    ClientConfig::new("admin-cli")
        .token_endpoint(TOKEN)
        .expect("url")
}

#[test]
fn password_grant_public_client() {
    let request = token_request(&public(), &Grant::password("admin", "admin")).expect("request");
    assert_eq!(
        render(&request),
        "POST http://localhost:8080/realms/master/protocol/openid-connect/token\n\
         accept: application/json\n\
         content-type: application/x-www-form-urlencoded\n\
         \n\
         grant_type=password&username=admin&password=admin&client_id=admin-cli"
    );
}

#[test]
fn password_grant_encodes_reserved_characters_and_takes_the_default_scope() {
    let config = public().scope("openid email");
    let request = token_request(&config, &Grant::password("a b@x", "p&ss=wörd+")).expect("request");
    assert_eq!(
        std::str::from_utf8(request.body()).expect("utf-8"),
        "grant_type=password&username=a+b%40x&password=p%26ss%3Dw%C3%B6rd%2B&scope=openid+email&client_id=admin-cli"
    );
}

#[test]
fn client_secret_basic_form_encodes_id_and_secret() {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    let config = ClientConfig::new("my client:1")
        .token_endpoint("https://as.example/token")
        .expect("url")
        .client_secret_basic("s3cr3t:with+special&chars/=");
    let request = token_request(&config, &Grant::client_credentials()).expect("request");
    assert_eq!(
        render(&request),
        "POST https://as.example/token\n\
         accept: application/json\n\
         content-type: application/x-www-form-urlencoded\n\
         authorization: Basic bXkrY2xpZW50JTNBMTpzM2NyM3QlM0F3aXRoJTJCc3BlY2lhbCUyNmNoYXJzJTJGJTNE\n\
         \n\
         grant_type=client_credentials"
    );
    assert!(request.headers()[http::header::AUTHORIZATION].is_sensitive());
}

#[test]
fn client_secret_basic_raw_sends_id_and_secret_unencoded() {
    let config = ClientConfig::new("my client")
        .token_endpoint("https://as.example/token")
        .expect("url")
        .auth(ClientAuth::SecretBasic {
            secret: "a+b".into(),
            encoding: BasicEncoding::Raw,
        });
    let request = token_request(&config, &Grant::client_credentials()).expect("request");
    // base64("my client:a+b")
    assert_eq!(
        request.headers()[http::header::AUTHORIZATION],
        "Basic bXkgY2xpZW50OmErYg=="
    );
}

#[test]
fn client_secret_post_puts_credentials_in_the_body() {
    let config = ClientConfig::new("post-client")
        .token_endpoint("https://as.example/token")
        .expect("url")
        .client_secret_post("post-secret")
        .scope("api");
    let request = token_request(&config, &Grant::client_credentials()).expect("request");
    assert_eq!(
        render(&request),
        "POST https://as.example/token\n\
         accept: application/json\n\
         content-type: application/x-www-form-urlencoded\n\
         \n\
         grant_type=client_credentials&scope=api&client_id=post-client&client_secret=post-secret"
    );
}

#[test]
fn authorization_code_with_pkce_and_redirect_uri() {
    let grant = Grant::authorization_code("code-123")
        .redirect_uri("http://127.0.0.1:4000/callback")
        .pkce_verifier(PkceCodeVerifier::new(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
    let request = token_request(&public().scope("ignored"), &grant).expect("request");
    assert_eq!(
        std::str::from_utf8(request.body()).expect("utf-8"),
        "grant_type=authorization_code&code=code-123&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcallback\
         &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_id=admin-cli"
    );
}

#[test]
fn refresh_sends_no_default_scope() {
    let grant = Grant::refresh_token(&RefreshToken::new("rt-1"));
    let request = token_request(&public().scope("email"), &grant).expect("request");
    assert_eq!(
        std::str::from_utf8(request.body()).expect("utf-8"),
        "grant_type=refresh_token&refresh_token=rt-1&client_id=admin-cli"
    );
}

#[test]
fn custom_grant_with_extra_parameters() {
    let grant = Grant::custom("urn:ietf:params:oauth:grant-type:token-exchange")
        .secret_param("subject_token", "st")
        .param(
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        )
        .scope("read");
    let request = token_request(&public(), &grant).expect("request");
    assert_eq!(
        std::str::from_utf8(request.body()).expect("utf-8"),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=st\
         &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=read&client_id=admin-cli"
    );
    let shown = format!("{grant:?}");
    assert!(!shown.contains("\"st\""), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn revocation_request_carries_the_hint() {
    let config = ClientConfig::new("basic-client")
        .revocation_endpoint("https://as.example/revoke")
        .expect("url")
        .client_secret_basic("basic-secret");
    let request = revocation_request(&config, TokenRef::Refresh(&RefreshToken::new("rt-9")))
        .expect("request");
    assert_eq!(
        render(&request),
        "POST https://as.example/revoke\n\
         accept: application/json\n\
         content-type: application/x-www-form-urlencoded\n\
         authorization: Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA==\n\
         \n\
         token=rt-9&token_type_hint=refresh_token"
    );
}

#[test]
fn introspection_request_carries_the_hint() {
    let config = ClientConfig::new("post-client")
        .introspection_endpoint("https://as.example/introspect")
        .expect("url")
        .client_secret_post("post-secret");
    let request = introspection_request(&config, TokenRef::Access(&AccessToken::new("at-1")))
        .expect("request");
    assert_eq!(
        render(&request),
        "POST https://as.example/introspect\n\
         accept: application/json\n\
         content-type: application/x-www-form-urlencoded\n\
         \n\
         token=at-1&token_type_hint=access_token&client_id=post-client&client_secret=post-secret"
    );
}

#[test]
fn missing_and_insecure_endpoints_are_configuration_errors() {
    let none = ClientConfig::new("c");
    assert_eq!(
        token_request(&none, &Grant::client_credentials())
            .unwrap_err()
            .to_string(),
        "no token endpoint is configured"
    );
    let insecure = ClientConfig::new("c")
        .token_endpoint("http://as.example/token")
        .expect("url");
    assert_eq!(
        token_request(&insecure, &Grant::client_credentials())
            .unwrap_err()
            .to_string(),
        "refusing plain http to non-loopback host as.example: use https or allow insecure http explicitly"
    );
}

#[test]
fn client_config_debug_hides_the_secret() {
    let config = ClientConfig::new("c").client_secret_post("hunter2");
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
