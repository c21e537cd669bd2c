#![no_main]
//! A pushed authorization request endpoint's reply (RFC 9126 §2.2).

use libfuzzer_sys::fuzz_target;
use oauth_core::oidc::parse_pushed_authorization_response;
use oauth_core_fuzz::{Reply, assert_printable};

fuzz_target!(|reply: Reply| {
    match parse_pushed_authorization_response(&reply.response()) {
        Ok(pushed) => assert!(!format!("{pushed:?}").is_empty()),
        Err(error) => assert_printable(&error),
    }
});
