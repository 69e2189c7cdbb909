use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, scope = "orders:read")]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}
