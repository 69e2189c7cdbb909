//! Reading a request body under its limit, and turning parse errors into field paths.

use axum::extract::Request;
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::context::RequestContext;
use crate::json::{self, JsonError};
use crate::problem::FieldViolation;
use crate::rejection::InputRejection;

/// The body limit of the request's endpoint, or the default outside Portcullis routes.
pub(crate) fn body_limit(request: &Request) -> usize {
    request.extensions().get::<RequestContext>().map_or(
        crate::config::DEFAULT_BODY_LIMIT,
        RequestContext::body_limit,
    )
}

/// Whether the request's `Content-Type` is `expected` or, when `json_suffix`, any
/// `application/*+json`.
pub(crate) fn has_content_type(request: &Request, expected: &str, json_suffix: bool) -> bool {
    let Some(value) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(expected)
        || (json_suffix
            && essence.len() > 17
            && essence[..12].eq_ignore_ascii_case("application/")
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Reads the whole body, refusing it with 413 past `limit` bytes (before reading when
/// `Content-Length` already says so).
pub(crate) async fn read_body(request: Request) -> Result<Bytes, InputRejection> {
    let limit = body_limit(&request);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(InputRejection::too_large(limit));
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(InputRejection::too_large(limit)),
        Err(_) => Err(InputRejection::malformed(
            "the request body could not be read",
            Vec::new(),
        )),
    }
}

/// The message of a serde error, without the position serde_json appends.
fn message_of(error: &impl std::fmt::Display) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(position) if message[position..].contains(" column ") => {
            message[..position].to_owned()
        }
        _ => message,
    }
}

/// A deserialization failure with the path of the value at fault.
pub(crate) fn violation<E: std::fmt::Display>(
    error: &serde_path_to_error::Error<E>,
) -> Vec<FieldViolation> {
    let path = error.path().to_string();
    let path = if path == "." { String::new() } else { path };
    vec![FieldViolation {
        path,
        message: message_of(error.inner()),
    }]
}

/// The deepest nesting accepted in a JSON body.
const MAX_BODY_DEPTH: usize = 64;

/// Deserializes a JSON body: not JSON, duplicate names, names serde_json reserves or nesting
/// deeper than 64 is 400;
/// values that do not fit the type (unknown fields, wrong types, missing fields) are 422.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, InputRejection> {
    let value = json::from_slice(bytes, MAX_BODY_DEPTH).map_err(|error| {
        let message = match error {
            JsonError::Duplicate => "an object repeats a member name".to_owned(),
            JsonError::TooDeep => format!("the body nests deeper than {MAX_BODY_DEPTH} levels"),
            JsonError::Reserved => {
                "an object uses a member name reserved by the JSON library ($serde_json::private::…)"
                    .to_owned()
            }
            JsonError::Syntax(message) => message,
        };
        InputRejection::malformed(
            "the request body is not valid JSON",
            vec![FieldViolation {
                path: String::new(),
                message,
            }],
        )
    })?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        InputRejection::invalid(
            "the JSON body does not fit the expected schema",
            violation(&error),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        item: String,
        lines: Vec<Line>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        quantity: u32,
    }

    #[test]
    fn json_errors_have_paths_and_statuses() {
        let error = from_json::<Order>(br#"{"item":"a","lines":[{"quantity":-1}]}"#).unwrap_err();
        assert_eq!(error.status(), 422);
        assert_eq!(error.errors()[0].path, "lines[0].quantity");
        assert!(
            !error.errors()[0].message.contains("line 1"),
            "{:?}",
            error.errors()
        );

        let error = from_json::<Order>(br#"{"item":"a","lines":[],"admin":true}"#).unwrap_err();
        assert_eq!(error.status(), 422);
        assert!(error.errors()[0].message.contains("unknown field `admin`"));

        let error = from_json::<Order>(br#"{"item":"a","item":"b","lines":[]}"#).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.errors()[0].message.contains("repeats a member name"));
        assert!(from_json::<Order>(br#"{"item":"a","lines":[{"quantity":2.0}]}"#).is_ok());

        assert_eq!(
            from_json::<Order>(br#"{"item":"#).unwrap_err().status(),
            400
        );
        assert_eq!(
            from_json::<Order>(br#"{"item":"a","lines":[]} x"#)
                .unwrap_err()
                .status(),
            400
        );
    }

    /// serde_json, with the `raw_value` feature axum turns on, reads an object whose one
    /// member is named `$serde_json::private::RawValue` into a `Value` as the JSON *inside
    /// its string*: a body could carry, in a free-form field, a document the strict parser
    /// never saw (duplicate names, any depth). Such names are refused before that.
    #[test]
    fn serde_json_reserved_member_names_are_refused() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Note {
            meta: serde_json::Value,
        }
        let smuggled = br#"{"meta":{"$serde_json::private::RawValue":"{\"a\":1,\"a\":2}"}}"#;
        let error = from_json::<Note>(smuggled).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(
            error.errors()[0].message.contains("reserved"),
            "{:?}",
            error.errors()
        );
        let number = br#"{"meta":{"$serde_json::private::Number":"1"}}"#;
        assert_eq!(from_json::<Note>(number).unwrap_err().status(), 400);
        // A name that merely resembles them is an ordinary name.
        let ordinary = from_json::<Note>(br#"{"meta":{"$serde_json":"x"}}"#).unwrap();
        assert_eq!(ordinary.meta["$serde_json"], "x");
    }
}
