//! The adapter's error: a core error (the server refused or misbehaved; configuration; misuse),
//! a transport error from reqwest, or one of the few things only an async transport can meet.

oauth_core::adapter_error! {
    transport: reqwest::Error;
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
}

impl Error {
    /// True when the HTTP call timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport(e) if e.is_timeout())
    }
}
