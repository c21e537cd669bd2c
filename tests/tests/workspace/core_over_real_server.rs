//! `oauth-core` against the real test authorization server with no adapter: the harness's
//! HTTP/1.1 client is the transport and `SystemTime::now()` the clock. What passes here is the
//! core's doing; an adapter test that fails where these pass points at the adapter.

use std::time::{Duration, SystemTime};

use http::{Request, StatusCode};
use oauth_core::rfc6750::is_invalid_token_challenge;
use oauth_core::{
    Authorization, BasicEncoding, ClientAuth, ClientConfig, ClientSecret, Error, Exchange, Grant,
    ResourceVerdict, Token, TokenRef, TokenSession, TokenUpdate, UpdateKind, introspection_request,
    parse_introspection_response, parse_revocation_response, parse_token_response,
    revocation_request, token_request,
};
use oauth_tests::http1;
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::{DriverError, SEED_STEPS, SeedDriver, run_seed_scenario, wait_until};

use crate::{TIMEOUT, start_server};

/// A [`TokenSession`] driven over [`http1::send`], as an adapter would drive it.
struct CoreDriver {
    session: TokenSession,
}

impl CoreDriver {
    fn new(config: ClientConfig) -> Self {
        Self {
            session: TokenSession::new(config),
        }
    }

    /// Sends an exchange and hands its answer (or its failure) to the session.
    fn run(&mut self, exchange: Exchange) -> Result<TokenUpdate, DriverError> {
        let (ticket, request) = exchange.into_parts();
        let sent_at = SystemTime::now();
        match http1::send(&request, TIMEOUT) {
            Ok(response) => Ok(self
                .session
                .handle_token_response(&ticket, &response, sent_at)?),
            Err(e) => {
                self.session.handle_exchange_failure(&ticket);
                Err(e.into())
            }
        }
    }

    fn fetch(&mut self, grant: &Grant) -> Result<TokenUpdate, DriverError> {
        let exchange = self.session.fetch(grant, SystemTime::now())?;
        self.run(exchange)
    }

    /// A GET through the session: refresh when due, replay after `invalid_token` as the core
    /// says.
    fn get_response(&mut self, url: &str) -> Result<http::Response<Vec<u8>>, DriverError> {
        let mut replays = 0;
        // A fetch, a refresh, a replay and its refresh: anything longer is a loop.
        for _ in 0..6 {
            match self.session.poll_authorization(SystemTime::now()) {
                Authorization::Ready(bearer) => {
                    let mut request = Request::get(url)
                        .body(Vec::new())
                        .map_err(DriverError::other)?;
                    bearer.authorize(&mut request);
                    let response = http1::send(&request, TIMEOUT)?;
                    match self.session.handle_resource_response(
                        &bearer,
                        replays,
                        request.uri(),
                        response.status(),
                        response.headers(),
                    ) {
                        ResourceVerdict::Replay => replays += 1,
                        _ => return Ok(response),
                    }
                }
                Authorization::Refresh(exchange) | Authorization::Refetch(exchange) => {
                    self.run(exchange)?;
                }
                Authorization::Wait(_) => {
                    return Err(DriverError::other("Wait with a single caller"));
                }
                Authorization::Fail(e) => return Err(e.into()),
                other => return Err(DriverError::other(format!("unknown answer {other:?}"))),
            }
        }
        Err(DriverError::other("the session kept asking for exchanges"))
    }
}

impl SeedDriver for CoreDriver {
    fn fetch_password(&mut self, username: &str, password: &str) -> Result<(), DriverError> {
        self.fetch(&Grant::password(username, password)).map(drop)
    }

    fn get(&mut self, url: &str) -> Result<u16, DriverError> {
        self.get_response(url).map(|r| r.status().as_u16())
    }

    fn refresh(&mut self) -> Result<(), DriverError> {
        let exchange = self.session.refresh(SystemTime::now())?;
        self.run(exchange).map(drop)
    }

    fn token(&self) -> Option<Token> {
        self.session.token().cloned()
    }

    fn refresh_at(&self) -> Option<SystemTime> {
        self.session.refresh_at()
    }
}

fn config(server: &AuthServer, client_id: &str) -> ClientConfig {
    ClientConfig::new(client_id)
        .token_endpoint(&server.token_endpoint())
        .and_then(|c| c.revocation_endpoint(&server.revocation_endpoint()))
        .and_then(|c| c.introspection_endpoint(&server.introspection_endpoint()))
        .expect("the server's endpoints are valid loopback URLs")
}

fn send(request: &Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    http1::send(request, TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

fn get_with_bearer(url: &str, token: &str) -> http::Response<Vec<u8>> {
    let request = Request::get(url)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Vec::new())
        .expect("valid request");
    send(&request)
}

#[test]
fn seed_scenario_runs_on_the_core_alone() {
    let server = start_server(Duration::from_secs(4));
    let mut driver = CoreDriver::new(config(&server, "admin-cli").leeway(Duration::from_secs(1)));
    let mut lines = Vec::new();
    let outcome = run_seed_scenario(&server, &mut driver, &mut |line| {
        println!("{line}");
        lines.push(line.to_owned());
    });
    if let Err(e) = outcome {
        panic!("{e}\nsteps passed:\n{}", lines.join("\n"));
    }
    assert_eq!(lines.len(), SEED_STEPS.len());
    assert_eq!(
        lines[5],
        "refresh failed: invalid_grant: Session not active"
    );
}

#[test]
fn client_secret_basic_gets_a_client_credentials_token() {
    let server = start_server(Duration::from_secs(60));
    let mut driver =
        CoreDriver::new(config(&server, "basic-client").client_secret_basic("basic-secret"));
    let exchange = driver
        .session
        .fetch(&Grant::client_credentials(), SystemTime::now())
        .expect("request builds");
    let authorization = exchange
        .request()
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .expect("client_secret_basic sends an Authorization header");
    assert!(authorization.starts_with("Basic "));
    assert!(!String::from_utf8_lossy(exchange.request().body()).contains("client_secret"));
    let update = driver.run(exchange).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(update.kind(), UpdateKind::Fetched);
    let token = update.new_token();
    assert!(token.refresh_token().is_none());
    assert!(token.extra().get("session_state").is_none());
    assert_eq!(driver.get(&server.resource_url()), Ok(200));
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("client_credentials"),
        1
    );
}

#[test]
fn client_secret_post_sends_the_secret_in_the_body() {
    let server = start_server(Duration::from_secs(60));
    let mut driver =
        CoreDriver::new(config(&server, "post-client").client_secret_post("post-secret"));
    let exchange = driver
        .session
        .fetch(&Grant::client_credentials(), SystemTime::now())
        .expect("request builds");
    assert!(
        exchange
            .request()
            .headers()
            .get(http::header::AUTHORIZATION)
            .is_none()
    );
    let body = String::from_utf8_lossy(exchange.request().body()).into_owned();
    assert!(body.contains("client_id=post-client"), "{body}");
    assert!(body.contains("client_secret=post-secret"), "{body}");
    driver.run(exchange).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(driver.get(&server.users_count_url()), Ok(200));
}

#[test]
fn odd_client_secret_is_form_urlencoded_before_basic() {
    let server = start_server(Duration::from_secs(60));
    let secret = "s3cr3t:with+special&chars/=";
    let mut encoded =
        CoreDriver::new(config(&server, "odd-secret-client").client_secret_basic(secret));
    encoded
        .fetch(&Grant::client_credentials())
        .unwrap_or_else(|e| panic!("RFC 6749 §2.3.1 encoding must be accepted: {e}"));

    let mut raw = CoreDriver::new(config(&server, "odd-secret-client").auth(
        ClientAuth::SecretBasic {
            secret: ClientSecret::new(secret),
            encoding: BasicEncoding::Raw,
        },
    ));
    let error = raw
        .fetch(&Grant::client_credentials())
        .expect_err("the server rejects un-encoded Basic credentials");
    assert_eq!(error.oauth_error.as_deref(), Some("invalid_client"));
}

#[test]
fn wrong_password_is_invalid_grant_with_the_servers_description() {
    let server = start_server(Duration::from_secs(60));
    let request = token_request(
        &config(&server, "admin-cli"),
        &Grant::password("admin", "wrong"),
    )
    .expect("request builds");
    let response = send(&request);
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error = parse_token_response(&response, SystemTime::now()).expect_err("no token");
    let oauth = error.oauth_error().expect("an OAuth error");
    assert_eq!(oauth.error(), "invalid_grant");
    assert_eq!(oauth.error_description(), Some("Invalid user credentials"));
    assert_eq!(error.to_string(), "invalid_grant: Invalid user credentials");
    assert!(error.requires_reauthentication());
}

#[test]
fn rotated_refresh_token_replaces_the_old_one() {
    let server = start_server(Duration::from_secs(60));
    let mut driver = CoreDriver::new(config(&server, "admin-cli-rotating"));
    driver
        .fetch_password("admin", "admin")
        .unwrap_or_else(|e| panic!("{e}"));
    let first = driver
        .token()
        .and_then(|t| t.refresh_token().cloned())
        .expect("refresh token");

    driver
        .refresh()
        .unwrap_or_else(|e| panic!("first refresh: {e}"));
    let second = driver
        .token()
        .and_then(|t| t.refresh_token().cloned())
        .expect("refresh token");
    assert_ne!(first, second, "a rotating client gets a new refresh token");
    // Succeeds only if the session sends the new one: the old one is spent.
    driver
        .refresh()
        .unwrap_or_else(|e| panic!("second refresh: {e}"));
    assert_eq!(
        server
            .stats()
            .expect("stats")
            .token_requests("refresh_token"),
        2
    );

    let replay = token_request(
        &config(&server, "admin-cli-rotating"),
        &Grant::refresh_token(&first),
    )
    .expect("request builds");
    let error = parse_token_response(&send(&replay), SystemTime::now()).expect_err("reused");
    assert_eq!(
        error.oauth_error().map(|e| e.error()),
        Some("invalid_grant")
    );
}

#[test]
fn non_rotating_refresh_keeps_the_refresh_token() {
    let server = start_server(Duration::from_secs(60));
    let mut driver = CoreDriver::new(config(&server, "admin-cli"));
    driver
        .fetch_password("admin", "admin")
        .unwrap_or_else(|e| panic!("{e}"));
    let before = driver.token().expect("token");
    driver.refresh().unwrap_or_else(|e| panic!("{e}"));
    let after = driver.token().expect("token");
    assert_ne!(before.access_token(), after.access_token());
    assert_eq!(before.refresh_token(), after.refresh_token());
}

#[test]
fn introspection_sees_a_revoked_access_token_as_inactive() {
    let server = start_server(Duration::from_secs(60));
    let config = config(&server, "admin-cli");
    let mut driver = CoreDriver::new(config.clone());
    driver
        .fetch_password("admin", "admin")
        .unwrap_or_else(|e| panic!("{e}"));
    let token = driver.token().expect("token");
    let access = TokenRef::Access(token.access_token());

    let introspect = || {
        let request = introspection_request(&config, access).expect("request builds");
        parse_introspection_response(&send(&request)).unwrap_or_else(|e| panic!("{e}"))
    };
    let live = introspect();
    assert!(live.active());
    assert_eq!(live.sub(), Some("admin"));
    assert_eq!(live.client_id(), Some("admin-cli"));
    let exp = live.exp().expect("exp");
    let expires_at = token.expires_at().expect("expires_at");
    // The server counts whole seconds from its own clock, the core from when it sent.
    let apart = match exp.duration_since(expires_at) {
        Ok(later) => later,
        Err(earlier) => earlier.duration(),
    };
    assert!(
        apart <= Duration::from_secs(2),
        "exp and expires_at {apart:?} apart"
    );

    let revoke = revocation_request(&config, access).expect("request builds");
    parse_revocation_response(&send(&revoke)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!introspect().active());

    let stats = server.stats().expect("stats");
    assert_eq!(stats.revocations(), 1);
    assert_eq!(stats.introspections(), 2);
}

#[test]
fn refused_access_token_is_replayed_once_after_a_refresh() {
    let server = start_server(Duration::from_secs(60));
    let mut driver = CoreDriver::new(config(&server, "admin-cli"));
    driver
        .fetch_password("admin", "admin")
        .unwrap_or_else(|e| panic!("{e}"));
    let live = driver.token().expect("token");
    // An access token the server no longer knows, with a live refresh token and a lifetime
    // the client believes: only the resource's 401 can reveal it.
    let now = SystemTime::now();
    let stale = Token::bearer("stale-access-token")
        .with_refresh_token(live.refresh_token().expect("refresh token").clone())
        .with_lifetime(now, now + Duration::from_secs(60));
    let _ = driver.session.set_token(stale);
    server.reset_stats().expect("reset");

    assert_eq!(driver.get(&server.resource_url()), Ok(200));
    let stats = server.stats().expect("stats");
    assert_eq!(stats.resource_unauthorized(), 1);
    assert_eq!(stats.token_requests("refresh_token"), 1);
    assert_eq!(stats.resource_ok(), 1);
    assert_ne!(
        driver
            .token()
            .map(|t| t.access_token().secret().to_owned())
            .as_deref(),
        Some("stale-access-token")
    );
}

/// oidc-provider 9 revokes every token of the grant when one access token is revoked
/// (`revoke(ctx, grantId)` in its revocation action), so the replay's refresh is refused.
#[test]
fn revoking_an_access_token_ends_its_grant_at_this_server() {
    let server = start_server(Duration::from_secs(60));
    let config = config(&server, "admin-cli");
    let mut driver = CoreDriver::new(config.clone());
    driver
        .fetch_password("admin", "admin")
        .unwrap_or_else(|e| panic!("{e}"));
    let token = driver.token().expect("token");
    let revoke = revocation_request(&config, TokenRef::Access(token.access_token()))
        .expect("request builds");
    parse_revocation_response(&send(&revoke)).unwrap_or_else(|e| panic!("{e}"));
    server.reset_stats().expect("reset");

    let error = driver
        .get(&server.resource_url())
        .expect_err("the refresh token went with the access token");
    assert_eq!(error.oauth_error.as_deref(), Some("invalid_grant"));
    let stats = server.stats().expect("stats");
    assert_eq!(stats.resource_unauthorized(), 1);
    assert_eq!(stats.token_requests("refresh_token"), 1);
    assert_eq!(stats.resource_ok(), 0);
}

#[test]
fn unknown_and_expired_tokens_get_an_invalid_token_challenge() {
    let server = start_server(Duration::from_secs(1));
    let unknown = get_with_bearer(&server.resource_url(), "not-a-token");
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(is_invalid_token_challenge(unknown.headers()));

    let anonymous = send(
        &Request::get(server.resource_url())
            .body(Vec::new())
            .expect("valid"),
    );
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !is_invalid_token_challenge(anonymous.headers()),
        "no token, no invalid_token: a bare Bearer challenge"
    );

    let mut driver = CoreDriver::new(config(&server, "admin-cli"));
    driver
        .fetch_password("admin", "admin")
        .unwrap_or_else(|e| panic!("{e}"));
    let token = driver.token().expect("token");
    let expires_at = token.expires_at().expect("expires_at");
    // The server rounds its clock down to whole seconds: one more second covers it.
    wait_until(expires_at + Duration::from_secs(1), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    let expired = get_with_bearer(&server.resource_url(), token.access_token().secret());
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(is_invalid_token_challenge(expired.headers()));
    let error = parse_token_response(&expired, SystemTime::now()).expect_err("no token");
    assert!(
        matches!(error, Error::OAuth(ref e) if e.error() == "invalid_token"),
        "{error}"
    );

    // Without a refresh token the session hands the 401 to the caller instead of replaying.
    let mut bare = CoreDriver::new(config(&server, "admin-cli"));
    let _ = bare.session.set_token(Token::bearer("not-a-token"));
    assert_eq!(bare.get(&server.resource_url()), Ok(401));
}

/// The same bytes for every `jti`: the replay the server must catch.
struct RepeatingEntropy(ring::rand::SystemRandom);

impl oauth_core::Entropy for RepeatingEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), oauth_core::EntropyUnavailable> {
        dest.fill(0x5a);
        Ok(())
    }

    fn signing_rng(&self) -> &dyn ring::rand::SecureRandom {
        &self.0
    }
}

#[test]
fn a_replayed_client_assertion_is_refused_and_both_audiences_are_accepted() {
    use oauth_core::rfc7523::{AssertionAudience, Mint};
    let server = start_server(Duration::from_secs(60));
    let secret = "jwt-secret-client-secret-0123456789abcdef";
    let entropy = RepeatingEntropy(ring::rand::SystemRandom::new());
    let grant = Grant::client_credentials();
    for audience in [AssertionAudience::TokenEndpoint, AssertionAudience::Issuer] {
        let config = config(&server, "jwt-secret-client")
            .issuer(server.issuer())
            .client_secret_jwt(secret)
            .assertion_audience(audience.clone());
        let request = oauth_core::token_request_with(
            &config,
            &grant,
            &Mint::new(SystemTime::now(), &entropy),
        )
        .expect("request builds");
        let first = parse_token_response(&send(&request), SystemTime::now());
        match audience {
            // The first assertion with this jti is accepted…
            AssertionAudience::TokenEndpoint => {
                first.unwrap_or_else(|e| panic!("{audience:?}: {e}"));
            }
            // …and any later one with the same jti is refused, whatever else differs.
            _ => {
                let error = first.expect_err("jti replayed");
                assert_eq!(
                    error.oauth_error().map(|e| e.error()),
                    Some("invalid_client")
                );
            }
        }
    }
    // A fresh jti with the issuer as audience is accepted.
    let config = config(&server, "jwt-secret-client")
        .issuer(server.issuer())
        .client_secret_jwt(secret)
        .assertion_audience(AssertionAudience::Issuer);
    let system = ring::rand::SystemRandom::new();
    let request =
        oauth_core::token_request_with(&config, &grant, &Mint::new(SystemTime::now(), &system))
            .expect("request builds");
    parse_token_response(&send(&request), SystemTime::now()).expect("issuer audience accepted");
    let stats = server.stats().expect("stats");
    assert_eq!(stats.client_auth("token", "client_secret_jwt"), 2);
    assert_eq!(stats.token_requests("client_credentials"), 3);
}
