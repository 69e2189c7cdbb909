//! What makes a type a validated input, and an extractor a safe one.

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;

use crate::problem::FieldViolation;

/// A type that requests may carry: it deserializes strictly and validates itself.
///
/// Derive it with `#[portcullis::input]` on a struct or enum with garde rules. Scalars
/// (numbers, `bool`, `char`, `String`), and options, vectors and tuples of inputs, are
/// inputs already: their parser is their validation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a validated input type",
    label = "`{Self}` has no `#[portcullis::input]`",
    note = "add `#[portcullis::input]` to the definition of `{Self}` and garde rules to its fields, \
            so that unknown fields are refused and every value is checked"
)]
pub trait Input: DeserializeOwned + Send + 'static {
    /// Checks the rules of the value. The fields at fault, if any.
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>>;
}

/// Turns a garde report into field violations.
pub fn violations(report: garde::Report) -> Vec<FieldViolation> {
    report
        .iter()
        .map(|(path, error)| FieldViolation {
            path: path.to_string(),
            message: error.message().to_owned(),
        })
        .collect()
}

macro_rules! scalar_inputs {
    ($($ty:ty),* $(,)?) => {
        $(impl Input for $ty {
            #[inline]
            fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
                Ok(())
            }
        })*
    };
}

scalar_inputs!(
    bool, char, String, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64,
);

impl<T: Input> Input for Option<T> {
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
        self.as_ref().map_or(Ok(()), Input::validate_input)
    }
}

fn validate_each<'a, T: Input>(
    items: impl Iterator<Item = (String, &'a T)>,
) -> Result<(), Vec<FieldViolation>> {
    let mut all = Vec::new();
    for (prefix, item) in items {
        if let Err(errors) = item.validate_input() {
            all.extend(errors.into_iter().map(|violation| FieldViolation {
                path: join_path(&prefix, &violation.path),
                message: violation.message,
            }));
        }
    }
    if all.is_empty() { Ok(()) } else { Err(all) }
}

fn join_path(prefix: &str, path: &str) -> String {
    if path.is_empty() {
        prefix.to_owned()
    } else if path.starts_with('[') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}.{path}")
    }
}

impl<T: Input> Input for Vec<T> {
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
        validate_each(
            self.iter()
                .enumerate()
                .map(|(index, item)| (format!("[{index}]"), item)),
        )
    }
}

impl<T: Input> Input for BTreeMap<String, T> {
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
        validate_each(self.iter().map(|(key, item)| (key.clone(), item)))
    }
}

impl<T: Input, H: std::hash::BuildHasher + Default + Send + 'static> Input
    for HashMap<String, T, H>
{
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
        validate_each(self.iter().map(|(key, item)| (key.clone(), item)))
    }
}

macro_rules! tuple_inputs {
    ($(($($name:ident : $index:tt),+)),* $(,)?) => {
        $(impl<$($name: Input),+> Input for ($($name,)+) {
            fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
                let mut all = Vec::new();
                $(if let Err(errors) = self.$index.validate_input() {
                    all.extend(errors.into_iter().map(|violation| FieldViolation {
                        path: join_path(concat!("[", stringify!($index), "]"), &violation.path),
                        message: violation.message,
                    }));
                })+
                if all.is_empty() { Ok(()) } else { Err(all) }
            }
        })*
    };
}

tuple_inputs!(
    (A: 0),
    (A: 0, B: 1),
    (A: 0, B: 1, C: 2),
    (A: 0, B: 1, C: 2, D: 3),
    (A: 0, B: 1, C: 2, D: 3, E: 4),
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5),
);

/// An extractor that is safe in a Portcullis handler: it validates what it extracts, or
/// extracts nothing the client controls unchecked.
///
/// `#[secure]` and `#[public]` check every handler argument against this trait, so that
/// an unvalidated input (`axum::Json<T>`, a raw `String` body) is a compile error.
/// Implement it for your own extractors once they validate their input.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a validated Portcullis extractor",
    label = "this argument would reach the handler without validation",
    note = "use `portcullis::Json`, `portcullis::Query`, `portcullis::Path` or `portcullis::Form` \
            (their types need `#[portcullis::input]`);\n      \
            wrap an extractor you trust as it is in `portcullis::Unchecked<...>`, \
            or implement `portcullis::SafeExtractor` for your own extractor"
)]
pub trait SafeExtractor {}

impl<S> SafeExtractor for axum::extract::State<S> {}
impl<T> SafeExtractor for axum::extract::Extension<T> {}
impl<T> SafeExtractor for axum::extract::ConnectInfo<T> {}
impl SafeExtractor for axum::extract::MatchedPath {}
impl SafeExtractor for axum::extract::OriginalUri {}
impl SafeExtractor for http::Method {}
impl SafeExtractor for http::Uri {}
impl SafeExtractor for http::Version {}
impl SafeExtractor for http::HeaderMap {}
impl SafeExtractor for crate::auth::Principal {}
impl SafeExtractor for Option<crate::auth::Principal> {}
impl<T> SafeExtractor for crate::auth::Claims<T> {}
impl<T> SafeExtractor for Option<crate::auth::Claims<T>> {}
impl SafeExtractor for crate::pipeline::RequestContext {}

/// Compile-time check that `T` is a safe extractor; the attributes call it for every
/// handler argument.
#[doc(hidden)]
pub const fn assert_safe_extractor<T: SafeExtractor + ?Sized>() {}
