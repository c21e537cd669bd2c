//! Reading ID token claims in one pass: the claims §3.1.3.7 checks are typed, every other one
//! is kept as the JSON text it came as (read on first access), as token responses keep their
//! extra members.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::IdTokenError;
use crate::token::{ExtraFields, Key, Text};

#[derive(Default)]
pub(super) struct RawClaims {
    pub(super) iss: Option<String>,
    pub(super) sub: Option<String>,
    pub(super) nonce: Option<String>,
    pub(super) azp: Option<String>,
    pub(super) at_hash: Option<String>,
    pub(super) aud: Option<Vec<String>>,
    pub(super) exp: Option<Value>,
    pub(super) iat: Option<Value>,
    pub(super) auth_time: Option<Value>,
    pub(super) extra: ExtraFields,
    /// The first claim of the wrong JSON type.
    pub(super) wrong: Option<&'static str>,
}

impl RawClaims {
    pub(super) fn parse(payload: &[u8]) -> Result<Self, IdTokenError> {
        let mut claims = Self::default();
        let mut deserializer = serde_json::Deserializer::from_slice(payload);
        deserializer
            .deserialize_map(ClaimsVisitor(&mut claims))
            .and_then(|()| deserializer.end())
            .map_err(|_| IdTokenError::Malformed("the claims are not a JSON object".into()))?;
        match claims.wrong {
            Some(name) => Err(IdTokenError::Claim(name)),
            None => Ok(claims),
        }
    }
}

struct ClaimsVisitor<'a>(&'a mut RawClaims);

impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let claims = self.0;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let (slot, name) = match key.as_ref() {
                "iss" => (&mut claims.iss, "iss"),
                "sub" => (&mut claims.sub, "sub"),
                "nonce" => (&mut claims.nonce, "nonce"),
                "azp" => (&mut claims.azp, "azp"),
                "at_hash" => (&mut claims.at_hash, "at_hash"),
                "aud" => {
                    match map.next_value::<Audience>()? {
                        Audience::Some(aud) => claims.aud = Some(aud),
                        Audience::Wrong => {
                            claims.wrong.get_or_insert("aud");
                        }
                    }
                    continue;
                }
                "exp" => {
                    claims.exp = Some(map.next_value()?);
                    continue;
                }
                "iat" => {
                    claims.iat = Some(map.next_value()?);
                    continue;
                }
                "auth_time" => {
                    claims.auth_time = Some(map.next_value()?);
                    continue;
                }
                _ => {
                    let raw: &'de RawValue = map.next_value()?;
                    let plain = matches!(key, std::borrow::Cow::Borrowed(_));
                    claims.extra.push_raw(&key, plain, raw.get());
                    continue;
                }
            };
            match map.next_value::<Text<'de>>()? {
                Text::Str(value) => *slot = Some(value.into_owned()),
                Text::Null => {}
                Text::Other => {
                    claims.wrong.get_or_insert(name);
                }
            }
        }
        Ok(())
    }
}

/// `aud`: one string or an array of strings (OIDC Core §2).
enum Audience {
    Some(Vec<String>),
    Wrong,
}

impl<'de> de::Deserialize<'de> for Audience {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::Some(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut all = Vec::new();
                let mut wrong = false;
                while let Some(item) = seq.next_element::<Text<'de>>()? {
                    match item {
                        Text::Str(s) => all.push(s.into_owned()),
                        _ => wrong = true,
                    }
                }
                Ok(if wrong {
                    Audience::Wrong
                } else {
                    Audience::Some(all)
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Audience, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Audience::Wrong)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Audience, E> {
                Ok(Audience::Wrong)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Audience, E> {
                Ok(Audience::Wrong)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Audience, E> {
                Ok(Audience::Wrong)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Audience, E> {
                Ok(Audience::Wrong)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Audience, E> {
                Ok(Audience::Wrong)
            }
        }
        deserializer.deserialize_any(AudienceVisitor)
    }
}
