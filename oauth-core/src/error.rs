//! One error tree for the core, split by who is to blame.
//!
//! | variant | blame | what to do |
//! |---|---|---|
//! | [`Error::OAuth`] | the server refused (RFC 6749 §5.2) | read [`OAuthError::error`]; `invalid_grant` means sign in again |
//! | [`Error::Response`] | the server misbehaved | report it to the server's operator; retrying rarely helps |
//! | [`Error::Config`] | the client configuration | fix the configuration |
//! | [`Error::Usage`] | the caller | fetch or set a token first, or use another call |
//! | [`Error::Store`] | the shared token store | check the store and its key |

use std::fmt;

use http::StatusCode;

/// Everything the core can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server answered with an OAuth error (RFC 6749 §5.2, RFC 6750 §3).
    /// Look at [`OAuthError::error`]; [`Error::requires_reauthentication`] tells whether the
    /// user must sign in again.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The server answered something that is not a valid response for this exchange. Nothing
    /// the client can fix: show the error to whoever runs the server.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The client configuration cannot produce this request. Fix the configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The call does not fit the session's state (no token yet, nothing to refresh with).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The authorization response (the redirect back to the client) failed a check: wrong
    /// `state` or `iss`, no `code`. Treat it as an attack or a stale login: start over.
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// The ID token failed validation (OIDC Core §3.1.3.7); the variant names the check.
    /// Do not log the user in.
    #[error(transparent)]
    IdToken(#[from] crate::oidc::IdTokenError),
    /// The token store shared with other replicas could not be used (see
    /// [`crate::store`]): check the store and the key every replica seals with.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl Error {
    /// The OAuth error the server sent, if this is one.
    #[must_use]
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match self {
            Self::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// The shared token store's failure, if this is one ([`crate::store::StoreError`]).
    #[must_use]
    pub fn store_error(&self) -> Option<&crate::store::StoreError> {
        match self {
            Self::Store(e) => Some(e),
            _ => None,
        }
    }

    /// The caller's misuse or the session's state, if this is one ([`UsageError`]).
    #[must_use]
    pub fn usage_error(&self) -> Option<&UsageError> {
        match self {
            Self::Usage(e) => Some(e),
            _ => None,
        }
    }

    /// True when discovery found metadata for another issuer ([`ResponseError::IssuerMismatch`]).
    #[must_use]
    pub fn is_issuer_mismatch(&self) -> bool {
        matches!(self, Self::Response(ResponseError::IssuerMismatch { .. }))
    }

    /// True when the ID token failed a check (the variant names it): do not log the user in.
    #[must_use]
    pub fn is_id_token_error(&self) -> bool {
        matches!(self, Self::IdToken(_))
    }

    /// True when the authorization response (the redirect back) failed a check.
    #[must_use]
    pub fn is_callback_error(&self) -> bool {
        matches!(self, Self::Callback(_))
    }

    /// True when no request can succeed until the user authenticates again: the server said
    /// `invalid_grant` (the refresh token or the credentials are dead), or the session holds no
    /// usable token and nothing to renew it with.
    #[must_use]
    pub fn requires_reauthentication(&self) -> bool {
        match self {
            Self::OAuth(e) => e.error() == "invalid_grant",
            Self::Usage(e) => matches!(
                e,
                UsageError::NoToken | UsageError::TokenExpired | UsageError::NoRefreshToken
            ),
            _ => false,
        }
    }
}

/// An OAuth error response: `error`, `error_description`, `error_uri` (RFC 6749 §5.2), with
/// the HTTP status and the `WWW-Authenticate` challenge it came with.
///
/// `Display` is `"{error}: {error_description}"`, or just `"{error}"` without a description,
/// so a refresh on a session Keycloak removed reads `invalid_grant: Session not active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub(crate) error: String,
    pub(crate) error_description: Option<String>,
    pub(crate) error_uri: Option<String>,
    pub(crate) status: Option<StatusCode>,
    pub(crate) www_authenticate: Option<String>,
}

impl OAuthError {
    /// An error with just a code, as a server or a test would build it.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            error_description: None,
            error_uri: None,
            status: None,
            www_authenticate: None,
        }
    }

    /// Adds a human-readable description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// The error code, such as `invalid_grant` or `invalid_client`.
    #[must_use]
    pub fn error(&self) -> &str {
        &self.error
    }

    /// The server's description, if it sent one.
    #[must_use]
    pub fn error_description(&self) -> Option<&str> {
        self.error_description.as_deref()
    }

    /// The server's link to a page about the error, if it sent one.
    #[must_use]
    pub fn error_uri(&self) -> Option<&str> {
        self.error_uri.as_deref()
    }

    /// The HTTP status of the response that carried the error (`None` when it came another way,
    /// for instance in a redirect).
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The raw `WWW-Authenticate` header of the response, if any.
    #[must_use]
    pub fn www_authenticate(&self) -> Option<&str> {
        self.www_authenticate.as_deref()
    }
}

impl fmt::Display for OAuthError {
    /// The server's words as sent when printable; control characters (CR, LF, ESC, NUL, …)
    /// escaped, so a hostile server cannot forge log lines or drive a terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_controls(&self.error))?;
        if let Some(description) = &self.error_description {
            write!(f, ": {}", escape_controls(description))?;
        }
        Ok(())
    }
}

/// `text` with every control character escaped (`\n`, `\u{1b}`, …); unchanged (and not
/// copied) when it has none.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

impl std::error::Error for OAuthError {}

/// How many bytes of an unexpected body an error keeps.
pub const BODY_EXCERPT_LIMIT: usize = 512;

/// The server misbehaved: the response is not what the exchange calls for.
///
/// `Debug`, like `Display`, leaves out the body excerpt of a 2xx response (it may hold a
/// token).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Neither a success nor an OAuth error: an HTML error page, an empty 502, a 200 that is not
    /// JSON. The body excerpt is shown only for error statuses, because a 2xx body may carry
    /// tokens; [`ResponseError::body_excerpt`] gives it either way.
    #[error("unexpected response: HTTP {status}{}{}", content_type_suffix(.content_type.as_deref()), shown_excerpt(*.status, .body_excerpt))]
    Unexpected {
        /// The HTTP status.
        status: StatusCode,
        /// The `Content-Type` header, if any.
        content_type: Option<String>,
        /// At most [`BODY_EXCERPT_LIMIT`] bytes of the body, lossily decoded.
        body_excerpt: String,
    },
    /// A success response whose content is wrong: a missing `access_token`, an `expires_in`
    /// that is not a number. The reason names the field; values are never quoted.
    #[error("malformed response (HTTP {status}): {reason}")]
    Malformed {
        /// The HTTP status.
        status: StatusCode,
        /// What was wrong, naming the field.
        reason: String,
    },
    /// A discovery document for another issuer than the one asked for (OpenID Connect
    /// Discovery §4.3): a misconfigured or impersonating provider. Check the issuer URL,
    /// trailing slash included.
    #[error("the provider's metadata names issuer {found:?}, not the expected {expected:?}")]
    IssuerMismatch {
        /// The issuer the client asked for.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
}

impl ResponseError {
    /// The body excerpt of an unexpected response. It may hold secrets when the status is 2xx.
    #[must_use]
    pub fn body_excerpt(&self) -> Option<&str> {
        match self {
            Self::Unexpected { body_excerpt, .. } => Some(body_excerpt),
            Self::Malformed { .. } | Self::IssuerMismatch { .. } => None,
        }
    }

    /// The HTTP status of the response.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unexpected { status, .. } | Self::Malformed { status, .. } => *status,
            Self::IssuerMismatch { .. } => StatusCode::OK,
        }
    }
}

impl fmt::Debug for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unexpected {
                status,
                content_type,
                body_excerpt,
            } => {
                let mut s = f.debug_struct("Unexpected");
                s.field("status", status)
                    .field("content_type", content_type);
                if status.is_success() {
                    s.field(
                        "body_excerpt",
                        &format_args!("[hidden: {} bytes]", body_excerpt.len()),
                    );
                } else {
                    s.field("body_excerpt", body_excerpt);
                }
                s.finish()
            }
            Self::Malformed { status, reason } => f
                .debug_struct("Malformed")
                .field("status", status)
                .field("reason", reason)
                .finish(),
            Self::IssuerMismatch { expected, found } => f
                .debug_struct("IssuerMismatch")
                .field("expected", expected)
                .field("found", found)
                .finish(),
        }
    }
}

fn content_type_suffix(content_type: Option<&str>) -> String {
    content_type
        .map(|c| format!(" ({})", escape_controls(c)))
        .unwrap_or_default()
}

fn shown_excerpt(status: StatusCode, excerpt: &str) -> String {
    if status.is_success() || excerpt.is_empty() {
        String::new()
    } else {
        format!(": {}", escape_controls(excerpt))
    }
}

/// The authorization response failed a check (RFC 6749 §4.1.2, §10.12; RFC 9207).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The redirect URL does not parse.
    #[error("the callback URL does not parse")]
    InvalidUrl,
    /// The response has no `state` though the request sent one (RFC 6749 §4.1.2).
    #[error("the authorization response has no state")]
    MissingState,
    /// The `state` differs from the one sent: a forged or stale response (RFC 6749 §10.12).
    #[error("the authorization response's state does not match the request")]
    StateMismatch,
    /// The response's `iss` differs from the expected issuer: a mix-up attack (RFC 9207 §2.4).
    #[error("the authorization response comes from issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The expected issuer.
        expected: String,
        /// The `iss` in the response.
        found: String,
    },
    /// The provider announces `iss` in authorization responses, but this one has none
    /// (RFC 9207 §2.4).
    #[error("the authorization response has no iss though the provider sends one")]
    MissingIssuer,
    /// Neither `code` nor `error`.
    #[error("the authorization response has no code")]
    MissingCode,
}

/// The configuration cannot produce the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The exchange needs an endpoint the configuration lacks: set it, or use discovery.
    #[error("no {0} endpoint is configured")]
    MissingEndpoint(&'static str),
    /// A URL did not parse or has a scheme other than `http`/`https`.
    #[error("invalid {what} URL: {reason}")]
    InvalidUrl {
        /// Which URL.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Plain HTTP to a host that is not loopback: use HTTPS, or opt in explicitly with
    /// `allow_insecure_http`.
    #[error(
        "refusing plain http to non-loopback host {host}: use https or allow insecure http explicitly"
    )]
    InsecureEndpoint {
        /// The host that was refused.
        host: String,
    },
    /// A value cannot be sent in an HTTP header (a control character in a client id, say).
    #[error("{0} cannot be sent in an HTTP header")]
    InvalidHeaderValue(&'static str),
    /// A setting the exchange needs is missing (the redirect URI, the issuer): set it, or
    /// use discovery.
    #[error("no {0} is configured")]
    Missing(&'static str),
    /// A certificate (PEM) could not be read.
    #[error("not a PEM certificate")]
    InvalidCertificate,
    /// The signing key cannot sign (an EC key ring refused at its first use, say); the text
    /// names the check, never the key.
    #[error("the signing key cannot sign: {0}")]
    SigningKey(String),
    /// Two settings that cannot go together (the text says which and what to do instead).
    #[error("{0}")]
    Conflict(&'static str),
}

/// The call does not fit the session's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No token yet: call `fetch_token` or `set_token` first.
    #[error("the session has no token: fetch or set one first")]
    NoToken,
    /// The token expired and the session holds no refresh token and no client-credentials grant
    /// to renew it: fetch a new token.
    #[error("the access token expired and there is nothing to renew it with")]
    TokenExpired,
    /// A refresh was asked for but the token has no refresh token.
    #[error("the token has no refresh token")]
    NoRefreshToken,
    /// The token's type is not `Bearer`, the only type this library can present.
    #[error("unsupported token type {0:?}: only Bearer tokens can be sent")]
    UnsupportedTokenType(String),
    /// The session's token was replaced (by `set_token` or a fetch) while this refresh was in
    /// flight; its answer was dropped. Use the session's current token.
    #[error("the token changed while this refresh was in flight; its answer was dropped")]
    Superseded,
    /// The refresh this call waited for (started by another caller) got no answer from the
    /// token endpoint; that caller has the transport error. Retry later.
    #[error("the token refresh another caller started failed without an answer from the server")]
    RenewalFailed,
    /// An explicit refresh was asked while another refresh is in flight; two refreshes with
    /// one refresh token would make a rotating server revoke the grant. Its result will be
    /// the session's token in a moment.
    #[error("a refresh is already in flight")]
    RefreshInFlight,
    /// The server keeps issuing tokens that are due on arrival: the request gave up after
    /// [`MAX_RENEWALS_PER_REQUEST`](crate::session::MAX_RENEWALS_PER_REQUEST) renewals.
    #[error("the server keeps issuing tokens that are due on arrival")]
    RenewalLoop,
    /// The call needs a validated ID token (its `sub`): complete an OpenID Connect login
    /// (the code exchange with the `openid` scope) first.
    #[error("no validated ID token: complete an OpenID Connect login first")]
    NoIdToken,
    /// A [`Flow`](crate::flow::Flow) was polled while its call was still outstanding: the
    /// driver must hand back the answer (or the failure) first. A bug in the driver.
    #[error("a flow was polled before its call was answered")]
    CallOutstanding,
    /// The request carries a JWT minted per request (a client assertion, a JWT bearer
    /// grant's assertion), which needs the time and an entropy source: build it with the
    /// `*_with` function and a [`Mint`](crate::rfc7523::Mint), or give the session an
    /// [`Entropy`](crate::Entropy) source.
    #[error("this request needs a JWT minted now: give it the time and an entropy source")]
    MintUnavailable,
    /// The entropy source had no randomness to give.
    #[error("the entropy source failed")]
    EntropyUnavailable,
    /// The device code expired before the user approved (RFC 8628 §3.5): start over with a
    /// new device authorization.
    #[error("the device code expired before the user approved")]
    DeviceCodeExpired,
    /// The provider accepts pushed authorization requests only (RFC 9126 §5,
    /// `require_pushed_authorization_requests`): use the pushed authorization URL.
    #[error("the provider requires pushed authorization requests: use pushed_authorization_url")]
    PushedAuthorizationRequired,
    /// The caller cancelled the operation (a device authorization's polling, say).
    #[error("cancelled")]
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_code_colon_description() {
        let e = OAuthError::new("invalid_grant").with_description("Session not active");
        assert_eq!(e.to_string(), "invalid_grant: Session not active");
        assert_eq!(
            Error::from(e).to_string(),
            "invalid_grant: Session not active"
        );
    }

    #[test]
    fn server_text_is_printed_as_sent_but_control_characters_are_escaped() {
        let forged = OAuthError::new("invalid_grant\r\nINFO admin logged in")
            .with_description("bad\u{1b}[2J\u{7}\0 token");
        let shown = forged.to_string();
        assert_eq!(
            shown,
            "invalid_grant\\r\\nINFO admin logged in: bad\\u{1b}[2J\\u{7}\\u{0} token"
        );
        assert!(!shown.chars().any(char::is_control));
        let excerpt = ResponseError::Unexpected {
            status: StatusCode::BAD_GATEWAY,
            content_type: Some("text/html".into()),
            body_excerpt: "<h1>bad\ngateway</h1>".into(),
        };
        assert!(!excerpt.to_string().chars().any(char::is_control));
        assert_eq!(
            OAuthError::new("invalid_grant")
                .with_description("Session not active")
                .to_string(),
            "invalid_grant: Session not active"
        );
    }

    /// Found by the `discovery` fuzz target: a content type may hold tabs.
    #[test]
    fn a_content_type_with_control_characters_is_printed_escaped() {
        let error = ResponseError::Unexpected {
            status: StatusCode::NOT_FOUND,
            content_type: Some("\t\tissuer\t1".into()),
            body_excerpt: "\tN\u{0}".into(),
        };
        assert_eq!(
            error.to_string(),
            "unexpected response: HTTP 404 Not Found (\\t\\tissuer\\t1): \\tN\\u{0}"
        );
    }

    #[test]
    fn display_without_description_has_no_trailing_colon() {
        assert_eq!(
            OAuthError::new("invalid_client").to_string(),
            "invalid_client"
        );
    }

    #[test]
    fn unexpected_body_is_hidden_for_success_statuses() {
        let hidden = ResponseError::Unexpected {
            status: StatusCode::OK,
            content_type: Some("text/plain".into()),
            body_excerpt: "access_token=secret".into(),
        };
        assert_eq!(
            hidden.to_string(),
            "unexpected response: HTTP 200 OK (text/plain)"
        );
        let shown = ResponseError::Unexpected {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: None,
            body_excerpt: "<html>oops</html>".into(),
        };
        assert_eq!(
            shown.to_string(),
            "unexpected response: HTTP 500 Internal Server Error: <html>oops</html>"
        );
    }

    #[test]
    fn invalid_grant_requires_reauthentication() {
        assert!(Error::from(OAuthError::new("invalid_grant")).requires_reauthentication());
        assert!(
            !Error::from(OAuthError::new("temporarily_unavailable")).requires_reauthentication()
        );
        assert!(Error::from(UsageError::TokenExpired).requires_reauthentication());
    }
}
