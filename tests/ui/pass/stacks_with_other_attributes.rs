//! `#[secure]` keeps the handler as written, so other attributes stack in either order.

use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[tracing::instrument]
#[secure(get, path = "/a/{id}", scope = "orders:read")]
async fn instrumented_outside(Path(id): Path<u64>) -> String {
    id.to_string()
}

#[secure(get, path = "/b/{id}", scope = "orders:read")]
#[tracing::instrument(skip(who))]
async fn instrumented_inside(who: Principal, Path(id): Path<u64>) -> String {
    format!("{id} {:?}", who.subject())
}

#[secure(get, path = "/c/{id}", scope = "orders:read")]
#[axum::debug_handler]
async fn debugged(who: Principal, Path(id): Path<u64>) -> String {
    format!("{id} {:?}", who.subject())
}

#[public(get, path = "/d")]
#[allow(clippy::unused_async)]
#[must_use]
async fn with_lints() -> &'static str {
    "d"
}

fn main() {
    let _routes: portcullis::Routes = routes![
        instrumented_outside,
        instrumented_inside,
        debugged,
        with_lints
    ];
}
