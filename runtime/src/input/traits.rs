//! What makes a type a validated input, and an extractor a safe one.

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};

use crate::openapi::SchemaRegistry;

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

/// Field violations from `(path, message)` pairs, such as those of a garde report:
/// `violations(report.iter().map(|(path, error)| (path, error.message())))`, which is what
/// `#[input]` generates. The runtime does not depend on garde: the application's own
/// `garde` validates, with the features it chose.
pub fn violations<P, M>(pairs: impl IntoIterator<Item = (P, M)>) -> Vec<FieldViolation>
where
    P: std::fmt::Display,
    M: AsRef<str>,
{
    pairs
        .into_iter()
        .map(|(path, message)| FieldViolation {
            path: path.to_string(),
            message: message.as_ref().to_owned(),
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
