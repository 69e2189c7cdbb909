//! One HTTP GET of a key or metadata document, shared by the remote JWKS and discovery:
//! the URL policy, no redirects, a deadline for the whole exchange and a cap on the body.

use std::error::Error as _;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL};
use reqwest::{Client, Url, redirect};

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("portcullis/", env!("CARGO_PKG_VERSION"));

/// Why a URL was refused before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlRefusal {
    /// Not a URL, or one with credentials in it.
    Invalid(String),
    /// Neither `https://` nor `http://` on a loopback host.
    Insecure,
}

/// Parses `uri` and applies the URL policy: `https://` always; `http://` only when the host
/// is loopback (`localhost`, 127.0.0.0/8, `[::1]`), which is for development; nothing else.
/// URLs carrying a user name or password are refused too: they would end up in logs.
pub(crate) fn checked_url(uri: &str) -> Result<Url, UrlRefusal> {
    let url = Url::parse(uri).map_err(|error| UrlRefusal::Invalid(error.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Invalid(
            "it must not carry a user name or password".to_owned(),
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(UrlRefusal::Insecure),
    }
}

/// `uri` as it may be quoted in an error or a log: without the user name and password it
/// carries, if it parses as a URL (a URL carrying them is refused anyway).
pub(crate) fn without_credentials(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}

fn is_loopback(url: &Url) -> bool {
    // The URL parser has already normalised the host: lower case, IPv4 in dotted quads,
    // IPv6 in brackets.
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The client used when the caller provides none: follows no redirect, and gives up after
/// `timeout`.
pub(crate) fn default_client(timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT)
        .build()
        .map_err(|error| describe(&error))
}

/// A document that was fetched.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The body, at most the cap.
    pub(crate) body: Vec<u8>,
    /// Every `Cache-Control` field line, joined with `, `.
    pub(crate) cache_control: Option<String>,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FetchFailure {
    /// Connection, TLS, protocol or body error.
    Transport(String),
    /// The whole exchange took longer than this.
    Timeout(Duration),
    /// The server answered with a redirect (or the caller's client followed one).
    Redirected,
    /// A status other than 2xx.
    Status(u16),
    /// The body is longer than this many bytes.
    TooLarge(usize),
}

/// GETs `url`, within `timeout` for the whole exchange (headers and body), reading at most
/// `cap` bytes of body. A redirect is a failure, even with a caller's client that follows
/// them (then the final URL differs from `url`).
pub(crate) async fn get(
    client: &Client,
    url: &Url,
    accept: &str,
    timeout: Duration,
    cap: usize,
) -> Result<Fetched, FetchFailure> {
    match tokio::time::timeout(timeout, get_within(client, url, accept, timeout, cap)).await {
        Ok(result) => result,
        Err(_) => Err(FetchFailure::Timeout(timeout)),
    }
}

async fn get_within(
    client: &Client,
    url: &Url,
    accept: &str,
    timeout: Duration,
    cap: usize,
) -> Result<Fetched, FetchFailure> {
    let request = client.get(url.clone()).header(ACCEPT, accept);
    let response = send(request, url, timeout, cap).await?;
    let cache_control = {
        let lines: Vec<&str> = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        (!lines.is_empty()).then(|| lines.join(", "))
    };
    let body = body_within(response, timeout, cap).await?;
    Ok(Fetched {
        body,
        cache_control,
    })
}

/// Sends `request` (to `url`) within `timeout`, and takes only a 2xx answer that is no
/// redirect and announces no more than `cap` bytes of body.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    url: &Url,
    timeout: Duration,
    cap: usize,
) -> Result<reqwest::Response, FetchFailure> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| transport(error, timeout))?;
    let status = response.status();
    if status.is_redirection() || response.url() != url {
        return Err(FetchFailure::Redirected);
    }
    if !status.is_success() {
        return Err(FetchFailure::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(FetchFailure::TooLarge(cap));
    }
    Ok(response)
}

/// The body of `response`, at most `cap` bytes.
pub(crate) async fn body_within(
    mut response: reqwest::Response,
    timeout: Duration,
    cap: usize,
) -> Result<Vec<u8>, FetchFailure> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport(error, timeout))?
    {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(FetchFailure::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn transport(error: reqwest::Error, timeout: Duration) -> FetchFailure {
    if error.is_timeout() {
        FetchFailure::Timeout(timeout)
    } else if error.is_redirect() {
        FetchFailure::Redirected
    } else {
        FetchFailure::Transport(describe(&error.without_url()))
    }
}

/// An error and its chain of causes on one line: reqwest's own message alone ("error sending
/// request") says too little to an operator.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Describes why a body that should be JSON is not, without quoting any of it (it may hold
/// key material): the line and column of the syntax error. `None` when it is JSON.
pub(crate) fn json_syntax_problem(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Err(error) if error.is_syntax() || error.is_eof() => Some(format!(
            "it is not valid JSON (syntax error at line {}, column {})",
            error.line(),
            error.column()
        )),
        Err(_) => Some("it is not valid JSON".to_owned()),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        for allowed in [
            "https://idp.example.com/jwks",
            "https://203.0.113.7/keys",
            "http://localhost:8080/jwks",
            "http://LOCALHOST/jwks",
            "http://127.0.0.1:1/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
        ] {
            assert!(checked_url(allowed).is_ok(), "{allowed}");
        }
        for insecure in [
            "http://example.com/jwks",
            "http://10.0.0.1/jwks",
            "http://localhost.example.com/jwks",
            "http://[::ffff:127.0.0.1]/jwks",
            "http://[::2]/jwks",
            "ftp://localhost/jwks",
            "file:///etc/jwks.json",
            "ws://localhost/jwks",
        ] {
            assert_eq!(
                checked_url(insecure),
                Err(UrlRefusal::Insecure),
                "{insecure}"
            );
        }
        for invalid in [
            "not a url",
            "/relative/jwks",
            "https://user:pw@idp.example.com/jwks",
        ] {
            assert!(
                matches!(checked_url(invalid), Err(UrlRefusal::Invalid(_))),
                "{invalid}"
            );
        }
    }

    #[test]
    fn credentials_are_never_quoted() {
        assert_eq!(
            without_credentials("https://user:hunter2@idp.example.com/jwks"),
            "https://idp.example.com/jwks"
        );
        assert_eq!(
            without_credentials("https://hunter2@idp.example.com/jwks"),
            "https://idp.example.com/jwks"
        );
        assert_eq!(
            without_credentials("https://idp.example.com/jwks"),
            "https://idp.example.com/jwks"
        );
        assert_eq!(without_credentials("not a url"), "not a url");
    }

    #[test]
    fn json_problems_quote_nothing() {
        assert_eq!(json_syntax_problem(br#"{"keys": "AAAAsecretAAAA"}"#), None);
        let problem = json_syntax_problem(br#"{"keys": ["AAAAsecretAAAA" "#).unwrap_or_default();
        assert!(problem.contains("not valid JSON"), "{problem}");
        assert!(!problem.contains("secret"), "{problem}");
        assert!(json_syntax_problem(b"not json").is_some());
    }
}
