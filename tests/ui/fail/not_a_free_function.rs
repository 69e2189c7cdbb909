//! A function `#[public]` cannot wrap (generic, a method) is one error, also when mounted.

use portcullis::prelude::*;

#[public(get, path = "/a")]
async fn generic<T: Default>() -> String {
    String::new()
}

fn main() {
    let _: portcullis::Routes = routes![generic];
}

struct Api;

impl Api {
    #[public(get, path = "/b")]
    async fn health(&self) -> &'static str {
        "ok"
    }
}

fn mount() -> portcullis::Routes {
    routes![Api::health]
}
