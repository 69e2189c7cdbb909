//! The OpenAPI 3.1 document of a set of endpoints: operations, security, rejections.

use std::collections::BTreeMap;

use http::StatusCode;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, OpenIdConnect, Scopes,
    SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required,
};

use super::SchemaRegistry;
use super::doc::{OperationDoc, ParameterPlace};
use crate::auth::{
    DpopMode, IssuerDocumentation, OPENID_CONFIGURATION, TENANT_PLACEHOLDER, TenantTemplate,
};
use crate::authz::{Requirements, ScopeRegistry};
use crate::endpoint::{EndpointSpec, HttpMethod as Method, MountedEndpoint};
use crate::problem::PROBLEM_JSON;
use crate::rate::{EndpointRate, Rate};
use crate::security::Security;

/// The name of the problem-details schema in `components.schemas`.
pub const PROBLEM_SCHEMA: &str = "Problem";

/// Title, version and description of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiInfo {
    /// The API's title.
    pub title: String,
    /// The API's version (not the OpenAPI version).
    pub version: String,
    /// A description, in CommonMark.
    pub description: Option<String>,
}

impl Default for OpenApiInfo {
    fn default() -> Self {
        OpenApiInfo {
            title: "API".to_owned(),
            version: "1.0.0".to_owned(),
            description: None,
        }
    }
}

/// Why no document could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenApiError {
    /// Two endpoints have the same operation id.
    #[error(
        "`{first}` and `{second}` both have the operation id \"{id}\"; \
         give one of them `operation_id = \"...\"`"
    )]
    DuplicateOperationId {
        /// The id.
        id: String,
        /// The first handler.
        first: &'static str,
        /// The second handler.
        second: &'static str,
    },
}

/// A security scheme of the document, and what it can express.
struct SchemeRef {
    name: String,
    scheme: SecurityScheme,
    /// Whether requirements on it can list scopes (OAuth 2.0 and OpenID Connect).
    scoped: bool,
}

/// Builds the document of `endpoints`, each at the path it answers at.
pub fn build(
    endpoints: &[MountedEndpoint],
    security: &Security,
    scopes: Option<&ScopeRegistry>,
    info: &OpenApiInfo,
) -> Result<OpenApi, OpenApiError> {
    let specs: Vec<&'static EndpointSpec> = endpoints.iter().map(|mounted| mounted.spec).collect();
    check_operation_ids(&specs)?;
    let schemes = security_schemes(security, scopes);
    let errors = ErrorBody::of(security);
    let mut registry = SchemaRegistry::new();
    let mut paths = PathsBuilder::new().build();
    for mounted in endpoints {
        let operation = operation(mounted.spec, security, &schemes, &errors, &mut registry);
        paths.add_path_operation(
            mounted.path,
            vec![http_method(mounted.spec.method)],
            operation,
        );
    }
    let mut components =
        ComponentsBuilder::new().schema(errors.name.clone(), errors.schema.clone());
    for (name, schema) in registry.into_schemas() {
        components = components.schema(name, schema);
    }
    for scheme in schemes {
        components = components.security_scheme(scheme.name, scheme.scheme);
    }
    let info = InfoBuilder::new()
        .title(info.title.clone())
        .version(info.version.clone())
        .description(info.description.clone())
        .build();
    Ok(OpenApiBuilder::new()
        .info(info)
        .paths(paths)
        .components(Some(components.build()))
        .build())
}

fn check_operation_ids(endpoints: &[&'static EndpointSpec]) -> Result<(), OpenApiError> {
    let mut seen: BTreeMap<&str, &'static str> = BTreeMap::new();
    for spec in endpoints {
        let id = operation_id(spec);
        if let Some(first) = seen.insert(id, spec.handler) {
            return Err(OpenApiError::DuplicateOperationId {
                id: id.to_owned(),
                first,
                second: spec.handler,
            });
        }
    }
    Ok(())
}

fn operation_id(spec: &EndpointSpec) -> &'static str {
    spec.operation_id.unwrap_or(spec.handler)
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Patch => HttpMethod::Patch,
        Method::Delete => HttpMethod::Delete,
        Method::Head => HttpMethod::Head,
        Method::Options => HttpMethod::Options,
    }
}

fn security_schemes(security: &Security, registry: Option<&ScopeRegistry>) -> Vec<SchemeRef> {
    let scopes = || {
        let declared = registry.map(ScopeRegistry::scopes).unwrap_or_default();
        Scopes::from_iter(declared.iter().map(|decl| (decl.name, decl.description)))
    };
    let mut schemes = Vec::new();
    let issuers = security.issuer_documentation();
    let numbered = |base: &str, index: usize| {
        if index == 0 {
            base.to_owned()
        } else {
            format!("{base}-{}", index + 1)
        }
    };
    let dpop_algs = security.dpop_algs();
    // One scheme for all the tenants of an issuer template; the other issuers are numbered
    // among themselves.
    let mut templates: Vec<&TenantTemplate> = Vec::new();
    let mut others = 0;
    for issuer in &issuers {
        let token_kinds = token_kinds(issuer.dpop, dpop_algs.as_deref());
        if let Some(template) = issuer.tenants.as_deref() {
            if !templates.iter().any(|seen| std::ptr::eq(*seen, template)) {
                schemes.push(tenants_scheme(
                    template,
                    numbered("tenants", templates.len()),
                    &token_kinds,
                ));
                templates.push(template);
            }
            continue;
        }
        let index = others;
        others += 1;
        let formats = token_formats(issuer);
        if let Some(token_url) = &issuer.token_url {
            let flow = Flow::ClientCredentials(ClientCredentials::new(token_url.clone(), scopes()));
            let description = format!(
                "OAuth 2.0 access tokens ({formats}) issued by {}{token_kinds}",
                issuer.issuer
            );
            schemes.push(SchemeRef {
                name: numbered("oauth2", index),
                scheme: SecurityScheme::OAuth2(OAuth2::with_description([flow], description)),
                scoped: true,
            });
        }
        if let Some(discovery_url) = &issuer.discovery_url {
            let formats = if issuer.opaque {
                format!(" ({formats})")
            } else {
                String::new()
            };
            let description = format!(
                "OpenID Connect access tokens{formats} issued by {}{token_kinds}",
                issuer.issuer
            );
            let scheme = OpenIdConnect::with_description(discovery_url.clone(), description);
            schemes.push(SchemeRef {
                name: numbered("openIdConnect", index),
                scheme: SecurityScheme::OpenIdConnect(scheme),
                scoped: true,
            });
        }
    }
    if schemes.is_empty() {
        let token_kinds = token_kinds(DpopMode::Allowed, dpop_algs.as_deref());
        let opaque = issuers.iter().any(|issuer| issuer.opaque);
        let jwts = issuers.is_empty() || issuers.iter().any(|issuer| issuer.jwts);
        let formats = match (jwts, opaque) {
            (true, true) => "JWTs, or opaque tokens checked by introspection (RFC 7662)",
            (false, true) => "opaque tokens checked by introspection (RFC 7662)",
            _ => "JWT",
        };
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format(if jwts && !opaque { "JWT" } else { "opaque" })
            .description(Some(format!(
                "Bearer access tokens ({formats}); the scopes each operation needs are in its \
                 `security`{token_kinds}"
            )))
            .build();
        schemes.push(SchemeRef {
            name: "bearer".to_owned(),
            scheme: SecurityScheme::Http(bearer),
            scoped: false,
        });
    }
    schemes
}

/// What the document says of the formats of an issuer's tokens: JWTs verified with its
/// keys, opaque tokens checked by its introspection endpoint, or both.
fn token_formats(issuer: &IssuerDocumentation) -> &'static str {
    match (issuer.jwts, issuer.opaque) {
        (true, true) => "RFC 9068 JWTs, or opaque tokens checked by introspection (RFC 7662)",
        (false, true) => "opaque tokens checked by introspection (RFC 7662)",
        _ => "RFC 9068 JWTs",
    }
}

/// The scheme of the tenants of an issuer template: bearer JWTs, its description naming
/// the template and the tenants allowed.
fn tenants_scheme(template: &TenantTemplate, name: String, token_kinds: &str) -> SchemeRef {
    let tenants = template
        .tenants()
        .iter()
        .map(|tenant| format!("`{tenant}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let description = format!(
        "OpenID Connect access tokens (JWTs) issued by the tenants {tenants} of `{}`: a \
         token's `iss` is that identifier with the tenant's id in place of `{TENANT_PLACEHOLDER}` \
         (its provider metadata at `<iss>{OPENID_CONFIGURATION}`), and its `tid` claim is \
         that tenant's id; other tenants' tokens are refused{token_kinds}",
        template.template()
    );
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(description))
        .build();
    SchemeRef {
        name,
        scheme: SecurityScheme::Http(bearer),
        scoped: true,
    }
}

/// What the document says of the bound tokens an issuer's scheme accepts: DPoP-bound ones
/// (RFC 9449) as `mode` and the configuration say (`algs`: the algorithms proofs may use,
/// `None` when DPoP is not configured), and certificate-bound ones (RFC 8705), always held
/// to the connection's certificate.
fn token_kinds(mode: DpopMode, algs: Option<&str>) -> String {
    const CERTIFICATE_BOUND: &str = "tokens bound to a client certificate (`cnf.x5t#S256`, \
         RFC 8705) only on a connection with that certificate";
    let dpop = match (mode, algs) {
        (DpopMode::Refused, _) | (_, None) => {
            "Bearer tokens (`Authorization: Bearer <token>`); DPoP-bound tokens are refused"
                .to_owned()
        }
        (DpopMode::Allowed, Some(algs)) => format!(
            "Tokens bound to a key (`cnf.jkt`) are sent as `Authorization: DPoP <token>` \
             with a `DPoP` proof (RFC 9449) signed with one of {algs}; unbound tokens as \
             `Authorization: Bearer <token>`"
        ),
        (DpopMode::Required, Some(algs)) => format!(
            "DPoP-bound tokens only: `Authorization: DPoP <token>` with a `DPoP` proof \
             (RFC 9449) signed with one of {algs}"
        ),
    };
    format!(". {dpop}; {CERTIFICATE_BOUND}")
}

fn requirements_of(requirements: &Requirements, schemes: &[SchemeRef]) -> Vec<SecurityRequirement> {
    let all: Vec<&str> = requirements.all_scope_names.to_vec();
    let alternatives: Vec<Vec<&str>> = if requirements.any_scope_names.is_empty() {
        vec![all.clone()]
    } else {
        requirements
            .any_scope_names
            .iter()
            .map(|any| {
                let mut scopes = all.clone();
                if !scopes.contains(any) {
                    scopes.push(any);
                }
                scopes
            })
            .collect()
    };
    let mut out = Vec::new();
    for scheme in schemes {
        if scheme.scoped {
            for scopes in &alternatives {
                out.push(SecurityRequirement::new(
                    scheme.name.clone(),
                    scopes.iter().copied(),
                ));
            }
        } else {
            out.push(SecurityRequirement::new(
                scheme.name.clone(),
                Vec::<String>::new(),
            ));
        }
    }
    out
}

/// The body of every rejection: problem details, or the configured renderer's format.
struct ErrorBody {
    name: String,
    media_type: String,
    schema: RefOr<Schema>,
}

impl ErrorBody {
    fn of(security: &Security) -> ErrorBody {
        match security.renderer().schema() {
            Some(custom) => ErrorBody {
                name: custom.name,
                media_type: custom.media_type,
                schema: custom.schema,
            },
            None => ErrorBody {
                name: PROBLEM_SCHEMA.to_owned(),
                media_type: PROBLEM_JSON.to_owned(),
                schema: problem_schema().into(),
            },
        }
    }
}

fn operation(
    spec: &'static EndpointSpec,
    security: &Security,
    schemes: &[SchemeRef],
    errors: &ErrorBody,
    registry: &mut SchemaRegistry,
) -> utoipa::openapi::path::Operation {
    let mut doc = OperationDoc::new(registry);
    (spec.document)(&mut doc);

    let mut builder = OperationBuilder::new()
        .operation_id(Some(operation_id(spec)))
        .summary(spec.summary)
        .description(spec.description)
        .tags(Some(spec.tags.iter().copied()));

    let mut path_names = spec.path_params.iter();
    let (mut has_path, mut has_query) = (false, false);
    for (place, parameter) in &doc.parameters {
        let (name, location) = match place {
            ParameterPlace::Path => {
                has_path = true;
                let name = parameter
                    .name
                    .clone()
                    .or_else(|| path_names.next().map(|n| (*n).to_owned()));
                (name, ParameterIn::Path)
            }
            ParameterPlace::Query => {
                has_query = true;
                (parameter.name.clone(), ParameterIn::Query)
            }
        };
        let Some(name) = name else { continue };
        let required = location == ParameterIn::Path || parameter.required;
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(location)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(parameter.description.clone())
                .schema(Some(parameter.schema.clone())),
        );
    }
    let has_body = doc.body.is_some();
    if let Some((media_type, schema)) = doc.body.take() {
        let body = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content(
                media_type,
                ContentBuilder::new().schema(Some(schema)).build(),
            )
            .build();
        builder = builder.request_body(Some(body));
    }

    let rate = effective_rate(spec, security);
    // With DPoP server nonces, a 401 of an operation that reads tokens gives one, and the
    // answer of a secured operation may give the next.
    let dpop_nonces = security.dpop_nonces_required();
    let nonces = NonceFields {
        with_use_dpop_nonce: dpop_nonces
            && (spec.requirements().is_some() || doc.optional_authentication),
        renewed: dpop_nonces && spec.requirements().is_some(),
        renewed_on_success: dpop_nonces
            && (spec.requirements().is_some() || doc.optional_authentication),
    };
    let success = spec.success_status.unwrap_or(200);
    let mut success_response = ResponseBuilder::new().description(reason(success));
    if rate.is_some() {
        for (name, header) in ratelimit_headers() {
            success_response = success_response.header(name, header);
        }
    }
    if nonces.renewed_on_success {
        success_response = success_response.header("DPoP-Nonce", renewed_dpop_nonce_header());
    }
    if let Some(content) = &doc.response {
        success_response = success_response.content(
            content.media_type,
            ContentBuilder::new().schema(content.schema.clone()).build(),
        );
    }
    let mut responses =
        ResponsesBuilder::new().response(success.to_string(), success_response.build());
    let mut problem = |status: u16, description: &str| {
        responses = std::mem::take(&mut responses).response(
            status.to_string(),
            problem_response(status, description, errors, nonces),
        );
    };
    let secured = spec.requirements();
    let has_inputs = has_path || has_query || has_body;
    if has_inputs || secured.is_some() || doc.optional_authentication {
        let mut causes = Vec::new();
        if has_inputs {
            causes.push("an input does not parse");
        }
        if secured.is_some() || doc.optional_authentication {
            causes.push("the credentials are malformed (two Authorization headers, a token in the query string)");
        }
        problem(400, &format!("Bad request: {}", causes.join("; ")));
    }
    if secured.is_some_and(|requirements| requirements.dpop) {
        problem(
            401,
            "The access token is missing, invalid or expired, or is not DPoP-bound: this \
             operation takes DPoP-bound tokens only (`Authorization: DPoP <token>` with a \
             `DPoP` proof, RFC 9449)",
        );
    } else if secured.is_some() || doc.optional_authentication {
        problem(401, "The bearer token is missing, invalid or expired");
    }
    if secured.is_some() {
        problem(
            403,
            "The token lacks a required scope, role, or the access policy refused",
        );
    }
    for (status, description) in spec.errors {
        problem(*status, description);
    }
    if has_body {
        problem(413, "The body is larger than the endpoint accepts");
        problem(
            415,
            "The body's media type is not the one the endpoint accepts",
        );
    }
    if has_inputs {
        problem(
            422,
            "An input breaks a validation rule; `errors` lists the fields at fault",
        );
    }
    if rate.is_some() {
        problem(
            429,
            "The client's quota is used up; retry after `Retry-After` seconds",
        );
    }
    let shared_limits = rate.is_some() && security.rate_store().is_some();
    let authenticates = secured.is_some() || doc.optional_authentication;
    let shared_revocations = authenticates && security.revocations_are_shared();
    let fetched_keys = authenticates && security.fetches_keys();
    if shared_limits || shared_revocations || fetched_keys {
        let mut causes = Vec::new();
        if fetched_keys {
            causes.push("the issuer's signing keys have not arrived yet");
        }
        if shared_limits || shared_revocations {
            causes.push("a shared store (rate limits, revocations) is unreachable");
        }
        problem(
            503,
            &format!(
                "Unavailable: {}; retry after `Retry-After` seconds",
                causes.join(", or ")
            ),
        );
    }
    builder = builder.responses(responses.build());

    builder = match secured {
        Some(requirements) => builder.securities(Some(requirements_of(requirements, schemes))),
        None if doc.optional_authentication => {
            let mut alternatives = vec![SecurityRequirement::default()];
            alternatives.extend(
                schemes
                    .iter()
                    .map(|s| SecurityRequirement::new(s.name.clone(), Vec::<String>::new())),
            );
            builder.securities(Some(alternatives))
        }
        None => builder.securities(Some(Vec::new())),
    };
    builder.extensions(Some(extensions(spec, rate))).build()
}

/// The rate an endpoint enforces, scaled; `None` when unlimited.
pub(crate) fn effective_rate(spec: &EndpointSpec, security: &Security) -> Option<Rate> {
    match spec.rate {
        EndpointRate::Default => Some(security.default_rate()),
        EndpointRate::Limit(rate) => Some(rate.scaled(security.rate_scale())),
        EndpointRate::Unlimited => None,
    }
}

fn extensions(spec: &EndpointSpec, rate: Option<Rate>) -> Extensions {
    let mut extensions = Extensions::builder();
    extensions = extensions.add(
        "x-ratelimit",
        match rate {
            Some(rate) => serde_json::json!({
                "limit": rate.count(),
                "window": rate.period().as_secs(),
                "burst": rate.burst(),
                "key": spec.rate_key.to_string(),
            }),
            None => serde_json::json!("unlimited"),
        },
    );
    if let Some(requirements) = spec.requirements() {
        if !requirements.roles.is_empty() {
            extensions = extensions.add("x-portcullis-roles", requirements.roles.to_vec());
        }
        if let Some(policy) = requirements.policy {
            extensions = extensions.add("x-portcullis-policy", policy.name);
        }
    }
    extensions.build()
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Response")
}

/// The `DPoP-Nonce` field of a response to a secured operation's request whose proof
/// carried a nonce about to expire.
fn renewed_dpop_nonce_header() -> utoipa::openapi::header::Header {
    dpop_nonce_header(
        "The next DPoP server nonce, once the proof's nonce expires at the end of the \
         current time step (RFC 9449 §8.2): put it in the next proofs",
    )
}

/// Which answers of an operation give a `DPoP-Nonce`, when the API uses server nonces.
#[derive(Clone, Copy)]
struct NonceFields {
    /// A 401 `use_dpop_nonce` gives the nonce to use (operations that read tokens).
    with_use_dpop_nonce: bool,
    /// An answer after authentication (success, 403, 429) may give the next one (secured
    /// operations).
    renewed: bool,
    /// A success may give the next one: secured operations, and public ones that read the
    /// caller (`Option<Principal>`), whose authentication comes before their answer.
    renewed_on_success: bool,
}

/// A `DPoP-Nonce` response field, as `description` says it is given.
fn dpop_nonce_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .build(),
        ))
        .description(Some(description))
        .build()
}

/// The answer of `status` in the API's error format, with the fields it carries,
/// `DPoP-Nonce` as `nonces` says.
fn problem_response(
    status: u16,
    description: &str,
    errors: &ErrorBody,
    nonces: NonceFields,
) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        errors.media_type.clone(),
        ContentBuilder::new()
            .schema(Some(RefOr::Ref(Ref::from_schema_name(errors.name.clone()))))
            .build(),
    );
    let string = || {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .build()
    };
    match status {
        401 | 403 => {
            response = response.header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(Some(string()))
                    .description(Some(
                        "RFC 6750 Bearer challenge: realm, error, error_description, scope",
                    ))
                    .build(),
            );
            if status == 401 && nonces.with_use_dpop_nonce {
                response = response.header(
                    "DPoP-Nonce",
                    dpop_nonce_header(
                        "A DPoP server nonce, with the error `use_dpop_nonce`: put it in the \
                         proof and send the request again (RFC 9449 §9)",
                    ),
                );
            }
            if status == 403 && nonces.renewed {
                response = response.header("DPoP-Nonce", renewed_dpop_nonce_header());
            }
        }
        429 | 503 => {
            let seconds = ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(1))
                .build();
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(seconds))
                    .description(Some("Seconds until a request is allowed again"))
                    .build(),
            );
            if status == 429 {
                for (name, header) in ratelimit_headers() {
                    response = response.header(name, header);
                }
                if nonces.renewed {
                    response = response.header("DPoP-Nonce", renewed_dpop_nonce_header());
                }
            }
        }
        _ => {}
    }
    response.build()
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10).
fn ratelimit_headers() -> [(&'static str, utoipa::openapi::header::Header); 2] {
    let string = || {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .build()
    };
    [
        (
            "RateLimit-Policy",
            HeaderBuilder::new()
                .schema(Some(string()))
                .description(Some("The quota policy: `\"name\";q=<requests>;w=<seconds>` (draft-ietf-httpapi-ratelimit-headers-10)"))
                .build(),
        ),
        (
            "RateLimit",
            HeaderBuilder::new()
                .schema(Some(string()))
                .description(Some("What is left: `\"name\";r=<remaining>;t=<seconds until more>`"))
                .build(),
        ),
    ]
}

/// The RFC 9457 problem-details schema every rejection uses.
pub fn problem_schema() -> Schema {
    let string = |description: &str| {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(description))
            .build()
    };
    let violation = ObjectBuilder::new()
        .property(
            "path",
            string("Where the value is, like `items[2].quantity`; empty for the input as a whole"),
        )
        .required("path")
        .property("message", string("What is wrong with it"))
        .required("message");
    Schema::Object(
        ObjectBuilder::new()
            .description(Some("Problem details (RFC 9457)"))
            .property("type", string("A URI naming the kind of problem"))
            .required("type")
            .property("title", string("A short summary of the kind of problem"))
            .required("title")
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Integer))
                    .minimum(Some(100))
                    .maximum(Some(599)),
            )
            .required("status")
            .property("detail", string("What happened in this occurrence"))
            .property("errors", ArrayBuilder::new().items(violation))
            .build(),
    )
}
