use portcullis::prelude::*;

#[input]
struct NewOrder {
    #[garde(length(min = 1, max = 64))]
    item: String,
    quantity: u32,
}

#[public(post, path = "/orders")]
async fn create_order(Json(new): Json<NewOrder>) -> String {
    format!("{} {}", new.item, new.quantity)
}

fn main() {}
