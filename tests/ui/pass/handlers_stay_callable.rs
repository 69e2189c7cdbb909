//! Annotated handlers are still plain async functions: unit tests call them directly.

use portcullis::prelude::*;

portcullis::scopes! { "orders:read" => "Read orders" }

#[derive(Clone)]
struct AppState {
    prefix: &'static str,
}

#[secure(get, path = "/orders/{id}", scope = "orders:read")]
pub async fn get_order(
    axum::extract::State(state): axum::extract::State<AppState>,
    who: Principal,
    Path(id): Path<u64>,
) -> Result<Json<String>, ApiError> {
    if id == 0 {
        return Err(ApiError::not_found("no order 0"));
    }
    Ok(Json(format!(
        "{}{id} for {}",
        state.prefix,
        who.subject().unwrap_or("?")
    )))
}

mod nested {
    use portcullis::prelude::*;

    #[public(get, path = "/nested")]
    pub(crate) async fn nested() -> impl axum::response::IntoResponse {
        "nested"
    }
}

#[tokio::main]
async fn main() {
    let who = Principal::builder("https://issuer")
        .subject("alice")
        .build();
    let state = AppState { prefix: "#" };
    let Json(text) = get_order(axum::extract::State(state.clone()), who.clone(), Path(7))
        .await
        .unwrap();
    assert_eq!(text, "#7 for alice");
    assert!(
        get_order(axum::extract::State(state.clone()), who, Path(0))
            .await
            .is_err()
    );
    let _ = nested::nested().await;

    let _router: axum::Router = portcullis::SecureRouter::new(
        portcullis::Security::builder()
            .default_rate(portcullis::rate!("1/s"))
            .build()
            .await
            .unwrap(),
    )
    .mount(routes![nested::nested])
    .into_router();
    let _with_state: fn() -> portcullis::Routes<AppState> = || routes![get_order, nested::nested];
}
