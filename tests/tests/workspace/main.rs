//! The workspace-level integration tests, in one binary with a module per subject.
//!
//! * `harness`: the real test authorization server itself (start, discovery, counters).
//! * `core_over_real_server`: `oauth-core` driven by the harness's HTTP/1.1 client against the
//!   real server, no adapter involved, including the seed scenario.
//! * `fault`: the fault-injection stub, and what `oauth-core` makes of its faults.
//! * `ureq_adapter`: `oauth-ureq` against the real server and the stub.
//!
//! An adapter adds its own module here (`mod ureq;` …) with a `SeedDriver` implementation
//! and a test calling `oauth_tests::seed::run_seed_scenario`; [`start_server`] gives it a
//! server, and a failure to start one fails the test.

use std::time::Duration;

use oauth_tests::oidc_provider::AuthServer;

mod async_std_adapter;
mod async_std_openid_connect;
mod core_over_real_server;
mod fault;
mod harness;
mod reqwest_adapter;
mod reqwest_openid_connect;
mod signing;
mod ureq_adapter;
mod ureq_openid_connect;

/// Starts a test authorization server, or fails the test with why it could not start.
fn start_server(access_token_ttl: Duration) -> AuthServer {
    AuthServer::start(access_token_ttl).unwrap_or_else(|e| panic!("{e}"))
}

/// The timeout of test requests sent with `oauth_tests::http1`.
const TIMEOUT: Duration = Duration::from_secs(10);
