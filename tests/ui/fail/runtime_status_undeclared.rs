use axum::http::StatusCode;
use portcullis::prelude::*;

portcullis::scopes! { "orders:write" => "Create orders" }

#[secure(post, path = "/orders", scope = "orders:write")]
async fn create_order(_who: Principal) -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "created")
}

fn main() {}
