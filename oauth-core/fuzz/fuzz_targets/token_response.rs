#![no_main]
//! A token endpoint's reply, any status, content type and bytes.

use libfuzzer_sys::fuzz_target;
use oauth_core::parse_token_response;
use oauth_core_fuzz::{Reply, assert_printable, now};

fuzz_target!(|reply: Reply| {
    let response = reply.response();
    match parse_token_response(&response, now()) {
        Ok(token) => {
            assert!(response.status().is_success());
            assert!(!token.access_token().secret().is_empty());
            assert!(token.expires_at().is_none_or(|at| at > now()));
        }
        Err(error) => assert_printable(&error),
    }
});
