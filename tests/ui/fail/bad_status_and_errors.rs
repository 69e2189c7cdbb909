use portcullis::prelude::*;

#[public(get, path = "/a", status = 404, errors(200 = "fine", 409 = "a", 409 = "b"))]
async fn a() {}

#[public(get, path = "/b", errors = [404])]
async fn b() {}

fn main() {}
