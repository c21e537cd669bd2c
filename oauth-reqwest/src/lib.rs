//! # oauth-reqwest: an async OAuth 2.0 session over reqwest 0.13
//!
//! [`OAuth2Session`] is an async HTTP client that fetches, injects and refreshes its own bearer
//! token, the tokio counterpart of Python Authlib's `OAuth2Session`. Every protocol decision
//! (which request, how to read the answer, when to refresh, whether to replay after a `401`)
//! comes from [`oauth_core`]; this crate only carries out the IO with [`reqwest`], reads the
//! clock, and keeps the lock and the wake-ups that make a refresh single-flight.
//!
//! What it does not do: run a runtime (use it on tokio), open a browser or listen for the
//! authorization-code redirect (`examples/reqwest_cli_login.rs` shows one way), persist tokens (the
//! update hook tells you when to).
//!
//! ```text
//!  session.get(url).send().await
//!     │ drive(flow::Authorize)      ─► Done(bearer) ───────► sign, reqwest send
//!     │   (oauth-async-driver;      ├► Send(renewal) ──────► tokio::spawn: POST token endpoint
//!     │    std mutex, no .await)    │                         (no redirects), core applies it
//!     │                             └► Wait ───────────────► wake-up or wait slice, poll again
//!     └─ core.handle_resource_response(401 invalid_token) ─► a refresh, a replay
//! ```
//!
//! ## The seed scenario
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_reqwest::{Grant, OAuth2Session};
//!
//! # async fn seed() -> Result<(), oauth_reqwest::Error> {
//! let session = OAuth2Session::builder("admin-cli")
//!     .token_endpoint("http://localhost:8080/realms/master/protocol/openid-connect/token")
//!     .leeway(Duration::from_secs(60))
//!     .on_token_update(|update| println!("new token, expires at {:?}", update.new_token().expires_at()))
//!     .build()?;
//! let token = session.fetch_token(Grant::password("admin", "admin")).await?;
//!
//! // Authorization: Bearer …, refreshed automatically when expires_at - leeway is reached.
//! let response = session.get("http://localhost:3232").send().await?;
//! assert_eq!(response.status(), 200);
//!
//! // After the server removed the session:
//! match session
//!     .fetch_token(Grant::refresh_token(token.refresh_token().expect("refresh token")))
//!     .await
//! {
//!     Err(e) => {
//!         println!("{e}"); // invalid_grant: Session not active
//!         assert_eq!(e.oauth_error().map(|o| o.error()), Some("invalid_grant"));
//!     }
//!     Ok(_) => {}
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `examples/` has one program per flow (password with automatic refresh, client credentials,
//! revocation and introspection, an OpenID Connect command-line login); they run against the
//! workspace's test server.
//!
//! ## OpenID Connect
//!
//! Discovery, the authorization code flow with PKCE S256, `state` and `nonce` (drawn from the
//! operating system), ID token validation against the provider's keys (cached, re-fetched once
//! on an unknown `kid`, at most once a minute), and userinfo:
//!
//! ```no_run
//! use oauth_reqwest::{AuthorizationRequest, OAuth2Session};
//!
//! # async fn login(callback_url: &str) -> Result<(), oauth_reqwest::Error> {
//! let session = OAuth2Session::from_issuer("https://id.example.com", "my-client")
//!     .await?
//!     .redirect_uri("http://127.0.0.1:53682/callback")
//!     .build()?;
//! let (url, pending) =
//!     session.authorization_url(&AuthorizationRequest::new().scope("openid profile email"))?;
//! // … send the browser to `url`; it comes back to the redirect URI as `callback_url` …
//! session.exchange_code(pending, callback_url).await?; // the ID token is validated first
//! let claims = session.id_token_claims().expect("an OpenID Connect login");
//! let userinfo = session.userinfo().await?; // sub must be claims.sub()
//! # let _ = (claims, userinfo);
//! # Ok(())
//! # }
//! ```
//!
//! ```text
//!  exchange_code(pending, callback) = drive(flow::Login)
//!     │ Login::new: state, iss, error checked (nothing sent on failure)
//!     │ Send: POST token endpoint (code + PKCE verifier) ─► parsed
//!     │ ValidateIdToken: Send GET jwks_uri when keys are missing (one fetch for all callers)
//!     └ only when valid: core commits token and claims ─► update hook ─► waiters woken
//! ```
//!
//! ## Behaviour
//!
//! - **Single flight**: the session is `Clone + Send + Sync`; any number of tasks crossing the
//!   expiry moment cause one refresh request. While the old token is still valid (inside the
//!   leeway) the others keep using it; once it is not, they wait for the refresh and share its
//!   result or its error. A refresh runs as its own task: a waiter, or the caller that
//!   started it, can be cancelled (or stall) without holding it up for the others. A
//!   `fetch_token`, which nobody waits on, runs in its caller's task and moves to a task of its
//!   own only if the caller drops it mid-flight, so its answer is applied even then.
//! - **Cheap hot path**: while the token is fresh, signing takes one uncontended `std` mutex
//!   for a few hundred nanoseconds and no `.await`; no lock is held across any request.
//! - **401**: a resource answer `401` with `WWW-Authenticate: Bearer error="invalid_token"`
//!   causes one forced refresh and one replay (buffered bodies only; a second one only when
//!   another caller renewed the token meanwhile), never a loop.
//! - **Security**: token, revocation, introspection, discovery, JWKS and userinfo calls go
//!   through a client that follows no redirects, with a timeout (30 s) and a body cap (1 MiB, read chunk by chunk); reqwest
//!   drops `Authorization` on a redirect to another origin, and with the token in the query or
//!   a form body the session's own client follows no redirect to another origin, so the token
//!   never leaves the origin it was sent to; plain `http` only to loopback hosts unless
//!   [`SessionBuilder::allow_insecure_http`] is set. See [`SessionBuilder::client`] for what
//!   changes when you bring your own `reqwest::Client`.
//! - **Nothing lost**: a failed refresh keeps the old token and refresh token.
//! - **No outage on a failed refresh**: when a refresh inside the leeway fails (the token
//!   endpoint is down, say) the request goes out with the old token, which is still valid,
//!   and for a few seconds (`oauth_core::session::RENEWAL_BACKOFF`) later requests use it too
//!   without trying again. Once the token has expired, the refresh's error reaches the caller
//!   (every caller waiting on that refresh shares it).
//!
//! ## Features
//!
//! - `rustls` (default): HTTPS through rustls on **ring**, the crypto backend `oauth-core`
//!   verifies ID tokens with, so a default build has one crypto backend (`cargo tree -p
//!   oauth-reqwest -e normal` lists ring and no aws-lc-rs). reqwest is built with
//!   `rustls-no-provider`, and the session installs ring as rustls's process default provider
//!   before it builds a client, unless a provider is installed already: one your application
//!   installs first wins.
//! - `rustls-aws-lc-rs`: reqwest's own `rustls`, on aws-lc-rs; the session then installs
//!   nothing. Use it with `default-features = false` to have aws-lc-rs alone.
//! - `rustls-no-provider`: rustls with no provider; install one before building a session.
//! - `native-tls`, `http2`: reqwest's, forwarded.
//! - `middleware` adds [`OAuth2Middleware`] for `reqwest-middleware` 0.5 stacks.
//!
//! A `reqwest::Client` you build yourself (for [`SessionBuilder::client`] or
//! [`SessionBuilder::endpoint_client`]) is yours: its TLS settings, and its crypto provider.
//! With the default features reqwest has no fallback provider, so build it after a provider is
//! installed, for instance with
//! `oauth_reqwest::rustls::crypto::ring::default_provider().install_default()` (an `Err` means
//! one already is), or after building a first session; otherwise reqwest panics.

mod builder;
mod endpoint;
mod error;
#[cfg(feature = "middleware")]
mod middleware;
mod oidc;
mod request;
mod session;
mod tls;

pub use builder::SessionBuilder;
pub use error::Error;
#[cfg(feature = "middleware")]
pub use middleware::OAuth2Middleware;
pub use request::RequestBuilder;
pub use session::OAuth2Session;
pub use tls::install_crypto_provider;

pub use oauth_core::jose::SigningKey;
pub use oauth_core::oidc::{
    AuthorizationRequest, IdTokenClaims, IdTokenExpectations, PendingAuthorization, UserInfo,
};
pub use oauth_core::rfc7523::{AssertionAudience, JwtBearer};
pub use oauth_core::rfc8628::DeviceAuthorization;
pub use oauth_core::rfc8693::{TokenExchange, token_type};
pub use oauth_core::rfc9449::DpopKey;
pub use oauth_core::{
    self, AccessToken, ClientConfig, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT, Grant, IdToken,
    Introspection, OAuthError, Token, TokenRef, TokenUpdate, UpdateKind,
};
pub use reqwest;
/// The rustls reqwest links, to install a crypto provider before building your own client.
#[cfg(feature = "rustls")]
pub use rustls;
