//! JSON parsing that refuses duplicate member names at any depth.
//!
//! RFC 8259 leaves duplicates undefined and parsers disagree (first wins, last wins). In a
//! signed token that ambiguity is an attack: a verifier and a downstream service could read
//! different claims from the same signed bytes. In a request body it is the same attack on
//! validation. Tokens and bodies with duplicates are refused.
//!
//! Member names that serde_json reserves for itself (`$serde_json::private::RawValue`, read
//! by serde_json into a `Value` as the JSON inside its string, and the like) are refused too:
//! with them, a document could carry another one that this parser never checked. The one
//! exception is the name serde_json's `arbitrary_precision` feature gives every number: when
//! some crate of the build turns that feature on, serde_json hands each number to a visitor
//! as `{"$serde_json::private::Number": "<digits>"}`, and serde_json itself reads that map as
//! the number; so does this parser, after checking that the digits are a JSON number.
//!
//! Numbers with a zero fraction (`348.0`, `1e2`) are read as integers: JSON Schema calls
//! them integers, so a body the OpenAPI document allows is a body the server accepts.

use std::cell::Cell;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

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

/// The member name of a number, when serde_json is built with `arbitrary_precision`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether serde_json was built with `arbitrary_precision` (by any crate of the build, as
/// Cargo unifies features): then numbers keep their digits, and reach a visitor as maps.
fn numbers_are_maps() -> bool {
    static KEEPS_DIGITS: LazyLock<bool> = LazyLock::new(|| {
        "1.10"
            .parse::<Number>()
            .is_ok_and(|number| number.to_string() == "1.10")
    });
    *KEEPS_DIGITS
}

/// Parses `bytes` as one JSON value, refusing duplicate names, names serde_json reserves
/// and nesting deeper than `max_depth`.
pub(crate) fn from_slice(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let refusal = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        depth: 0,
        max_depth,
        numbers_are_maps: numbers_are_maps(),
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
    /// serde_json's `arbitrary_precision`: a number comes as a map of [`NUMBER_TOKEN`].
    numbers_are_maps: bool,
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
        Ok(integral(v).unwrap_or_else(|| Value::from(v)))
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
        let mut next = access.next_key::<String>()?;
        // A number, not an object: no deeper than the number itself.
        if self.numbers_are_maps && next.as_deref() == Some(NUMBER_TOKEN) {
            return self.number(access);
        }
        let inner = self.nested()?;
        let mut map = Map::new();
        while let Some(key) = next {
            if map.contains_key(&key) {
                return Err(self.refuse(JsonError::Duplicate, "duplicate member name"));
            }
            if key.starts_with(RESERVED_PREFIX) {
                return Err(self.refuse(JsonError::Reserved, "reserved member name"));
            }
            let value = access.next_value_seed(inner)?;
            map.insert(key, value);
            next = access.next_key::<String>()?;
        }
        Ok(Value::Object(map))
    }
}

/// `v` as an integer when its fraction is zero and it fits one: 2^64 and beyond (and their
/// negatives past -2^63) stay floats.
fn integral(v: f64) -> Option<Value> {
    const LIMIT: f64 = 18_446_744_073_709_551_616.0;
    if v.fract() != 0.0 {
        None
    } else if (0.0..LIMIT).contains(&v) {
        Some(Value::from(v as u64))
    } else if (-(LIMIT / 2.0)..0.0).contains(&v) {
        Some(Value::from(v as i64))
    } else {
        None
    }
}

impl<'a> StrictValue<'a> {
    /// The rest of a number's map under `arbitrary_precision`: its digits, and nothing else.
    /// Integral numbers become integers as without the feature; the others keep their digits.
    fn number<'de, A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let digits: String = access.next_value()?;
        if access.next_key::<String>()?.is_some() {
            return Err(self.refuse(JsonError::Reserved, "reserved member name"));
        }
        let Ok(number) = digits.parse::<Number>() else {
            let refusal = JsonError::Syntax("invalid number".to_owned());
            return Err(self.refuse(refusal, "invalid number"));
        };
        if number.is_u64() || number.is_i64() {
            return Ok(Value::Number(number));
        }
        let integer = number.as_f64().filter(|v| v.is_finite()).and_then(integral);
        Ok(integer.unwrap_or(Value::Number(number)))
    }

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

    /// What serde_json's `arbitrary_precision` hands a visitor for `digits`, parsed as this
    /// module parses a document (this build has the feature off).
    fn with_numbers_as_maps(members: &[(&str, &str)]) -> Result<Value, JsonError> {
        at_depth(0, members)
    }

    /// The same, at nesting depth `depth` of at most 32.
    fn at_depth(depth: usize, members: &[(&str, &str)]) -> Result<Value, JsonError> {
        let refusal = Cell::new(None);
        let map = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
            members.iter().copied(),
        );
        let parsed = StrictValue {
            depth,
            max_depth: 32,
            numbers_are_maps: true,
            refusal: &refusal,
        }
        .deserialize(map);
        match (parsed, refusal.take()) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(refused)) => Err(refused),
            (Err(error), None) => Err(JsonError::Syntax(error.to_string())),
        }
    }

    #[test]
    fn numbers_under_arbitrary_precision_are_numbers() {
        assert!(
            !numbers_are_maps(),
            "this build has arbitrary_precision off"
        );
        assert_eq!(
            with_numbers_as_maps(&[(NUMBER_TOKEN, "7")]),
            Ok(Value::from(7u64))
        );
        assert_eq!(
            with_numbers_as_maps(&[(NUMBER_TOKEN, "-7")]),
            Ok(Value::from(-7i64))
        );
        assert_eq!(
            with_numbers_as_maps(&[(NUMBER_TOKEN, "348.0")]),
            Ok(Value::from(348u64))
        );
        assert_eq!(
            with_numbers_as_maps(&[(NUMBER_TOKEN, "1.5")]),
            Ok(Value::from(1.5))
        );
        // A number is as deep as a number, not as an object.
        assert_eq!(at_depth(32, &[(NUMBER_TOKEN, "7")]), Ok(Value::from(7u64)));
        assert_eq!(at_depth(32, &[("a", "7")]), Err(JsonError::TooDeep));
        // Anything else under that name is still refused.
        assert_eq!(
            with_numbers_as_maps(&[(NUMBER_TOKEN, "7"), ("admin", "true")]),
            Err(JsonError::Reserved)
        );
        assert!(matches!(
            with_numbers_as_maps(&[(NUMBER_TOKEN, "7 or so")]),
            Err(JsonError::Syntax(_))
        ));
        assert_eq!(
            with_numbers_as_maps(&[("a", "1"), (NUMBER_TOKEN, "7")]),
            Err(JsonError::Reserved)
        );
        assert_eq!(
            with_numbers_as_maps(&[("$serde_json::private::RawValue", "{}")]),
            Err(JsonError::Reserved)
        );
        // Without the feature, the name is only ever a client's, and refused.
        assert_eq!(
            from_slice(br#"{"$serde_json::private::Number":"7"}"#, 32),
            Err(JsonError::Reserved)
        );
    }

    #[test]
    fn integral_numbers_are_integers() {
        let value = from_slice(br#"[348.0, 1e2, -2.0, 1.5, 1e30, 0.0]"#, 32).unwrap();
        assert_eq!(value, serde_json::json!([348, 100, -2, 1.5, 1e30, 0]));
        assert!(value[0].is_u64() && value[2].is_i64() && value[3].is_f64());
    }
}
