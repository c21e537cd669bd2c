//! Provider metadata: OpenID Connect Discovery 1.0 §4 and OAuth 2.0 Authorization Server
//! Metadata (RFC 8414 §3). The `issuer` in the document must equal the issuer it was fetched
//! for (Discovery §4.3, RFC 8414 §3.3).

use http::header::ACCEPT;
use http::{HeaderValue, Method, Request, Response};
use serde_json::{Map, Value};

use crate::client::{ClientConfig, parse_endpoint};
use crate::error::{ConfigError, Error, ResponseError};
use crate::rfc6749::response::{ResponseView, take_text};

/// Which well-known document to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataKind {
    /// `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4.1).
    OpenId,
    /// `{scheme://host}/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
    OAuth,
}

/// A provider's metadata. Members not typed here are in [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    revocation_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    pushed_authorization_request_endpoint: Option<String>,
    require_pushed_authorization_requests: bool,
    authorization_response_iss_parameter_supported: bool,
    id_token_signing_alg_values_supported: Vec<String>,
    extra: Map<String, Value>,
}

impl ProviderMetadata {
    /// The issuer identifier.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The authorization endpoint.
    #[must_use]
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.authorization_endpoint.as_deref()
    }
    /// The token endpoint.
    #[must_use]
    pub fn token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
    }
    /// The userinfo endpoint.
    #[must_use]
    pub fn userinfo_endpoint(&self) -> Option<&str> {
        self.userinfo_endpoint.as_deref()
    }
    /// The JWK Set URL.
    #[must_use]
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }
    /// The revocation endpoint.
    #[must_use]
    pub fn revocation_endpoint(&self) -> Option<&str> {
        self.revocation_endpoint.as_deref()
    }
    /// The introspection endpoint.
    #[must_use]
    pub fn introspection_endpoint(&self) -> Option<&str> {
        self.introspection_endpoint.as_deref()
    }
    /// The device authorization endpoint.
    #[must_use]
    pub fn device_authorization_endpoint(&self) -> Option<&str> {
        self.device_authorization_endpoint.as_deref()
    }
    /// The pushed authorization request endpoint (RFC 9126 §5).
    #[must_use]
    pub fn pushed_authorization_request_endpoint(&self) -> Option<&str> {
        self.pushed_authorization_request_endpoint.as_deref()
    }
    /// Whether the provider accepts authorization requests only when pushed (RFC 9126 §5).
    #[must_use]
    pub fn require_pushed_authorization_requests(&self) -> bool {
        self.require_pushed_authorization_requests
    }
    /// Whether authorization responses carry `iss` (RFC 9207 §3).
    #[must_use]
    pub fn authorization_response_iss_parameter_supported(&self) -> bool {
        self.authorization_response_iss_parameter_supported
    }
    /// The ID token signing algorithms the provider supports.
    #[must_use]
    pub fn id_token_signing_alg_values_supported(&self) -> &[String] {
        &self.id_token_signing_alg_values_supported
    }
    /// Every other member.
    #[must_use]
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
}

/// Builds the discovery request for `issuer`.
///
/// # Errors
/// [`ConfigError::InvalidUrl`] when the issuer is not an `http(s)` URL, or an insecure one.
pub fn discovery_request(
    config: &ClientConfig,
    issuer: &str,
    kind: MetadataKind,
) -> Result<Request<Vec<u8>>, Error> {
    let issuer_url = parse_endpoint("issuer", issuer)?;
    config.check_transport_security(&issuer_url)?;
    let url = match kind {
        MetadataKind::OpenId => format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
        MetadataKind::OAuth => {
            let path = issuer_url.path().trim_end_matches('/');
            let mut origin = issuer_url.clone();
            origin.set_path("");
            origin.set_query(None);
            format!(
                "{}.well-known/oauth-authorization-server{path}",
                origin.as_str()
            )
        }
    };
    Request::builder()
        .method(Method::GET)
        .uri(url)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .body(Vec::new())
        .map_err(|e| {
            ConfigError::InvalidUrl {
                what: "issuer",
                reason: e.to_string(),
            }
            .into()
        })
}

/// Reads a metadata document and checks that its `issuer` equals `expected_issuer` exactly.
///
/// # Errors
/// [`Error::Response`] when the document is not metadata or names another issuer.
pub fn parse_discovery_response<B: AsRef<[u8]>>(
    response: &Response<B>,
    expected_issuer: &str,
) -> Result<ProviderMetadata, Error> {
    let view = ResponseView::of(response);
    let mut map: Map<String, Value> = view.decode_success()?;
    let mut text = |name: &'static str| {
        take_text(&mut map, name).map_err(|name| view.malformed(format!("{name} is not a string")))
    };
    let issuer = text("issuer")?.ok_or_else(|| view.malformed("missing issuer"))?;
    if issuer != expected_issuer {
        return Err(ResponseError::IssuerMismatch {
            expected: expected_issuer.to_owned(),
            found: issuer,
        }
        .into());
    }
    let authorization_endpoint = text("authorization_endpoint")?;
    let token_endpoint = text("token_endpoint")?;
    let userinfo_endpoint = text("userinfo_endpoint")?;
    let jwks_uri = text("jwks_uri")?;
    let revocation_endpoint = text("revocation_endpoint")?;
    let introspection_endpoint = text("introspection_endpoint")?;
    let device_authorization_endpoint = text("device_authorization_endpoint")?;
    let pushed_authorization_request_endpoint = text("pushed_authorization_request_endpoint")?;
    let require_par = matches!(
        map.remove("require_pushed_authorization_requests"),
        Some(Value::Bool(true))
    );
    let iss_supported = matches!(
        map.remove("authorization_response_iss_parameter_supported"),
        Some(Value::Bool(true))
    );
    let algs = match map.remove("id_token_signing_alg_values_supported") {
        Some(Value::Array(values)) => values
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Ok(ProviderMetadata {
        issuer,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        jwks_uri,
        revocation_endpoint,
        introspection_endpoint,
        device_authorization_endpoint,
        pushed_authorization_request_endpoint,
        require_pushed_authorization_requests: require_par,
        authorization_response_iss_parameter_supported: iss_supported,
        id_token_signing_alg_values_supported: algs,
        extra: map,
    })
}

impl ClientConfig {
    /// Takes the provider's endpoints and issuer from its metadata; endpoints the metadata
    /// does not name keep their configured value.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when an endpoint in the metadata is not an `http(s)` URL.
    pub fn with_metadata(mut self, metadata: &ProviderMetadata) -> Result<Self, ConfigError> {
        let set = |slot: &mut Option<url::Url>, what, value: &Option<String>| {
            if let Some(value) = value {
                *slot = Some(parse_endpoint(what, value)?);
            }
            Ok::<_, ConfigError>(())
        };
        set(
            &mut self.authorization_endpoint,
            "authorization",
            &metadata.authorization_endpoint,
        )?;
        set(&mut self.token_endpoint, "token", &metadata.token_endpoint)?;
        set(
            &mut self.userinfo_endpoint,
            "userinfo",
            &metadata.userinfo_endpoint,
        )?;
        set(&mut self.jwks_uri, "JWKS", &metadata.jwks_uri)?;
        set(
            &mut self.revocation_endpoint,
            "revocation",
            &metadata.revocation_endpoint,
        )?;
        set(
            &mut self.introspection_endpoint,
            "introspection",
            &metadata.introspection_endpoint,
        )?;
        set(
            &mut self.device_authorization_endpoint,
            "device authorization",
            &metadata.device_authorization_endpoint,
        )?;
        set(
            &mut self.par_endpoint,
            "pushed authorization request",
            &metadata.pushed_authorization_request_endpoint,
        )?;
        self.require_par |= metadata.require_pushed_authorization_requests;
        self.issuer = Some(metadata.issuer.clone());
        self.require_iss_in_callback = metadata.authorization_response_iss_parameter_supported;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &str) -> Response<Vec<u8>> {
        Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .expect("response")
    }

    #[test]
    fn well_known_urls() {
        let config = ClientConfig::new("c");
        let oidc = discovery_request(
            &config,
            "https://as.example/realms/master",
            MetadataKind::OpenId,
        )
        .expect("request");
        assert_eq!(
            oidc.uri(),
            "https://as.example/realms/master/.well-known/openid-configuration"
        );
        let oauth = discovery_request(&config, "https://as.example/tenant1", MetadataKind::OAuth)
            .expect("request");
        assert_eq!(
            oauth.uri(),
            "https://as.example/.well-known/oauth-authorization-server/tenant1"
        );
        assert!(discovery_request(&config, "http://as.example", MetadataKind::OpenId).is_err());
    }

    #[test]
    fn metadata_configures_the_client() {
        let body = r#"{"issuer":"http://127.0.0.1:3000","authorization_endpoint":"http://127.0.0.1:3000/auth",
            "token_endpoint":"http://127.0.0.1:3000/token","jwks_uri":"http://127.0.0.1:3000/jwks",
            "userinfo_endpoint":"http://127.0.0.1:3000/me","authorization_response_iss_parameter_supported":true,
            "id_token_signing_alg_values_supported":["RS256","ES256"],"claims_supported":["sub"]}"#;
        let metadata =
            parse_discovery_response(&response(body), "http://127.0.0.1:3000").expect("metadata");
        assert_eq!(
            metadata.id_token_signing_alg_values_supported(),
            ["RS256", "ES256"]
        );
        assert!(metadata.extra().contains_key("claims_supported"));
        let config = ClientConfig::new("c")
            .with_metadata(&metadata)
            .expect("config");
        assert_eq!(
            config.configured_token_endpoint().map(url::Url::as_str),
            Some("http://127.0.0.1:3000/token")
        );
        assert_eq!(config.configured_issuer(), Some("http://127.0.0.1:3000"));
    }

    #[test]
    fn another_issuer_is_refused() {
        let error = parse_discovery_response(
            &response(r#"{"issuer":"https://evil.example"}"#),
            "https://as.example",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the provider's metadata names issuer \"https://evil.example\", not the expected \"https://as.example\""
        );
        // No normalisation: a trailing slash is another issuer.
        assert!(
            parse_discovery_response(
                &response(r#"{"issuer":"https://as.example/"}"#),
                "https://as.example"
            )
            .is_err()
        );
    }
}
