//! The userinfo endpoint (OIDC Core §5.3): the request, and the response whose `sub` must be
//! the ID token's (§5.3.2).

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response};
use serde_json::{Map, Value};

use crate::client::ClientConfig;
use crate::error::{ConfigError, Error};
use crate::rfc6749::response::ResponseView;
use crate::secret::AccessToken;

/// The claims the userinfo endpoint returned about the user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInfo {
    sub: String,
    claims: Map<String, Value>,
}

impl UserInfo {
    /// The subject, equal to the ID token's.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// Every other claim (`name`, `email`, …).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// Builds the userinfo request: `GET` with the access token as a bearer (RFC 6750 §2.1).
///
/// # Errors
/// [`ConfigError`] when the userinfo endpoint is missing or insecure, or the token cannot be
/// sent in a header.
pub fn userinfo_request(
    config: &ClientConfig,
    access_token: &AccessToken,
) -> Result<Request<Vec<u8>>, Error> {
    let url = config.endpoint("userinfo", config.userinfo_endpoint.as_ref())?;
    let mut authorization = HeaderValue::try_from(format!("Bearer {}", access_token.secret()))
        .map_err(|_| ConfigError::InvalidHeaderValue("access token"))?;
    authorization.set_sensitive(true);
    Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(AUTHORIZATION, authorization)
        .body(Vec::new())
        .map_err(|e| {
            ConfigError::InvalidUrl {
                what: "userinfo",
                reason: e.to_string(),
            }
            .into()
        })
}

/// Reads a userinfo response; its `sub` must equal `expected_sub`, the ID token's (§5.3.2:
/// otherwise the response must not be used).
///
/// # Errors
/// [`Error::OAuth`] for a refused token (`401` with `WWW-Authenticate: Bearer
/// error="invalid_token"`), [`Error::Response`] for a signed (JWT) response, a missing or
/// different `sub`.
pub fn parse_userinfo_response<B: AsRef<[u8]>>(
    response: &Response<B>,
    expected_sub: &str,
) -> Result<UserInfo, Error> {
    let view = ResponseView::of(response);
    let is_jwt = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/jwt"));
    if is_jwt && view.is_success() {
        return Err(view
            .malformed("signed userinfo responses are not supported")
            .into());
    }
    let mut claims: Map<String, Value> = view.decode_success()?;
    let sub = match claims.remove("sub") {
        Some(Value::String(sub)) => sub,
        _ => return Err(view.malformed("sub is missing or not a string").into()),
    };
    if sub != expected_sub {
        return Err(view.malformed("sub is not the ID token's subject").into());
    }
    Ok(UserInfo { sub, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response<Vec<u8>> {
        Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .expect("response")
    }

    #[test]
    fn request_is_a_bearer_get() {
        let config = ClientConfig::new("c")
            .userinfo_endpoint("https://as.example/me")
            .expect("url");
        let request = userinfo_request(&config, &AccessToken::new("at")).expect("request");
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer at");
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
    }

    #[test]
    fn sub_must_match() {
        let info =
            parse_userinfo_response(&response(200, r#"{"sub":"admin","email":"a@x"}"#), "admin")
                .expect("info");
        assert_eq!(info.claims()["email"], "a@x");
        let error =
            parse_userinfo_response(&response(200, r#"{"sub":"mallory"}"#), "admin").unwrap_err();
        assert_eq!(
            error.to_string(),
            "malformed response (HTTP 200 OK): sub is not the ID token's subject"
        );
    }

    #[test]
    fn refused_token_is_an_oauth_error() {
        let response = Response::builder()
            .status(401)
            .header(
                "www-authenticate",
                r#"Bearer error="invalid_token", error_description="expired""#,
            )
            .body(Vec::new())
            .expect("response");
        assert_eq!(
            parse_userinfo_response(&response, "admin")
                .unwrap_err()
                .to_string(),
            "invalid_token: expired"
        );
    }
}
