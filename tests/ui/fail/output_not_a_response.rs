//! A handler returns a response; the output type is checked even before the handler is mounted.

use portcullis::prelude::*;

struct Order;

#[public(get, path = "/order")]
async fn order() -> Order {
    Order
}

fn main() {}
