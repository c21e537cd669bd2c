#![no_main]
//! A revocation or introspection endpoint's reply.

use libfuzzer_sys::fuzz_target;
use oauth_core::{parse_introspection_response, parse_revocation_response};
use oauth_core_fuzz::{Reply, assert_printable};

fuzz_target!(|reply: Reply| {
    let response = reply.response();
    match parse_revocation_response(&response) {
        Ok(()) => assert!(response.status().is_success()),
        Err(error) => assert_printable(&error),
    }
    if let Err(error) = parse_introspection_response(&response) {
        assert_printable(&error);
    }
});
