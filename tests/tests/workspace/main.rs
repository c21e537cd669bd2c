//! The workspace-level integration tests, in one binary with a module per subject.
//!
//! * `harness`: the real test authorization server itself (start, discovery, counters).
//! * `core_over_real_server`: `oauth-core` driven by the harness's HTTP/1.1 client against the
//!   real server, no adapter involved, including the seed scenario.
//! * `fault`: the fault-injection stub, and what `oauth-core` makes of its faults.
//! * `signing`: ID tokens signed with test keys, for negative OpenID Connect tests.
//! * `table`: the behavioural test table, every scenario that is not about one transport
//!   written once: the `Adapter` facade each adapter implements, the scenarios as generic
//!   functions (`oauth`: the real server; `faults`: the stub; `oidc`: OpenID Connect;
//!   `async_only`: the async hook and callers that go away), and `behaviour_table!`, which
//!   generates an adapter's `#[test]`s.
//! * `ureq_adapter`, `reqwest_adapter`, `async_std_adapter`: each adapter's `Adapter`
//!   implementation, its run of the table (`<adapter>::shared::<scenario>`), and the tests of
//!   what only that adapter has (its transport, runtime, request builder, compile checks).
//!
//! A new adapter adds its module here with an `Adapter` implementation and one
//! `behaviour_table!` invocation (the seed scenario is in the table); [`start_server`] gives
//! a test a server, and a failure to start one fails the test.

use std::time::Duration;

use oauth_tests::oidc_provider::AuthServer;

mod async_std_adapter;
mod core_over_real_server;
mod examples;
mod fault;
mod file_store;
mod fleet;
mod harness;
mod reqwest_adapter;
mod signing;
mod table;
mod ureq_adapter;

/// Starts a test authorization server, or fails the test with why it could not start.
fn start_server(access_token_ttl: Duration) -> AuthServer {
    AuthServer::start(access_token_ttl).unwrap_or_else(|e| panic!("{e}"))
}

/// The timeout of test requests sent with `oauth_tests::http1`.
const TIMEOUT: Duration = Duration::from_secs(10);
