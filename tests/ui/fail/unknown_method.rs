use portcullis::prelude::*;

#[public(gett, path = "/health")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
