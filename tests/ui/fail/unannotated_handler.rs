use portcullis::prelude::*;

async fn plain_handler() -> &'static str {
    "no attribute"
}

fn main() {
    let _routes: portcullis::Routes = routes![plain_handler];
}
