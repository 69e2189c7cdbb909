//! Reading an introspection answer (RFC 7662 §2.2): a JSON object whose `active` says
//! whether the token may be used, with the token's claims beside it.

use serde_json::{Map, Value};

use crate::json::{self, JsonError};

/// The deepest nesting read in an answer.
const MAX_DEPTH: usize = 32;

/// What the endpoint said of a token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// `active: true`, with the members of the answer (`active` removed): the token's
    /// claims, to be checked as a JWT's are.
    Active(Map<String, Value>),
    /// `active: false`: the token is unknown, expired, revoked or not for this caller.
    Inactive,
}

/// Why an answer could not be read. The endpoint misbehaves: the request is refused with
/// 503 (fail closed), and nothing of the answer is quoted (it may describe a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AnswerError {
    /// Not JSON, nested too deep, or a member name repeated or reserved.
    #[error("the introspection answer is not valid JSON ({0})")]
    Json(&'static str),
    /// JSON, but not an object.
    #[error("the introspection answer is not a JSON object")]
    NotObject,
    /// No `active` member, or one that is not a boolean.
    #[error("the introspection answer has no boolean `active` member")]
    NoActive,
}

/// Reads the body of a 200 answer.
pub(crate) fn parse_answer(body: &[u8]) -> Result<Answer, AnswerError> {
    let value = json::from_slice(body, MAX_DEPTH).map_err(|error| {
        AnswerError::Json(match error {
            JsonError::Duplicate => "a member name is repeated",
            JsonError::TooDeep => "nested too deep",
            JsonError::Reserved => "a reserved member name",
            JsonError::Syntax(_) => "a syntax error",
        })
    })?;
    let Value::Object(mut members) = value else {
        return Err(AnswerError::NotObject);
    };
    match members.remove("active") {
        Some(Value::Bool(true)) => Ok(Answer::Active(members)),
        Some(Value::Bool(false)) => Ok(Answer::Inactive),
        _ => Err(AnswerError::NoActive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_answers_carry_their_claims() {
        let answer = parse_answer(
            br#"{"active": true, "scope": "orders:read", "exp": 2000000000, "aud": "orders-api"}"#,
        )
        .unwrap();
        let Answer::Active(claims) = answer else {
            panic!("active")
        };
        assert_eq!(claims["scope"], "orders:read");
        assert!(!claims.contains_key("active"));
    }

    #[test]
    fn inactive_answers_say_nothing_else() {
        assert_eq!(parse_answer(br#"{"active": false}"#), Ok(Answer::Inactive));
        assert_eq!(
            parse_answer(br#"{"active": false, "scope": "x"}"#),
            Ok(Answer::Inactive)
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for (body, error) in [
            (&b"not json"[..], AnswerError::Json("a syntax error")),
            (b"[true]", AnswerError::NotObject),
            (b"true", AnswerError::NotObject),
            (b"{}", AnswerError::NoActive),
            (br#"{"active": "true"}"#, AnswerError::NoActive),
            (br#"{"active": 1}"#, AnswerError::NoActive),
            (br#"{"active": null}"#, AnswerError::NoActive),
            (
                br#"{"active": false, "active": true}"#,
                AnswerError::Json("a member name is repeated"),
            ),
            (
                br#"{"active": true} {"active": false}"#,
                AnswerError::Json("a syntax error"),
            ),
        ] {
            assert_eq!(
                parse_answer(body),
                Err(error),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
