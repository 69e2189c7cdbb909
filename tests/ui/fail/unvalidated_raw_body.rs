use portcullis::prelude::*;

#[public(post, path = "/echo")]
async fn echo(body: String) -> String {
    body
}

fn main() {}
