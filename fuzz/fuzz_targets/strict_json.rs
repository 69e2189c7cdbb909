//! The strict JSON parser of tokens and bodies, against serde_json: it accepts a subset of
//! what serde_json accepts (the same values, integral numbers as integers), and refuses
//! the rest only for a duplicate name, a name serde_json reserves or excessive depth, never
//! as a syntax error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_runtime::__fuzz::{StrictJsonError, parse_strict_json};
use serde_json::Value;

/// The depth used by tokens; serde_json's own limit (128) is above it.
const MAX_DEPTH: usize = 32;

fuzz_target!(|data: &[u8]| {
    let strict = parse_strict_json(data, MAX_DEPTH);
    let loose = serde_json::from_slice::<Value>(data);
    match (strict, loose) {
        (Ok(strict), Ok(loose)) => assert_eq!(strict, integral(loose)),
        (Ok(strict), Err(error)) => panic!("strict accepted {strict}, serde_json refused: {error}"),
        (Err(StrictJsonError::Syntax), Ok(loose)) => {
            panic!("strict saw a syntax error in {loose}")
        }
        (
            Err(StrictJsonError::Duplicate | StrictJsonError::Reserved | StrictJsonError::TooDeep),
            Ok(_),
        ) => {}
        (Err(_), Err(_)) => {}
    }
});

/// serde_json's value with integral floats as integers, as the strict parser reads them.
fn integral(value: Value) -> Value {
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() == 0.0 && float >= 0.0 && float < 18_446_744_073_709_551_616.0 {
                Value::from(float as u64)
            } else if float.fract() == 0.0 && float < 0.0 && float >= -9_223_372_036_854_775_808.0 {
                Value::from(float as i64)
            } else {
                Value::Number(number)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect())
        }
        other => other,
    }
}
