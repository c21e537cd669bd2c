//! Client configuration: identity, authentication (RFC 6749 §2.3), endpoints, default scope
//! and the refresh leeway.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use url::Url;
use url::form_urlencoded::Serializer;

use crate::error::{ConfigError, Error};
use crate::jose::{Algorithm, JoseError, SigningKey};
use crate::rfc7523::{AssertionAudience, Mint, assertion_for};
use crate::secret::ClientSecret;

/// How the client authenticates at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: `client_id` in the form body, no secret (`none`).
    None,
    /// HTTP Basic with the client id and secret (`client_secret_basic`, RFC 6749 §2.3.1).
    SecretBasic {
        /// The client secret.
        secret: ClientSecret,
        /// How id and secret are encoded before base64.
        encoding: BasicEncoding,
    },
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    SecretPost {
        /// The client secret.
        secret: ClientSecret,
    },
    /// A client assertion signed with the client secret (`client_secret_jwt`, RFC 7523 §2.2,
    /// OIDC Core §9), minted per request. Build it with [`ClientAuth::secret_jwt`].
    SecretJwt {
        /// The client secret.
        secret: ClientSecret,
        /// The HMAC key made from it.
        key: SigningKey,
    },
    /// A client assertion signed with the client's private key (`private_key_jwt`), minted
    /// per request.
    PrivateKeyJwt {
        /// The client's key; its `kid` goes in the assertion's header.
        key: SigningKey,
    },
}

impl ClientAuth {
    /// `client_secret_jwt` with `HS256`, `HS384` or `HS512`.
    ///
    /// # Errors
    /// [`JoseError::KeyMismatch`] for an algorithm that is not HMAC.
    pub fn secret_jwt(secret: impl Into<ClientSecret>, alg: Algorithm) -> Result<Self, JoseError> {
        let secret = secret.into();
        let key = SigningKey::hmac(secret.secret().as_bytes(), alg)?;
        Ok(Self::SecretJwt { secret, key })
    }

    /// The `token_endpoint_auth_method` name (OIDC Dynamic Client Registration §2).
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::SecretPost { .. } => "client_secret_post",
            Self::SecretJwt { .. } => "client_secret_jwt",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }
}

/// Encoding of the client id and secret inside `client_secret_basic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BasicEncoding {
    /// Form-urlencode id and secret before joining them with `:` (RFC 6749 §2.3.1). The default.
    #[default]
    FormUrlEncoded,
    /// Send id and secret as they are, for servers that do not decode them. An id holding `:`
    /// cannot be sent this way.
    Raw,
}

/// Where the bearer token goes in a resource request (RFC 6750 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BearerPlacement {
    /// `Authorization: Bearer …` (§2.1). The default, and the only one the RFC recommends.
    #[default]
    Header,
    /// An `access_token` query parameter (§2.3). Leaks into logs; use only when forced to.
    Query,
    /// An `access_token` member of a form-encoded body (§2.2).
    FormBody,
}

/// The default refresh leeway: refresh this long before `expires_at` (clamped, see
/// [`ClientConfig::leeway`]).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Everything the core needs to know about the client and its authorization server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub(crate) client_id: String,
    pub(crate) auth: ClientAuth,
    pub(crate) token_endpoint: Option<Url>,
    pub(crate) revocation_endpoint: Option<Url>,
    pub(crate) introspection_endpoint: Option<Url>,
    pub(crate) scope: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) bearer_placement: BearerPlacement,
    pub(crate) allow_insecure_http: bool,
    pub(crate) issuer: Option<String>,
    pub(crate) authorization_endpoint: Option<Url>,
    pub(crate) userinfo_endpoint: Option<Url>,
    pub(crate) jwks_uri: Option<Url>,
    pub(crate) device_authorization_endpoint: Option<Url>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) require_iss_in_callback: bool,
    pub(crate) id_token_algorithms: Vec<Algorithm>,
    pub(crate) clock_skew: Duration,
    pub(crate) assertion_audience: AssertionAudience,
    pub(crate) par_endpoint: Option<Url>,
    pub(crate) require_par: bool,
    pub(crate) request_objects: bool,
}

/// The default tolerance for clock differences when checking `exp`, `iat` and `auth_time`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

impl ClientConfig {
    /// A public client (auth method `none`) with no endpoints yet and the default leeway.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            auth: ClientAuth::None,
            token_endpoint: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            scope: None,
            leeway: DEFAULT_LEEWAY,
            bearer_placement: BearerPlacement::Header,
            allow_insecure_http: false,
            issuer: None,
            authorization_endpoint: None,
            userinfo_endpoint: None,
            jwks_uri: None,
            device_authorization_endpoint: None,
            redirect_uri: None,
            require_iss_in_callback: false,
            // OIDC Core §3.1.3.7 step 7: RS256 unless the client registered another.
            id_token_algorithms: vec![Algorithm::RS256],
            clock_skew: DEFAULT_CLOCK_SKEW,
            assertion_audience: AssertionAudience::TokenEndpoint,
            par_endpoint: None,
            require_par: false,
            request_objects: false,
        }
    }

    /// The issuer identifier: ID tokens must name it, and an `iss` in the authorization
    /// response must equal it (RFC 9207). Discovery sets it.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the authorization endpoint (RFC 6749 §3.1).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn authorization_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.authorization_endpoint = Some(parse_endpoint("authorization", url)?);
        Ok(self)
    }

    /// Sets the userinfo endpoint (OIDC Core §5.3).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn userinfo_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.userinfo_endpoint = Some(parse_endpoint("userinfo", url)?);
        Ok(self)
    }

    /// Sets the JWK Set URL the provider publishes its signing keys at.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn jwks_uri(mut self, url: &str) -> Result<Self, ConfigError> {
        self.jwks_uri = Some(parse_endpoint("JWKS", url)?);
        Ok(self)
    }

    /// Sets the device authorization endpoint (RFC 8628 §3.1).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn device_authorization_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.device_authorization_endpoint = Some(parse_endpoint("device authorization", url)?);
        Ok(self)
    }

    /// The redirect URI registered for this client (RFC 6749 §3.1.2).
    #[must_use]
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// The algorithms ID tokens may be signed with (OIDC Core §3.1.3.7 step 7). Default
    /// `[RS256]`. `HS*` algorithms verify with the client secret.
    #[must_use]
    pub fn id_token_algorithms(mut self, algorithms: impl Into<Vec<Algorithm>>) -> Self {
        self.id_token_algorithms = algorithms.into();
        self
    }

    /// The tolerance for clock differences in `exp`, `iat` and `auth_time` checks (default
    /// [`DEFAULT_CLOCK_SKEW`]).
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The configured issuer.
    #[must_use]
    pub fn configured_issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The configured redirect URI.
    #[must_use]
    pub fn configured_redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// Sets how the client authenticates.
    #[must_use]
    pub fn auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// `client_secret_basic` with RFC 6749 §2.3.1 encoding.
    #[must_use]
    pub fn client_secret_basic(self, secret: impl Into<ClientSecret>) -> Self {
        self.auth(ClientAuth::SecretBasic {
            secret: secret.into(),
            encoding: BasicEncoding::FormUrlEncoded,
        })
    }

    /// `client_secret_post`.
    #[must_use]
    pub fn client_secret_post(self, secret: impl Into<ClientSecret>) -> Self {
        self.auth(ClientAuth::SecretPost {
            secret: secret.into(),
        })
    }

    /// Authenticates with a client assertion signed by the client secret
    /// (`client_secret_jwt`, HS256), minted per request. For HS384 or HS512, use
    /// [`auth`](Self::auth) with [`ClientAuth::secret_jwt`].
    #[must_use]
    pub fn client_secret_jwt(self, secret: impl Into<ClientSecret>) -> Self {
        let secret = secret.into();
        match SigningKey::hmac(secret.secret().as_bytes(), Algorithm::HS256) {
            Ok(key) => self.auth(ClientAuth::SecretJwt { secret, key }),
            Err(_) => self,
        }
    }

    /// Authenticates with a client assertion signed by `key` (`private_key_jwt`), minted per
    /// request.
    #[must_use]
    pub fn private_key_jwt(self, key: SigningKey) -> Self {
        self.auth(ClientAuth::PrivateKeyJwt { key })
    }

    /// The `aud` of client assertions (default: the token endpoint URL).
    #[must_use]
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion_audience = audience;
        self
    }

    /// Sets the pushed authorization request endpoint (RFC 9126; discovery sets it too).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn pushed_authorization_request_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.par_endpoint = Some(parse_endpoint("pushed authorization request", url)?);
        Ok(self)
    }

    /// Accepts authorization requests only when pushed (RFC 9126 §5); discovery sets it when
    /// the provider requires it.
    #[must_use]
    pub fn require_pushed_authorization_requests(mut self, require: bool) -> Self {
        self.require_par = require;
        self
    }

    /// Sends authorization requests as a signed request object (JAR, RFC 9101): `request=`
    /// in the URL or in the pushed request, signed with the client's key
    /// (`private_key_jwt`) or secret (`client_secret_jwt`, and the other secret methods:
    /// HS256).
    #[must_use]
    pub fn signed_request_objects(mut self, sign: bool) -> Self {
        self.request_objects = sign;
        self
    }

    /// Sets the token endpoint.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn token_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.token_endpoint = Some(parse_endpoint("token", url)?);
        Ok(self)
    }

    /// Sets the revocation endpoint (RFC 7009).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn revocation_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.revocation_endpoint = Some(parse_endpoint("revocation", url)?);
        Ok(self)
    }

    /// Sets the introspection endpoint (RFC 7662).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when the URL does not parse or is not `http`/`https`.
    pub fn introspection_endpoint(mut self, url: &str) -> Result<Self, ConfigError> {
        self.introspection_endpoint = Some(parse_endpoint("introspection", url)?);
        Ok(self)
    }

    /// The scope sent with password and client-credentials grants that name none.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// How long before `expires_at` a token is refreshed.
    ///
    /// **Clamp rule**: the leeway never exceeds half the token's lifetime (from the moment its
    /// request was sent to `expires_at`). A 60 s token with a 60 s leeway is refreshed after
    /// 30 s, not before every request as in clients that apply the leeway as is. Whatever the
    /// leeway, a token is not sent in its last second (at most a quarter of its lifetime), so a
    /// leeway of 0 still leaves time for the last request to arrive before the token dies.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where the bearer token goes in resource requests.
    #[must_use]
    pub fn bearer_placement(mut self, placement: BearerPlacement) -> Self {
        self.bearer_placement = placement;
        self
    }

    /// Allows plain `http` endpoints on hosts that are not loopback. Off by default: tokens and
    /// secrets would cross the network in clear text.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The configured leeway (before clamping).
    #[must_use]
    pub fn configured_leeway(&self) -> Duration {
        self.leeway
    }

    /// The configured bearer placement.
    #[must_use]
    pub fn configured_bearer_placement(&self) -> BearerPlacement {
        self.bearer_placement
    }

    /// The token endpoint, if set.
    #[must_use]
    pub fn configured_token_endpoint(&self) -> Option<&Url> {
        self.token_endpoint.as_ref()
    }

    /// Checks that `url` may carry a bearer token or a secret under this configuration:
    /// `https`, or `http` to a loopback host, or `http` anywhere when explicitly allowed.
    ///
    /// # Errors
    /// [`ConfigError::InsecureEndpoint`] for plain http to a non-loopback host.
    pub fn check_transport_security(&self, url: &Url) -> Result<(), ConfigError> {
        if url.scheme() == "https" || self.allow_insecure_http || is_loopback(url) {
            Ok(())
        } else {
            Err(ConfigError::InsecureEndpoint {
                host: url.host_str().unwrap_or_default().to_owned(),
            })
        }
    }

    pub(crate) fn endpoint(
        &self,
        which: &'static str,
        url: Option<&Url>,
    ) -> Result<Url, ConfigError> {
        let url = url.ok_or(ConfigError::MissingEndpoint(which))?;
        self.check_transport_security(url)?;
        Ok(url.clone())
    }

    /// Adds client authentication to a form body and returns the `Authorization` header value
    /// it needs, if any.
    /// The client secret, when the client has one (it keys `HS*` ID tokens).
    pub(crate) fn client_secret(&self) -> Option<&ClientSecret> {
        match &self.auth {
            ClientAuth::SecretBasic { secret, .. }
            | ClientAuth::SecretPost { secret }
            | ClientAuth::SecretJwt { secret, .. } => Some(secret),
            ClientAuth::None | ClientAuth::PrivateKeyJwt { .. } => None,
        }
    }

    pub(crate) fn authenticate(
        &self,
        form: &mut Serializer<'_, String>,
        mint: &Mint<'_>,
    ) -> Result<Option<HeaderValue>, Error> {
        match &self.auth {
            ClientAuth::SecretJwt { key, .. } | ClientAuth::PrivateKeyJwt { key } => {
                let assertion = assertion_for(self, key, &self.assertion_audience, mint)?;
                form.append_pair("client_id", &self.client_id);
                form.append_pair(
                    "client_assertion_type",
                    crate::rfc7523::CLIENT_ASSERTION_TYPE,
                );
                form.append_pair("client_assertion", &assertion);
                Ok(None)
            }
            ClientAuth::None => {
                form.append_pair("client_id", &self.client_id);
                Ok(None)
            }
            ClientAuth::SecretPost { secret } => {
                form.append_pair("client_id", &self.client_id);
                form.append_pair("client_secret", secret.secret());
                Ok(None)
            }
            ClientAuth::SecretBasic { secret, encoding } => {
                let credentials = match encoding {
                    BasicEncoding::FormUrlEncoded => {
                        format!(
                            "{}:{}",
                            form_encode(&self.client_id),
                            form_encode(secret.secret())
                        )
                    }
                    BasicEncoding::Raw => format!("{}:{}", self.client_id, secret.secret()),
                };
                let mut value =
                    HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
                        .map_err(|_| ConfigError::InvalidHeaderValue("client credentials"))?;
                value.set_sensitive(true);
                Ok(Some(value))
            }
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B).
pub(crate) fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(crate) fn parse_endpoint(what: &'static str, url: &str) -> Result<Url, ConfigError> {
    let parsed = Url::parse(url).map_err(|e| ConfigError::InvalidUrl {
        what,
        reason: e.to_string(),
    })?;
    let refused = |reason: &str| {
        Err(ConfigError::InvalidUrl {
            what,
            reason: reason.into(),
        })
    };
    match parsed.scheme() {
        // RFC 6749 §3.1, §3.1.2, §3.2: endpoint URIs MUST NOT include a fragment. A client
        // that kept one would compare it with the URL the answer came from and throw away a
        // token the server already issued.
        "http" | "https" if parsed.fragment().is_some() => {
            refused("a fragment (#…) is not allowed in an endpoint URL")
        }
        // Credentials in the URL would be printed wherever the URL is, and sent by some
        // transports as Basic authentication: the client authenticates with its own setting.
        "http" | "https" if !parsed.username().is_empty() || parsed.password().is_some() => {
            refused("user:password@ is not allowed in an endpoint URL; set the client secret")
        }
        "http" | "https" if parsed.host().is_some() => Ok(parsed),
        "http" | "https" => refused("no host"),
        other => Err(ConfigError::InvalidUrl {
            what,
            reason: format!("scheme {other:?} is not http or https"),
        }),
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn fragments_and_credentials_are_refused_without_echoing_them() {
        for url in [
            "http://127.0.0.1:18080/t/ok#frag",
            "https://user:PASS@as.example/token",
            "https://user@as.example/token",
        ] {
            let error = parse_endpoint("token", url).expect_err(url);
            assert!(!format!("{error} {error:?}").contains("PASS"), "{error:?}");
            assert!(!format!("{error}").contains("#frag"), "{error}");
        }
        assert!(parse_endpoint("token", "https://as.example/token?x=1").is_ok());
    }
}

/// Loopback hosts: `localhost`, `127.0.0.0/8` and `::1`.
#[must_use]
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_off_loopback_unless_allowed() {
        let config = ClientConfig::new("c");
        let remote = Url::parse("http://auth.example.com/token").expect("url");
        assert_eq!(
            config.check_transport_security(&remote),
            Err(ConfigError::InsecureEndpoint {
                host: "auth.example.com".into()
            })
        );
        for ok in [
            "https://auth.example.com/token",
            "http://127.0.0.1:8080/token",
            "http://localhost/token",
            "http://[::1]/token",
        ] {
            let url = Url::parse(ok).expect("url");
            assert_eq!(config.check_transport_security(&url), Ok(()), "{ok}");
        }
        let allowed = ClientConfig::new("c").allow_insecure_http(true);
        assert_eq!(allowed.check_transport_security(&remote), Ok(()));
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        assert!(matches!(
            ClientConfig::new("c").token_endpoint("ftp://x/token"),
            Err(ConfigError::InvalidUrl { what: "token", .. })
        ));
        assert!(ClientConfig::new("c").token_endpoint("not a url").is_err());
    }
}
