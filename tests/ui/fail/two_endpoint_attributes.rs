//! One attribute per endpoint: a second one is an error, not a second route.

use portcullis::prelude::*;

#[public(get, path = "/a")]
#[public(get, path = "/b")]
async fn health() -> &'static str {
    "ok"
}

fn main() {
    let _: portcullis::Routes = routes![health];
}
