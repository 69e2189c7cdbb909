use portcullis::prelude::*;

#[public(get, path = "/me")]
async fn me(who: Principal) -> String {
    who.subject().unwrap_or_default().to_owned()
}

fn main() {}
