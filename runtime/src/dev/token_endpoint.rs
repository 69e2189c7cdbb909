//! `POST /oauth/token`: the RFC 6749 §4.4 client-credentials grant.
//!
//! The request is `application/x-www-form-urlencoded` (at most [`MAX_BODY_BYTES`]); the
//! client authenticates by HTTP Basic (`client_secret_basic`, id and secret
//! form-urlencoded first, RFC 6749 §2.3.1) or by `client_id` and `client_secret` in the
//! body (`client_secret_post`), never both. Errors are RFC 6749 §5.2 JSON documents.
//!
//! A request with a `DPoP` proof (RFC 9449 §5: `htm` `POST`, `htu` the token endpoint's
//! URL, signed with the client's key, used once) gets a token bound to that key
//! (`cnf.jkt`), of `token_type` `DPoP`.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header::WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use serde_json::json;

use super::DevIssuer;
use super::clients::{ClientKind, valid_scope_token};
use crate::auth::{ProofRequest, unix_now, verify_proof};

/// The token endpoint's path under the issuer's URL, as a DPoP proof's `htu` names it.
const TOKEN_PATH: &str = "/oauth/token";

/// The largest token request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The `WWW-Authenticate` challenge of every 401 answer.
const BASIC_CHALLENGE: &str = r#"Basic realm="dev""#;

/// An RFC 6749 §5.2 error answer.
#[derive(Debug)]
pub(super) struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
        }
    }

    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(super) fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_scope(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description)
    }
}

/// Marks an answer as not cacheable (RFC 6749 §5.1).
pub(super) fn no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        no_store(response.headers_mut());
        // HTTP requires a challenge with every 401 (RFC 9110 §15.5.2), and RFC 6749 §5.2
        // one for the scheme the client used: Basic is the only one.
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
        }
        response
    }
}

/// Decodes one `application/x-www-form-urlencoded` name or value strictly: `+` is a
/// space, `%` must start two hex digits, and the result must be UTF-8.
pub(super) fn form_decode(raw: &str) -> Option<String> {
    fn hex(digit: u8) -> Option<u8> {
        char::from(digit)
            .to_digit(16)
            .and_then(|value| u8::try_from(value).ok())
    }
    let mut bytes = raw.bytes();
    let mut out = Vec::with_capacity(raw.len());
    while let Some(byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex(bytes.next()?)?;
                let low = hex(bytes.next()?)?;
                out.push(high << 4 | low);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

/// The parameters of a token request this endpoint understands.
#[derive(Default)]
pub(super) struct TokenParams {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    /// The token of an introspection or revocation request.
    pub(super) token: Option<SecretString>,
}

/// Parses a form body. Parameters without a value count as absent (RFC 6749 §3.1), a
/// recognized parameter given twice is an error (§3.2), others are ignored.
pub(super) fn parse_form(body: &[u8]) -> Result<TokenParams, OAuthError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    let mut params = TokenParams::default();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let malformed = || OAuthError::invalid_request("the body is not a valid form");
        let name = form_decode(name).ok_or_else(malformed)?;
        let value = Zeroizing::new(form_decode(value).ok_or_else(malformed)?);
        if value.is_empty() {
            continue;
        }
        let repeated = match name.as_str() {
            "grant_type" => params.grant_type.replace(value.to_string()).is_some(),
            "scope" => params.scope.replace(value.to_string()).is_some(),
            "client_id" => params.client_id.replace(value.to_string()).is_some(),
            "client_secret" => params
                .client_secret
                .replace(SecretString::from(value.as_str()))
                .is_some(),
            "token" => params
                .token
                .replace(SecretString::from(value.as_str()))
                .is_some(),
            _ => false,
        };
        if repeated {
            return Err(OAuthError::invalid_request(format!(
                "the parameter {name} is repeated"
            )));
        }
    }
    Ok(params)
}

/// The client credentials of an `Authorization: Basic` header, if there is one.
pub(super) fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, SecretString)>, OAuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported client authentication method",
        ));
    }
    let decoded = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| malformed())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = Zeroizing::new(form_decode(secret).ok_or_else(malformed)?);
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(Some((id, SecretString::from(secret.as_str()))))
}

/// How the client authenticated, and with what.
pub(super) struct Credentials {
    pub(super) client_id: String,
    pub(super) secret: SecretString,
}

/// Picks the one client authentication method the request used (RFC 6749 §2.3).
pub(super) fn credentials(
    headers: &HeaderMap,
    params: &mut TokenParams,
) -> Result<Credentials, OAuthError> {
    let basic = basic_credentials(headers)?;
    match (basic, params.client_id.take(), params.client_secret.take()) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "the client used more than one authentication method",
        )),
        (Some((basic_id, _)), Some(form_id), None) if basic_id != form_id => Err(
            OAuthError::invalid_request("client_id differs from the authenticated client"),
        ),
        (Some((client_id, secret)), _, None) => Ok(Credentials { client_id, secret }),
        (None, Some(client_id), Some(secret)) => Ok(Credentials { client_id, secret }),
        (None, None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret without client_id",
        )),
        (None, _, None) => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
    }
}

/// Whether the request's media type is `application/x-www-form-urlencoded`.
pub(super) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The scopes to grant: the requested ones if the client may have them all, else every
/// scope it may have.
fn granted_scopes(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut granted: Vec<String> = Vec::new();
    for token in requested.split(' ') {
        if !valid_scope_token(token) {
            return Err(OAuthError::invalid_scope("the scope is malformed"));
        }
        if !allowed.iter().any(|scope| scope == token) {
            return Err(OAuthError::invalid_scope(format!(
                "the client may not request the scope {token}"
            )));
        }
        if !granted.iter().any(|scope| scope == token) {
            granted.push(token.to_owned());
        }
    }
    Ok(granted)
}

/// Serves one token request.
async fn issue(dev: &DevIssuer, headers: &HeaderMap, body: Body) -> Result<Response, OAuthError> {
    let too_large =
        || OAuthError::invalid_request(format!("the body is larger than {MAX_BODY_BYTES} bytes"));
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    let mut params = parse_form(&body)?;
    let credentials = credentials(headers, &mut params)?;

    let Some((allowed, kind)) = dev.authenticate(&credentials.client_id, &credentials.secret)
    else {
        tracing::debug!(client_id = ?credentials.client_id, "dev issuer: client authentication failed");
        return Err(OAuthError::invalid_client("client authentication failed"));
    };
    if kind == ClientKind::ResourceServer {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the resource server introspects tokens and gets none",
        ));
    }
    match params.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    }
    let granted = granted_scopes(params.scope.as_deref(), &allowed)?;
    let bound_to = proof_key(dev, headers)?;

    let lifetime = dev.token_lifetime();
    let mut token = dev
        .token()
        .client(credentials.client_id.as_str())
        .scopes(granted.iter().cloned())
        .lifetime(lifetime);
    if let Some(jkt) = &bound_to {
        token = token.claim("cnf", json!({ "jkt": jkt }));
    }
    let token = match kind {
        ClientKind::Opaque => token.try_opaque(),
        _ => token.try_sign(),
    }
    .map_err(|error| {
        tracing::error!(%error, "dev issuer: could not issue a token");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the token could not be issued",
        )
    })?;
    tracing::debug!(client_id = ?credentials.client_id, scope = ?granted, "dev issuer: token issued");
    let mut answer = json!({
        "access_token": token,
        "token_type": if bound_to.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": lifetime.as_secs(),
    });
    if !granted.is_empty() {
        answer["scope"] = granted.join(" ").into();
    }
    let mut response = axum::Json(answer).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// The thumbprint of the key the token request's DPoP proof was signed with, when it has
/// one (RFC 9449 §5): the token is then bound to that key.
fn proof_key(dev: &DevIssuer, headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(OAuthError::invalid_dpop_proof(
            "send exactly one DPoP header",
        ));
    }
    let Some(rules) = dev.dpop_rules() else {
        return Err(OAuthError::invalid_dpop_proof(
            "this issuer cannot check DPoP proofs",
        ));
    };
    let proof = proof
        .to_str()
        .map_err(|_| OAuthError::invalid_dpop_proof("the DPoP proof is invalid"))?;
    let now = unix_now();
    let request = ProofRequest {
        method: &Method::POST,
        path: TOKEN_PATH,
        origin: None,
        token: None,
        jkt: None,
        now,
    };
    let verified = verify_proof(proof.trim(), rules, &request).map_err(|failure| {
        tracing::debug!(reason = failure.as_str(), "dev issuer: DPoP proof refused");
        OAuthError::invalid_dpop_proof("the DPoP proof is invalid")
    })?;
    match rules
        .replay
        .first_use_now(&verified.id, verified.expires_at, now)
    {
        Some(Ok(true)) => Ok(Some(verified.jkt)),
        _ => Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof was used before",
        )),
    }
}

/// The `POST /oauth/token` handler.
pub(crate) async fn token_endpoint(
    State(dev): State<DevIssuer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match issue(&dev, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn form_decoding_is_strict() {
        assert_eq!(form_decode("a+b%20c%3A%25").as_deref(), Some("a b c:%"));
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn forms_parse_and_refuse_repetition() {
        let params =
            parse_form(b"grant_type=client_credentials&scope=a+b&client_id=&other=1&other=2")
                .unwrap();
        assert_eq!(params.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(params.scope.as_deref(), Some("a b"));
        assert!(params.client_id.is_none());
        assert!(parse_form(b"scope=a&scope=b").is_err());
        assert!(parse_form(b"scope=%").is_err());
        assert!(parse_form(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my+app:p%40ss%3Aword%2B");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("basic {encoded}")).unwrap(),
        );
        let (id, secret) = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!(id, "my app");
        assert_eq!(secret.expose_secret(), "p@ss:word+");
    }

    #[test]
    fn scopes_are_checked() {
        let allowed = ["a".to_owned(), "b".to_owned()];
        assert_eq!(granted_scopes(None, &allowed).ok(), Some(allowed.to_vec()));
        assert_eq!(
            granted_scopes(Some("b a b"), &allowed).ok(),
            Some(vec!["b".to_owned(), "a".to_owned()])
        );
        assert!(granted_scopes(Some("a c"), &allowed).is_err());
        assert!(granted_scopes(Some("a  b"), &allowed).is_err());
    }
}
