use portcullis::prelude::*;

#[public(get, path = "/health", rate = "abc")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
