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
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::secret::{AccessToken, IdToken, RefreshToken};

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

/// The members of a token response that [`Token`] does not type (`session_state`,
/// `refresh_expires_in`, …), in the order the server sent them.
///
/// They are kept as the JSON text the server sent and turned into values on first access:
/// most callers never look at them, and copying text costs one allocation where a map of
/// values costs one per member. When a name repeats, the last one counts, as in JSON parsers.
#[derive(Clone, Default)]
pub struct ExtraFields(Option<Box<ExtraData>>);

#[derive(Clone, Default)]
struct ExtraData {
    /// `"name":value` members joined by commas, without the braces.
    members: String,
    parsed: OnceLock<Vec<(String, Value)>>,
}

impl ExtraFields {
    /// The value of `name`, if the server sent it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries()
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// How many members there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The members, in the server's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries().iter().map(|(n, v)| (n.as_str(), v))
    }

    fn entries(&self) -> &[(String, Value)] {
        match &self.0 {
            None => &[],
            Some(data) => data.parsed.get_or_init(|| {
                let object = format!("{{{}}}", data.members);
                serde_json::from_str::<Members>(&object)
                    .map(|m| m.0)
                    .unwrap_or_default()
            }),
        }
    }

    /// Appends a member whose value is already JSON text. `name_is_plain` says the name is
    /// known to need no escaping (it was read unescaped from JSON text).
    fn push_raw(&mut self, name: &str, name_is_plain: bool, json: &str) {
        let data = self.0.get_or_insert_with(|| {
            Box::new(ExtraData {
                // Room for a few members, so growing is rare.
                members: String::with_capacity(128),
                parsed: OnceLock::new(),
            })
        });
        let members = &mut data.members;
        if !members.is_empty() {
            members.push(',');
        }
        if name_is_plain
            || name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            members.push('"');
            members.push_str(name);
            members.push('"');
        } else {
            members.push_str(&Value::from(name).to_string());
        }
        members.push(':');
        members.push_str(json);
        data.parsed = OnceLock::new();
    }

    fn push(&mut self, name: &str, value: &Value) {
        self.push_raw(name, false, &value.to_string());
    }
}

impl PartialEq for ExtraFields {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl std::ops::Index<&str> for ExtraFields {
    type Output = Value;

    /// The value of `name`, or `Value::Null` when absent (never panics).
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl fmt::Debug for ExtraFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values are the server's and may be sensitive: names only.
        f.debug_list().entries(self.iter().map(|(n, _)| n)).finish()
    }
}

/// A JSON object read into an ordered list, duplicates kept.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
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

/// The members of a token response or a persisted token, before they are checked. One map pass
/// fills it, from JSON or from form pairs; no value is ever quoted in an error.
#[derive(Default)]
pub(crate) struct TokenFields {
    access_token: Option<String>,
    token_type: Option<TokenType>,
    expires_in: Option<Value>,
    expires_at: Option<Value>,
    issued_at: Option<Value>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) error_uri: Option<String>,
    extra: ExtraFields,
    wrong_type: Option<&'static str>,
}

/// How a map of token fields is read: straight from JSON text (unknown members are copied as
/// text, no value built), or from any serde deserializer (unknown members become values).
struct FieldsVisitor<'a> {
    raw_extras: bool,
    /// Where to collect; `None` collects into a new value that is returned.
    fields: Option<&'a mut TokenFields>,
}

impl TokenFields {
    /// Takes one member given as a value (form bodies, persisted tokens).
    pub(crate) fn insert(&mut self, key: Cow<'_, str>, value: Value) {
        match key.as_ref() {
            "expires_in" => self.expires_in = Some(value),
            "expires_at" => self.expires_at = Some(value),
            "issued_at" => self.issued_at = Some(value),
            name if Self::is_text(name) => {
                let text = match value {
                    Value::String(s) => Text::Str(Cow::Owned(s)),
                    Value::Null => Text::Null,
                    _ => Text::Other,
                };
                self.set_text(name, text);
            }
            name => self.extra.push(name, &value),
        }
    }

    fn is_text(name: &str) -> bool {
        matches!(
            name,
            "access_token"
                | "token_type"
                | "refresh_token"
                | "scope"
                | "id_token"
                | "error"
                | "error_description"
                | "error_uri"
        )
    }

    /// Takes a member that must be a string; `name` is one [`is_text`](Self::is_text) accepts.
    fn set_text(&mut self, name: &str, text: Text<'_>) {
        let value = match text {
            Text::Str(value) => value,
            Text::Null => return,
            Text::Other => {
                self.wrong_type.get_or_insert(match name {
                    "access_token" => "access_token",
                    "token_type" => "token_type",
                    "refresh_token" => "refresh_token",
                    "scope" => "scope",
                    "id_token" => "id_token",
                    "error" => "error",
                    "error_description" => "error_description",
                    _ => "error_uri",
                });
                return;
            }
        };
        let slot = match name {
            // No allocation for the common case.
            "token_type" => return self.token_type = Some(TokenType::parse(&value)),
            "access_token" => &mut self.access_token,
            "refresh_token" => &mut self.refresh_token,
            "scope" => &mut self.scope,
            "id_token" => &mut self.id_token,
            "error" => &mut self.error,
            "error_description" => &mut self.error_description,
            _ => &mut self.error_uri,
        };
        *slot = Some(value.into_owned());
    }

    /// Builds the token. `sent_at` is `Some` for a server response (times are computed from
    /// `expires_in`) and `None` for a persisted token (times are read as stored).
    pub(crate) fn take_token(&mut self, sent_at: Option<SystemTime>) -> Result<Token, String> {
        if let Some(name) = self.wrong_type {
            return Err(format!("{name} is not a string"));
        }
        let access_token = match self.access_token.take() {
            Some(t) if !is_header_safe(&t) => {
                return Err("access_token has characters that cannot be sent in a header".into());
            }
            Some(t) if !t.is_empty() => AccessToken::new(t),
            Some(_) => return Err("access_token is empty".into()),
            None => return Err("missing access_token".into()),
        };
        let mut extra = std::mem::take(&mut self.extra);
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
                    ("expires_at", self.expires_at.take()),
                    ("issued_at", self.issued_at.take()),
                ] {
                    if let Some(value) = value {
                        extra.push(name, &value);
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
            if let Some(v) = self.expires_in.take() {
                extra.push("expires_in", &v);
            }
        }
        Ok(Token {
            access_token,
            // RFC 6749 requires token_type; servers that omit it issue bearer tokens.
            token_type: self.token_type.take().unwrap_or(TokenType::Bearer),
            issued_at,
            expires_at,
            refresh_token: self.refresh_token.take().map(RefreshToken::new),
            scope: self.scope.take().map(String::into_boxed_str),
            id_token: self.id_token.take().map(IdToken::new),
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

impl<'de> Visitor<'de> for FieldsVisitor<'_> {
    type Value = Option<Box<TokenFields>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut own = None;
        let fields = match self.fields {
            Some(fields) => fields,
            None => &mut **own.insert(Box::default()),
        };
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if TokenFields::is_text(&key) {
                let text: Text<'de> = map.next_value()?;
                fields.set_text(&key, text);
            } else if self.raw_extras
                && !matches!(key.as_ref(), "expires_in" | "expires_at" | "issued_at")
            {
                let raw: &'de RawValue = map.next_value()?;
                // A borrowed key was read straight from the JSON text, escape-free.
                let plain = matches!(key, Cow::Borrowed(_));
                fields.extra.push_raw(&key, plain, raw.get());
            } else {
                let value: Value = map.next_value()?;
                fields.insert(key, value);
            }
        }
        Ok(own)
    }
}

/// A member that should be a string, read without building a JSON value; borrowed from the
/// input when it has no escapes.
enum Text<'de> {
    Str(Cow<'de, str>),
    Null,
    Other,
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Text::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Text::Other)
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

impl<'de> Deserialize<'de> for TokenFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(FieldsVisitor {
                raw_extras: false,
                fields: None,
            })?
            .map(|fields| *fields)
            .ok_or_else(|| de::Error::custom("no fields collected"))
    }
}

impl TokenFields {
    /// Fills the fields from a JSON object, copying unknown members as text; false when the
    /// body is not a JSON object.
    pub(crate) fn fill_from_json(&mut self, body: &[u8]) -> bool {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let filled = deserializer.deserialize_map(FieldsVisitor {
            raw_extras: true,
            fields: Some(self),
        });
        filled.is_ok() && deserializer.end().is_ok()
    }
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

#[cfg(test)]
mod tests;
