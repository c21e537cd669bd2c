//! DPoP (RFC 9449), pushed authorization requests (RFC 9126) and signed request objects
//! (RFC 9101) against the real server: tokens bound to the session's key, a bound refresh,
//! resource requests whose proofs the server checks, the nonces of both endpoints, and the
//! code flow through a pushed, signed request.

use std::time::Duration;

use oauth_core::Grant;
use oauth_core::jose::SigningKey;
use oauth_core::oidc::AuthorizationRequest;
use oauth_tests::browser::follow_to_callback;
use oauth_tests::oidc_provider::{AuthServer, Stats};

use super::{Adapter, Options, REDIRECT_URI};

const EC_JWK: &str = include_str!("../../../server/ec-client.jwk.json");
use crate::start_server;

fn stats(server: &AuthServer) -> Stats {
    server.stats().expect("stats")
}

fn count(stats: &Stats, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(&stats.raw, |v, k| v.get(k))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

pub(crate) fn dpop_bound_tokens_refresh_and_reach_the_resource_with_proofs<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session = A::build(Options::new("admin-cli").server(&server).dpop()).expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token");
    assert_eq!(
        token.token_type(),
        "DPoP",
        "the server bound the token to the key"
    );
    let reply = session.get(&server.resource_url()).expect("resource");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("\"dpop_bound\":true"), "{}", reply.body);
    // The refresh token is bound too (a public client): only a proof of the same key works.
    let refreshed = session.refresh_token().expect("bound refresh");
    assert_eq!(refreshed.token_type(), "DPoP");
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    for _ in 0..3 {
        let reply = session.get(&server.resource_url()).expect("resource");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let stats = stats(&server);
    assert_eq!(
        count(&stats, &["resource", "dpop_ok"]),
        4,
        "every proof accepted"
    );
    assert_eq!(stats.resource_unauthorized(), 0);
}

pub(crate) fn token_endpoint_and_resource_nonces_are_answered_with_one_retry<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session =
        A::build(Options::new("admin-cli-dpop-nonce").server(&server).dpop()).expect("session");
    let token = session
        .fetch_token(Grant::password("admin", "admin"))
        .expect("token after one nonce retry");
    assert_eq!(token.token_type(), "DPoP");
    assert_eq!(
        stats(&server).token_requests("password"),
        2,
        "refused for want of a nonce, then sent once more with it"
    );
    // The resource hands out its own nonce: one refusal, one replay, then it is remembered.
    let url = server.url("/resource/dpop-nonce");
    for _ in 0..2 {
        let reply = session.get(&url).expect("resource");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let stats = stats(&server);
    assert_eq!(count(&stats, &["resource", "dpop_nonce_challenges"]), 1);
    assert_eq!(count(&stats, &["resource", "dpop_ok"]), 2);
}

fn query_names(url: &oauth_core::url::Url) -> Vec<String> {
    url.query_pairs().map(|(n, _)| n.into_owned()).collect()
}

pub(crate) fn code_flow_through_a_pushed_request_with_dpop_bound_tokens<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session = A::build(Options::new("admin-cli").discover(&server).dpop()).expect("session");
    let request = AuthorizationRequest::new().scope("openid profile");
    let (url, pending) = session.pushed_authorization_url(&request).expect("pushed");
    assert_eq!(query_names(&url), ["client_id", "request_uri"], "{url}");
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    let token = session.exchange_code(pending, &callback).expect("login");
    assert_eq!(
        token.token_type(),
        "DPoP",
        "the code exchange bound the token"
    );
    assert!(session.id_token_claims().is_some());
    // Userinfo (oidc-provider checks its proof itself) and our resource, with proofs.
    session.userinfo().expect("userinfo with a DPoP proof");
    assert_eq!(
        session.get(&server.resource_url()).expect("get").status,
        200
    );
    let refreshed = session.refresh_token().expect("bound refresh");
    assert_eq!(refreshed.token_type(), "DPoP");
    assert_eq!(
        session.get(&server.resource_url()).expect("get").status,
        200
    );
    assert_eq!(count(&stats(&server), &["resource", "dpop_ok"]), 2);
}

pub(crate) fn signed_request_objects_pushed_or_in_the_url_are_accepted<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let key = SigningKey::from_jwk(EC_JWK, None).expect("key");
    let session = A::build(
        Options::new("private-key-es256-client")
            .discover(&server)
            .private_key(key)
            .signed_request_objects(),
    )
    .expect("session");
    let request = AuthorizationRequest::new().scope("openid profile");
    // Pushed, with private_key_jwt at the PAR endpoint.
    let (url, pending) = session.pushed_authorization_url(&request).expect("pushed");
    assert_eq!(query_names(&url), ["client_id", "request_uri"]);
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    session.exchange_code(pending, &callback).expect("login");
    // In the URL: only client_id and the signed request.
    let (url, pending) = session.authorization_url(&request).expect("url");
    assert_eq!(query_names(&url), ["client_id", "request"]);
    let callback = follow_to_callback(url.as_str(), REDIRECT_URI).expect("headless login");
    session.exchange_code(pending, &callback).expect("login");
    assert_eq!(
        stats(&server).client_auth("pushed_authorization_request", "private_key_jwt"),
        1
    );
}
