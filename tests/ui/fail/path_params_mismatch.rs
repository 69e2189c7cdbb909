use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders/{id}/lines/{line}", scope = "orders:read")]
async fn get_line(_who: Principal, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[secure(get, path = "/orders/{id}", scope = "orders:read")]
async fn get_order(_who: Principal) -> &'static str {
    "{}"
}

#[secure(get, path = "/orders", scope = "orders:read")]
async fn list_orders(_who: Principal, Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}
