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

/// Plays the user's side of a device authorization (RFC 8628 §3.3) through the provider's
/// own pages, as a browser would: opens `verification_uri`, enters `user_code`, and then
/// confirms (`approve`: the provider's login and consent follow, then its success page) or
/// aborts (the device's next poll gets `access_denied`).
///
/// # Errors
/// Transport errors, a page without the form the provider should show, or an unexpected
/// status on the way.
pub fn device_verification(
    verification_uri: &str,
    user_code: &str,
    approve: bool,
) -> Result<(), HarnessError> {
    let protocol = |reason: String| HarnessError::Protocol {
        context: "device verification".into(),
        reason,
    };
    let mut agent = Agent::default();
    let url = Url::parse(verification_uri).map_err(|e| protocol(e.to_string()))?;
    let page = agent.expect_page(&url, None)?;
    let xsrf = hidden_xsrf(&page).ok_or_else(|| protocol("no xsrf in the code form".into()))?;
    let form = |extra: Option<(&str, &str)>, xsrf: &str| {
        let mut form = oauth_core::url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("xsrf", xsrf)
            .append_pair("user_code", user_code);
        if let Some((name, value)) = extra {
            form.append_pair(name, value);
        }
        form.finish()
    };
    let confirm_page = agent.expect_page(&url, Some(form(None, &xsrf)))?;
    let xsrf = hidden_xsrf(&confirm_page)
        .ok_or_else(|| protocol("no xsrf in the confirmation form".into()))?;
    if !approve {
        agent.send(&url, Some(form(Some(("abort", "yes")), &xsrf)))?;
        return Ok(());
    }
    let mut response = agent.send(&url, Some(form(Some(("confirm", "yes")), &xsrf)))?;
    let mut at = url;
    for _ in 0..MAX_REDIRECTS {
        if !response.status().is_redirection() {
            let page = String::from_utf8_lossy(response.body()).into_owned();
            return if response.status().is_success() && page.contains("Sign-in Success") {
                Ok(())
            } else {
                Err(protocol(format!(
                    "expected the success page, got HTTP {}: {}",
                    response.status(),
                    page.chars().take(300).collect::<String>()
                )))
            };
        }
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| protocol("redirect without Location".into()))?;
        at = at.join(location).map_err(|e| protocol(e.to_string()))?;
        response = agent.send(&at, None)?;
    }
    Err(protocol(format!("more than {MAX_REDIRECTS} redirects")))
}

fn hidden_xsrf(page: &str) -> Option<String> {
    let marker = "name=\"xsrf\" value=\"";
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_owned())
}

/// GETs (or POSTs a form) with a cookie jar.
#[derive(Default)]
struct Agent {
    cookies: HashMap<String, String>,
}

impl Agent {
    fn send(
        &mut self,
        url: &Url,
        form: Option<String>,
    ) -> Result<http::Response<Vec<u8>>, HarnessError> {
        let mut request = match &form {
            Some(_) => Request::post(url.as_str()).header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            ),
            None => Request::get(url.as_str()),
        };
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            request = request.header(http::header::COOKIE, jar.join("; "));
        }
        let request = request
            .body(form.unwrap_or_default().into_bytes())
            .map_err(|e| HarnessError::Protocol {
                context: "device verification".into(),
                reason: e.to_string(),
            })?;
        let response = http1::send(&request, Duration::from_secs(10))?;
        for value in response.headers().get_all(http::header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            if let Some((name, rest)) = text.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default();
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
        Ok(response)
    }

    fn expect_page(&mut self, url: &Url, form: Option<String>) -> Result<String, HarnessError> {
        let response = self.send(url, form)?;
        let page = String::from_utf8_lossy(response.body()).into_owned();
        if response.status().is_success() {
            Ok(page)
        } else {
            Err(HarnessError::Protocol {
                context: "device verification".into(),
                reason: format!(
                    "HTTP {} at {}: {}",
                    response.status(),
                    url.path(),
                    page.chars().take(300).collect::<String>()
                ),
            })
        }
    }
}
