//! Validated extractors: every input a handler takes is parsed strictly and checked.

mod body;
mod form;
mod json;
mod path;
mod query;
mod traits;
mod unchecked;

pub use form::Form;
pub use json::Json;
pub use path::Path;
pub use query::Query;
pub use traits::{
    BodyExtractor, Input, InputParameter, SafeExtractor, object_parameters, violations,
};
pub use unchecked::Unchecked;
