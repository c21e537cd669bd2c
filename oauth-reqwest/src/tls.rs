//! The TLS crypto provider of the clients the session builds.
//!
//! The default `rustls` feature links reqwest with `rustls-no-provider` and rustls with ring
//! only, so that a default build has one crypto backend: the ring that `oauth-core` verifies
//! ID tokens with. reqwest then reads rustls's process default provider when it builds a
//! client, and panics when there is none; so the session installs ring first.

/// Makes sure a rustls crypto provider is installed, as the session does before it builds a
/// `reqwest::Client`. Call it before building a `reqwest::Client` of your own with this
/// crate's default features: reqwest then has no provider of its own and would panic.
#[cfg(all(feature = "rustls", not(feature = "rustls-aws-lc-rs")))]
pub fn install_crypto_provider() {
    // reqwest with `rustls-no-provider` panics when it builds a client and no process default
    // provider is installed. Installing fails only when one already is: a provider the
    // application installed first wins, and so does one a concurrent caller installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// With `rustls-aws-lc-rs` reqwest falls back to aws-lc-rs itself (the user asked for that
/// backend); with `native-tls` or `rustls-no-provider` alone there is nothing to install.
#[cfg(not(all(feature = "rustls", not(feature = "rustls-aws-lc-rs"))))]
pub fn install_crypto_provider() {}

#[cfg(all(test, feature = "rustls", not(feature = "rustls-aws-lc-rs")))]
mod tests {
    /// Runs in this crate's own test binary, where reqwest has no aws-lc-rs fallback: without
    /// the provider the session installs, `build` would panic.
    #[test]
    fn the_session_builds_its_clients_on_ring() {
        let session = crate::OAuth2Session::builder("c").build();
        assert!(session.is_ok());
        let provider = rustls::crypto::CryptoProvider::get_default();
        assert!(provider.is_some(), "a default provider is installed");
    }
}
