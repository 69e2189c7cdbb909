use portcullis::prelude::*;

portcullis::scopes! { "orders:write" => "Create orders" }

#[derive(serde::Deserialize)]
struct NewOrder {
    item: String,
}

#[secure(post, path = "/orders", scope = "orders:write")]
async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> String {
    new.item
}

fn main() {}
