use portcullis::prelude::*;

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Write orders",
}

#[input]
struct NewOrder {
    #[garde(length(min = 1, max = 64))]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
}

/// Gets an order.
#[secure(get, path = "/orders/{id}", scope = "orders:read", rate = "100/min")]
async fn get_order(who: Principal, Path(id): Path<u64>) -> Json<String> {
    Json(format!("{} {id}", who.subject().unwrap_or_default()))
}

#[secure(post, path = "/orders", scope = "orders:write")]
async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> Json<u32> {
    Json(new.quantity + new.item.len() as u32)
}

#[public(get, path = "/health", rate = "10/s")]
async fn health() -> &'static str {
    "ok"
}

#[tokio::test]
async fn smoke() {
    let dev = portcullis::dev::DevIssuer::new("https://dev.example/", "orders-api").unwrap();
    let security = Security::builder().issuer(dev.issuer()).default_rate(rate!("600/min")).build().await.unwrap();
    let app: axum::Router = SecureRouter::new(security).mount(routes![get_order, create_order, health]).into_router();
    let token = dev.token().subject("alice").scopes(["orders:read"]).sign();
    use tower::ServiceExt;
    let response = app
        .oneshot(
            axum::http::Request::get("/orders/7")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let p = Principal::builder("x").subject("bob").build();
    let Json(text) = get_order(p, Path(3)).await;
    assert_eq!(text, "bob 3");
}
