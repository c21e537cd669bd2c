//! A headless user agent for the authorization code flow: it follows the provider's
//! redirects with a cookie jar, as a browser would, until the provider redirects to the
//! client's redirect URI, and returns that URL (the callback the client must handle).
//!
//! The test server logs the user in and grants consent without forms (see
//! `tests/server/README.md`), so redirects alone reach the callback.

use std::collections::HashMap;
use std::time::Duration;

use http::Request;
use oauth_core::url::Url;

use crate::HarnessError;
use crate::http1;

/// The most redirects followed before giving up (the test server needs three).
pub const MAX_REDIRECTS: usize = 10;

/// Follows redirects from `authorization_url` until one leaves for `redirect_uri`'s origin
/// and path, and returns that URL.
///
/// # Errors
/// Transport errors, a non-redirect answer before the callback, or more than
/// [`MAX_REDIRECTS`] redirects.
pub fn follow_to_callback(
    authorization_url: &str,
    redirect_uri: &str,
) -> Result<String, HarnessError> {
    let protocol = |reason: String| HarnessError::Protocol {
        context: "headless login".into(),
        reason,
    };
    let mut cookies: HashMap<String, String> = HashMap::new();
    let mut url = Url::parse(authorization_url).map_err(|e| protocol(e.to_string()))?;
    for _ in 0..MAX_REDIRECTS {
        let mut request = Request::get(url.as_str());
        if !cookies.is_empty() {
            let jar: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request = request.header(http::header::COOKIE, jar.join("; "));
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| protocol(e.to_string()))?;
        let response = http1::send(&request, Duration::from_secs(10))?;
        for value in response.headers().get_all(http::header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            if let Some((name, rest)) = text.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default();
                cookies.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        if !response.status().is_redirection() {
            return Err(protocol(format!(
                "expected a redirect from {}, got HTTP {}: {}",
                url.path(),
                response.status(),
                String::from_utf8_lossy(response.body())
                    .chars()
                    .take(300)
                    .collect::<String>()
            )));
        }
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| protocol("redirect without Location".into()))?;
        let next = url.join(location).map_err(|e| protocol(e.to_string()))?;
        if next.as_str().starts_with(redirect_uri) {
            return Ok(next.into());
        }
        url = next;
    }
    Err(protocol(format!("more than {MAX_REDIRECTS} redirects")))
}
