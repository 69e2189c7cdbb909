//! A mistake in `scopes!` is one error, even when endpoints use the scopes it declares.

use portcullis::prelude::*;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:read" => "Read orders again",
}

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders() -> &'static str {
    "[]"
}

#[secure(post, path = "/orders", scopes = ["orders:read", "orders:write"])]
async fn create_order() -> &'static str {
    "{}"
}

fn main() {
    let _: portcullis::Routes = routes![list_orders, create_order];
}
