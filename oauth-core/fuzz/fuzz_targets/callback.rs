#![no_main]
//! The URL the browser is sent back to after authorization (RFC 6749 §4.1.2, RFC 9207).

use libfuzzer_sys::fuzz_target;
use oauth_core::ClientConfig;
use oauth_core::oidc::{AUTHORIZATION_ENTROPY, AuthorizationRequest, authorization_url};
use oauth_core_fuzz::assert_printable;

fuzz_target!(|callback_url: &str| {
    let config = ClientConfig::new("c")
        .authorization_endpoint("https://as.example/auth")
        .expect("url")
        .issuer("https://as.example")
        .redirect_uri("http://127.0.0.1/cb");
    let request = AuthorizationRequest::new().scope("openid");
    let (_, pending) =
        authorization_url(&config, &request, &[7; AUTHORIZATION_ENTROPY]).expect("url");
    if let Err(error) = pending.callback(callback_url) {
        assert_printable(&error);
    }
});
