//! What makes a type a validated input, and an extractor a safe one.

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};

use crate::openapi::{OperationDoc, SchemaRegistry};

use crate::problem::FieldViolation;

/// One parameter an input contributes to a path or a query string.
#[derive(Debug, Clone)]
pub struct InputParameter {
    /// The parameter's name; `None` for positional path parameters (scalars, tuples),
    /// which take the names of the route's `{params}` in order.
    pub name: Option<String>,
    /// Its schema.
    pub schema: RefOr<Schema>,
    /// Whether it must be present.
    pub required: bool,
    /// Its description.
    pub description: Option<String>,
}

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

    /// The JSON Schema of the type, rules included; named types are registered in
    /// `registry` and referred to.
    fn schema(registry: &mut SchemaRegistry) -> RefOr<Schema>;

    /// The parameters the type stands for in a path or a query string: one unnamed
    /// parameter by default; objects give one per property, tuples one per element.
    fn parameters(registry: &mut SchemaRegistry) -> Vec<InputParameter> {
        vec![InputParameter {
            name: None,
            schema: Self::schema(registry),
            required: true,
            description: None,
        }]
    }
}

/// The parameters of an object schema: one per property.
pub fn object_parameters(schema: &RefOr<Schema>, registry: &SchemaRegistry) -> Vec<InputParameter> {
    let Some(Schema::Object(object)) = registry.resolve(schema) else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, schema)| {
            let description = crate::openapi::description_of(schema);
            InputParameter {
                name: Some(name.clone()),
                schema: schema.clone(),
                required: object.required.contains(name),
                description,
            }
        })
        .collect()
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

            fn schema(_registry: &mut SchemaRegistry) -> RefOr<Schema> {
                <$ty as PartialSchema>::schema()
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

    fn schema(registry: &mut SchemaRegistry) -> RefOr<Schema> {
        let null = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Null))
            .build();
        OneOfBuilder::new()
            .item(T::schema(registry))
            .item(null)
            .into()
    }

    fn parameters(registry: &mut SchemaRegistry) -> Vec<InputParameter> {
        let mut parameters = T::parameters(registry);
        for parameter in &mut parameters {
            parameter.required = false;
        }
        parameters
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

    fn schema(registry: &mut SchemaRegistry) -> RefOr<Schema> {
        ArrayBuilder::new().items(T::schema(registry)).into()
    }
}

fn map_schema<T: Input>(registry: &mut SchemaRegistry) -> RefOr<Schema> {
    ObjectBuilder::new()
        .additional_properties(Some(T::schema(registry)))
        .into()
}

impl<T: Input> Input for BTreeMap<String, T> {
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
        validate_each(self.iter().map(|(key, item)| (key.clone(), item)))
    }

    fn schema(registry: &mut SchemaRegistry) -> RefOr<Schema> {
        map_schema::<T>(registry)
    }
}

impl<T: Input, H: std::hash::BuildHasher + Default + Send + 'static> Input
    for HashMap<String, T, H>
{
    fn validate_input(&self) -> Result<(), Vec<FieldViolation>> {
        validate_each(self.iter().map(|(key, item)| (key.clone(), item)))
    }

    fn schema(registry: &mut SchemaRegistry) -> RefOr<Schema> {
        map_schema::<T>(registry)
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

            fn schema(registry: &mut SchemaRegistry) -> RefOr<Schema> {
                let items = vec![$($name::schema(registry)),+];
                let mut array = ArrayBuilder::new().build();
                array.prefix_items = items.into_iter().filter_map(|item| match item {
                    RefOr::T(schema) => Some(schema),
                    RefOr::Ref(_) => None,
                }).collect();
                array.items = utoipa::openapi::schema::ArrayItems::False;
                RefOr::T(Schema::Array(array))
            }

            fn parameters(registry: &mut SchemaRegistry) -> Vec<InputParameter> {
                let mut parameters = Vec::new();
                $(parameters.extend($name::parameters(registry));)+
                parameters
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
pub trait SafeExtractor {
    /// Describes what the extractor takes from the request in the endpoint's OpenAPI
    /// operation (parameters, body). Most extractors take nothing a client must know.
    fn document(_doc: &mut OperationDoc<'_>) {}
}

/// An extractor that reads the request body. A request has one body, so a handler takes at
/// most one, as its last argument: `#[secure]` and `#[public]` say so at compile time.
///
/// Implement it for your own body extractors, so that the same check applies to them.
pub trait BodyExtractor {}

impl<T> BodyExtractor for super::Json<T> {}
impl<T> BodyExtractor for super::Form<T> {}
impl<E: BodyExtractor> BodyExtractor for super::Unchecked<E> {}
impl<T> BodyExtractor for axum::Json<T> {}
impl<T> BodyExtractor for axum::Form<T> {}
impl BodyExtractor for axum::extract::RawForm {}
impl BodyExtractor for axum::extract::Request {}
impl BodyExtractor for axum::body::Body {}
impl BodyExtractor for axum::body::Bytes {}
impl BodyExtractor for String {}

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
impl SafeExtractor for Option<crate::auth::Principal> {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.optional_authentication();
    }
}
impl<T> SafeExtractor for crate::auth::Claims<T> {}
impl<T> SafeExtractor for Option<crate::auth::Claims<T>> {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.optional_authentication();
    }
}
impl SafeExtractor for crate::pipeline::RequestContext {}
/// The request id: a well-formed client id (at most 128 URL-safe characters) or a generated one.
impl SafeExtractor for crate::audit::RequestId {}
