//! The OpenAPI document: every endpoint with its parameters, body schema (garde rules as
//! constraints), responses, security and rate, served at `with_openapi`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use portcullis::prelude::*;
use serde_json::{Value, json};

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Administer orders",
    "reports:read" => "Read reports",
}

/// A new order.
#[input]
struct NewOrder {
    /// What is ordered.
    #[garde(length(chars, min = 1, max = 64))]
    item: String,
    #[garde(range(min = 1, max = 1000))]
    quantity: u32,
    #[garde(email)]
    contact: Option<String>,
    #[garde(length(min = 1, max = 5), inner(length(chars, max = 8)))]
    tags: Vec<String>,
    #[garde(dive)]
    address: Option<Address>,
    #[garde(custom(no_bad_words))]
    note: Option<String>,
}

fn no_bad_words(value: &Option<String>, _: &()) -> garde::Result {
    match value {
        Some(text) if text.contains("bad") => Err(garde::Error::new("no bad words")),
        _ => Ok(()),
    }
}

#[input]
#[serde(rename_all = "camelCase")]
struct Address {
    #[garde(length(chars, min = 2, max = 2), pattern(r"^[A-Z]{2}$"))]
    country_code: String,
}

#[input]
struct Page {
    /// How many at most.
    #[garde(range(min = 1, max = 100))]
    limit: Option<u32>,
    #[garde(length(chars, max = 20))]
    q: Option<String>,
}

/// An order.
#[output]
struct Order {
    id: u64,
    item: String,
}

/// Lists orders.
///
/// Newest first.
#[secure(
    get,
    path = "/orders",
    scope = "orders:read",
    rate = "100/min",
    tag = "orders"
)]
async fn list_orders(_who: Principal, Query(_page): Query<Page>) -> Json<Vec<Order>> {
    Json(Vec::new())
}

#[secure(post, path = "/orders", scopes = ["orders:read", "orders:write"], status = 201, tag = "orders")]
async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> (StatusCode, Json<Order>) {
    (
        StatusCode::CREATED,
        Json(Order {
            id: 1,
            item: new.item,
        }),
    )
}

#[secure(get, path = "/orders/{id}", scope = "orders:read", errors(404 = "No such order"))]
async fn get_order(_who: Principal, Path(id): Path<u64>) -> Result<Json<Order>, ApiError> {
    Err(ApiError::not_found(format!("no order {id}")))
}

#[secure(delete, path = "/orders/{id}", any_scope = ["orders:admin", "reports:read"], roles = ["admin"], status = 204, rate = "unlimited")]
async fn delete_order(_who: Principal, Path(_id): Path<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[secure(
    put,
    path = "/orders/{id}",
    scope = "orders:write",
    operation_id = "replaceOrder"
)]
async fn replace_order(
    _who: Principal,
    Path(_id): Path<u64>,
    Json(_new): Json<NewOrder>,
) -> &'static str {
    "replaced"
}

#[secure(patch, path = "/orders/{id}/lines/{line}", scope = "orders:write")]
async fn patch_line(_who: Principal, Path((_id, _line)): Path<(u64, u16)>) -> () {}

#[public(get, path = "/health", rate = "10/s")]
async fn health() -> &'static str {
    "ok"
}

#[public(get, path = "/hello")]
async fn hello(who: Option<Principal>) -> String {
    who.and_then(|w| w.subject().map(str::to_owned))
        .unwrap_or_default()
}

async fn router() -> (portcullis::dev::DevIssuer, SecureRouter) {
    let dev = dev_issuer();
    let security = Security::builder()
        .issuer(dev.issuer().token_url("https://issuer.test/oauth/token"))
        .default_rate(rate!("600/min"))
        .build()
        .await
        .unwrap();
    let router = SecureRouter::new(security)
        .mount(routes![
            list_orders,
            create_order,
            get_order,
            delete_order,
            replace_order,
            patch_line,
            health,
            hello
        ])
        .with_openapi("/openapi.json")
        .openapi_info(portcullis::OpenApiInfo {
            title: "Orders".into(),
            version: "1.2.3".into(),
            description: Some("Test API".into()),
        });
    (dev, router)
}

async fn document() -> Value {
    let (_, router) = router().await;
    serde_json::to_value(router.openapi().unwrap()).unwrap()
}

fn op<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "no {method} {path}");
    op
}

fn statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn info_and_security_schemes() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Orders");
    assert_eq!(doc["info"]["version"], "1.2.3");
    let oauth = &doc["components"]["securitySchemes"]["oauth2"];
    assert_eq!(oauth["type"], "oauth2");
    assert_eq!(
        oauth["flows"]["clientCredentials"]["tokenUrl"],
        "https://issuer.test/oauth/token"
    );
    assert_eq!(
        oauth["flows"]["clientCredentials"]["scopes"],
        json!({"orders:read": "Read orders", "orders:write": "Create orders", "orders:admin": "Administer orders", "reports:read": "Read reports"})
    );
}

#[tokio::test]
async fn security_lists_exactly_the_required_scopes() {
    let doc = document().await;
    assert_eq!(
        op(&doc, "/orders", "get")["security"],
        json!([{"oauth2": ["orders:read"]}])
    );
    assert_eq!(
        op(&doc, "/orders", "post")["security"],
        json!([{"oauth2": ["orders:read", "orders:write"]}])
    );
    // Any of: one alternative per scope.
    assert_eq!(
        op(&doc, "/orders/{id}", "delete")["security"],
        json!([{"oauth2": ["orders:admin"]}, {"oauth2": ["reports:read"]}])
    );
    assert_eq!(
        op(&doc, "/orders/{id}", "delete")["x-portcullis-roles"],
        json!(["admin"])
    );
    // Public: no security at all; optional authentication: anonymous or a token.
    assert_eq!(op(&doc, "/health", "get")["security"], json!([]));
    assert_eq!(
        op(&doc, "/hello", "get")["security"],
        json!([{}, {"oauth2": []}])
    );
}

#[tokio::test]
async fn operations_carry_docs_tags_ids_and_rates() {
    let doc = document().await;
    let list = op(&doc, "/orders", "get");
    assert_eq!(list["summary"], "Lists orders.");
    assert_eq!(list["description"], "Newest first.");
    assert_eq!(list["tags"], json!(["orders"]));
    assert_eq!(list["operationId"], "list_orders");
    assert_eq!(
        list["x-ratelimit"],
        json!({"limit": 100, "window": 60, "burst": 100, "key": "client"})
    );
    assert_eq!(
        op(&doc, "/orders/{id}", "put")["operationId"],
        "replaceOrder"
    );
    assert_eq!(
        op(&doc, "/orders/{id}", "delete")["x-ratelimit"],
        "unlimited"
    );
    assert_eq!(op(&doc, "/health", "get")["x-ratelimit"]["key"], "ip");
    // The default rate for endpoints without one.
    assert_eq!(op(&doc, "/orders/{id}", "get")["x-ratelimit"]["limit"], 600);
}

#[tokio::test]
async fn every_method_on_one_path_is_documented() {
    let doc = document().await;
    let methods: Vec<&String> = doc["paths"]["/orders/{id}"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(methods, ["delete", "get", "put"]);
    let orders: Vec<&String> = doc["paths"]["/orders"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(orders, ["get", "post"]);
}

#[tokio::test]
async fn parameters_from_path_and_query() {
    let doc = document().await;
    let get = op(&doc, "/orders/{id}", "get");
    assert_eq!(get["parameters"][0]["name"], "id");
    assert_eq!(get["parameters"][0]["in"], "path");
    assert_eq!(get["parameters"][0]["required"], true);
    assert_eq!(get["parameters"][0]["schema"]["type"], "integer");
    let patch = op(&doc, "/orders/{id}/lines/{line}", "patch");
    let names: Vec<&Value> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(names, [&json!("id"), &json!("line")]);
    let list = op(&doc, "/orders", "get");
    let limit = &list["parameters"][0];
    assert_eq!(
        (
            limit["name"].as_str(),
            limit["in"].as_str(),
            limit["required"].as_bool()
        ),
        (Some("limit"), Some("query"), Some(false))
    );
    assert_eq!(limit["description"], "How many at most.");
    assert!(
        limit["schema"].to_string().contains("\"maximum\":100"),
        "{}",
        limit["schema"]
    );
    assert_eq!(list["parameters"][1]["name"], "q");
}

#[tokio::test]
async fn bodies_carry_the_garde_rules() {
    let doc = document().await;
    let body = &op(&doc, "/orders", "post")["requestBody"];
    assert_eq!(body["required"], true);
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewOrder"
    );
    let schema = &doc["components"]["schemas"]["NewOrder"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["description"], "A new order.");
    assert_eq!(schema["required"], json!(["item", "quantity", "tags"]));
    let item = &schema["properties"]["item"];
    assert_eq!(
        (item["minLength"].clone(), item["maxLength"].clone()),
        (json!(1), json!(64))
    );
    assert_eq!(item["description"], "What is ordered.");
    assert_eq!(schema["properties"]["quantity"]["minimum"], 1);
    assert_eq!(schema["properties"]["quantity"]["maximum"], 1000);
    assert!(
        schema["properties"]["contact"]
            .to_string()
            .contains("\"format\":\"email\"")
    );
    let tags = &schema["properties"]["tags"];
    assert_eq!(
        (tags["minItems"].clone(), tags["maxItems"].clone()),
        (json!(1), json!(5))
    );
    assert_eq!(tags["items"]["maxLength"], 8);
    assert!(
        schema["properties"]["note"]
            .to_string()
            .contains("\"x-portcullis-rules\":[\"custom\"]")
    );
    assert!(
        schema["properties"]["address"]
            .to_string()
            .contains("#/components/schemas/Address")
    );
    let address = &doc["components"]["schemas"]["Address"];
    assert_eq!(address["required"], json!(["countryCode"]));
    assert_eq!(
        address["properties"]["countryCode"]["pattern"],
        "^[A-Z]{2}$"
    );
}

#[tokio::test]
async fn responses_include_every_rejection() {
    let doc = document().await;
    let create = op(&doc, "/orders", "post");
    assert_eq!(
        statuses(create),
        ["201", "400", "401", "403", "413", "415", "422", "429"]
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Order"
    );
    assert!(create["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    assert!(create["responses"]["403"]["headers"]["WWW-Authenticate"].is_object());
    assert!(create["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert_eq!(
        create["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert_eq!(
        statuses(op(&doc, "/orders/{id}", "get")),
        ["200", "400", "401", "403", "404", "422", "429"]
    );
    assert_eq!(
        statuses(op(&doc, "/orders/{id}", "delete")),
        ["204", "400", "401", "403", "422"]
    );
    assert_eq!(statuses(op(&doc, "/health", "get")), ["200", "429"]);
    assert_eq!(
        op(&doc, "/health", "get")["responses"]["200"]["content"]["text/plain; charset=utf-8"]["schema"]
            ["type"],
        "string"
    );
    assert_eq!(
        statuses(op(&doc, "/hello", "get")),
        ["200", "400", "401", "429"]
    );
    let list_schema =
        &op(&doc, "/orders", "get")["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(list_schema["type"], "array");
    assert!(
        doc["components"]["schemas"]["Order"]["properties"]["item"].is_object(),
        "{}",
        doc["components"]["schemas"]
    );
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["errors"].is_object());
}

#[tokio::test]
async fn the_document_is_served_publicly() {
    let (_, router) = router().await;
    let expected = serde_json::to_value(router.openapi().unwrap()).unwrap();
    let app: axum::Router = router.into_router();
    let reply = send(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json(), expected);
    assert!(expected["paths"].get("/openapi.json").is_none());
}

#[tokio::test]
async fn duplicate_operation_ids_are_refused() {
    #[public(get, path = "/a", operation_id = "same")]
    async fn a() {}
    #[public(get, path = "/b", operation_id = "same")]
    async fn b() {}
    let (dev, _) = router().await;
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("1/s"))
        .build()
        .await
        .unwrap();
    let router: SecureRouter = SecureRouter::new(security).mount(routes![a, b]);
    let error = router.openapi().unwrap_err();
    assert_eq!(
        error.to_string(),
        "`a` and `b` both have the operation id \"same\"; give one of them `operation_id = \"...\"`"
    );
}
