use portcullis::prelude::*;

#[public(get, path = "/health")]
fn health() -> &'static str {
    "ok"
}

fn main() {}
