//! Reading a response: JSON whatever the content type, form-encoded bodies, OAuth errors on any
//! status (RFC 6749 §5.2; some servers send them with 200), and everything else as an
//! unexpected response.

use std::borrow::Cow;
use std::time::SystemTime;

use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{BODY_EXCERPT_LIMIT, Error, OAuthError, ResponseError};
use crate::rfc6750::parse_www_authenticate;
use crate::token::{Token, TokenFields};

/// Parses a token response (RFC 6749 §5.1) into a [`Token`], or its error (§5.2).
///
/// `sent_at` is when the request was *sent*: `expires_at = sent_at + expires_in`, `sent_at`
/// rounded down to the whole second (see [`Token`]).
///
/// # Errors
/// [`Error::OAuth`] when the body has an `error` member (on any status) or, without a body, the
/// `WWW-Authenticate` challenge has one; [`Error::Response`] for anything else that is not a
/// token.
pub fn parse_token_response<B: AsRef<[u8]>>(
    response: &Response<B>,
    sent_at: SystemTime,
) -> Result<Token, Error> {
    let view = ResponseView::of(response);
    // Filled in place: the field collector is large and is never moved.
    let mut fields = TokenFields::default();
    view.decode_success_into(&mut fields)?;
    fields
        .take_token(Some(sent_at))
        .map_err(|reason| view.malformed(reason).into())
}

/// What a body decodes into: a typed field collector, or a plain JSON map.
pub(crate) trait Fields: DeserializeOwned + Default {
    /// Fills `self` from a JSON object; false when the body is not one.
    fn fill_from_json(&mut self, body: &[u8]) -> bool {
        match serde_json::from_slice(body) {
            Ok(parsed) => {
                *self = parsed;
                true
            }
            Err(_) => false,
        }
    }
    fn insert_pair(&mut self, key: Cow<'_, str>, value: Value);
    fn take_error(&mut self) -> Result<Option<ErrorFields>, &'static str>;
}

pub(crate) struct ErrorFields {
    error: String,
    description: Option<String>,
    uri: Option<String>,
}

impl Fields for TokenFields {
    fn fill_from_json(&mut self, body: &[u8]) -> bool {
        self.fill_from_json(body)
    }

    fn insert_pair(&mut self, key: Cow<'_, str>, value: Value) {
        self.insert(key, value);
    }

    fn take_error(&mut self) -> Result<Option<ErrorFields>, &'static str> {
        Ok(self.error.take().map(|error| ErrorFields {
            error,
            description: self.error_description.take(),
            uri: self.error_uri.take(),
        }))
    }
}

impl Fields for Map<String, Value> {
    fn insert_pair(&mut self, key: Cow<'_, str>, value: Value) {
        self.insert(key.into_owned(), value);
    }

    fn take_error(&mut self) -> Result<Option<ErrorFields>, &'static str> {
        let Some(error) = take_text(self, "error")? else {
            return Ok(None);
        };
        Ok(Some(ErrorFields {
            error,
            description: take_text(self, "error_description")?,
            uri: take_text(self, "error_uri")?,
        }))
    }
}

/// Removes member `name` of a JSON object: `None` when absent or null, its text when a
/// string, `Err(name)` when another type.
pub(crate) fn take_text(
    map: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, &'static str> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(name),
    }
}

/// The parts of a response the parsers look at.
pub(crate) struct ResponseView<'a> {
    status: StatusCode,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
}

impl<'a> ResponseView<'a> {
    pub(crate) fn of<B: AsRef<[u8]>>(response: &'a Response<B>) -> Self {
        Self {
            status: response.status(),
            headers: response.headers(),
            body: response.body().as_ref(),
        }
    }

    // Headers are looked up only on the paths that need them: a JSON success reads none.
    fn header(&self, name: http::header::HeaderName) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success()
    }

    fn is_form(&self) -> bool {
        self.header(CONTENT_TYPE).is_some_and(|c| {
            c.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
    }

    /// Decodes a JSON object (whatever the content type) or a form body (when labelled so)
    /// into `fields`; false when the body is neither.
    fn decode_into<F: Fields>(&self, fields: &mut F) -> bool {
        if fields.fill_from_json(self.body) {
            return true;
        }
        if self.is_form() {
            *fields = F::default();
            for (key, value) in url::form_urlencoded::parse(self.body) {
                fields.insert_pair(key, Value::String(value.into_owned()));
            }
            return true;
        }
        false
    }

    /// Decodes a success body into `fields`, turning OAuth errors (any status) and everything
    /// that is not a 2xx with a decodable body into errors.
    pub(crate) fn decode_success_into<F: Fields>(&self, fields: &mut F) -> Result<(), Error> {
        if !self.decode_into(fields) {
            return Err(self.failure());
        }
        if let Some(error) = fields
            .take_error()
            .map_err(|name| self.malformed(format!("{name} is not a string")))?
        {
            return Err(self.oauth_error(error).into());
        }
        if self.is_success() {
            Ok(())
        } else {
            Err(self.failure())
        }
    }

    /// [`decode_success_into`](Self::decode_success_into) for small collectors.
    pub(crate) fn decode_success<F: Fields>(&self) -> Result<F, Error> {
        let mut fields = F::default();
        self.decode_success_into(&mut fields)?;
        Ok(fields)
    }

    /// A response without a usable body: an OAuth error from the `WWW-Authenticate` challenge
    /// (RFC 6750 §3) when it has one, else an unexpected response.
    pub(crate) fn failure(&self) -> Error {
        if !self.is_success() {
            let challenge_error = self.header(WWW_AUTHENTICATE).and_then(|header| {
                parse_www_authenticate(header).into_iter().find_map(|c| {
                    c.param("error").map(|error| ErrorFields {
                        error: error.to_owned(),
                        description: c.param("error_description").map(str::to_owned),
                        uri: c.param("error_uri").map(str::to_owned),
                    })
                })
            });
            if let Some(error) = challenge_error {
                return self.oauth_error(error).into();
            }
        }
        ResponseError::Unexpected {
            status: self.status,
            content_type: self.header(CONTENT_TYPE).map(str::to_owned),
            body_excerpt: excerpt(self.body),
        }
        .into()
    }

    fn oauth_error(&self, fields: ErrorFields) -> OAuthError {
        OAuthError {
            error: fields.error,
            error_description: fields.description,
            error_uri: fields.uri,
            status: Some(self.status),
            www_authenticate: self.header(WWW_AUTHENTICATE).map(str::to_owned),
        }
    }

    pub(crate) fn malformed(&self, reason: impl Into<String>) -> ResponseError {
        ResponseError::Malformed {
            status: self.status,
            reason: reason.into(),
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    let cut = body.len().min(BODY_EXCERPT_LIMIT);
    let mut text = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > cut {
        text.push('…');
    }
    text
}
