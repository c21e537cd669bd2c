//! The adapter's error: a core error (the server refused, misbehaved; configuration; misuse)
//! or a transport error from ureq.

use oauth_core::OAuthError;

/// Everything an [`OAuth2Session`](crate::OAuth2Session) call can fail with.
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
    /// The core answered with a step this version of the adapter does not know (the core
    /// grew a new one): update the adapter.
    #[error("the protocol core asked for {0}, which this adapter does not know")]
    UnknownStep(&'static str),
    /// A request body could not be serialised to JSON.
    #[error("request body is not serialisable as JSON: {0}")]
    Json(#[from] serde_json::Error),
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
}

impl From<oauth_core::ConfigError> for Error {
    fn from(e: oauth_core::ConfigError) -> Self {
        Self::Core(e.into())
    }
}
