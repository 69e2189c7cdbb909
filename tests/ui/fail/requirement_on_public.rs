use portcullis::prelude::*;

#[public(get, path = "/health", roles = ["admin"])]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
