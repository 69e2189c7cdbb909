#!/usr/bin/env python3
"""Generates the two crates of the compile-time benchmark.

    gen.py OUT_DIR REPO_ROOT [RESOURCES]

writes OUT_DIR/portcullis_100 and OUT_DIR/axum_utoipa_100: the same 100 handlers (10
resources x (6 GET with a path parameter and a response type of their own, 3 POST with a
validated JSON body type of their own, 1 DELETE)), once with Portcullis' attributes and
once with plain axum 0.8 + `#[utoipa::path]` + utoipa-axum's `OpenApiRouter`, a garde
validating extractor written once and a bearer security scheme in the document. The plain
side enforces nothing (no authentication, no rate limits): it is what a team writes for
the routing and the documentation anyway.

Each crate has one module per resource (`src/<resource>.rs`) and a `src/main.rs` that
builds the router and the OpenAPI document, and serves them when `SERVE_ADDR` is set, so
that all of it is reachable and compiled. RESOURCES (1 to 10, default 10) keeps only the
first resources, 10 endpoints each: a smaller pair of crates tells the fixed cost of each
stack (linking, the router's own generic code) from the cost per endpoint. Both crates are their own workspace and carry a
copy of the repository's Cargo.lock, so that they use the same dependency versions.
"""

import os
import shutil
import sys

RESOURCES = [
    ("order", "orders"),
    ("customer", "customers"),
    ("invoice", "invoices"),
    ("product", "products"),
    ("shipment", "shipments"),
    ("payment", "payments"),
    ("refund", "refunds"),
    ("cart", "carts"),
    ("review", "reviews"),
    ("supplier", "suppliers"),
]

# Six read views of a resource: (suffix of the type and handler, sub-path).
VIEWS = [
    ("", ""),
    ("_summary", "/summary"),
    ("_history", "/history"),
    ("_notes", "/notes"),
    ("_status", "/status"),
    ("_audit", "/audit"),
]

# Three writes: (handler prefix, type name prefix, sub-path after the collection, whether
# the path has {id}, index of the view whose type it returns).
WRITES = [
    ("create", "New", "", False, 0),
    ("add_note", "NewNote", "/{id}/notes", True, 3),
    ("set_status", "StatusChange", "/{id}/status", True, 4),
]

# Output fields: (name, type, doc, value expression given `id` and `seed`).
OUTPUT_FIELDS = [
    ("name", "String", "The display name.", 'format!("{RES} {id}")'),
    ("quantity", "u32", "How many.", "(id % 1000) as u32 + SEED"),
    ("note", "Option<String>", "A free-form note.", "None"),
    ("tags", "Vec<String>", "Labels.", 'vec!["a".to_owned(), "b".to_owned()]'),
    ("updated_at", "u64", "When it last changed (Unix seconds).", "1_700_000_000 + id"),
    ("active", "bool", "Whether it is in use.", "id % 2 == 0"),
]

# Input fields: (name, type, garde rule, doc, use expression given `body`).
INPUT_FIELDS = [
    ("name", "String", "length(chars, min = 1, max = 64)", "The display name.", "body.name.clone()"),
    ("quantity", "u32", "range(min = 1, max = 1000)", "How many.", "body.quantity"),
    ("contact", "String", "email", "Who to tell.", "body.contact.len() as u32"),
    ("note", "Option<String>", "length(chars, max = 256)", "A free-form note.", "body.note.clone()"),
    ("priority", "u8", "range(min = 0, max = 9)", "Priority, 0 to 9.", "u32::from(body.priority)"),
]


def article(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def camel(singular):
    return singular[0].upper() + singular[1:]


def view_type(singular, view_suffix):
    return camel(singular) + "".join(part.capitalize() for part in view_suffix.split("_"))


def output_fields(k):
    """The fields of view k: `id` plus three to six others."""
    return OUTPUT_FIELDS[: 3 + (k % 4)]


def input_fields(k):
    """The fields of write k: `name` and `quantity` plus one to three others."""
    return INPUT_FIELDS[: 3 + k]


def output_struct(singular, k, attr):
    name = view_type(singular, VIEWS[k][0])
    lines = [f"/// What a client reads of {article(singular)} ({name}).", attr, f"pub struct {name} {{",
             "    /// The id.", "    pub id: u64,"]
    for field, ty, doc, _ in output_fields(k):
        lines += [f"    /// {doc}", f"    pub {field}: {ty},"]
    lines.append("}")
    return "\n".join(lines)


def output_value(singular, k, seed):
    name = view_type(singular, VIEWS[k][0])
    fields = ["id"]
    for field, _, _, value in output_fields(k):
        fields.append(f"{field}: " + value.replace("{RES}", singular).replace("SEED", str(seed)))
    return name + " { " + ", ".join(fields) + " }"


def input_struct(singular, w, attrs):
    name = WRITES[w][1] + camel(singular)
    lines = [f"/// A request to {WRITES[w][0].replace('_', ' ')} {article(singular)}."] + attrs + [f"pub struct {name} {{"]
    for field, ty, rule, doc, _ in input_fields(w):
        lines += [f"    /// {doc}", f"    #[garde({rule})]", f"    pub {field}: {ty},"]
    lines.append("}")
    return "\n".join(lines)


def input_use(w):
    """An expression that reads every field of `body`, so none is dead."""
    reads = [use for _, _, _, _, use in input_fields(w)]
    return "let _ = (" + ", ".join(reads) + ",);"


# ---------------------------------------------------------------------------------------
# Portcullis


def portcullis_module(index, singular, plural):
    out = [
        f"//! The {plural} endpoints.",
        "",
        "use axum::extract::State;",
        "use axum::http::StatusCode;",
        "use portcullis::prelude::*;",
        "",
        "use crate::AppState;",
        "",
    ]
    for k in range(len(VIEWS)):
        out += [output_struct(singular, k, "#[output]"), ""]
    for w in range(len(WRITES)):
        out += [input_struct(singular, w, ["#[input]"]), ""]
    for k, (suffix, sub) in enumerate(VIEWS):
        ty = view_type(singular, suffix)
        rate = ["100/min", "600/min", "60/min"][k % 3]
        out += [
            f"/// Gets the {suffix.strip('_') or 'record'} of {article(singular)}.",
            "///",
            f"/// Read view {k} of the {plural} API.",
            f'#[secure(get, path = "/{plural}/{{id}}{sub}", scope = "{plural}:read", rate = "{rate}", tag = "{plural}", errors(404 = "No such {singular}"))]',
            f"pub async fn get_{singular}{suffix}(",
            "    State(state): State<AppState>,",
            "    _who: Principal,",
            "    Path(id): Path<u64>,",
            f") -> Result<Json<{ty}>, ApiError> {{",
            "    state.touch();",
            "    if id == 0 {",
            f'        return Err(ApiError::not_found(format!("no {singular} {{id}}")));',
            "    }",
            f"    Ok(Json({output_value(singular, k, index + k)}))",
            "}",
            "",
        ]
    for w, (verb, prefix, sub, has_id, view) in enumerate(WRITES):
        ty = view_type(singular, VIEWS[view][0])
        body_ty = prefix + camel(singular)
        burst = ", burst = 5" if w == 1 else ""
        args = ["    State(state): State<AppState>,", "    _who: Principal,"]
        if has_id:
            args.append("    Path(id): Path<u64>,")
        args.append(f"    Json(body): Json<{body_ty}>,")
        out += [
            f"/// {verb.replace('_', ' ').capitalize()}s {article(singular)}.",
            f'#[secure(post, path = "/{plural}{sub}", scope = "{plural}:write", rate = "10/min"{burst}, status = 201, tag = "{plural}")]',
            f"pub async fn {verb}_{singular}(",
            *args,
            f") -> (StatusCode, Json<{ty}>) {{",
            "    state.touch();",
            "    let id = " + ("id" if has_id else "state.next_id()") + ";",
            f"    {input_use(w)}",
            f"    (StatusCode::CREATED, Json({output_value(singular, view, index + w)}))",
            "}",
            "",
        ]
    out += [
        f"/// Deletes {article(singular)}.",
        f'#[secure(delete, path = "/{plural}/{{id}}", scope = "{plural}:admin", rate = "5/min", status = 204, tag = "{plural}", errors(404 = "No such {singular}"))]',
        f"pub async fn delete_{singular}(",
        "    State(state): State<AppState>,",
        "    _who: Principal,",
        "    Path(id): Path<u64>,",
        ") -> Result<StatusCode, ApiError> {",
        "    state.touch();",
        "    if id == 0 {",
        f'        return Err(ApiError::not_found(format!("no {singular} {{id}}")));',
        "    }",
        "    Ok(StatusCode::NO_CONTENT)",
        "}",
    ]
    return "\n".join(out) + "\n"


def handler_names(singular):
    names = [f"get_{singular}{suffix}" for suffix, _ in VIEWS]
    names += [f"{verb}_{singular}" for verb, *_ in WRITES]
    names.append(f"delete_{singular}")
    return names


APP_STATE = """\
/// The state every handler takes.
#[derive(Clone, Default)]
pub struct AppState {
    hits: Arc<AtomicU64>,
}

impl AppState {
    fn touch(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    fn next_id(&self) -> u64 {
        self.hits.load(Ordering::Relaxed) + 1
    }
}
"""

SERVE = """\
    match std::env::var("SERVE_ADDR") {
        Ok(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
            axum::serve(listener, app).await.expect("serve");
        }
        Err(_) => println!("{} endpoints", ENDPOINTS),
    }
"""


def portcullis_main():
    out = [
        "//! 100 secured endpoints with Portcullis (generated by benches/compile_time).",
        "",
        "use std::sync::Arc;",
        "use std::sync::atomic::{AtomicU64, Ordering};",
        "",
        "use portcullis::prelude::*;",
        "",
    ]
    out += [f"mod {plural};" for _, plural in RESOURCES] + [""]
    out.append("portcullis::scopes! {")
    for _, plural in RESOURCES:
        out += [
            f'    "{plural}:read" => "Read {plural}",',
            f'    "{plural}:write" => "Create and change {plural}",',
            f'    "{plural}:admin" => "Delete {plural}",',
        ]
    out += ["}", "", APP_STATE, f"const ENDPOINTS: usize = {10 * len(RESOURCES)};", ""]
    out += [
        'const JWKS: &str = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;',
        "",
        "#[tokio::main]",
        "async fn main() {",
        "    let security = Security::builder()",
        '        .issuer(Issuer::new("https://idp.example.com/").audience("bench-api").jwks_json(JWKS))',
        '        .default_rate(rate!("600/min"))',
        "        .build()",
        "        .await",
        '        .expect("security configuration");',
        "    let app: axum::Router = SecureRouter::new(security)",
        "        .mount(routes![",
    ]
    for singular, plural in RESOURCES:
        out.append("            " + ", ".join(f"{plural}::{name}" for name in handler_names(singular)) + ",")
    out += [
        "        ])",
        '        .with_openapi("/openapi.json")',
        "        .into_router()",
        "        .with_state(AppState::default());",
        SERVE + "}",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# axum + utoipa


def responses(success, body, extra):
    items = [f'(status = {success}, description = "{ "Created" if success == 201 else "No content" if success == 204 else "OK"}"' + (f", body = {body})" if body else ")")]
    items += extra
    items += [
        '(status = 401, description = "Missing or invalid bearer token")',
        '(status = 403, description = "The token lacks the scope")',
        '(status = 429, description = "Too many requests")',
    ]
    return "responses(" + ", ".join(items) + ")"


BODY_ERRORS = [
    '(status = 400, description = "Malformed body")',
    '(status = 422, description = "Invalid body")',
]


def plain_module(index, singular, plural):
    out = [
        f"//! The {plural} endpoints.",
        "",
        "use axum::Json;",
        "use axum::extract::{Path, State};",
        "use axum::http::StatusCode;",
        "use serde::{Deserialize, Serialize};",
        "use utoipa::ToSchema;",
        "",
        "use crate::{ApiError, AppState, ValidJson};",
        "",
    ]
    for k in range(len(VIEWS)):
        out += [output_struct(singular, k, "#[derive(Serialize, ToSchema)]"), ""]
    for w in range(len(WRITES)):
        out += [input_struct(singular, w, ["#[derive(Deserialize, garde::Validate, ToSchema)]", "#[serde(deny_unknown_fields)]"]), ""]
    id_param = f'params(("id" = u64, Path, description = "The {singular}\'s id"))'
    not_found = f'(status = 404, description = "No such {singular}")'
    for k, (suffix, sub) in enumerate(VIEWS):
        ty = view_type(singular, suffix)
        out += [
            f"/// Gets the {suffix.strip('_') or 'record'} of {article(singular)}.",
            "///",
            f"/// Read view {k} of the {plural} API.",
            "#[utoipa::path(",
            "    get,",
            f'    path = "/{plural}/{{id}}{sub}",',
            f'    tag = "{plural}",',
            f"    {id_param},",
            f"    {responses(200, ty, [not_found])},",
            f'    security(("bearer" = ["{plural}:read"]))',
            ")]",
            f"pub async fn get_{singular}{suffix}(",
            "    State(state): State<AppState>,",
            "    Path(id): Path<u64>,",
            f") -> Result<Json<{ty}>, ApiError> {{",
            "    state.touch();",
            "    if id == 0 {",
            f'        return Err(ApiError::not_found(format!("no {singular} {{id}}")));',
            "    }",
            f"    Ok(Json({output_value(singular, k, index + k)}))",
            "}",
            "",
        ]
    for w, (verb, prefix, sub, has_id, view) in enumerate(WRITES):
        ty = view_type(singular, VIEWS[view][0])
        body_ty = prefix + camel(singular)
        args = ["    State(state): State<AppState>,"]
        if has_id:
            args.append("    Path(id): Path<u64>,")
        args.append(f"    ValidJson(body): ValidJson<{body_ty}>,")
        out += [
            f"/// {verb.replace('_', ' ').capitalize()}s {article(singular)}.",
            "#[utoipa::path(",
            "    post,",
            f'    path = "/{plural}{sub}",',
            f'    tag = "{plural}",',
            *( [f"    {id_param},"] if has_id else [] ),
            f"    request_body = {body_ty},",
            f"    {responses(201, ty, BODY_ERRORS)},",
            f'    security(("bearer" = ["{plural}:write"]))',
            ")]",
            f"pub async fn {verb}_{singular}(",
            *args,
            f") -> (StatusCode, Json<{ty}>) {{",
            "    state.touch();",
            "    let id = " + ("id" if has_id else "state.next_id()") + ";",
            f"    {input_use(w)}",
            f"    (StatusCode::CREATED, Json({output_value(singular, view, index + w)}))",
            "}",
            "",
        ]
    out += [
        f"/// Deletes {article(singular)}.",
        "#[utoipa::path(",
        "    delete,",
        f'    path = "/{plural}/{{id}}",',
        f'    tag = "{plural}",',
        f"    {id_param},",
        f"    {responses(204, None, [not_found])},",
        f'    security(("bearer" = ["{plural}:admin"]))',
        ")]",
        f"pub async fn delete_{singular}(",
        "    State(state): State<AppState>,",
        "    Path(id): Path<u64>,",
        ") -> Result<StatusCode, ApiError> {",
        "    state.touch();",
        "    if id == 0 {",
        f'        return Err(ApiError::not_found(format!("no {singular} {{id}}")));',
        "    }",
        "    Ok(StatusCode::NO_CONTENT)",
        "}",
    ]
    return "\n".join(out) + "\n"


PLAIN_SUPPORT = """\
/// A JSON body that is refused unless it deserializes strictly and passes its garde rules.
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate<Context = ()>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        value
            .validate()
            .map_err(|report| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, report.to_string()))?;
        Ok(ValidJson(value))
    }
}

/// An error response: a status and a problem+json body.
pub struct ApiError {
    status: StatusCode,
    detail: String,
}

impl ApiError {
    fn new(status: StatusCode, detail: String) -> Self {
        ApiError { status, detail }
    }

    fn not_found(detail: String) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "status": self.status.as_u16(),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "detail": self.detail,
        });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Declares the bearer scheme the operations' `security(...)` refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(info(title = "Bench API", version = "1.0.0"), modifiers(&BearerScheme))]
struct ApiDoc;
"""


def plain_main():
    out = [
        "//! 100 endpoints with axum, utoipa and utoipa-axum (generated by benches/compile_time).",
        "",
        "use std::sync::Arc;",
        "use std::sync::atomic::{AtomicU64, Ordering};",
        "",
        "use axum::Json;",
        "use axum::extract::{FromRequest, Request};",
        "use axum::http::StatusCode;",
        "use axum::response::{IntoResponse, Response};",
        "use serde::de::DeserializeOwned;",
        "use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};",
        "use utoipa::{Modify, OpenApi};",
        "use utoipa_axum::router::OpenApiRouter;",
        "use utoipa_axum::routes;",
        "",
    ]
    out += [f"mod {plural};" for _, plural in RESOURCES] + [""]
    out += [APP_STATE, PLAIN_SUPPORT, f"const ENDPOINTS: usize = {10 * len(RESOURCES)};", ""]
    out += [
        "#[tokio::main]",
        "async fn main() {",
        "    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())",
    ]
    for singular, plural in RESOURCES:
        # utoipa-axum's `routes!` takes the handlers of one path: GET and DELETE share
        # `/{plural}/{id}`.
        names = handler_names(singular)
        out.append(f"        .routes(routes!({plural}::{names[0]}, {plural}::{names[-1]}))")
        for name in names[1:-1]:
            out.append(f"        .routes(routes!({plural}::{name}))")
    out += [
        "        .split_for_parts();",
        '    let document = serde_json::to_vec(&api).expect("OpenAPI document");',
        "    let app: axum::Router = router",
        '        .route("/openapi.json", axum::routing::get(move || async move {',
        '            ([(axum::http::header::CONTENT_TYPE, "application/json")], document.clone())',
        "        }))",
        "        .with_state(AppState::default());",
        SERVE + "}",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------

AXUM = 'axum = { version = "0.8", default-features = false, features = ["http1", "http2", "tokio", "json", "query", "form", "matched-path", "original-uri", "tracing"] }'
TOKIO = 'tokio = { version = "1", features = ["macros", "rt-multi-thread", "net"] }'
GARDE = 'garde = { version = "0.23", features = ["derive", "full"] }'


def manifest(name, dependencies):
    return "\n".join([
        "[package]",
        f'name = "{name}"',
        'version = "0.1.0"',
        'edition = "2024"',
        "publish = false",
        "",
        "# Its own workspace, wherever it is generated.",
        "[workspace]",
        "",
        "[dependencies]",
        *dependencies,
        "",
    ])


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Rewrite only what changed, so that regenerating keeps cargo's fingerprints.
    if os.path.exists(path):
        with open(path, encoding="utf-8") as existing:
            if existing.read() == text:
                return
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)


def copy_lock(repo, crate_dir):
    target = os.path.join(crate_dir, "Cargo.lock")
    # Keep a lock cargo has already extended (utoipa-axum is not in the repository's).
    if not os.path.exists(target):
        shutil.copyfile(os.path.join(repo, "Cargo.lock"), target)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: gen.py OUT_DIR REPO_ROOT [RESOURCES]")
    out_dir, repo = (os.path.abspath(arg) for arg in sys.argv[1:3])
    count = int(sys.argv[3]) if len(sys.argv) == 4 else len(RESOURCES)
    if not 1 <= count <= len(RESOURCES):
        sys.exit(f"RESOURCES is from 1 to {len(RESOURCES)}")
    del RESOURCES[count:]

    crate = os.path.join(out_dir, "portcullis_100")
    write(os.path.join(crate, "Cargo.toml"), manifest("portcullis_100", [
        f'portcullis = {{ path = "{repo}" }}',
        GARDE, AXUM, TOKIO,
    ]))
    write(os.path.join(crate, "src", "main.rs"), portcullis_main())
    for index, (singular, plural) in enumerate(RESOURCES):
        write(os.path.join(crate, "src", f"{plural}.rs"), portcullis_module(index, singular, plural))
    copy_lock(repo, crate)

    crate = os.path.join(out_dir, "axum_utoipa_100")
    write(os.path.join(crate, "Cargo.toml"), manifest("axum_utoipa_100", [
        AXUM, TOKIO, GARDE,
        'serde = { version = "1", features = ["derive"] }',
        'serde_json = "1"',
        'utoipa = { version = "6", features = ["axum_extras"] }',
        'utoipa-axum = "0.3"',
    ]))
    write(os.path.join(crate, "src", "main.rs"), plain_main())
    for index, (singular, plural) in enumerate(RESOURCES):
        write(os.path.join(crate, "src", f"{plural}.rs"), plain_module(index, singular, plural))
    copy_lock(repo, crate)


if __name__ == "__main__":
    main()
