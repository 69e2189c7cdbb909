use portcullis::prelude::*;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

#[secure(get, path = "/orders", scope = "orders:reed")]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}
