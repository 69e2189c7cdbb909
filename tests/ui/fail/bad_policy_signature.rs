use portcullis::prelude::*;

fn owner_only(principal: &Principal) -> bool {
    principal.subject().is_some()
}

#[secure(get, path = "/orders", policy = owner_only)]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}
