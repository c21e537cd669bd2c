#![no_main]
//! A device authorization endpoint's reply (RFC 8628 §3.2).

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use oauth_core::rfc8628::parse_device_authorization_response;
use oauth_core_fuzz::{Reply, assert_printable};

fuzz_target!(|reply: Reply| {
    let sent_at = UNIX_EPOCH + Duration::from_secs(1_771_834_670);
    match parse_device_authorization_response(&reply.response(), sent_at) {
        Ok(authorization) => {
            assert!(authorization.interval() >= Duration::from_secs(1));
            assert!(authorization.expires_at() >= sent_at);
            let _ = format!("{authorization:?}");
        }
        Err(error) => assert_printable(&error),
    }
});
