//! JSON parsing that refuses duplicate member names at any depth.
//!
//! RFC 8259 leaves duplicates undefined and parsers disagree (first wins, last wins). In a
//! signed token that ambiguity is an attack: a verifier and a downstream service could read
//! different claims from the same signed bytes. A token with duplicates is refused.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::AuthFailure;

/// The deepest nesting accepted inside a token.
const MAX_DEPTH: usize = 32;

/// Parses `bytes` as JSON, refusing duplicate names and nesting deeper than 32.
pub(crate) fn from_slice(bytes: &[u8]) -> Result<Value, AuthFailure> {
    let duplicate = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        depth: 0,
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer);
    match parsed {
        Ok(value) if deserializer.end().is_ok() => Ok(value),
        _ if duplicate.get() => Err(AuthFailure::DuplicateClaim),
        _ => Err(AuthFailure::Malformed),
    }
}

#[derive(Clone, Copy)]
struct StrictValue<'a> {
    depth: usize,
    /// Set when parsing stopped on a duplicate name.
    duplicate: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                self.duplicate.set(true);
                return Err(de::Error::custom("duplicate member name"));
            }
            let value = access.next_value_seed(inner)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

impl<'a> StrictValue<'a> {
    fn nested<E: de::Error>(self) -> Result<StrictValue<'a>, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("nested too deeply"));
        }
        Ok(StrictValue {
            depth: self.depth + 1,
            duplicate: self.duplicate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_duplicates_at_any_depth() {
        assert_eq!(
            from_slice(br#"{"a":[1,{"b":null}]}"#).unwrap()["a"][1]["b"],
            Value::Null
        );
        assert_eq!(
            from_slice(br#"{"a":1,"a":2}"#),
            Err(AuthFailure::DuplicateClaim)
        );
        assert_eq!(
            from_slice(br#"{"a":{"b":1,"b":1}}"#),
            Err(AuthFailure::DuplicateClaim)
        );
        assert_eq!(from_slice(br#"{"a":1} x"#), Err(AuthFailure::Malformed));
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(from_slice(deep.as_bytes()), Err(AuthFailure::Malformed));
    }
}
