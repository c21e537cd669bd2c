#![no_main]
//! A discovery document (OpenID Connect Discovery, RFC 8414).

use libfuzzer_sys::fuzz_target;
use oauth_core::ClientConfig;
use oauth_core::oidc::parse_discovery_response;
use oauth_core_fuzz::{Reply, assert_printable};

fuzz_target!(|reply: Reply| {
    match parse_discovery_response(&reply.response(), "https://as.example") {
        Ok(metadata) => {
            assert_eq!(metadata.issuer(), "https://as.example");
            // Its endpoints go into a configuration: refused or taken, never a panic.
            let _ = ClientConfig::new("c").with_metadata(&metadata);
        }
        Err(error) => assert_printable(&error),
    }
});
