//! `scopes!` that cannot be read (a missing comma) is one error, even when endpoints use
//! the scopes it declares.

use portcullis::prelude::*;

portcullis::scopes! {
    "orders:read" => "Read orders"
    "orders:write" => "Create orders",
}

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders() -> &'static str {
    "[]"
}

#[secure(post, path = "/orders", scope = "orders:write")]
async fn create_order() -> &'static str {
    "{}"
}

fn main() {
    let _: portcullis::Routes = routes![list_orders, create_order];
}
