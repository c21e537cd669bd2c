//! Token introspection (RFC 7662): the request (§2.1) and the typed response (§2.2).

use std::time::{SystemTime, UNIX_EPOCH};

use http::{Request, Response};
use serde_json::{Map, Value};

use crate::client::ClientConfig;
use crate::error::Error;
use crate::rfc6749::PreparedPost;
use crate::rfc6749::response::{ResponseView, take_text};
use crate::rfc7009::TokenRef;
use crate::rfc7523::Mint;
use crate::token::seconds;

/// Builds an introspection request (RFC 7662 §2.1).
///
/// # Errors
/// [`crate::ConfigError`] when the introspection endpoint is missing or insecure;
/// [`crate::UsageError::MintUnavailable`] for a client that authenticates with a JWT (use
/// [`introspection_request_with`]).
pub fn introspection_request(
    config: &ClientConfig,
    token: TokenRef<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    introspection_request_with(config, token, &Mint::NONE)
}

/// [`introspection_request`] for a client that authenticates with a JWT minted now.
///
/// # Errors
/// As [`introspection_request`]; [`crate::ConfigError::SigningKey`] when the key cannot sign.
pub fn introspection_request_with(
    config: &ClientConfig,
    token: TokenRef<'_>,
    mint: &Mint<'_>,
) -> Result<Request<Vec<u8>>, Error> {
    prepare_introspection(config, token)?.finish(config, mint)
}

pub(crate) fn prepare_introspection(
    config: &ClientConfig,
    token: TokenRef<'_>,
) -> Result<PreparedPost, Error> {
    PreparedPost::new(
        config,
        "introspection",
        config.introspection_endpoint.as_ref(),
        |form| token.append_to(form),
    )
}

/// An introspection response (RFC 7662 §2.2). Members other than the ones typed here are in
/// [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq)]
pub struct Introspection {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    token_type: Option<String>,
    exp: Option<SystemTime>,
    iat: Option<SystemTime>,
    nbf: Option<SystemTime>,
    sub: Option<String>,
    aud: Vec<String>,
    iss: Option<String>,
    jti: Option<String>,
    extra: Map<String, Value>,
}

impl Introspection {
    /// Whether the token is active. Every other member is meaningful only when it is.
    #[must_use]
    pub fn active(&self) -> bool {
        self.active
    }
    /// The token's scope.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
    /// The client the token was issued to.
    #[must_use]
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }
    /// The resource owner's human-readable name.
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }
    /// The token type.
    #[must_use]
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }
    /// Expiry.
    #[must_use]
    pub fn exp(&self) -> Option<SystemTime> {
        self.exp
    }
    /// Issue time.
    #[must_use]
    pub fn iat(&self) -> Option<SystemTime> {
        self.iat
    }
    /// Not-before time.
    #[must_use]
    pub fn nbf(&self) -> Option<SystemTime> {
        self.nbf
    }
    /// The subject.
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }
    /// The audiences (a single string is read as one audience).
    #[must_use]
    pub fn aud(&self) -> &[String] {
        &self.aud
    }
    /// The issuer.
    #[must_use]
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }
    /// The token identifier.
    #[must_use]
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }
    /// Every other member.
    #[must_use]
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
}

/// Reads an introspection response (RFC 7662 §2.2, errors §2.3).
///
/// # Errors
/// [`Error::OAuth`] for an error response, [`Error::Response`] when the body is not an
/// introspection object (no boolean `active`, a mistyped member).
pub fn parse_introspection_response<B: AsRef<[u8]>>(
    response: &Response<B>,
) -> Result<Introspection, Error> {
    let view = ResponseView::of(response);
    let mut map: Map<String, Value> = view.decode_success()?;
    let mut text = |name: &'static str| {
        take_text(&mut map, name).map_err(|name| view.malformed(format!("{name} is not a string")))
    };
    let scope = text("scope")?;
    let client_id = text("client_id")?;
    let username = text("username")?;
    let token_type = text("token_type")?;
    let sub = text("sub")?;
    let iss = text("iss")?;
    let jti = text("jti")?;
    let active = match map.remove("active") {
        Some(Value::Bool(b)) => b,
        // Form bodies and lax servers send the boolean as a string.
        Some(Value::String(s)) if s == "true" => true,
        Some(Value::String(s)) if s == "false" => false,
        _ => return Err(view.malformed("active is missing or not a boolean").into()),
    };
    let mut time = |name: &'static str| match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => seconds(&v, name)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .map(Some)
            .ok_or_else(|| view.malformed(format!("{name} is not a timestamp"))),
    };
    let exp = time("exp")?;
    let iat = time("iat")?;
    let nbf = time("nbf")?;
    let aud = match map.remove("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(view.malformed("aud holds a value that is not a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(view.malformed("aud is not a string or an array").into()),
    };
    Ok(Introspection {
        active,
        scope,
        client_id,
        username,
        token_type,
        exp,
        iat,
        nbf,
        sub,
        aud,
        iss,
        jti,
        extra: map,
    })
}
