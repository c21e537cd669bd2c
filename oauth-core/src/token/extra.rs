//! The members of a token response that [`Token`](super::Token) does not type.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The members of a token response that [`Token`](super::Token) does not type (`session_state`,
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
    pub(crate) fn push_raw(&mut self, name: &str, name_is_plain: bool, json: &str) {
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

    pub(crate) fn push(&mut self, name: &str, value: &Value) {
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
