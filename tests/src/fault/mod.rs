//! A fault-injection stub server: plain HTTP/1.1 on `127.0.0.1`, answering from a script of
//! [`Fault`]s, one per request, and recording every request it reads.
//!
//! It speaks just enough HTTP/1.1 (RFC 9112) for clients under test: keep-alive (several
//! requests on one connection, bodies read by `Content-Length` or chunked coding,
//! `Expect: 100-continue` answered), and answers that are correct, wrong on purpose (an HTML
//! 500, an OAuth error with 200, a string `expires_in`), slow, cut off, or too large.
//!
//! ```
//! use oauth_tests::fault::{Fault, FaultServer};
//! use std::time::Duration;
//!
//! let stub = FaultServer::start()?;
//! stub.push(Fault::json_error_with_200());
//! let request = http::Request::post(stub.url("/token")).body(b"grant_type=password".to_vec())?;
//! let response = oauth_tests::http1::send(&request, Duration::from_secs(5))?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(stub.requests()[0].body, b"grant_type=password");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use http::{HeaderMap, Method};

mod server;

pub use server::FaultServer;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Fault {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    Slow {
        delay: Duration,
        then: Box<Fault>,
    },
    DropMidResponse,
    CloseWithoutResponse,
    Oversized(usize),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Body {
    Fixed(Vec<u8>),
    /// A token numbered when it is sent.
    Token(TokenShape),
}

#[derive(Debug, Clone, Copy)]
enum TokenShape {
    Json,
    StringExpiresIn,
    Form,
}

const JSON: &str = "application/json";

impl Fault {
    fn answer(status: u16, headers: Vec<(String, String)>, body: Body) -> Self {
        Self {
            kind: Kind::Answer {
                status,
                headers,
                body,
            },
        }
    }

    /// `status` with a `Content-Type` and a body.
    pub fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::answer(
            status,
            vec![("Content-Type".into(), content_type.into())],
            Body::Fixed(body.into()),
        )
    }

    /// A proxy's HTML error page: `500`, `text/html`.
    #[must_use]
    pub fn html_500() -> Self {
        Self::respond(
            500,
            "text/html; charset=utf-8",
            "<html><head><title>500 Internal Server Error</title></head>\
             <body><h1>Internal Server Error</h1></body></html>",
        )
    }

    /// An OAuth error sent with status 200, as some servers do:
    /// `{"error":"invalid_grant","error_description":"error sent with HTTP 200"}`.
    #[must_use]
    pub fn json_error_with_200() -> Self {
        Self::respond(
            200,
            JSON,
            r#"{"error":"invalid_grant","error_description":"error sent with HTTP 200"}"#,
        )
    }

    /// A normal token response: `200` JSON with `access_token` `stub-at-N`, `refresh_token`
    /// `stub-rt-N`, `expires_in` 3600, where N counts the tokens this server sent (from 1).
    #[must_use]
    pub fn token() -> Self {
        Self::token_shaped(TokenShape::Json)
    }

    /// Like [`token`](Self::token), but with `"expires_in":"3600"` (a string).
    #[must_use]
    pub fn token_with_string_expires_in() -> Self {
        Self::token_shaped(TokenShape::StringExpiresIn)
    }

    /// Like [`token`](Self::token), as `application/x-www-form-urlencoded` (GitHub's default).
    #[must_use]
    pub fn form_encoded_token() -> Self {
        Self::token_shaped(TokenShape::Form)
    }

    fn token_shaped(shape: TokenShape) -> Self {
        let content_type = match shape {
            TokenShape::Form => "application/x-www-form-urlencoded",
            TokenShape::Json | TokenShape::StringExpiresIn => JSON,
        };
        Self::answer(
            200,
            vec![("Content-Type".into(), content_type.into())],
            Body::Token(shape),
        )
    }

    /// Waits `delay` after reading the request, then answers `then`: a reply slower than a
    /// client timeout shorter than `delay`.
    #[must_use]
    pub fn slow(delay: Duration, then: Self) -> Self {
        Self {
            kind: Kind::Slow {
                delay,
                then: Box::new(then),
            },
        }
    }

    /// Writes the status line and part of the headers, then closes the connection.
    #[must_use]
    pub fn drop_mid_response() -> Self {
        Self {
            kind: Kind::DropMidResponse,
        }
    }

    /// Reads the request and closes the connection without a byte of answer.
    #[must_use]
    pub fn close_without_response() -> Self {
        Self {
            kind: Kind::CloseWithoutResponse,
        }
    }

    /// `200` JSON with a body of `bytes` bytes (announced by `Content-Length`), streamed in
    /// pieces; the connection closes afterwards (or as soon as the client stops reading).
    #[must_use]
    pub fn oversized(bytes: usize) -> Self {
        Self {
            kind: Kind::Oversized(bytes),
        }
    }

    /// `401` with `WWW-Authenticate: Bearer error="invalid_token"` and an empty body, as a
    /// resource server answers an expired or revoked token (RFC 6750 §3.1).
    #[must_use]
    pub fn unauthorized_invalid_token() -> Self {
        Self::answer(
            401,
            vec![(
                "WWW-Authenticate".into(),
                r#"Bearer error="invalid_token""#.into(),
            )],
            Body::Fixed(Vec::new()),
        )
    }

    /// A redirect: `status` (301, 302, 303, 307, 308) with `Location: location` and no body.
    #[must_use]
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::answer(
            status,
            vec![("Location".into(), location.into())],
            Body::Fixed(Vec::new()),
        )
    }

    /// Writes `bytes` verbatim, then closes the connection: for framings the other
    /// constructors do not produce (chunked coding, a body ended by close, `100 Continue`).
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            kind: Kind::Raw(bytes.into()),
        }
    }

    /// Adds a header to an answer (for [`slow`](Self::slow), to the answer it delays). Faults
    /// that break the connection or write raw bytes ignore it.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match &mut self.kind {
            Kind::Answer { headers, .. } => headers.push((name.into(), value.into())),
            Kind::Slow { then, .. } => **then = then.as_ref().clone().with_header(name, value),
            Kind::DropMidResponse
            | Kind::CloseWithoutResponse
            | Kind::Oversized(_)
            | Kind::Raw(_) => {}
        }
        self
    }
}

/// A request the stub read.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: Method,
    /// The request target as sent: path and query.
    pub path: String,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body, decoded if it was chunked.
    pub body: Vec<u8>,
    /// Which connection it came on: 1 for the first one the stub accepted, and so on.
    pub connection: usize,
}

impl Recorded {
    /// A header's value, if present and visible ASCII.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as UTF-8 (lossy).
    #[must_use]
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A value of the form-encoded body.
    #[must_use]
    pub fn form_value(&self, name: &str) -> Option<String> {
        oauth_core::url::form_urlencoded::parse(&self.body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}
