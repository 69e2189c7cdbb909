use portcullis::prelude::*;

#[public(get, path = "/health", rate = "100/minutes")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
