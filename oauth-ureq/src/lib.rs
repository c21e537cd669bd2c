//! # oauth-ureq: a blocking OAuth 2.0 session over ureq 3
//!
//! [`OAuth2Session`] is an HTTP client that fetches, injects and refreshes its own bearer
//! token, the blocking counterpart of Python Authlib's `OAuth2Session`. Every protocol decision
//! (which request, how to read the answer, when to refresh) comes from [`oauth_core`]; this
//! crate only carries out the IO with a [`ureq::Agent`], reads the clock and holds the lock that
//! makes a refresh single-flight.
//!
//! ```text
//!  session.get(url).call()
//!     │  drive(flow::Authorize): poll ─► Done(bearer) ──────────────► sign, send with ureq
//!     │                               └► Send(renewal) ──► POST token endpoint, handle the
//!     │                                                     answer, hook, wake waiters, poll
//!     └─ core.handle_resource_response(401 invalid_token) ─► a refresh, a replay
//! ```
//!
//! ## The seed scenario
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_ureq::{Grant, OAuth2Session};
//!
//! let session = OAuth2Session::builder("admin-cli")
//!     .token_endpoint("http://localhost:8080/realms/master/protocol/openid-connect/token")
//!     .leeway(Duration::from_secs(60))
//!     .on_token_update(|update| println!("new token, expires at {:?}", update.new_token().expires_at()))
//!     .build()?;
//! let token = session.fetch_token(Grant::password("admin", "admin"))?;
//!
//! // Authorization: Bearer …, refreshed automatically when expires_at - leeway is reached.
//! let response = session.get("http://localhost:3232").call()?;
//! assert_eq!(response.status(), 200);
//!
//! // After the server removed the session:
//! match session.fetch_token(Grant::refresh_token(token.refresh_token().expect("refresh token"))) {
//!     Err(e) => {
//!         println!("{e}"); // invalid_grant: Session not active
//!         assert_eq!(e.oauth_error().map(|o| o.error()), Some("invalid_grant"));
//!     }
//!     Ok(_) => {}
//! }
//! # Ok::<(), oauth_ureq::Error>(())
//! ```
//!
//! ## Behaviour
//!
//! - **Single flight**: the session is `Send + Sync` and cheap to clone; any number of threads
//!   crossing the expiry moment cause one refresh request. While the old token is still valid
//!   (inside the leeway) the others keep using it; once it is not, they wait for the refresh
//!   and share its result or its error.
//! - **401**: a resource answer `401` with `WWW-Authenticate: Bearer error="invalid_token"`
//!   causes one forced refresh and one replay (a second one only when another caller renewed
//!   the token meanwhile), never a loop.
//! - **Security**: no redirects on token, revocation and introspection calls; the
//!   `Authorization` header is dropped on any redirect of a resource request (ureq's
//!   `RedirectAuthHeaders::Never`), so the token never reaches another origin; token-endpoint
//!   bodies capped at 1 MiB; a 30 s timeout per call; plain `http` only to loopback hosts
//!   unless [`SessionBuilder::allow_insecure_http`] is set.
//! - **Nothing lost**: a failed refresh keeps the old token and refresh token.

mod error;
mod oidc;
mod request;
mod session;

pub use error::Error;
pub use request::RequestBuilder;
pub use session::{IDLE_CONNECTIONS_PER_HOST, OAuth2Session, SessionBuilder};

pub use oauth_core::jose::SigningKey;
pub use oauth_core::oidc::{
    AuthorizationRequest, IdTokenClaims, IdTokenExpectations, PendingAuthorization, UserInfo,
};
pub use oauth_core::rfc7523::{AssertionAudience, JwtBearer};
pub use oauth_core::rfc8628::DeviceAuthorization;
pub use oauth_core::rfc8693::{TokenExchange, token_type};
pub use oauth_core::rfc9449::DpopKey;
pub use oauth_core::{
    self, ClientConfig, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT, Grant, Introspection, OAuthError,
    Token, TokenRef, TokenUpdate, UpdateKind,
};
pub use oauth_core::{AccessToken, IdToken};
pub use ureq;
