use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

// `dpop` is a bare word, once, and only on `#[secure]`: a public endpoint takes no token.
#[public(get, path = "/status", dpop)]
async fn status() -> &'static str {
    "ok"
}

#[secure(get, path = "/orders", scope = "orders:read", dpop = true)]
async fn list_orders(_who: Principal) -> &'static str {
    "[]"
}

#[secure(get, path = "/payments", scope = "orders:read", dpop, dpop)]
async fn list_payments(_who: Principal) -> &'static str {
    "[]"
}

#[secure(get, path = "/refunds", scope = "orders:read", dpop(required))]
async fn list_refunds(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}
