//! The adapter's error: a core error (the server refused, misbehaved; configuration; misuse)
//! or a transport error from ureq (connection, timeout, TLS, a body over the limit).

oauth_core::adapter_error! {
    transport: ureq::Error;
    /// A request body could not be serialised to JSON.
    #[error("request body is not serialisable as JSON: {0}")]
    Json(#[from] serde_json::Error),
}
