//! # oauth-tests: the workspace's test harness
//!
//! Everything the workspace-level tests share, so each adapter's tests stay a few lines:
//!
//! * [`oidc_provider::AuthServer`] runs the real test authorization server
//!   (`tests/server`, panva's `oidc-provider`, Keycloak-like) as a child process on a free
//!   loopback port, with its request counters and test-only routes.
//! * [`fault::FaultServer`] is a stub HTTP/1.1 server answering a script of [`fault::Fault`]s
//!   (HTML 500, an OAuth error with 200, a slow or cut-off reply, an oversized body, …) and
//!   recording every request.
//! * [`seed`] is the seed scenario as a table of steps over [`seed::SeedDriver`]: the demo
//!   drives it through [`ureq_driver`]; the workspace tests' behavioural table
//!   (`tests/workspace/table`) drives it through every adapter's facade. The protocol
//!   drivers themselves live in the adapters (one loop each, over `oauth_core::flow`).
//! * [`redis_server::RedisServer`] runs Debian's `redis-server` on a free loopback port
//!   (persistence off) for the token-store tests, and reads its raw contents.
//! * [`http1::send`] is a tiny blocking HTTP/1.1 client for the harness's own calls, and a
//!   transport for driving `oauth-core` without any adapter.
//!
//! What it does not do: TLS, HTTP/2, anything outside `127.0.0.1`. It is `publish = false`.
//!
//! ```text
//!   adapter test ──► SeedDriver impl ──► adapter ──► AuthServer (node server.mjs)
//!        │                                             ▲
//!        └── run_seed_scenario ── stats / remove_session (http1) ──┘
//! ```
//!
//! The real-server tests need Node.js 20+ and npm; they fail (never skip) without them.
//! Run them with `cargo test -p oauth-tests`.
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_tests::fault::{Fault, FaultServer};
//! use oauth_tests::oidc_provider::AuthServer;
//!
//! let server = AuthServer::start(Duration::from_secs(4))?;
//! let stub = FaultServer::start()?;
//! stub.push(Fault::html_500());
//! println!("{} and {}", server.token_endpoint(), stub.url("/token"));
//! # Ok::<(), oauth_tests::HarnessError>(())
//! ```

pub mod bench;
pub mod browser;
mod error;
pub mod fault;
pub mod http1;
pub mod oidc_provider;
pub mod redis_server;
pub mod seed;
pub mod ureq_driver;
mod wire;

pub use error::HarnessError;

/// The workspace README's code examples, compiled as doc tests (`no_run`: they need a server).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
