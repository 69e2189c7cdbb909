//! A handler with a mistake that is mounted: the error is on the handler, and where it is
//! mounted the compiler points there.

use portcullis::prelude::*;

#[input]
struct NewOrder {
    #[garde(length(min = 1, max = 64))]
    item: String,
}

#[public(post, path = "/orders")]
async fn create_order(Json(new): Json<NewOrder>, method: axum::http::Method) -> String {
    format!("{} {method}", new.item)
}

fn main() {
    let _: portcullis::Routes = routes![create_order];
}
