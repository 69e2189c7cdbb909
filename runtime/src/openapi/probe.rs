//! Finding the schema of a concrete type: from [`Input`], else from `utoipa::ToSchema`,
//! else an empty schema ("any value"). Generated code calls these with concrete types,
//! where the choice is made at compile time (autoref specialization), so a type with
//! neither trait documents as "any value" instead of failing to compile.

use std::marker::PhantomData;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};

use super::SchemaRegistry;
use crate::input::Input;

/// A type whose schema is wanted. Call `(&&&SchemaProbe::<T>::new()).schema_of(registry)`
/// with the three traits of this module in scope.
pub struct SchemaProbe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> SchemaProbe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        SchemaProbe(PhantomData)
    }
}

/// First choice: the type is an [`Input`].
pub trait ViaInput {
    /// The schema.
    fn schema_of(&self, registry: &mut SchemaRegistry) -> RefOr<Schema>;
}

impl<T: Input> ViaInput for &&SchemaProbe<T> {
    fn schema_of(&self, registry: &mut SchemaRegistry) -> RefOr<Schema> {
        T::schema(registry)
    }
}

/// Second choice: the type implements `utoipa::ToSchema` (for example through
/// `#[portcullis::output]`).
pub trait ViaToSchema {
    /// The schema.
    fn schema_of(&self, registry: &mut SchemaRegistry) -> RefOr<Schema>;
}

impl<T: utoipa::ToSchema + 'static> ViaToSchema for &SchemaProbe<T> {
    fn schema_of(&self, registry: &mut SchemaRegistry) -> RefOr<Schema> {
        utoipa_schema::<T>(registry)
    }
}

/// Last resort: any value.
pub trait ViaNothing {
    /// An empty schema.
    fn schema_of(&self, registry: &mut SchemaRegistry) -> RefOr<Schema>;
}

impl<T: ?Sized> ViaNothing for SchemaProbe<T> {
    fn schema_of(&self, _registry: &mut SchemaRegistry) -> RefOr<Schema> {
        RefOr::T(Schema::Object(Object::with_type(SchemaType::AnyValue)))
    }
}

/// The schema of a `utoipa::ToSchema` type: objects and enums become named components,
/// other shapes stay inline; the schemas they refer to are registered.
pub fn utoipa_schema<T: utoipa::ToSchema + 'static>(
    registry: &mut SchemaRegistry,
) -> RefOr<Schema> {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    for (name, schema) in nested {
        registry.insert_if_absent(name, schema);
    }
    let schema = T::schema();
    let named = match &schema {
        RefOr::T(Schema::Object(object)) => object.schema_type == SchemaType::Type(Type::Object),
        RefOr::T(Schema::OneOf(_) | Schema::AllOf(_) | Schema::AnyOf(_)) => true,
        _ => false,
    };
    if named {
        let name = T::name();
        registry.register::<T>(&name, std::any::type_name::<T>(), |_| schema)
    } else {
        schema
    }
}
