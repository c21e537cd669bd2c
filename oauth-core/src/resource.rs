//! A resource request under construction, for adapters whose requests are buffered (so that a
//! request refused with `401 invalid_token` can be replayed once): the URL, headers, query and
//! body checked once, then signed per attempt with the session's [`Bearer`] (RFC 6750 §2).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderValue, Method, Request, Uri};
use url::{Url, form_urlencoded};

use crate::client::ClientConfig;
use crate::error::{ConfigError, Error};
use crate::rfc6750::Bearer;

/// A resource request being built: nothing is checked until [`prepare`](Self::prepare), so
/// builder methods never fail.
///
/// `Debug` shows the method, the URL without its query, and header names only.
pub struct ResourceRequest {
    method: Method,
    target: Result<Uri, ConfigError>,
    extra_query: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    invalid_header: bool,
    timeout: Option<Duration>,
}

/// A checked resource request, signed afresh for each attempt.
#[derive(Debug)]
pub struct PreparedRequest {
    template: Request<Vec<u8>>,
    has_body: bool,
    timeout: Option<Duration>,
}

impl ResourceRequest {
    /// A request with `method` to `url` (an absolute `http` or `https` URL).
    #[must_use]
    pub fn new(method: Method, url: &str) -> Self {
        Self {
            method,
            target: parse_target(url),
            extra_query: String::new(),
            headers: Vec::new(),
            invalid_header: false,
            timeout: None,
        }
    }

    /// Adds a header; an invalid name or value is reported by [`prepare`](Self::prepare).
    pub fn header(&mut self, name: &str, value: &str) {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => self.headers.push((name, value)),
            _ => self.invalid_header = true,
        }
    }

    /// Sets `Content-Type`.
    pub fn content_type(&mut self, value: &'static str) {
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static(value)));
    }

    /// Appends a query parameter.
    pub fn query(&mut self, name: &str, value: &str) {
        form_urlencoded::Serializer::for_suffix(&mut self.extra_query, 0).append_pair(name, value);
    }

    /// A timeout for this request alone (at most [`MAX_TIMEOUT`](crate::MAX_TIMEOUT)).
    pub fn timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout.min(crate::MAX_TIMEOUT));
    }

    /// Checks the request (a valid URL, valid headers, a transport `config` allows to carry
    /// the token) and fixes its `body` (`None`: no body at all, not even `Content-Length: 0`).
    ///
    /// # Errors
    /// [`ConfigError`] naming what is wrong.
    pub fn prepare(
        self,
        config: &ClientConfig,
        body: Option<Vec<u8>>,
    ) -> Result<PreparedRequest, Error> {
        if self.invalid_header {
            return Err(ConfigError::InvalidHeaderValue("request header").into());
        }
        let target = with_query(self.target?, &self.extra_query)?;
        config.check_uri_security(&target)?;
        let has_body = body.is_some();
        let mut template = Request::new(body.unwrap_or_default());
        *template.method_mut() = self.method;
        *template.uri_mut() = target;
        for (name, value) in self.headers {
            template.headers_mut().append(name, value);
        }
        Ok(PreparedRequest {
            template,
            has_body,
            timeout: self.timeout,
        })
    }
}

impl PreparedRequest {
    /// The request signed with `bearer` at `now` (a DPoP-bound token gets its proof),
    /// ready to send.
    ///
    /// # Errors
    /// A DPoP proof could not be made (the entropy source or the key failed).
    pub fn signed(
        &self,
        bearer: &Bearer,
        now: std::time::SystemTime,
    ) -> Result<Request<Vec<u8>>, crate::Error> {
        let mut request = Request::new(self.template.body().clone());
        *request.method_mut() = self.template.method().clone();
        *request.uri_mut() = self.template.uri().clone();
        request.headers_mut().clone_from(self.template.headers());
        bearer.authorize_at(&mut request, now)?;
        Ok(request)
    }

    /// Whether the request was given a body, even an empty one (`call()` sends none at all,
    /// not even `Content-Length: 0`).
    #[must_use]
    pub fn has_body(&self) -> bool {
        self.has_body
    }

    /// The timeout set for this request, if any.
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl fmt::Debug for ResourceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.target.as_ref().ok().map(|uri| {
            let query = uri.query().is_some() || !self.extra_query.is_empty();
            // The authority without any `user:password@`.
            let authority = uri.authority().map_or("", |a| a.as_str());
            let host = authority.rsplit('@').next().unwrap_or_default();
            format!(
                "{}://{host}{}{}",
                uri.scheme_str().unwrap_or_default(),
                uri.path(),
                if query { "?[redacted]" } else { "" }
            )
        });
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ResourceRequest")
            .field("method", &self.method)
            .field("url", &url)
            .field("header_names", &names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// [`check_transport_security`](Self::check_transport_security) for a request URI, without
    /// parsing it again as a URL (the hot path of every resource request).
    ///
    /// # Errors
    /// [`ConfigError::InsecureEndpoint`] for plain http to a non-loopback host.
    pub fn check_uri_security(&self, uri: &Uri) -> Result<(), ConfigError> {
        let host = uri.host().unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if uri.scheme_str() == Some("https") || self.allow_insecure_http || loopback {
            Ok(())
        } else {
            Err(ConfigError::InsecureEndpoint {
                host: host.to_owned(),
            })
        }
    }
}

/// The port written in `uri`'s authority: `Ok(None)` when there is none (or it is empty),
/// `Err` when it is not a number from 0 to 65535. (`http::Uri::port_u16` reads an
/// out-of-range port as no port at all, so `:65616` would silently become `:80`.)
///
/// # Errors
/// [`ConfigError::InvalidUrl`] for an out-of-range port.
pub fn explicit_port(uri: &Uri) -> Result<Option<u16>, ConfigError> {
    let Some(authority) = uri.authority() else {
        return Ok(None);
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    // Past an IPv6 literal's closing bracket, if any.
    let after_host = host_port.rsplit(']').next().unwrap_or(host_port);
    match after_host.rsplit_once(':') {
        None | Some((_, "")) => Ok(None),
        Some((_, port)) => port
            .parse::<u16>()
            .map(Some)
            .map_err(|_| invalid_url("the port is not a number from 0 to 65535")),
    }
}

/// `url` as it may be printed: scheme, host, port and path; no `user:password@`, and the
/// query (which may carry a token or an API key) shown as `?[redacted]`.
#[must_use]
pub fn redacted_url(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path(),
        if url.query().is_some() {
            "?[redacted]"
        } else {
            ""
        }
    )
}

fn invalid_url(reason: impl fmt::Display) -> ConfigError {
    ConfigError::InvalidUrl {
        what: "request",
        reason: reason.to_string(),
    }
}

/// The URI as given when it is already a plain absolute `http(s)` URI (the fast path); else
/// normalised by the URL parser first (IDNA, spaces, …).
fn parse_target(url: &str) -> Result<Uri, ConfigError> {
    let absolute =
        |uri: &Uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some();
    let uri = match Uri::try_from(url).ok().filter(absolute) {
        Some(uri) => uri,
        None => {
            let normalised = Url::parse(url).map_err(invalid_url)?;
            let uri = Uri::try_from(normalised.as_str()).map_err(invalid_url)?;
            if !absolute(&uri) {
                return Err(invalid_url("not an http or https URL with a host"));
            }
            uri
        }
    };
    explicit_port(&uri)?;
    Ok(uri)
}

fn with_query(target: Uri, extra_query: &str) -> Result<Uri, ConfigError> {
    if extra_query.is_empty() {
        return Ok(target);
    }
    let separator = match target.query() {
        Some(query) if !query.is_empty() => "&",
        _ => "",
    };
    let with = format!(
        "{}://{}{}?{}{separator}{extra_query}",
        target.scheme_str().unwrap_or_default(),
        target.authority().map_or("", |a| a.as_str()),
        target.path(),
        target.query().unwrap_or_default(),
    );
    Uri::try_from(with).map_err(invalid_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_out_of_range_are_refused_not_read_as_the_default() {
        let port = |url: &str| explicit_port(&Uri::try_from(url).expect("uri"));
        assert_eq!(port("http://127.0.0.1:8080/x"), Ok(Some(8080)));
        assert_eq!(port("http://[::1]:443/"), Ok(Some(443)));
        assert_eq!(port("http://[::1]/"), Ok(None));
        assert_eq!(port("http://host:/"), Ok(None));
        assert!(port("http://127.0.0.1:65616/").is_err());
        assert!(
            ResourceRequest::new(Method::GET, "http://127.0.0.1:65616/")
                .prepare(&ClientConfig::new("c"), None)
                .is_err()
        );
    }

    #[test]
    fn a_huge_timeout_is_clamped_not_a_panic_later() {
        let mut request = ResourceRequest::new(Method::GET, "http://127.0.0.1/");
        request.timeout(Duration::MAX);
        let prepared = request.prepare(&ClientConfig::new("c"), None).expect("ok");
        assert_eq!(prepared.timeout(), Some(crate::MAX_TIMEOUT));
    }

    #[test]
    fn debug_shows_neither_query_nor_credentials() {
        let mut request =
            ResourceRequest::new(Method::GET, "https://user:PASS@api.example/x?key=K");
        request.header("x-api-key", "SECRET");
        let shown = format!("{request:?}");
        for secret in ["PASS", "K", "SECRET", "user"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
