//! What the fuzz targets share: a server's reply built from fuzzer bytes, and the check that an
//! error's text is printable.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;

/// A reply a server could send: any status, a content type from the usual ones or any, an
/// optional `WWW-Authenticate`, any body.
#[derive(Debug, Arbitrary)]
pub struct Reply {
    status: u16,
    content_type: ContentType,
    www_authenticate: Option<String>,
    body: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum ContentType {
    None,
    Json,
    Form,
    Html,
    Other(String),
}

impl Reply {
    /// The reply as an `http` response (invalid header values are left out).
    pub fn response(&self) -> http::Response<Vec<u8>> {
        let status = http::StatusCode::from_u16(self.status % 500 + 100).unwrap_or_default();
        let mut response = http::Response::new(self.body.clone());
        *response.status_mut() = status;
        let content_type = match &self.content_type {
            ContentType::None => None,
            ContentType::Json => Some("application/json"),
            ContentType::Form => Some("application/x-www-form-urlencoded"),
            ContentType::Html => Some("text/html"),
            ContentType::Other(other) => Some(other.as_str()),
        };
        let headers = response.headers_mut();
        if let Some(Ok(value)) = content_type.map(http::HeaderValue::from_str) {
            headers.insert(http::header::CONTENT_TYPE, value);
        }
        if let Some(Ok(value)) = self
            .www_authenticate
            .as_deref()
            .map(http::HeaderValue::from_str)
        {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A fixed moment: 2026-02-23T08:17:50Z.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_771_834_670)
}

/// Panics (a finding) when an error's `Display` or `Debug` holds a control character a
/// server could have sent.
pub fn assert_printable(error: &oauth_core::Error) {
    let shown = format!("{error}");
    assert!(
        !shown.chars().any(char::is_control),
        "control character in {shown:?}"
    );
    let debug = format!("{error:?}");
    assert!(
        !debug.chars().any(|c| c.is_control() && c != '\n'),
        "{debug:?}"
    );
}
