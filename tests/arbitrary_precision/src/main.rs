//! With serde_json's `arbitrary_precision` on, every JSON number reaches a parser as the
//! map `{"$serde_json::private::Number": "<digits>"}`. Portcullis refuses serde_json's
//! reserved member names in tokens and bodies (a client could smuggle a document past its
//! checks with them), but reads that one map as the number it stands for, as serde_json
//! does. This program checks it end to end: a signed token with numeric claims, bodies with
//! integers, decimals and exponents, validation, and the refusal of a client's own reserved
//! name. It exits non-zero on any failure.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portcullis::prelude::*;
use tower::ServiceExt;

portcullis::scopes! { "orders:write" => "Write orders" }

#[input]
struct NewOrder {
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
    #[garde(range(min = 0.0))]
    price: f64,
}

#[output]
struct Created {
    quantity: u32,
    price: f64,
}

#[secure(post, path = "/orders", scope = "orders:write", rate = "100/s")]
async fn create(_who: Principal, Json(new): Json<NewOrder>) -> Json<Created> {
    Json(Created {
        quantity: new.quantity,
        price: new.price,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let keeps_digits = "1.10"
        .parse::<serde_json::Number>()
        .is_ok_and(|number| number.to_string() == "1.10");
    assert!(
        keeps_digits,
        "serde_json is built without arbitrary_precision"
    );

    let dev = portcullis::dev::DevIssuer::new("https://issuer.test/", "orders-api")
        .expect("a development issuer");
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(portcullis::rate!("100/s"))
        .build()
        .await
        .expect("a configuration");
    let app: axum::Router = SecureRouter::new(security)
        .mount(routes![create])
        .into_router();
    let token = dev.token().scopes(["orders:write"]).sign();

    let cases = [
        (r#"{"quantity": 3, "price": 2.50}"#, StatusCode::OK),
        // Integral numbers written as decimals or exponents are integers, as without the
        // feature.
        (r#"{"quantity": 3.0, "price": 1e2}"#, StatusCode::OK),
        (
            r#"{"quantity": 0, "price": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"quantity": 1.5, "price": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"quantity": 3, "price": 1, "$serde_json::private::RawValue": "1"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"quantity": {"$serde_json::private::Number": "3", "x": 1}, "price": 1}"#,
            StatusCode::BAD_REQUEST,
        ),
    ];
    let mut failures = 0;
    for (body, expected) in cases {
        let request = Request::post("/orders")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("a request");
        let response = app.clone().oneshot(request).await.expect("a response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let verdict = if status == expected { "ok" } else { "FAILED" };
        println!(
            "{verdict}: {body} -> {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if status != expected {
            failures += 1;
        }
    }
    assert_eq!(failures, 0, "{failures} case(s) failed");
    println!("arbitrary_precision: tokens and bodies work");
}
