use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate = "10/s", rate_key = clinet)]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

#[public(get, path = "/health", rate_key = client)]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
