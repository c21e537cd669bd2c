#![no_main]
//! A `WWW-Authenticate` header value (RFC 9110 §11.6.1, RFC 6750 §3).

use libfuzzer_sys::fuzz_target;
use oauth_core::rfc6750::parse_www_authenticate;

fuzz_target!(|value: &str| {
    for challenge in parse_www_authenticate(value) {
        assert!(!challenge.scheme().is_empty());
    }
});
