#![no_main]
//! A shared store's record as a backend hands it back (a damaged file, a record written by
//! another key or version, anything Redis holds): a session adopting it gets a token only
//! from a record sealed with its key, and otherwise a typed, printable error. The key's text
//! form is read too.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use oauth_core::flow::{Authorize, Step};
use oauth_core::store::{StoreKey, StoreRequest, StoreSettings};
use oauth_core::testing::{FixedEntropy, MemoryStore, ScriptedServer};
use oauth_core::{ClientConfig, TokenSession};
use oauth_core_fuzz::{assert_printable, now};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(error) = StoreKey::from_base64url(text) {
            assert!(!error.to_string().chars().any(char::is_control));
        }
    }
    let mut store = MemoryStore::new();
    let put = StoreRequest::Put {
        at_least: 0,
        sealed: data.to_vec(),
    };
    store
        .execute(&put, now())
        .expect("the reference store takes anything");
    #[allow(
        clippy::disallowed_methods,
        reason = "ring's own source for signatures"
    )]
    let entropy = FixedEntropy::new(0, ring::rand::SystemRandom::new());
    let config = ClientConfig::new("fuzz")
        .token_endpoint(ScriptedServer::TOKEN_ENDPOINT)
        .expect("url");
    let mut session = TokenSession::new(config)
        .with_entropy(Arc::new(entropy))
        .with_store(StoreSettings::new(StoreKey::from_bytes([1; 32])));
    let mut server = ScriptedServer::new();
    match server.drive_with_store(&mut session, &mut Authorize::new(), &mut store, now()) {
        Step::Done(Err(error)) => {
            assert_printable(&error);
            assert!(
                session.token().is_none(),
                "nothing adopted from a bad record"
            );
        }
        // Only a record sealed under this key (which the fuzzer cannot forge) opens.
        other => panic!("adopted a record it cannot have opened: {other:?}"),
    }
});
