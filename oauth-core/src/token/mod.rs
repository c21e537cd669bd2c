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

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::secret::{AccessToken, IdToken, RefreshToken};

/// An access token with what came with it.
#[derive(Clone, PartialEq)]
pub struct Token {
    access_token: AccessToken,
    token_type: String,
    issued_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    refresh_token: Option<RefreshToken>,
    scope: Option<String>,
    id_token: Option<IdToken>,
    extra: Map<String, Value>,
}

impl Token {
    /// A bearer token with no expiry, refresh token or scope; add them with the `with_*` methods.
    pub fn bearer(access_token: impl Into<AccessToken>) -> Self {
        Self {
            access_token: access_token.into(),
            token_type: "Bearer".to_owned(),
            issued_at: None,
            expires_at: None,
            refresh_token: None,
            scope: None,
            id_token: None,
            extra: Map::new(),
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
        self.scope = Some(scope.into());
        self
    }

    /// The access token.
    #[must_use]
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type as the server spelled it.
    #[must_use]
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// Whether the token type is `Bearer`, compared case-insensitively (RFC 6749 §5.1).
    #[must_use]
    pub fn is_bearer(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("bearer")
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

    /// Every other member of the token response (`session_state`, `refresh_expires_in`, …).
    #[must_use]
    pub fn extra(&self) -> &Map<String, Value> {
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
            .field("token_type", &self.token_type)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The members of a token response or a persisted token, before they are checked. One map pass
/// fills it, from JSON or from form pairs; no value is ever quoted in an error.
#[derive(Default)]
pub(crate) struct TokenFields {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Value>,
    expires_at: Option<Value>,
    issued_at: Option<Value>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) error_uri: Option<String>,
    extra: Map<String, Value>,
    wrong_type: Option<&'static str>,
}

impl TokenFields {
    pub(crate) fn insert(&mut self, key: Cow<'_, str>, value: Value) {
        let (slot, name): (&mut Option<String>, &'static str) = match key.as_ref() {
            "access_token" => (&mut self.access_token, "access_token"),
            "token_type" => (&mut self.token_type, "token_type"),
            "refresh_token" => (&mut self.refresh_token, "refresh_token"),
            "scope" => (&mut self.scope, "scope"),
            "id_token" => (&mut self.id_token, "id_token"),
            "error" => (&mut self.error, "error"),
            "error_description" => (&mut self.error_description, "error_description"),
            "error_uri" => (&mut self.error_uri, "error_uri"),
            "expires_in" => return self.expires_in = Some(value),
            "expires_at" => return self.expires_at = Some(value),
            "issued_at" => return self.issued_at = Some(value),
            _ => {
                self.extra.insert(key.into_owned(), value);
                return;
            }
        };
        match value {
            Value::String(s) => *slot = Some(s),
            Value::Null => {}
            _ => {
                self.wrong_type.get_or_insert(name);
            }
        }
    }

    /// Builds the token. `sent_at` is `Some` for a server response (times are computed from
    /// `expires_in`) and `None` for a persisted token (times are read as stored).
    pub(crate) fn into_token(self, sent_at: Option<SystemTime>) -> Result<Token, String> {
        if let Some(name) = self.wrong_type {
            return Err(format!("{name} is not a string"));
        }
        let access_token = match self.access_token {
            Some(t) if !is_header_safe(&t) => {
                return Err("access_token has characters that cannot be sent in a header".into());
            }
            Some(t) if !t.is_empty() => AccessToken::new(t),
            Some(_) => return Err("access_token is empty".into()),
            None => return Err("missing access_token".into()),
        };
        let mut extra = self.extra;
        let (issued_at, expires_at) = match sent_at.map(whole_second) {
            Some(sent_at) => {
                let expires_at = match self.expires_in.as_ref() {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        sent_at
                            .checked_add(seconds(v, "expires_in")?)
                            .ok_or("expires_in is out of range")?,
                    ),
                };
                // A server's own absolute fields are kept as data, not trusted as our clock.
                for (name, value) in [
                    ("expires_at", self.expires_at),
                    ("issued_at", self.issued_at),
                ] {
                    if let Some(value) = value {
                        extra.insert(name.to_owned(), value);
                    }
                }
                (Some(sent_at), expires_at)
            }
            None => (
                self.issued_at
                    .as_ref()
                    .map(|v| unix_time(v, "issued_at"))
                    .transpose()?,
                self.expires_at
                    .as_ref()
                    .map(|v| unix_time(v, "expires_at"))
                    .transpose()?,
            ),
        };
        if sent_at.is_none() {
            if let Some(v) = self.expires_in {
                extra.insert("expires_in".into(), v);
            }
        }
        Ok(Token {
            access_token,
            // RFC 6749 requires token_type; servers that omit it issue bearer tokens.
            token_type: self.token_type.unwrap_or_else(|| "Bearer".to_owned()),
            issued_at,
            expires_at,
            refresh_token: self.refresh_token.map(RefreshToken::new),
            scope: self.scope,
            id_token: self.id_token.map(IdToken::new),
            extra,
        })
    }
}

/// Visible ASCII only (what a header value and RFC 6750's b64token allow), checked without
/// branching per byte so long JWTs cost little.
fn is_header_safe(token: &str) -> bool {
    token
        .bytes()
        .fold(true, |ok, b| ok & (b.wrapping_sub(0x21) < 0x5e))
}

/// A non-negative number of seconds: a JSON number or a numeric string.
pub(crate) fn seconds(value: &Value, name: &str) -> Result<Duration, String> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().map(Ok).unwrap_or_else(|| {
            n.as_f64().ok_or(()).and_then(|f| {
                Duration::try_from_secs_f64(f)
                    .map(|d| d.as_secs())
                    .map_err(|_| ())
            })
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().or_else(|_| {
                s.parse::<f64>()
                    .ok()
                    .and_then(|f| Duration::try_from_secs_f64(f).ok())
                    .map(|d| d.as_secs())
                    .ok_or(())
            })
        }
        _ => Err(()),
    };
    parsed
        .map(Duration::from_secs)
        .map_err(|()| format!("{name} is not a non-negative number of seconds"))
}

/// `time` rounded down to the whole second (times before 1970 are left as they are).
fn whole_second(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        Err(_) => time,
    }
}

fn unix_time(value: &Value, name: &str) -> Result<SystemTime, String> {
    UNIX_EPOCH
        .checked_add(seconds(value, name)?)
        .ok_or_else(|| format!("{name} is out of range"))
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A map key that borrows from the input when it can.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for TokenFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = TokenFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = TokenFields::default();
                while let Some(Key(key)) =
                    map.next_key_seed(std::marker::PhantomData::<Key<'de>>)?
                {
                    let value: Value = map.next_value()?;
                    fields.insert(key, value);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("access_token", &self.access_token)?;
        map.serialize_entry("token_type", &self.token_type)?;
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
            map.serialize_entry("scope", scope)?;
        }
        if let Some(id_token) = &self.id_token {
            map.serialize_entry("id_token", id_token)?;
        }
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        TokenFields::deserialize(deserializer)?
            .into_token(None)
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
