use std::rc::Rc;

use portcullis::prelude::*;

async fn log(_line: &str) {}

#[public(get, path = "/count")]
async fn count() -> String {
    let counter = Rc::new(1);
    log("counting").await;
    counter.to_string()
}

fn main() {
    // Mounted, it is still the one error.
    let _: portcullis::Routes = routes![count];
}
