use portcullis::prelude::*;

#[public(get, path = "/health", rate = "0/s")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
