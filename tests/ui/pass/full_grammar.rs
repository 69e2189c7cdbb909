//! Every key of the grammar, on handlers that mount together.

use axum::http::StatusCode;
use portcullis::prelude::*;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Administer orders",
    "reports:read" => "Read reports",
}

#[input]
struct NewOrder {
    #[garde(length(min = 1, max = 64))]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
}

#[input]
struct Page {
    #[garde(range(min = 1, max = 100))]
    limit: Option<u32>,
}

fn same_tenant(request: &PolicyRequest<'_>) -> PolicyDecision {
    let tenant = request.principal().claim("tenant").and_then(|v| v.as_str());
    PolicyDecision::allow_if(tenant == request.path_param("tenant"), "other tenant")
}

/// Lists orders.
///
/// Newest first.
#[secure(get, path = "/orders", scope = "orders:read", rate = "100/min", burst = 20, rate_key = client, tag = "orders")]
async fn list_orders(_who: Principal, Query(page): Query<Page>) -> Json<Vec<u32>> {
    Json(vec![page.limit.unwrap_or(10)])
}

#[secure(post, path = "/orders", scopes = ["orders:write", "orders:read"], rate = "10/s", rate_key = subject, body_limit = 1024, operation_id = "createOrder", status = 201, errors(409 = "The order exists", 503 = "Try later"))]
async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> (StatusCode, Json<u32>) {
    (StatusCode::CREATED, Json(new.quantity))
}

#[secure(get, path = "/reports/{id}", any_scope = ["reports:read", "orders:admin"], rate = "5/h", rate_key = ip, dpop)]
async fn report(_who: Principal, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[secure(delete, path = "/orders/{id}", scope = "orders:admin", roles = ["admin", "auditor"], rate = "unlimited", status = 204)]
async fn delete_order(_who: Principal, Path(_id): Path<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[secure(put, path = "/tenants/{tenant}/orders/{id}", policy = same_tenant, rate = "1/d", rate_key = global, status = 200)]
async fn replace_order(
    Path((_tenant, _id)): Path<(String, u64)>,
    _who: Principal,
    Json(_new): Json<NewOrder>,
) -> StatusCode {
    StatusCode::OK
}

#[secure(patch, path = "/admin", roles = ["admin"])]
async fn admin(_who: Principal) {}

#[public(head, path = "/health")]
async fn health_head() {}

#[public(get, path = "/health", rate = "10/s", rate_key = global)]
async fn health() -> &'static str {
    "ok"
}

#[public(options, path = "/files/{*rest}")]
async fn files(Path(rest): Path<String>, who: Option<Principal>) -> String {
    format!("{rest} {:?}", who.map(|w| w.subject().map(str::to_owned)))
}

fn main() {
    let _routes: portcullis::Routes = routes![
        list_orders,
        create_order,
        report,
        delete_order,
        replace_order,
        admin,
        health_head,
        health,
        files,
    ];
    let _rate: portcullis::Rate = portcullis::rate!("600/min", burst = 50);
}
