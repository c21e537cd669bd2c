//! Reading the members of a token response or a persisted token in one pass, from JSON text
//! or form pairs, with typed errors that never quote a value.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{ExtraFields, Token, TokenType};
use crate::secret::{AccessToken, IdToken, RefreshToken};

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
        let (issued_at, expires_at) = match sent_at {
            Some(sent_at) => {
                // The lifetime counts from the whole second (servers truncate `iat`); the
                // issue time stays exact, so the refresh clamps never put the moment of
                // issue inside the refresh window.
                let expires_at = match self.expires_in.as_ref() {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        whole_second(sent_at)
                            .checked_add(lifetime(v)?)
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

/// `expires_in`: a positive number of seconds. Zero would be a token dead on arrival, which a
/// session could only ever try to refresh again.
fn lifetime(value: &Value) -> Result<Duration, String> {
    let lifetime = seconds(value, "expires_in")?;
    if lifetime.is_zero() {
        return Err("expires_in is 0: the token is expired on arrival".into());
    }
    Ok(lifetime)
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

/// A map key that borrows from the input when it can.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

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
pub(crate) enum Text<'de> {
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
