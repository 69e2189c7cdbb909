use portcullis::prelude::*;

#[derive(serde::Deserialize)]
struct NewOrder {
    item: String,
}

#[public(post, path = "/orders")]
async fn create_order(Json(new): Json<NewOrder>) -> String {
    new.item
}

fn main() {
    let _routes: portcullis::Routes = routes![create_order];
}
