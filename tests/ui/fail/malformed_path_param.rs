use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[secure(get, path = "/orders/:id", scope = "orders:read")]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[public(get, path = "/files/{name")]
async fn get_file(Path(name): Path<String>) -> String {
    name
}

fn main() {}
