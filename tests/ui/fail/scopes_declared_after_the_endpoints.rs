//! `scopes!` comes before the endpoints that use it, as any `macro_rules!` macro does.

mod orders {
    use portcullis::prelude::*;

    #[secure(get, path = "/orders", scope = "orders:read")]
    pub async fn list_orders(_who: Principal) -> &'static str {
        "[]"
    }
}

portcullis::scopes! { "orders:read" => "Read orders" }

fn main() {
    let _: portcullis::Routes = portcullis::routes![orders::list_orders];
}
