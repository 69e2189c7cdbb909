//! The named schemas of a document (`components.schemas`).

use std::any::TypeId;
use std::collections::BTreeMap;

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};

/// Collects the named schemas an OpenAPI document refers to, each registered once.
///
/// Two different types with the same name get distinct component names (the second one
/// qualified by its module path), so a document never silently merges them.
#[derive(Debug, Default)]
pub struct SchemaRegistry {
    schemas: BTreeMap<String, RefOr<Schema>>,
    names: Vec<(TypeId, String)>,
}

impl SchemaRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        SchemaRegistry::default()
    }

    /// The `$ref` to the schema of `T`, building it with `build` the first time.
    ///
    /// `name` is the short name; `type_name` the full one, used when two types share a
    /// short name. `build` may register other schemas (and may refer to `T` itself: the
    /// name is reserved before it runs, so recursive types terminate).
    pub fn register<T: 'static>(
        &mut self,
        name: &str,
        type_name: &str,
        build: impl FnOnce(&mut SchemaRegistry) -> RefOr<Schema>,
    ) -> RefOr<Schema> {
        let id = TypeId::of::<T>();
        if let Some((_, known)) = self.names.iter().find(|(known, _)| *known == id) {
            return reference(known);
        }
        let component = if self.names.iter().any(|(_, taken)| taken == name) {
            type_name.replace("::", ".")
        } else {
            name.to_owned()
        };
        self.names.push((id, component.clone()));
        let schema = build(self);
        self.schemas.insert(component.clone(), schema);
        reference(&component)
    }

    /// Adds a schema under `name` unless one is there already (for schemas that come from
    /// `utoipa::ToSchema::schemas`).
    pub fn insert_if_absent(&mut self, name: String, schema: RefOr<Schema>) {
        self.schemas.entry(name).or_insert(schema);
    }

    /// The schema registered under `name`, following nothing.
    pub fn get(&self, name: &str) -> Option<&RefOr<Schema>> {
        self.schemas.get(name)
    }

    /// Resolves a `$ref` to a component of this registry; inline schemas resolve to
    /// themselves.
    pub fn resolve<'a>(&'a self, schema: &'a RefOr<Schema>) -> Option<&'a Schema> {
        match schema {
            RefOr::T(schema) => Some(schema),
            RefOr::Ref(reference) => {
                let name = reference
                    .ref_location
                    .strip_prefix("#/components/schemas/")?;
                match self.schemas.get(name)? {
                    RefOr::T(schema) => Some(schema),
                    RefOr::Ref(_) => None,
                }
            }
        }
    }

    /// Every schema, by component name.
    pub fn into_schemas(self) -> BTreeMap<String, RefOr<Schema>> {
        self.schemas
    }
}

fn reference(component: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(component))
}

/// `schema` with `description`, where the schema has room for one and none yet.
pub(crate) fn with_description(schema: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    let text = Some(description.to_owned());
    match schema {
        RefOr::T(Schema::Object(mut object)) if object.description.is_none() => {
            object.description = text;
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::Array(mut array)) if array.description.is_none() => {
            array.description = text;
            RefOr::T(Schema::Array(array))
        }
        RefOr::T(Schema::OneOf(mut one_of)) if one_of.description.is_none() => {
            one_of.description = text;
            RefOr::T(Schema::OneOf(one_of))
        }
        RefOr::T(Schema::AllOf(mut all_of)) if all_of.description.is_none() => {
            all_of.description = text;
            RefOr::T(Schema::AllOf(all_of))
        }
        RefOr::T(Schema::AnyOf(mut any_of)) if any_of.description.is_none() => {
            any_of.description = text;
            RefOr::T(Schema::AnyOf(any_of))
        }
        other => other,
    }
}

/// The description of an inline schema.
pub(crate) fn description_of(schema: &RefOr<Schema>) -> Option<String> {
    match schema {
        RefOr::T(Schema::Object(object)) => object.description.clone(),
        RefOr::T(Schema::Array(array)) => array.description.clone(),
        RefOr::T(Schema::OneOf(one_of)) => one_of.description.clone(),
        RefOr::T(Schema::AllOf(all_of)) => all_of.description.clone(),
        RefOr::T(Schema::AnyOf(any_of)) => any_of.description.clone(),
        _ => None,
    }
}
