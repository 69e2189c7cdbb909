//! The verified caller is refused in a `#[public]` endpoint by its type, whatever it is
//! called: through a type alias, a renaming import, or wrapped in `Option` (allowed).

use portcullis::prelude::*;
use portcullis::Principal as Who;

type Caller = Principal;

#[public(get, path = "/alias")]
async fn alias(who: Caller) -> String {
    who.subject().unwrap_or_default().to_owned()
}

#[public(get, path = "/renamed")]
async fn renamed(who: Who) -> String {
    who.subject().unwrap_or_default().to_owned()
}

#[public(get, path = "/optional")]
async fn optional(who: Option<Caller>) -> String {
    who.and_then(|who| who.subject().map(str::to_owned)).unwrap_or_default()
}

fn main() {}
