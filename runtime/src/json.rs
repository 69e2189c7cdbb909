//! JSON parsing that refuses duplicate member names at any depth.
//!
//! RFC 8259 leaves duplicates undefined and parsers disagree (first wins, last wins). In a
//! signed token that ambiguity is an attack: a verifier and a downstream service could read
//! different claims from the same signed bytes. In a request body it is the same attack on
//! validation. Tokens and bodies with duplicates are refused.
//!
//! Member names that serde_json reserves for itself (`$serde_json::private::RawValue`, read
//! by serde_json into a `Value` as the JSON inside its string, and the like) are refused too:
//! with them, a document could carry another one that this parser never checked.
//!
//! Numbers with a zero fraction (`348.0`, `1e2`) are read as integers: JSON Schema calls
//! them integers, so a body the OpenAPI document allows is a body the server accepts.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// A member name appears twice in one object.
    Duplicate,
    /// Nested deeper than allowed.
    TooDeep,
    /// A member name serde_json reserves for itself.
    Reserved,
    /// Not JSON; the parser's message, without position.
    Syntax(String),
}

/// The prefix of the member names serde_json gives a meaning of its own.
const RESERVED_PREFIX: &str = "$serde_json::private::";

/// Parses `bytes` as one JSON value, refusing duplicate names, names serde_json reserves
/// and nesting deeper than `max_depth`.
pub(crate) fn from_slice(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let refusal = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        depth: 0,
        max_depth,
        refusal: &refusal,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, refusal.take()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(refused)) => Err(refused),
        (Err(error), None) => Err(JsonError::Syntax(without_position(&error))),
    }
}

/// A serde_json message without the position it appends.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    }
}

#[derive(Clone, Copy)]
struct StrictValue<'a> {
    depth: usize,
    max_depth: usize,
    /// Set when parsing stopped on purpose rather than on a syntax error.
    refusal: &'a Cell<Option<JsonError>>,
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
        // 2^64 and beyond (and their negatives past -2^63) stay floats.
        const LIMIT: f64 = 18_446_744_073_709_551_616.0;
        if v.fract() == 0.0 && (0.0..LIMIT).contains(&v) {
            Ok(Value::from(v as u64))
        } else if v.fract() == 0.0 && (-(LIMIT / 2.0)..0.0).contains(&v) {
            Ok(Value::from(v as i64))
        } else {
            Ok(Value::from(v))
        }
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
                return Err(self.refuse(JsonError::Duplicate, "duplicate member name"));
            }
            if key.starts_with(RESERVED_PREFIX) {
                return Err(self.refuse(JsonError::Reserved, "reserved member name"));
            }
            let value = access.next_value_seed(inner)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

impl<'a> StrictValue<'a> {
    fn refuse<E: de::Error>(self, refusal: JsonError, message: &str) -> E {
        self.refusal.set(Some(refusal));
        E::custom(message)
    }

    fn nested<E: de::Error>(self) -> Result<StrictValue<'a>, E> {
        if self.depth >= self.max_depth {
            return Err(self.refuse(JsonError::TooDeep, "nested too deeply"));
        }
        Ok(StrictValue {
            depth: self.depth + 1,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_duplicates_at_any_depth() {
        assert_eq!(
            from_slice(br#"{"a":[1,{"b":null}]}"#, 32).unwrap()["a"][1]["b"],
            Value::Null
        );
        assert_eq!(
            from_slice(br#"{"a":1,"a":2}"#, 32),
            Err(JsonError::Duplicate)
        );
        assert_eq!(
            from_slice(br#"{"a":{"b":1,"b":1}}"#, 32),
            Err(JsonError::Duplicate)
        );
        assert!(matches!(
            from_slice(br#"{"a":1} x"#, 32),
            Err(JsonError::Syntax(_))
        ));
        assert_eq!(
            from_slice(br#"[{"$serde_json::private::RawValue":"1"}]"#, 32),
            Err(JsonError::Reserved)
        );
        // Escaped, the name is the same name.
        assert_eq!(
            from_slice(br#"{"\u0024serde_json::private::RawValue":"1"}"#, 32),
            Err(JsonError::Reserved)
        );
        assert!(from_slice(br#"{"$serde_json::public":1}"#, 32).is_ok());
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(from_slice(deep.as_bytes(), 32), Err(JsonError::TooDeep));
        assert!(from_slice(deep.as_bytes(), 64).is_ok());
    }

    #[test]
    fn integral_numbers_are_integers() {
        let value = from_slice(br#"[348.0, 1e2, -2.0, 1.5, 1e30, 0.0]"#, 32).unwrap();
        assert_eq!(value, serde_json::json!([348, 100, -2, 1.5, 1e30, 0]));
        assert!(value[0].is_u64() && value[2].is_i64() && value[3].is_f64());
    }
}
