use portcullis::prelude::*;

#[input]
struct NewOrder {
    #[garde(length(min = 1, max = 64))]
    item: String,
}

#[input]
struct OrderRef {
    #[garde(range(min = 1))]
    id: u64,
}

#[public(post, path = "/orders/{id}")]
async fn create_order(Json(new): Json<NewOrder>, Path(id): Path<OrderRef>) -> String {
    format!("{} {}", new.item, id.id)
}

fn main() {}
