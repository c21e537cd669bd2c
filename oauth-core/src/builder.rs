//! Client-configuration setters shared by every adapter's session builder, so the three
//! builders speak the same words without three copies of the same code.

/// Adds the [`ClientConfig`](crate::ClientConfig) setters to an adapter's session builder.
///
/// The builder must have a method
/// `fn map_config(self, f: impl FnOnce(ClientConfig) -> Result<ClientConfig, ConfigError>) -> Self`
/// that keeps the first configuration error for `build()` to report. For adapter authors; users
/// call the generated methods.
#[macro_export]
macro_rules! client_config_setters {
    () => {
        /// Authenticates with `client_secret_basic` (id and secret form-urlencoded first,
        /// RFC 6749 §2.3.1).
        #[must_use]
        pub fn client_secret_basic(self, secret: impl Into<$crate::ClientSecret>) -> Self {
            let secret = secret.into();
            self.map_config(|c| Ok(c.client_secret_basic(secret)))
        }

        /// Authenticates with `client_secret_post`.
        #[must_use]
        pub fn client_secret_post(self, secret: impl Into<$crate::ClientSecret>) -> Self {
            let secret = secret.into();
            self.map_config(|c| Ok(c.client_secret_post(secret)))
        }

        /// Sets the client authentication method explicitly.
        #[must_use]
        pub fn client_auth(self, auth: $crate::ClientAuth) -> Self {
            self.map_config(|c| Ok(c.auth(auth)))
        }

        /// Sets the token endpoint. An invalid URL is reported by `build()`.
        #[must_use]
        pub fn token_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.token_endpoint(url))
        }

        /// Sets the revocation endpoint (RFC 7009).
        #[must_use]
        pub fn revocation_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.revocation_endpoint(url))
        }

        /// Sets the introspection endpoint (RFC 7662).
        #[must_use]
        pub fn introspection_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.introspection_endpoint(url))
        }

        /// The scope sent with password and client-credentials grants that name none.
        #[must_use]
        pub fn scope(self, scope: impl Into<String>) -> Self {
            let scope = scope.into();
            self.map_config(|c| Ok(c.scope(scope)))
        }

        /// Refresh this long before expiry, clamped to half the token's lifetime
        /// (see [`ClientConfig::leeway`]($crate::ClientConfig::leeway)).
        #[must_use]
        pub fn leeway(self, leeway: ::std::time::Duration) -> Self {
            self.map_config(|c| Ok(c.leeway(leeway)))
        }

        /// Where the bearer token goes in resource requests (header by default).
        #[must_use]
        pub fn bearer_placement(self, placement: $crate::BearerPlacement) -> Self {
            self.map_config(|c| Ok(c.bearer_placement(placement)))
        }

        /// Sets the authorization endpoint (set by discovery when the issuer is known).
        #[must_use]
        pub fn authorization_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.authorization_endpoint(url))
        }

        /// Sets the userinfo endpoint.
        #[must_use]
        pub fn userinfo_endpoint(self, url: &str) -> Self {
            self.map_config(|c| c.userinfo_endpoint(url))
        }

        /// Sets the provider's JWK Set URL.
        #[must_use]
        pub fn jwks_uri(self, url: &str) -> Self {
            self.map_config(|c| c.jwks_uri(url))
        }

        /// Sets the issuer identifier ID tokens and authorization responses must name.
        #[must_use]
        pub fn issuer(self, issuer: impl Into<String>) -> Self {
            let issuer = issuer.into();
            self.map_config(|c| Ok(c.issuer(issuer)))
        }

        /// Sets the redirect URI of the authorization code flow.
        #[must_use]
        pub fn redirect_uri(self, redirect_uri: impl Into<String>) -> Self {
            let redirect_uri = redirect_uri.into();
            self.map_config(|c| Ok(c.redirect_uri(redirect_uri)))
        }

        /// The algorithms ID tokens may be signed with (default `[RS256]`).
        #[must_use]
        pub fn id_token_algorithms(
            self,
            algorithms: impl Into<Vec<$crate::jose::Algorithm>>,
        ) -> Self {
            let algorithms = algorithms.into();
            self.map_config(|c| Ok(c.id_token_algorithms(algorithms)))
        }

        /// The clock-skew tolerance of ID token time checks (default 60 s).
        #[must_use]
        pub fn clock_skew(self, skew: ::std::time::Duration) -> Self {
            self.map_config(|c| Ok(c.clock_skew(skew)))
        }

        /// Applies provider metadata from discovery: endpoints, issuer, and whether
        /// authorization responses must carry `iss`.
        #[must_use]
        pub fn provider_metadata(self, metadata: &$crate::oidc::ProviderMetadata) -> Self {
            self.map_config(|c| c.with_metadata(metadata))
        }

        /// Allows plain `http` to hosts that are not loopback. Off by default.
        #[must_use]
        pub fn allow_insecure_http(self, allow: bool) -> Self {
            self.map_config(|c| Ok(c.allow_insecure_http(allow)))
        }
    };
}
