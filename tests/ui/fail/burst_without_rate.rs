use portcullis::prelude::*;

#[public(get, path = "/health", burst = 10)]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
