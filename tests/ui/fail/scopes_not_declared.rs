use portcullis::prelude::*;

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}
