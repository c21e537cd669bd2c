//! # oauth-core: the sans-IO OAuth 2.0 client protocol
//!
//! This crate builds every request a client sends to an authorization server as a plain
//! [`http::Request<Vec<u8>>`], parses every answer from a plain [`http::Response`], and decides
//! when a token must be refreshed. It never opens a socket, never reads the clock and never
//! draws random bytes: the transport, `now` and entropy are inputs. The adapters
//! (`oauth-reqwest`, `oauth-ureq`, `oauth-async-std`) carry out the IO; you can drive it from any
//! other transport the same way.
//!
//! ```text
//!  your transport ──► token_request(&config, &grant)        ──► http::Request<Vec<u8>>
//!        │                                                            │ (you send it)
//!        ◄── parse_token_response(&response, sent_at) ◄── http::Response<Vec<u8>>
//!
//!  TokenSession::poll_authorization(now) ─► Ready(bearer) | Refresh(exchange) | Refetch(..) | Wait | Fail
//!
//!  flow::{Fetch, Authorize, Login, Userinfo, …}.poll(&mut session, now)
//!        ─► Send(call) | Store(step) | Wait { until } | Done(result)   (whole operations, see [`flow`])
//! ```
//!
//! Every operation a client makes (fetch, renewal, code exchange with key fetch and ID token
//! check, userinfo, revocation, introspection) is a state machine in [`flow`]: a driver loop of
//! a dozen lines runs any of them over any transport, which is all the adapters do.
//!
//! A token shared by several processes goes through a store: [`store`] is its protocol
//! (leases, versions, compare-and-set commits, who waits and who renews), carried out by a
//! backend (`oauth-redis`, `oauth-file-store`, or your own) as the flows ask.
//!
//! What it does not do: HTTP, TLS, waiting, locking, storage. Those belong to the caller.
//!
//! ## Example: the seed scenario's password grant, by hand
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use oauth_core::{ClientConfig, Grant, parse_token_response, token_request};
//!
//! let config = ClientConfig::new("admin-cli")
//!     .token_endpoint("http://localhost:8080/realms/master/protocol/openid-connect/token")?
//!     .leeway(Duration::from_secs(60));
//! let request = token_request(&config, &Grant::password("admin", "admin"))?;
//! assert_eq!(request.body(), b"grant_type=password&username=admin&password=admin&client_id=admin-cli");
//!
//! // … send `request` with any HTTP client, remembering when it was sent …
//! let sent_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_771_834_670);
//! let response = http::Response::builder()
//!     .status(200)
//!     .body(br#"{"access_token":"eyJ.x.y","expires_in":60,"token_type":"Bearer","refresh_token":"r1"}"#.to_vec())?;
//! let token = parse_token_response(&response, sent_at)?;
//! assert_eq!(token.expires_at(), Some(sent_at + Duration::from_secs(60)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors read like the server meant them: a refresh on a session Keycloak removed is
//! `invalid_grant: Session not active`.

mod adapter;
mod builder;
mod client;
mod entropy;
mod error;
pub mod flow;
pub mod hooks;
pub mod jose;
pub mod oidc;
pub mod pem;
pub mod resource;
pub mod rfc6749;
pub mod rfc6750;
pub mod rfc7009;
pub mod rfc7523;
pub mod rfc7636;
pub mod rfc7662;
pub mod rfc8628;
pub mod rfc8693;
pub mod rfc9449;
mod secret;
pub mod session;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod token;

pub use builder::{
    DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT, DpopSetting, ENDPOINT_MAX_IDLE, MAX_TIMEOUT,
    SessionSettings,
};
pub use client::{
    BasicEncoding, BearerPlacement, ClientAuth, ClientConfig, DEFAULT_CLOCK_SKEW, DEFAULT_LEEWAY,
    is_loopback,
};
pub use entropy::{Entropy, EntropyUnavailable};
pub use error::{
    BODY_EXCERPT_LIMIT, CallbackError, ConfigError, Error, OAuthError, ResponseError, UsageError,
};
pub use rfc6749::{Grant, parse_token_response, token_request, token_request_with};
pub use rfc6750::Bearer;
pub use rfc7009::{TokenRef, parse_revocation_response, revocation_request};
pub use rfc7662::{Introspection, introspection_request, parse_introspection_response};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, IdToken, Password, PkceCodeVerifier,
    RefreshToken, SecretParam,
};
pub use session::{
    Authorization, Exchange, ExchangeKind, ExchangeTicket, Pending, RenewalReason, ResourceVerdict,
    TokenSession, TokenUpdate, UpdateKind,
};
pub use token::{ExtraFields, Token};

pub use http;
pub use url;
