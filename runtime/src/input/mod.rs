//! Validated extractors: every input a handler takes is parsed strictly and checked.

mod body;
mod body_extractor;
mod form;
mod json;
mod path;
mod query;
mod safe;
mod traits;
mod unchecked;

pub use body_extractor::BodyExtractor;
pub use form::Form;
pub use json::Json;
pub use path::Path;
pub use query::Query;
pub use safe::SafeExtractor;
pub use traits::{Input, InputParameter, object_parameters, violations};
pub use unchecked::Unchecked;
