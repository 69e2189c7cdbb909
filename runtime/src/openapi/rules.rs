//! garde rules as JSON Schema constraints.
//!
//! `#[input]` reads each field's `#[garde(...)]` attribute and hands the rules to
//! [`apply`], so that the document states exactly what the server checks. Rules with no
//! JSON Schema equivalent are listed in the field's `x-portcullis-rules` extension:
//!
//! | garde | JSON Schema |
//! |---|---|
//! | `length(min, max)` on strings | `minLength`, `maxLength` (exact with `chars`; with the default, byte-counting modes the server may refuse non-ASCII strings the schema allows: the unit is in `x-portcullis-length`) |
//! | `length(min, max)` on lists | `minItems`, `maxItems` |
//! | `range(min, max)` | `minimum`, `maximum` |
//! | `pattern("re")` | `pattern` (regex literals only; a `Regex` value is listed as unmapped) |
//! | `email`, `url`, `ipv4`, `ipv6` | `format: email`, `uri`, `ipv4`, `ipv6` |
//! | `ip` | `anyOf` of `ipv4` and `ipv6` formats |
//! | `ascii`, `alphanumeric` | a `pattern` |
//! | `contains`, `prefix`, `suffix` (literals) | a `pattern` |
//! | `required` | the field is required and not `null` |
//! | `inner(...)` | the rules apply to the items |
//! | `dive` | the nested type's own schema |
//! | `credit_card`, `phone_number`, `custom`, `matches`, `byte_length`, others | no equivalent: `x-portcullis-rules` |

use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOf, AnyOf, Array, ArrayItems, Object, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};

/// How a garde `length` rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// garde's default and `simple`/`bytes`: bytes of UTF-8 for strings.
    Bytes,
    /// `chars`: Unicode scalar values, as JSON Schema counts.
    Chars,
    /// `graphemes`.
    Graphemes,
    /// `utf16`: UTF-16 code units.
    Utf16,
}

impl LengthUnit {
    fn name(self) -> &'static str {
        match self {
            LengthUnit::Bytes => "bytes",
            LengthUnit::Chars => "chars",
            LengthUnit::Graphemes => "graphemes",
            LengthUnit::Utf16 => "utf16",
        }
    }
}

/// One garde rule, as far as a schema can say it.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// `length(min, max)`.
    Length {
        /// The lower bound.
        min: Option<usize>,
        /// The upper bound.
        max: Option<usize>,
        /// What is counted.
        unit: LengthUnit,
    },
    /// `range(min, max)`, inclusive.
    Range {
        /// The lower bound.
        min: Option<f64>,
        /// The upper bound.
        max: Option<f64>,
    },
    /// A regular expression the value must match (anchored or not, as written).
    Pattern(&'static str),
    /// A JSON Schema format: `email`, `uri`, `ipv4`, `ipv6`.
    Format(&'static str),
    /// `ip`: either IPv4 or IPv6.
    AnyIp,
    /// `contains(s)`.
    Contains(&'static str),
    /// `prefix(s)`.
    Prefix(&'static str),
    /// `suffix(s)`.
    Suffix(&'static str),
    /// `required`: the value must be present and not null.
    Required,
    /// `inner(...)`: rules for the items of a list or the values of a map.
    Inner(&'static [Rule]),
    /// A rule with no schema equivalent, by its garde name.
    Unmapped(&'static str),
}

/// Whether the rules make the field required.
pub fn is_required(rules: &[Rule]) -> bool {
    rules.iter().any(|rule| matches!(rule, Rule::Required))
}

/// `schema` with `rules` applied.
pub fn apply(schema: RefOr<Schema>, rules: &[Rule]) -> RefOr<Schema> {
    rules
        .iter()
        .fold(schema, |schema, rule| apply_one(schema, *rule))
}

fn apply_one(schema: RefOr<Schema>, rule: Rule) -> RefOr<Schema> {
    match (schema, rule) {
        (schema, Rule::Unmapped(name)) => note_unmapped(schema, name),
        (RefOr::T(Schema::OneOf(mut one_of)), rule) => {
            // `Option<T>` is `oneOf [T, null]`: constrain T; `required` drops the null.
            if matches!(rule, Rule::Required) {
                one_of.items.retain(|item| !is_null(item));
                if one_of.items.len() == 1 {
                    return one_of.items.remove(0);
                }
                return RefOr::T(Schema::OneOf(one_of));
            }
            one_of.items = one_of
                .items
                .into_iter()
                .map(|item| {
                    if is_null(&item) {
                        item
                    } else {
                        apply_one(item, rule)
                    }
                })
                .collect();
            RefOr::T(Schema::OneOf(one_of))
        }
        (RefOr::T(Schema::Object(object)), rule) => apply_to_object(object, rule),
        (RefOr::T(Schema::Array(array)), rule) => apply_to_array(array, rule),
        (schema, Rule::Required) => schema,
        // A `$ref` or composite: add the constraint beside it.
        (schema, rule) => {
            let constraint = apply_one(
                RefOr::T(Schema::Object(Object::with_type(SchemaType::AnyValue))),
                rule,
            );
            let mut all_of = AllOf::new();
            all_of.items = vec![schema, constraint];
            RefOr::T(Schema::AllOf(all_of))
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object)) if object.schema_type == SchemaType::Type(Type::Null))
}

fn apply_to_object(mut object: Object, rule: Rule) -> RefOr<Schema> {
    match rule {
        Rule::Length { min, max, unit } => {
            object.min_length = min.or(object.min_length);
            object.max_length = max.or(object.max_length);
            if unit != LengthUnit::Chars {
                let extensions = object.extensions.get_or_insert_with(Extensions::default);
                extensions.merge(
                    Extensions::builder()
                        .add("x-portcullis-length", unit.name())
                        .build(),
                );
            }
        }
        Rule::Range { min, max } => {
            if let Some(min) = min {
                object.minimum = Some(number(min));
            }
            if let Some(max) = max {
                object.maximum = Some(number(max));
            }
        }
        Rule::Pattern(pattern) => return with_pattern(object, pattern.to_owned()),
        Rule::Format(format) => object.format = Some(SchemaFormat::Custom(format.to_owned())),
        Rule::AnyIp => {
            let mut any_of = AnyOf::new();
            any_of.items = ["ipv4", "ipv6"]
                .into_iter()
                .map(|format| apply_to_object(object.clone(), Rule::Format(format)))
                .collect();
            return RefOr::T(Schema::AnyOf(any_of));
        }
        Rule::Contains(text) => return with_pattern(object, regex_escape(text)),
        Rule::Prefix(text) => return with_pattern(object, format!("^{}", regex_escape(text))),
        Rule::Suffix(text) => return with_pattern(object, format!("{}$", regex_escape(text))),
        Rule::Required => {
            if let SchemaType::Array(types) = &mut object.schema_type {
                types.retain(|found| *found != Type::Null);
                if types.len() == 1 {
                    object.schema_type = SchemaType::Type(types[0].clone());
                }
            }
        }
        Rule::Inner(rules) => {
            if let Some(additional) = object.additional_properties.take() {
                object.additional_properties = Some(Box::new(match *additional {
                    AdditionalProperties::RefOr(values) => {
                        AdditionalProperties::RefOr(apply(values, rules))
                    }
                    other => other,
                }));
            }
        }
        Rule::Unmapped(name) => return note_unmapped(RefOr::T(Schema::Object(object)), name),
    }
    RefOr::T(Schema::Object(object))
}

fn apply_to_array(mut array: Array, rule: Rule) -> RefOr<Schema> {
    match rule {
        Rule::Length { min, max, .. } => {
            array.min_items = min.or(array.min_items);
            array.max_items = max.or(array.max_items);
        }
        Rule::Inner(rules) => {
            if let ArrayItems::RefOrSchema(items) = array.items {
                array.items = ArrayItems::RefOrSchema(Box::new(apply(*items, rules)));
            }
        }
        Rule::Required => {
            if let SchemaType::Array(types) = &mut array.schema_type {
                types.retain(|found| *found != Type::Null);
                if types.len() == 1 {
                    array.schema_type = SchemaType::Type(types[0].clone());
                }
            }
        }
        other => {
            let constrained = apply_one(
                RefOr::T(Schema::Object(Object::with_type(SchemaType::AnyValue))),
                other,
            );
            let mut all_of = AllOf::new();
            all_of.items = vec![RefOr::T(Schema::Array(array)), constrained];
            return RefOr::T(Schema::AllOf(all_of));
        }
    }
    RefOr::T(Schema::Array(array))
}

/// Patterns combine by `allOf` when one is there already.
fn with_pattern(mut object: Object, pattern: String) -> RefOr<Schema> {
    match object.pattern.take() {
        None => {
            object.pattern = Some(pattern);
            RefOr::T(Schema::Object(object))
        }
        Some(existing) => {
            object.pattern = Some(existing);
            let extra = ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .pattern(Some(pattern))
                .build();
            let mut all_of = AllOf::new();
            all_of.items = vec![
                RefOr::T(Schema::Object(object)),
                RefOr::T(Schema::Object(extra)),
            ];
            RefOr::T(Schema::AllOf(all_of))
        }
    }
}

fn note_unmapped(schema: RefOr<Schema>, name: &'static str) -> RefOr<Schema> {
    fn add(extensions: &mut Option<Extensions>, name: &str) {
        let extensions = extensions.get_or_insert_with(Extensions::default);
        let mut names: Vec<serde_json::Value> = match extensions.get("x-portcullis-rules") {
            Some(serde_json::Value::Array(names)) => names.clone(),
            _ => Vec::new(),
        };
        names.push(name.into());
        extensions.merge(
            Extensions::builder()
                .add("x-portcullis-rules", names)
                .build(),
        );
    }
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            add(&mut object.extensions, name);
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::Array(mut array)) => {
            add(&mut array.extensions, name);
            RefOr::T(Schema::Array(array))
        }
        other => {
            let mut marker = Object::with_type(SchemaType::AnyValue);
            add(&mut marker.extensions, name);
            let mut all_of = AllOf::new();
            all_of.items = vec![other, RefOr::T(Schema::Object(marker))];
            RefOr::T(Schema::AllOf(all_of))
        }
    }
}

fn number(value: f64) -> utoipa::Number {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        if value < 0.0 {
            utoipa::Number::Int(value as isize)
        } else {
            utoipa::Number::UInt(value as usize)
        }
    } else {
        utoipa::Number::Float(value)
    }
}

/// Escapes `text` for use inside an ECMA-262 regular expression.
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    fn json(schema: RefOr<Schema>) -> serde_json::Value {
        serde_json::to_value(schema).unwrap()
    }

    #[test]
    fn strings() {
        let schema = apply(
            String::schema(),
            &[
                Rule::Length {
                    min: Some(1),
                    max: Some(64),
                    unit: LengthUnit::Chars,
                },
                Rule::Format("email"),
                Rule::Prefix("a.b"),
            ],
        );
        assert_eq!(
            json(schema),
            serde_json::json!({"type": "string", "minLength": 1, "maxLength": 64, "format": "email", "pattern": "^a\\.b"})
        );
        let bytes = apply(
            String::schema(),
            &[Rule::Length {
                min: None,
                max: Some(8),
                unit: LengthUnit::Bytes,
            }],
        );
        assert_eq!(json(bytes)["x-portcullis-length"], "bytes");
    }

    #[test]
    fn numbers_lists_and_options() {
        let quantity = apply(
            u32::schema(),
            &[Rule::Range {
                min: Some(1.0),
                max: Some(1000.0),
            }],
        );
        let quantity = json(quantity);
        assert_eq!(
            (quantity["minimum"].clone(), quantity["maximum"].clone()),
            (1.into(), 1000.into())
        );

        let list = apply(
            <Vec<String>>::schema(),
            &[
                Rule::Length {
                    min: Some(1),
                    max: Some(3),
                    unit: LengthUnit::Bytes,
                },
                Rule::Inner(&[Rule::Format("uri")]),
            ],
        );
        let list = json(list);
        assert_eq!(
            (list["minItems"].clone(), list["maxItems"].clone()),
            (1.into(), 3.into())
        );
        assert_eq!(list["items"]["format"], "uri");

        let optional = json(apply(
            <Option<u8>>::schema(),
            &[Rule::Range {
                min: None,
                max: Some(5.0),
            }],
        ));
        assert_eq!(
            optional.to_string().matches("\"maximum\":5").count(),
            1,
            "{optional}"
        );
        let required = json(apply(<Option<u8>>::schema(), &[Rule::Required]));
        assert!(!required.to_string().contains("null"), "{required}");
    }

    #[test]
    fn unmapped_rules_are_listed() {
        let schema = json(apply(
            String::schema(),
            &[Rule::Unmapped("custom"), Rule::Unmapped("credit_card")],
        ));
        assert_eq!(
            schema["x-portcullis-rules"],
            serde_json::json!(["custom", "credit_card"])
        );
    }
}
