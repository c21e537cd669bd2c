//! Bearer tokens (RFC 6750): presenting them (§2) and reading `WWW-Authenticate` challenges
//! (§3, with the challenge grammar of RFC 9110 §11.6.1).

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;

use crate::client::BearerPlacement;
use crate::error::Error;
use crate::rfc9449::{DPOP_HEADER, DpopSigner};
use crate::secret::AccessToken;

/// A token ready to be presented, with the session generation it belongs to: a bearer token
/// (RFC 6750), or a DPoP-bound token (RFC 9449) that needs a proof per request.
///
/// `Debug` hides the token.
#[derive(Clone)]
pub struct Bearer {
    pub(crate) token: Arc<AccessToken>,
    pub(crate) header: HeaderValue,
    pub(crate) placement: BearerPlacement,
    pub(crate) generation: u64,
    pub(crate) dpop: Option<DpopSigner>,
}

impl PartialEq for Bearer {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token
            && self.header == other.header
            && self.placement == other.placement
            && self.generation == other.generation
            && self.dpop.is_some() == other.dpop.is_some()
    }
}

impl Eq for Bearer {}

impl Bearer {
    pub(crate) fn new(
        token: &AccessToken,
        placement: BearerPlacement,
        generation: u64,
    ) -> Option<Self> {
        let mut header = HeaderValue::try_from(format!("Bearer {}", token.secret())).ok()?;
        header.set_sensitive(true);
        Some(Self {
            token: Arc::new(token.clone()),
            header,
            placement,
            generation,
            dpop: None,
        })
    }

    /// The same token as a DPoP-bound one (RFC 9449 §7.1): `Authorization: DPoP …`, always in
    /// the header, with a proof per request.
    pub(crate) fn into_dpop(mut self, signer: DpopSigner) -> Option<Self> {
        let mut header = HeaderValue::try_from(format!("DPoP {}", self.token.secret())).ok()?;
        header.set_sensitive(true);
        self.header = header;
        self.placement = BearerPlacement::Header;
        self.dpop = Some(signer);
        Some(self)
    }

    /// Whether the token is DPoP-bound: every request needs a proof
    /// ([`dpop_proof`](Self::dpop_proof), or [`authorize_at`](Self::authorize_at) does it).
    #[must_use]
    pub fn is_dpop(&self) -> bool {
        self.dpop.is_some()
    }

    /// The `DPoP` header value for a request with `method` to `uri` at `now`, for a
    /// DPoP-bound token (with `ath` and the origin's latest nonce); `None` for a bearer token.
    ///
    /// # Errors
    /// The entropy source or the key failed.
    pub fn dpop_proof(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        now: SystemTime,
    ) -> Result<Option<HeaderValue>, Error> {
        self.dpop
            .as_ref()
            .map(|signer| signer.header(method, uri, now))
            .transpose()
    }

    /// [`authorize`](Self::authorize), and for a DPoP-bound token its proof for this request
    /// at `now`.
    ///
    /// # Errors
    /// As [`dpop_proof`](Self::dpop_proof).
    pub fn authorize_at(
        &self,
        request: &mut http::Request<Vec<u8>>,
        now: SystemTime,
    ) -> Result<(), Error> {
        self.authorize(request);
        if let Some(proof) = self.dpop_proof(request.method(), request.uri(), now)? {
            request.headers_mut().insert(DPOP_HEADER, proof);
        }
        Ok(())
    }

    /// `Bearer <token>` (or `DPoP <token>`) for the `Authorization` header (§2.1), marked
    /// sensitive.
    #[must_use]
    pub fn header_value(&self) -> &HeaderValue {
        &self.header
    }

    /// The access token, for query (§2.3) or form-body (§2.2) placement.
    #[must_use]
    pub fn access_token(&self) -> &AccessToken {
        &self.token
    }

    /// Where the configuration wants the token.
    #[must_use]
    pub fn placement(&self) -> BearerPlacement {
        self.placement
    }

    /// The session generation the token belongs to; give it back with the resource response so
    /// the session can tell whether someone already replaced the token.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Puts the token into an `http` request where the configuration says: the `Authorization`
    /// header, an `access_token` query parameter, or an `access_token` member appended to a
    /// form-encoded body. A DPoP-bound token also needs its proof: use
    /// [`authorize_at`](Self::authorize_at).
    pub fn authorize(&self, request: &mut http::Request<Vec<u8>>) {
        match self.placement {
            BearerPlacement::Header => {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, self.header.clone());
            }
            BearerPlacement::Query => {
                let uri = request.uri().to_string();
                let separator = if uri.contains('?') { '&' } else { '?' };
                let pair = crate::client::form_encode(self.token.secret());
                if let Ok(new_uri) = format!("{uri}{separator}access_token={pair}").parse() {
                    *request.uri_mut() = new_uri;
                }
            }
            BearerPlacement::FormBody => self.append_to_form(request.body_mut()),
        }
    }

    /// Adds `access_token=…` to a URL's query (RFC 6750 §2.3), for clients that build requests
    /// their own way.
    pub fn append_to_query(&self, url: &mut url::Url) {
        url.query_pairs_mut()
            .append_pair("access_token", self.token.secret());
    }

    /// Appends `access_token=…` to a form-encoded body (RFC 6750 §2.2).
    pub fn append_to_form(&self, body: &mut Vec<u8>) {
        if !body.is_empty() {
            body.push(b'&');
        }
        body.extend_from_slice(b"access_token=");
        body.extend_from_slice(crate::client::form_encode(self.token.secret()).as_bytes());
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bearer")
            .field("placement", &self.placement)
            .field("generation", &self.generation)
            .field("dpop", &self.dpop.is_some())
            .finish_non_exhaustive()
    }
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The auth scheme as sent (`Bearer`, `Basic`, …); compare it case-insensitively.
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// A parameter's value; names are matched case-insensitively.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The token68 form of the challenge, if it used one.
    #[must_use]
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// Whether this is `Bearer error="invalid_token"`: the token is expired, revoked or
    /// malformed, and a refresh may help (RFC 6750 §3.1).
    #[must_use]
    pub fn is_bearer_invalid_token(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer") && self.param("error") == Some("invalid_token")
    }
}

/// Parses a `WWW-Authenticate` value into its challenges. Never fails: what does not parse is
/// skipped.
#[must_use]
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut cursor = Cursor {
        bytes: value.as_bytes(),
        at: 0,
    };
    let mut challenges = Vec::new();
    loop {
        cursor.skip(|b| b == b',' || is_space(b));
        if cursor.at_end() {
            break;
        }
        let Some(scheme) = cursor.token() else {
            cursor.at += 1;
            continue;
        };
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        cursor.skip(is_space);
        let before = cursor.at;
        if let Some(token68) = cursor.token68() {
            cursor.skip(is_space);
            if cursor.at_end() || cursor.peek() == Some(b',') {
                challenge.token68 = Some(token68);
                challenges.push(challenge);
                continue;
            }
            cursor.at = before;
        }
        loop {
            cursor.skip(is_space);
            let start = cursor.at;
            let Some(name) = cursor.token() else { break };
            cursor.skip(is_space);
            if cursor.peek() != Some(b'=') {
                // A token without `=` starts the next challenge.
                cursor.at = start;
                break;
            }
            cursor.at += 1;
            cursor.skip(is_space);
            let value = if cursor.peek() == Some(b'"') {
                cursor.quoted()
            } else {
                cursor.token().unwrap_or_default()
            };
            challenge.params.push((name, value));
            cursor.skip(is_space);
            if cursor.peek() == Some(b',') {
                cursor.at += 1;
            } else {
                break;
            }
        }
        challenges.push(challenge);
    }
    challenges
}

/// Whether any `WWW-Authenticate` header of a response says `Bearer error="invalid_token"`.
#[must_use]
pub fn is_invalid_token_challenge(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            parse_www_authenticate(v)
                .iter()
                .any(Challenge::is_bearer_invalid_token)
        })
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&what) {
            self.at += 1;
        }
    }

    fn take(&mut self, what: impl Fn(u8) -> bool) -> &str {
        let start = self.at;
        self.skip(what);
        // Only ASCII bytes are taken, so the slice is valid UTF-8.
        std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default()
    }

    fn token(&mut self) -> Option<String> {
        let token = self.take(is_tchar);
        (!token.is_empty()).then(|| token.to_owned())
    }

    fn token68(&mut self) -> Option<String> {
        let start = self.at;
        self.skip(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if self.at == start {
            return None;
        }
        self.skip(|b| b == b'=');
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .map(str::to_owned)
    }

    fn quoted(&mut self) -> String {
        self.at += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.at += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn bearer_invalid_token_with_realm_and_description() {
        let c = parse_www_authenticate(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme(), "Bearer");
        assert_eq!(
            params(&c[0]),
            [
                ("realm", "example"),
                ("error", "invalid_token"),
                ("error_description", "The access token expired")
            ]
        );
        assert!(c[0].is_bearer_invalid_token());
    }

    #[test]
    fn several_challenges_and_token68() {
        let c = parse_www_authenticate(
            r#"Basic realm="a\"b", Bearer error=invalid_token, Negotiate abc=="#,
        );
        assert_eq!(c.len(), 3);
        assert_eq!(params(&c[0]), [("realm", "a\"b")]);
        assert!(c[1].is_bearer_invalid_token());
        assert_eq!(c[2].token68(), Some("abc=="));
    }

    #[test]
    fn bare_bearer_has_no_error() {
        let c = parse_www_authenticate("Bearer");
        assert_eq!(c.len(), 1);
        assert!(!c[0].is_bearer_invalid_token());
    }

    #[test]
    fn header_placement_sets_a_sensitive_authorization() {
        let bearer =
            Bearer::new(&AccessToken::new("abc"), BearerPlacement::Header, 3).expect("valid");
        let mut request = http::Request::new(Vec::new());
        bearer.authorize(&mut request);
        let value = &request.headers()[http::header::AUTHORIZATION];
        assert_eq!(value, "Bearer abc");
        assert!(value.is_sensitive());
        assert_eq!(
            format!("{bearer:?}"),
            "Bearer { placement: Header, generation: 3, dpop: false, .. }"
        );
    }

    #[test]
    fn query_and_form_placement() {
        let query =
            Bearer::new(&AccessToken::new("a b"), BearerPlacement::Query, 0).expect("valid");
        let mut request = http::Request::builder()
            .uri("https://rs.example/x?y=1")
            .body(Vec::new())
            .expect("request");
        query.authorize(&mut request);
        assert_eq!(request.uri(), "https://rs.example/x?y=1&access_token=a+b");

        let form =
            Bearer::new(&AccessToken::new("t"), BearerPlacement::FormBody, 0).expect("valid");
        let mut request = http::Request::new(b"q=1".to_vec());
        form.authorize(&mut request);
        assert_eq!(request.body(), b"q=1&access_token=t");
    }
}
