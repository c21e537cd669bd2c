//! The token a session holds (RFC 6749 §5.1), with absolute times and every extra field kept.
//!
//! A token is parsed from a server response by [`parse_token_response`](crate::parse_token_response),
//! which needs the time the request was *sent*: `expires_at = sent_at + expires_in`, with
//! `sent_at` rounded down to the whole second. Counting from the sending (not the arrival)
//! keeps network delay from stretching the token's life; the rounding covers servers that count
//! lifetimes in whole seconds from a truncated `iat` (oidc-provider, every JWT `exp`), which
//! would otherwise expire the token up to a second before the client expects. With clocks in
//! step, the client never believes a token lives longer than the server does.
//!
//! `Serialize`/`Deserialize` give a flat JSON object for persistence, close to what Authlib
//! stores: `access_token`, `token_type`, `expires_at` and `issued_at` (whole Unix seconds,
//! rounded down), `refresh_token`, `scope`, `id_token`, then every extra field as received.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::{AccessToken, IdToken, RefreshToken};

mod extra;
mod fields;

pub use extra::ExtraFields;
pub(crate) use fields::{Key, Text, TokenFields, seconds};

/// An access token with what came with it.
#[derive(Clone, PartialEq)]
pub struct Token {
    access_token: AccessToken,
    token_type: TokenType,
    issued_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    refresh_token: Option<RefreshToken>,
    scope: Option<Box<str>>,
    id_token: Option<IdToken>,
    extra: ExtraFields,
}

/// `Bearer` in any spelling, without an allocation, or what else the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenType {
    Bearer,
    Other(Box<str>),
}

impl TokenType {
    fn parse(value: &str) -> Self {
        if value.eq_ignore_ascii_case("bearer") {
            Self::Bearer
        } else {
            Self::Other(value.into())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Bearer => "Bearer",
            Self::Other(other) => other,
        }
    }
}

impl Token {
    /// A bearer token with no expiry, refresh token or scope; add them with the `with_*` methods.
    pub fn bearer(access_token: impl Into<AccessToken>) -> Self {
        Self {
            access_token: access_token.into(),
            token_type: TokenType::Bearer,
            issued_at: None,
            expires_at: None,
            refresh_token: None,
            scope: None,
            id_token: None,
            extra: ExtraFields::default(),
        }
    }

    /// Sets when the token was issued (the time its request was sent) and when it expires.
    #[must_use]
    pub fn with_lifetime(mut self, issued_at: SystemTime, expires_at: SystemTime) -> Self {
        self.issued_at = Some(issued_at);
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: impl Into<RefreshToken>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// Sets the scope.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into().into_boxed_str());
        self
    }

    /// The access token.
    #[must_use]
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type: `Bearer` whatever the server's spelling of it (RFC 6749 §5.1 compares
    /// it case-insensitively), else as the server sent it.
    #[must_use]
    pub fn token_type(&self) -> &str {
        self.token_type.as_str()
    }

    /// Whether the token type is `Bearer`, compared case-insensitively (RFC 6749 §5.1).
    #[must_use]
    pub fn is_bearer(&self) -> bool {
        self.token_type == TokenType::Bearer
    }

    /// When the token request was sent, if known.
    #[must_use]
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.issued_at
    }

    /// When the token expires, if the server said.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Time left at `now` (zero once expired), or `None` when the server gave no lifetime.
    #[must_use]
    pub fn expires_in(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at
            .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// The refresh token, if any.
    #[must_use]
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The granted scope, if the server said (or, after a refresh that did not say, the scope
    /// before it).
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The OpenID Connect ID token, if any. Not validated here.
    #[must_use]
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
    }

    /// The type of the token issued by a token exchange (RFC 8693 §2.2.1), a
    /// [`token_type`](crate::rfc8693::token_type) URI.
    #[must_use]
    pub fn issued_token_type(&self) -> Option<&str> {
        self.extra.get("issued_token_type").and_then(|v| v.as_str())
    }

    /// Every other member of the token response (`session_state`, `refresh_expires_in`, …).
    #[must_use]
    pub fn extra(&self) -> &ExtraFields {
        &self.extra
    }

    /// Keeps what a refresh response may omit: the refresh token (RFC 6749 §6: the server
    /// *may* issue a new one) and the scope (§5.1: omitted means unchanged).
    pub(crate) fn inherit_from(&mut self, previous: &Self) {
        if self.refresh_token.is_none() {
            self.refresh_token.clone_from(&previous.refresh_token);
        }
        if self.scope.is_none() {
            self.scope.clone_from(&previous.scope);
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Extra values are the server's and may be sensitive: show their names only.
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type())
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token)
            .field("extra", &self.extra)
            .finish()
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("access_token", &self.access_token)?;
        map.serialize_entry("token_type", self.token_type())?;
        if let Some(at) = self.expires_at {
            map.serialize_entry("expires_at", &unix_seconds(at))?;
        }
        if let Some(at) = self.issued_at {
            map.serialize_entry("issued_at", &unix_seconds(at))?;
        }
        if let Some(rt) = &self.refresh_token {
            map.serialize_entry("refresh_token", rt)?;
        }
        if let Some(scope) = &self.scope {
            map.serialize_entry("scope", &**scope)?;
        }
        if let Some(id_token) = &self.id_token {
            map.serialize_entry("id_token", id_token)?;
        }
        for (k, v) in self.extra.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        TokenFields::deserialize(deserializer)?
            .take_token(None)
            .map_err(de::Error::custom)
    }
}
