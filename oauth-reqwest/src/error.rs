//! The adapter's error: a core error (the server refused or misbehaved; configuration; misuse),
//! a transport error from reqwest, or one of the few things only an async transport can meet.

use oauth_core::OAuthError;

/// Everything an [`OAuth2Session`](crate::OAuth2Session) call can fail with.
///
/// No variant's `Display` or `Debug` shows a token, a secret or a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A protocol error from the core: an OAuth error from the server (`Display` is
    /// `"{error}: {error_description}"`), an unexpected response, configuration or misuse.
    #[error(transparent)]
    Core(#[from] oauth_core::Error),
    /// The HTTP exchange itself failed: connection refused or dropped, timeout, TLS, an invalid
    /// request (a header value that cannot be sent, a body that does not serialise). The
    /// session's token is unchanged; retrying later may help.
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// An endpoint response (token, revocation, introspection, discovery, JWKS, userinfo) was
    /// larger than the session's body limit
    /// ([`SessionBuilder::body_limit`](crate::SessionBuilder::body_limit)). The endpoint is
    /// broken or hostile; the session's token is unchanged.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// An endpoint call (token, revocation, introspection, discovery, JWKS, userinfo) ended at
    /// another URL: the client given to
    /// [`SessionBuilder::endpoint_client`](crate::SessionBuilder::endpoint_client) follows
    /// redirects. Give it `reqwest::redirect::Policy::none()`.
    #[error(
        "an endpoint call was redirected: the endpoint client must not follow redirects (use reqwest::redirect::Policy::none())"
    )]
    EndpointRedirected,
    /// The request cannot carry the access token where the configuration puts it (a streamed
    /// body with [`BearerPlacement::FormBody`](oauth_core::BearerPlacement::FormBody), say).
    /// Use a buffered body or the header placement.
    #[error("the request cannot carry the access token: {0}")]
    UnsignableRequest(&'static str),
    /// The token exchange was cancelled before it ended, because its tokio runtime shut down.
    /// The session's token is unchanged.
    #[error("the token exchange was cancelled: its runtime shut down")]
    ExchangeCancelled,
    /// A request gave up waiting for a usable token after too many rounds of other callers'
    /// renewals, or the core asked for something this adapter does not know (upgrade the
    /// adapter). A token endpoint that keeps issuing tokens already due for renewal is
    /// [`oauth_core::UsageError::RenewalLoop`] instead, in [`Error::Core`].
    #[error("token renewal stopped: {0}")]
    RenewalStopped(&'static str),
    /// The operating system gave no randomness for `state`, PKCE and `nonce`; nothing was
    /// sent. Retry; if it persists, the system's entropy source is broken.
    #[error("the operating system's random number generator failed")]
    Entropy,
    /// The core asked for an OpenID Connect step this adapter does not know (a key fetch after
    /// a fetch, or a new kind of step): the adapter and `oauth-core` do not fit. Upgrade the
    /// adapter.
    #[error("the protocol core asked for a step this adapter does not know: {0}")]
    UnknownStep(&'static str),
}

impl Error {
    /// The OAuth error the server sent, if this is one (`e.oauth_error().map(|e| e.error())`
    /// is `Some("invalid_grant")` for a removed session).
    #[must_use]
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match self {
            Self::Core(e) => e.oauth_error(),
            _ => None,
        }
    }

    /// True when the user must authenticate again (see
    /// [`oauth_core::Error::requires_reauthentication`]).
    #[must_use]
    pub fn requires_reauthentication(&self) -> bool {
        matches!(self, Self::Core(e) if e.requires_reauthentication())
    }

    /// True when the HTTP call timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport(e) if e.is_timeout())
    }
}

impl From<oauth_core::ConfigError> for Error {
    fn from(e: oauth_core::ConfigError) -> Self {
        Self::Core(e.into())
    }
}

impl From<oauth_core::UsageError> for Error {
    fn from(e: oauth_core::UsageError) -> Self {
        Self::Core(e.into())
    }
}
