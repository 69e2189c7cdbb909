//! The grammars of the [Portcullis](https://docs.rs/portcullis) attributes, as plain
//! functions over strings and `proc_macro2` tokens. Not a public API: use the `portcullis`
//! crate.
//!
//! `portcullis-macros` is a `proc-macro` crate, and such a crate can export nothing but
//! its macros. The parsers of what users write in attributes (`#[secure(...)]` arguments,
//! `rate = "100/min"`, `path = "/orders/{id}"`) live here instead, so that the macros call
//! them at compile time and the fuzz targets and tests of the workspace call the very same
//! code as functions. Nothing here depends on `proc_macro`: outside a macro expansion,
//! `proc_macro2` uses its own implementation.
//!
//! The parsers of tokens need the default feature `tokens` (syn); the grammars over
//! strings (`path`, `rate::parse`, `scope`, `suggest`) need nothing, and the runtime uses
//! them without it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "tokens")]
pub mod attr;
#[cfg(feature = "tokens")]
pub mod errors;
pub mod path;
pub mod rate;
pub mod scope;
pub mod suggest;
