//! RFC 7523 client authentication and the JWT bearer grant, token exchange (RFC 8693) and
//! device authorization (RFC 8628) against the real server, which counts what it accepted.

use std::time::Duration;

use oauth_core::jose::{Algorithm, SigningKey};
use oauth_core::rfc7523::{AssertionAudience, JwtBearer};
use oauth_core::rfc8693::{TokenExchange, token_type};
use oauth_core::{Grant, Token, TokenRef, UsageError};
use oauth_tests::browser::device_verification;
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::wait_until;

use super::{Adapter, AdapterError, Options, eventually};
use crate::start_server;

const RSA_PEM: &str = include_str!("../../../server/private-key-client.key.pem");
const RSA_JWK: &str = include_str!("../../../server/private-key-client.jwk.json");
const EC_JWK: &str = include_str!("../../../server/ec-client.jwk.json");
const JWT_SECRET: &str = "jwt-secret-client-secret-0123456789abcdef";

/// The RSA key of `private-key-client`, from its PEM, with the `kid` the server knows.
fn rsa_key() -> SigningKey {
    let jwk: serde_json::Value = serde_json::from_str(RSA_JWK).expect("jwk");
    SigningKey::from_pem(RSA_PEM, Algorithm::RS256)
        .expect("pem")
        .with_kid(jwk["kid"].as_str().expect("kid"))
}

/// The EC key of `private-key-es256-client` and of the JWT bearer grant's issuer, from its
/// private JWK (which names its `kid` and `alg`).
fn ec_key() -> SigningKey {
    SigningKey::from_jwk(EC_JWK, None).expect("jwk")
}

fn stats(server: &AuthServer) -> oauth_tests::oidc_provider::Stats {
    server.stats().expect("stats")
}

pub(crate) fn jwt_client_authentication_is_accepted_and_counted_by_the_server<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let clients = [
        (
            "client_secret_jwt",
            Options::new("jwt-secret-client").secret_jwt(JWT_SECRET),
        ),
        (
            "private_key_jwt",
            Options::new("private-key-client").private_key(rsa_key()),
        ),
        (
            "private_key_jwt",
            // Configured by discovery, which names the issuer the assertions are for.
            Options::new("private-key-es256-client")
                .discover(&server)
                .private_key(ec_key())
                .assertion_audience(AssertionAudience::Issuer),
        ),
    ];
    let mut expected_private_key = 0;
    for (method, options) in clients {
        let session = A::build(options.server(&server)).expect("session");
        // Three token requests and two endpoint calls from one session: each minted its own
        // assertion, or the server (which records every jti) would refuse the repeats.
        for _ in 0..3 {
            session
                .fetch_token(Grant::client_credentials())
                .unwrap_or_else(|e| panic!("{method}: {e}"));
        }
        let token = session.token().expect("token");
        let reply = session.get(&server.resource_url()).expect("resource");
        assert_eq!(reply.status, 200, "{method}");
        let introspection = session
            .introspect_token(TokenRef::Access(token.access_token()))
            .expect("introspection");
        assert!(introspection.active());
        session
            .revoke_token(TokenRef::Access(token.access_token()))
            .expect("revocation");
        if method == "private_key_jwt" {
            expected_private_key += 1;
        }
        let stats = stats(&server);
        let count = |route| stats.client_auth(route, method);
        let per_client = if method == "private_key_jwt" {
            expected_private_key
        } else {
            1
        };
        assert_eq!(
            (count("token"), count("introspection"), count("revocation")),
            (3 * per_client, per_client, per_client),
            "{method}: the server accepted every request with this method"
        );
    }
}

pub(crate) fn a_wrong_secret_or_key_is_invalid_client<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let wrong = [
        Options::new("jwt-secret-client").secret_jwt("not-the-secret-of-this-client-at-all"),
        // The EC key is not the one registered for the RSA client.
        Options::new("private-key-client").private_key(ec_key()),
    ];
    for options in wrong {
        let session = A::build(options.server(&server)).expect("session");
        let error = session
            .fetch_token(Grant::client_credentials())
            .expect_err("refused");
        assert_eq!(
            error.oauth_error().map(|e| e.error()),
            Some("invalid_client"),
            "{error}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("eyJ"), "no assertion in the error: {shown}");
        assert!(session.token().is_none());
    }
    let stats = stats(&server);
    assert_eq!(stats.client_auth("token", "client_secret_jwt"), 0);
    assert_eq!(stats.client_auth("token", "private_key_jwt"), 0);
}

pub(crate) fn a_jwt_bearer_session_fetches_again_with_a_fresh_assertion_when_due<A: Adapter>() {
    let server = start_server(Duration::from_secs(2));
    let grant = Grant::jwt_bearer(
        JwtBearer::new(ec_key(), "svc@example.test", "admin").claim("scope", "profile"),
    );
    let session = A::build(
        Options::new("jwt-bearer-client")
            .server(&server)
            .leeway(Duration::from_secs(1)),
    )
    .expect("session");
    let first = session.fetch_token(grant).expect("token");
    assert!(first.refresh_token().is_none());
    assert_eq!(
        session.get(&server.resource_url()).expect("get").status,
        200
    );
    let at = session.refresh_at().expect("refresh time");
    wait_until(at, Duration::from_secs(30)).expect("refresh time reached");
    let reply = session.get(&server.resource_url()).expect("resource");
    assert_eq!(reply.status, 200);
    let second = session.token().expect("token");
    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    // The server refuses a repeated jti: two grants accepted means two assertions.
    assert_eq!(
        stats(&server).token_requests("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        2
    );
}

pub(crate) fn token_exchange_one_off_and_as_the_sessions_grant<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let service = A::build(
        Options::new("exchange-client")
            .server(&server)
            .secret_basic("exchange-secret"),
    )
    .expect("session");
    let subject = service
        .fetch_token(Grant::client_credentials())
        .expect("subject token");
    let exchange = || {
        TokenExchange::new(subject.access_token().secret(), token_type::ACCESS_TOKEN)
            .audience("api-b")
    };
    // One-off: the answer is returned, the session keeps its token.
    let issued = service
        .exchange_token(exchange().into())
        .expect("exchanged");
    assert_eq!(issued.issued_token_type(), Some(token_type::ACCESS_TOKEN));
    assert_eq!(
        service.token().expect("token").access_token().secret(),
        subject.access_token().secret()
    );
    let holder =
        A::build(Options::new("admin-cli").server(&server).token(issued)).expect("session");
    assert_eq!(holder.get(&server.resource_url()).expect("get").status, 200);

    // As a session's grant, by a client that authenticates with private_key_jwt (ES256).
    let session = A::build(
        Options::new("private-key-es256-client")
            .server(&server)
            .private_key(ec_key()),
    )
    .expect("session");
    let token = session.fetch_token(exchange().into()).expect("exchanged");
    assert_eq!(token.issued_token_type(), Some(token_type::ACCESS_TOKEN));
    assert_eq!(
        session.get(&server.resource_url()).expect("get").status,
        200
    );
    let stats = stats(&server);
    assert_eq!(
        stats.exchanges(),
        vec![
            (Some("api-b".to_owned()), "exchange-client".to_owned()),
            (Some("api-b".to_owned()), "exchange-client".to_owned()),
        ]
    );
    assert_eq!(stats.client_auth("token", "private_key_jwt"), 1);
}

fn device_session<A: Adapter>(server: &AuthServer) -> A {
    A::build(
        Options::new("admin-cli")
            .server(server)
            .device_endpoint(server),
    )
    .expect("session")
}

pub(crate) fn device_login_through_the_providers_pages_honours_slow_down<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session = device_session::<A>(&server);
    let authorization = session
        .device_authorization(Some("openid profile"))
        .expect("device authorization");
    assert_eq!(
        authorization.interval(),
        Duration::from_secs(1),
        "the server's interval"
    );
    let user_code = authorization.user_code().to_owned();
    let verification_uri = authorization.verification_uri().to_owned();
    // The first poll is answered slow_down; the user approves once it has been seen.
    server.slow_down_device(&user_code).expect("slow down");
    let (token, user) = std::thread::scope(|scope| {
        let user = scope.spawn(|| {
            eventually("the device polled", || {
                !stats(&server).device_polls(&user_code).is_empty()
            });
            device_verification(&verification_uri, &user_code, true)
        });
        (session.device_token(&authorization), user.join())
    });
    let token = token.expect("approved");
    user.expect("user thread").expect("approved in the browser");
    assert_eq!(
        session.token().as_ref().map(Token::access_token),
        Some(token.access_token())
    );
    assert_eq!(
        session.get(&server.resource_url()).expect("get").status,
        200
    );
    let polls = stats(&server).device_polls(&user_code);
    assert_eq!(polls.len(), 2, "slow_down, then the token: {polls:?}");
    assert!(
        polls[1] - polls[0] >= 5_900,
        "after slow_down the interval is 1 + 5 s: {polls:?}"
    );
}

pub(crate) fn a_denied_or_cancelled_device_login_ends_without_a_token<A: Adapter>() {
    let server = start_server(Duration::from_secs(30));
    let session = device_session::<A>(&server);
    let authorization = session.device_authorization(None).expect("authorization");
    device_verification(
        authorization.verification_uri(),
        authorization.user_code(),
        false,
    )
    .expect("denied in the browser");
    let error = session.device_token(&authorization).expect_err("denied");
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("access_denied"),
        "{error}"
    );
    assert!(session.token().is_none());

    let authorization = session.device_authorization(None).expect("authorization");
    let user_code = authorization.user_code().to_owned();
    let (error, polls_when_cancelled) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            eventually("the device polled once", || {
                !stats(&server).device_polls(&user_code).is_empty()
            });
            authorization.cancel();
            stats(&server).device_polls(&user_code).len()
        });
        let error = session.device_token(&authorization).expect_err("cancelled");
        (error, watcher.join().expect("watcher"))
    });
    assert_eq!(error.usage_error(), Some(&UsageError::Cancelled), "{error}");
    let polls_after = stats(&server).device_polls(&user_code).len();
    assert!(
        polls_after <= polls_when_cancelled + 1,
        "polling stopped at the cancel ({polls_when_cancelled} then {polls_after})"
    );
    assert!(session.token().is_none());
}
