//! OpenID Connect: provider discovery (OIDC Discovery 1.0 §4, RFC 8414), the provider's keys
//! (a cache with a TTL and a rate-limited re-fetch on an unknown `kid`), ID token validation
//! (OIDC Core §3.1.3.7 and §3.1.3.8) and userinfo (OIDC Core §5.3).
//!
//! The flow, each step a request value and a parser like the rest of the core:
//!
//! ```text
//!  discovery_request(issuer) ─► parse_discovery_response ─► ClientConfig::with_metadata
//!  authorization_url(config, request, entropy) ─► browser ─► PendingAuthorization::callback(url)
//!  token_request(code grant) ─► parse_token_response ─► IdTokenVerifier::validate(id_token, keys)
//!  userinfo_request(token) ─► parse_userinfo_response(expected sub)
//! ```

mod discovery;
mod id_token;
mod jwks_cache;
mod userinfo;

pub use discovery::{MetadataKind, ProviderMetadata, discovery_request, parse_discovery_response};
pub use id_token::{IdTokenClaims, IdTokenError, IdTokenVerifier};
pub use jwks_cache::{
    DEFAULT_JWKS_TTL, IdTokenStep, JWKS_FETCH_TIMEOUT, JwksCache, KeysDecision,
    MIN_JWKS_REFETCH_INTERVAL,
};
pub use userinfo::{UserInfo, parse_userinfo_response, userinfo_request};

pub use crate::rfc6749::authorization::{
    AUTHORIZATION_ENTROPY, AuthorizationRequest, CodeExchange, IdTokenExpectations,
    PendingAuthorization, PushedAuthorization, authorization_url, authorization_url_with,
    parse_pushed_authorization_response, pushed_authorization_request, pushed_authorization_url,
};
