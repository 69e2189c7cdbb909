//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009), for the
//! issuer's opaque tokens.
//!
//! Introspection is for the resource server only: it authenticates with the credentials
//! of [`DevIssuer::introspection`] (HTTP Basic or in the body, as at the token endpoint).
//! The answer is `{"active": false}` for a token that is unknown, expired or revoked, and
//! otherwise the token's claims with `active: true` and its `token_type`.
//!
//! Revocation is for the client the token was issued to; as RFC 7009 §2.2 asks, the answer
//! is 200 whether or not the token was known.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::DevIssuer;
use super::clients::ClientKind;
use super::token_endpoint::{
    MAX_BODY_BYTES, OAuthError, credentials, is_form, no_store, parse_form,
};

/// The parameters of an introspection or revocation request: the authenticated client's
/// kind and id, and the token.
struct Request {
    client_id: String,
    kind: ClientKind,
    token: secrecy::SecretString,
}

/// Reads and authenticates a request.
async fn read(dev: &DevIssuer, headers: &HeaderMap, body: Body) -> Result<Request, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::invalid_request(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
        })?;
    let mut params = parse_form(&body)?;
    let credentials = credentials(headers, &mut params)?;
    let Some((_, kind)) = dev.authenticate(&credentials.client_id, &credentials.secret) else {
        return Err(OAuthError::invalid_client("client authentication failed"));
    };
    let token = params
        .token
        .take()
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    Ok(Request {
        client_id: credentials.client_id,
        kind,
        token,
    })
}

/// The `POST /oauth/introspect` handler.
pub(crate) async fn introspection_endpoint(
    State(dev): State<DevIssuer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request = match read(&dev, &headers, body).await {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    if request.kind != ClientKind::ResourceServer {
        return OAuthError::new(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "only the resource server may introspect tokens",
        )
        .into_response();
    }
    let answer = match dev.opaque_tokens().active(request.token.expose_secret()) {
        Some(mut claims) => {
            let token_type = if claims.contains_key("cnf") {
                "DPoP"
            } else {
                "Bearer"
            };
            claims.insert("active".to_owned(), Value::Bool(true));
            claims.insert("token_type".to_owned(), token_type.into());
            Value::Object(claims)
        }
        None => json!({ "active": false }),
    };
    let mut response = axum::Json(answer).into_response();
    no_store(response.headers_mut());
    response
}

/// The `POST /oauth/revoke` handler.
pub(crate) async fn revocation_endpoint(
    State(dev): State<DevIssuer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request = match read(&dev, &headers, body).await {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let token = request.token.expose_secret();
    let issued_to_caller = dev.opaque_tokens().active(token).is_some_and(|claims| {
        claims.get("client_id").and_then(Value::as_str) == Some(request.client_id.as_str())
    });
    if issued_to_caller {
        dev.opaque_tokens().revoke(token);
        tracing::debug!(client_id = ?request.client_id, "dev issuer: opaque token revoked");
    }
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    response
}
