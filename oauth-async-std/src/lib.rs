//! # oauth-async-std: an async OAuth 2.0 session for async-std and smol
//!
//! [`OAuth2Session`] is an HTTP client that fetches, injects and refreshes its own bearer
//! token, the async counterpart of `oauth-ureq` for programs on async-std or smol, with no
//! tokio runtime. Every protocol decision (which request, how to read the answer, when to
//! refresh) comes from [`oauth_core`]; this crate only carries out the IO, reads the clock,
//! and holds the lock and the wake-ups that make a refresh single-flight.
//!
//! ```text
//!  session.get(url).call().await
//!     │  drive(flow::Authorize) ─► Done(bearer) ─────────────────► sign, HttpClient::send
//!     │         (oauth-async-driver)└► Send(renewal) ─► spawned task: POST token endpoint,
//!     │                                                 core applies it, wake waiters, hooks
//!     └─ core.handle_resource_response(401 invalid_token) ─► a refresh, a replay
//!
//!  HttpClient: hyper 1 HTTP/1.1 over async-std TcpStream (+ futures-rustls), on the async-io
//!  reactor smol shares; keep-alive pool per origin, bounded; timeouts; body caps; no redirects
//! ```
//!
//! ## The seed scenario
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_async_std::{Grant, OAuth2Session};
//!
//! # async_std::task::block_on(async {
//! let session = OAuth2Session::builder("admin-cli")
//!     .token_endpoint("http://localhost:8080/realms/master/protocol/openid-connect/token")
//!     .leeway(Duration::from_secs(60))
//!     .on_token_update(|update| println!("new token, expires at {:?}", update.new_token().expires_at()))
//!     .build()?;
//! let token = session.fetch_token(Grant::password("admin", "admin")).await?;
//!
//! // Authorization: Bearer …, refreshed automatically when expires_at - leeway is reached.
//! let response = session.get("http://localhost:3232").call().await?;
//! assert_eq!(response.status(), 200);
//! let text = response.into_body().read_to_string().await?;
//!
//! // After the server removed the session:
//! let refresh_token = token.refresh_token().expect("refresh token");
//! match session.fetch_token(Grant::refresh_token(refresh_token)).await {
//!     Err(e) => {
//!         println!("{e}"); // invalid_grant: Session not active
//!         assert_eq!(e.oauth_error().map(|o| o.error()), Some("invalid_grant"));
//!     }
//!     Ok(_) => {}
//! }
//! # Ok::<(), oauth_async_std::Error>(())
//! # });
//! ```
//!
//! Under smol, the same code runs inside `smol::block_on(async { … })`: the adapter's sockets
//! and timers live on the async-io reactor both runtimes share, and its few tasks go to
//! async-std's global executor, which runs its own threads.
//!
//! ## Behaviour
//!
//! - **Single flight**: the session is `Send + Sync` and cheap to clone; any number of tasks
//!   crossing the expiry moment cause one refresh request. While the old token is still valid
//!   (inside the leeway) the others keep using it; once it is not, they wait for the refresh
//!   and share its result or its error. The state sits in a `std::sync::Mutex` never held
//!   across an `.await`; waiters sleep on an `event_listener::Event` (in `oauth-async-driver`,
//!   the async driver this crate shares with `oauth-reqwest`).
//! - **Cancellation**: every token exchange runs in its own task. Dropping the future that
//!   started it (a timeout, a `select!`) does not cancel it: the answer is still applied and
//!   the waiters still woken. A task that dies before applying it reports the exchange failed.
//! - **401**: a resource answer `401` with `WWW-Authenticate: Bearer error="invalid_token"`
//!   causes one forced refresh and one replay (a second one only when another caller renewed
//!   the token meanwhile), never a loop.
//! - **Security**: redirects are never followed (token, revocation and introspection calls
//!   and resource requests alike: a `3xx` is returned to the caller), so the token never
//!   reaches another origin; token-endpoint bodies capped at 1 MiB, read frame by frame; a
//!   30 s timeout per whole call, body included; plain `http` only to loopback hosts unless
//!   [`SessionBuilder::allow_insecure_http`] is set; secrets never in `Debug` or `Display`.
//! - **Transport**: keep-alive connections reused per origin, at most 16 open per origin
//!   (requests beyond wait for one), [`HttpClient::connections_opened`] counts them.
//! - **Nothing lost**: a failed refresh keeps the old token and refresh token. While that
//!   token is still valid, requests go on with it (the core backs off for a few seconds before
//!   trying again) instead of failing; once it is not, the request that ran the refresh and
//!   those that waited for it return its error. A request runs at most two renewals.
//! - **Hooks**: [`SessionBuilder::on_token_update`] (sync, under the lock: it must not call
//!   back into the session) and
//!   [`SessionBuilder::on_token_update_async`] (awaited outside it), each once per real change,
//!   in order.
//! - **OpenID Connect**: [`OAuth2Session::from_issuer`] (discovery),
//!   [`OAuth2Session::authorization_url`] (PKCE, `state`, `nonce` from the operating system's
//!   randomness), [`OAuth2Session::exchange_code`] (callback checks, code exchange, ID token
//!   validated against the provider's cached keys before anything is committed),
//!   [`OAuth2Session::userinfo`]. See `examples/async_std_cli_login.rs` for a loopback-redirect login.

mod error;
mod request;
mod session;
mod transport;

pub use error::{Error, TransportError};
pub use request::RequestBuilder;
pub use session::{OAuth2Session, SessionBuilder};
pub use transport::{
    Body, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, DEFAULT_RESPONSE_BODY_LIMIT,
    DEFAULT_TIMEOUT, HttpClient, HttpClientBuilder,
};

/// The rustls this crate builds TLS configurations with, for
/// [`HttpClientBuilder::tls_config`].
#[cfg(feature = "rustls")]
pub use futures_rustls::rustls;
pub use oauth_core::jose::SigningKey;
pub use oauth_core::oidc::{
    AuthorizationRequest, IdTokenClaims, IdTokenExpectations, PendingAuthorization, UserInfo,
};
pub use oauth_core::rfc7523::{AssertionAudience, JwtBearer};
pub use oauth_core::rfc8628::DeviceAuthorization;
pub use oauth_core::rfc8693::{TokenExchange, token_type};
pub use oauth_core::rfc9449::DpopKey;
pub use oauth_core::{
    self, AccessToken, ClientConfig, DEFAULT_BODY_LIMIT, Grant, IdToken, Introspection, OAuthError,
    Token, TokenRef, TokenUpdate, UpdateKind,
};
