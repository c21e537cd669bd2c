//! The adapter's error: a core error (the server refused, misbehaved; configuration; misuse)
//! or a transport error from ureq.

/// Everything an [`OAuth2Session`](crate::OAuth2Session) call can fail with.
///
/// No variant's `Display` or `Debug` shows a token, a secret or a password. The helpers
/// (`oauth_error()`, `requires_reauthentication()`, `is_transport()`, …) are the same in
/// every adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A protocol error from the core: an OAuth error from the server (`Display` is
    /// `"{error}: {error_description}"`), an unexpected response, configuration or misuse.
    #[error(transparent)]
    Core(#[from] oauth_core::Error),
    /// The HTTP exchange itself failed: connection refused or dropped, timeout, TLS, a body
    /// over the limit. The session's token is unchanged; retrying later may help.
    #[error("transport error: {0}")]
    Transport(#[from] ureq::Error),
    /// The operating system gave no randomness for `state`, PKCE and `nonce`.
    #[error("the operating system's random number generator failed")]
    Entropy,
    /// A request body could not be serialised to JSON.
    #[error("request body is not serialisable as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

oauth_core::adapter_error!(Error);
