//! One introspection request (RFC 7662 §2.1): the token, POSTed as a form with the resource
//! server's credentials, and the answer's body read within a size cap and a time limit.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Url};
use secrecy::ExposeSecret;

use super::settings::{ClientAuthentication, Introspection, MAX_ANSWER_BYTES};
use crate::auth::fetch::{self, FetchFailure};

/// Asks `url` about `token`, as `config`'s client; the body of a 2xx answer.
///
/// The token goes in the body only (never in a URL, so no proxy or server log has it), and
/// no error carries it: errors are built from reqwest's with the URL removed and name
/// nothing the request carried.
pub(crate) async fn ask(
    client: &Client,
    url: &Url,
    config: &Introspection,
    token: &str,
) -> Result<Vec<u8>, FetchFailure> {
    let timeout = config.timeout;
    match tokio::time::timeout(timeout, ask_within(client, url, config, token, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(FetchFailure::Timeout(timeout)),
    }
}

async fn ask_within(
    client: &Client,
    url: &Url,
    config: &Introspection,
    token: &str,
    timeout: Duration,
) -> Result<Vec<u8>, FetchFailure> {
    let mut request = client
        .post(url.clone())
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if config.authentication == ClientAuthentication::SecretBasic {
        request = request.header(AUTHORIZATION, basic_credentials(config));
    }
    let request = request.body(form_body(config, token));
    let response = fetch::send(request, url, timeout, MAX_ANSWER_BYTES).await?;
    fetch::body_within(response, timeout, MAX_ANSWER_BYTES).await
}

/// The form: the token, its type hint, and the credentials with `client_secret_post`.
fn form_body(config: &Introspection, token: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", "access_token");
    if config.authentication == ClientAuthentication::SecretPost {
        form.append_pair("client_id", &config.client_id)
            .append_pair("client_secret", config.client_secret.expose_secret());
    }
    form.finish()
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 §2.3.1 asks (the id
/// and secret form-urlencoded first, so a `:` in either stays unambiguous).
fn basic_credentials(config: &Introspection) -> String {
    let id: String = form_urlencoded::byte_serialize(config.client_id.as_bytes()).collect();
    let secret: String =
        form_urlencoded::byte_serialize(config.client_secret.expose_secret().as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let config = Introspection::new("api:one", SecretString::from("s3cr+t/=".to_owned()));
        let header = basic_credentials(&config);
        let decoded = STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"api%3Aone:s3cr%2Bt%2F%3D");
    }
}
