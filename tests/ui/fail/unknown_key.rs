use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders", scope = "orders:read", rate_limit = "10/s")]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}
