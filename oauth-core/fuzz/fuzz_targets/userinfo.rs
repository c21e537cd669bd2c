#![no_main]
//! A userinfo endpoint's reply (JSON or a JWT).

use libfuzzer_sys::fuzz_target;
use oauth_core::oidc::parse_userinfo_response;
use oauth_core_fuzz::{Reply, assert_printable};

fuzz_target!(|reply: Reply| {
    match parse_userinfo_response(&reply.response(), "admin") {
        Ok(info) => assert_eq!(info.sub(), "admin"),
        Err(error) => assert_printable(&error),
    }
});
