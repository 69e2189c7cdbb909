//! The URI a DPoP proof must name (`htu`): the public origin the service is configured
//! with, never the `Host` header (which the client writes), followed by the path the client
//! sent. Compared after RFC 3986 §6.2.2 and §6.2.3 normalisation: scheme and host case,
//! default ports, percent-encoding case and needlessly encoded unreserved characters; the
//! query and fragment are not part of `htu`.

use http::Uri;

/// Where clients reach the service: scheme, host, port, and the path prefix a proxy in
/// front strips before the request reaches this service (empty when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicOrigin {
    scheme: String,
    host: String,
    port: Option<u16>,
    prefix: String,
}

impl PublicOrigin {
    /// Parses `https://api.example.com`, `http://127.0.0.1:3000` or
    /// `https://example.com/api` (a prefix). A query, a fragment or credentials are
    /// refused.
    pub(crate) fn parse(text: &str) -> Result<PublicOrigin, String> {
        if text.contains(['?', '#']) {
            return Err("a public origin has no query or fragment".to_owned());
        }
        let uri: Uri = text
            .parse()
            .map_err(|_| format!("{text:?} is not an absolute URL"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(format!("{text:?} is not an absolute URL"));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{text:?} is neither http nor https"));
        }
        if authority.as_str().contains('@') {
            return Err("a public origin carries no credentials".to_owned());
        }
        let prefix = normalized_path(uri.path().trim_end_matches('/'));
        Ok(PublicOrigin {
            port: effective_port(&scheme, authority.port_u16()),
            host: authority.host().to_ascii_lowercase(),
            scheme,
            prefix,
        })
    }

    /// This origin with the scheme and host a trusted proxy forwarded (the prefix kept);
    /// `None` when they do not make an origin.
    pub(crate) fn forwarded(&self, forwarded: &ForwardedOrigin) -> Option<PublicOrigin> {
        // A host with a path in it would move the prefix.
        if forwarded.host.contains(['/', '\\']) {
            return None;
        }
        PublicOrigin::parse(&format!(
            "{}://{}{}",
            forwarded.scheme, forwarded.host, self.prefix
        ))
        .ok()
    }

    /// Whether `htu` names `path` (the path of the request as the client sent it) at this
    /// origin.
    pub(crate) fn matches(&self, htu: &str, path: &str) -> bool {
        // Neither query nor fragment is part of `htu` (RFC 9449 §4.3).
        let htu = htu.split(['?', '#']).next().unwrap_or_default();
        let Ok(uri) = htu.parse::<Uri>() else {
            return false;
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let scheme = scheme.to_ascii_lowercase();
        let path = if path.is_empty() { "/" } else { path };
        scheme == self.scheme
            && authority.host().eq_ignore_ascii_case(&self.host)
            && effective_port(&scheme, authority.port_u16()) == self.port
            && normalized_path(non_empty(uri.path()))
                == format!("{}{}", self.prefix, normalized_path(path))
    }

    /// The `htu` of a request for `path`, as a client should write it.
    #[cfg(test)]
    pub(crate) fn htu(&self, path: &str) -> String {
        let port = self.port.map(|port| format!(":{port}")).unwrap_or_default();
        format!("{}://{}{port}{}{path}", self.scheme, self.host, self.prefix)
    }
}

/// The scheme and host a trusted proxy says the client used (`Forwarded: proto=..;host=..`,
/// or `X-Forwarded-Proto` and `X-Forwarded-Host`), as the last proxy wrote them: read only
/// from a trusted proxy, and used only when `Dpop::forwarded_origin` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwardedOrigin {
    pub(crate) scheme: String,
    pub(crate) host: String,
}

impl ForwardedOrigin {
    /// What the last proxy wrote in `headers`: `Forwarded` first, else the `X-Forwarded-*`
    /// pair; `None` when the scheme or the host is missing.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<ForwardedOrigin> {
        let last = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .next_back()
                .map(|value| value.trim().to_owned())
        };
        if let Some(element) = last("forwarded") {
            let mut scheme = None;
            let mut host = None;
            for pair in element.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"').to_owned();
                match name.trim().to_ascii_lowercase().as_str() {
                    "proto" => scheme = Some(value),
                    "host" => host = Some(value),
                    _ => {}
                }
            }
            return Some(ForwardedOrigin {
                scheme: scheme?,
                host: host?,
            });
        }
        Some(ForwardedOrigin {
            scheme: last("x-forwarded-proto")?,
            host: last("x-forwarded-host")?,
        })
    }
}

fn non_empty(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// The port, `None` when it is the scheme's default.
fn effective_port(scheme: &str, port: Option<u16>) -> Option<u16> {
    match (scheme, port) {
        ("http", Some(80)) | ("https", Some(443)) => None,
        (_, port) => port,
    }
}

/// `path` with percent-encoded unreserved characters decoded and the hex digits of the
/// others in upper case (RFC 3986 §6.2.2.1 and §6.2.2.2).
fn normalized_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16)),
                bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16)),
            )
        {
            let byte = (high * 16 + low) as u8;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push_str(&format!("{byte:02X}"));
            }
            i += 3;
            continue;
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_after_normalisation() {
        let origin = PublicOrigin::parse("https://API.example.com:443").unwrap();
        for htu in [
            "https://api.example.com/orders/1",
            "HTTPS://api.EXAMPLE.com:443/orders/1",
            "https://api.example.com/orders/1?page=2",
            "https://api.example.com/orders/1#top",
            "https://api.example.com/%6Frders/1",
        ] {
            assert!(origin.matches(htu, "/orders/1"), "{htu}");
        }
        assert!(origin.matches("https://api.example.com/a%2fb", "/a%2Fb"));
        assert!(origin.matches("https://api.example.com", "/"));
    }

    #[test]
    fn other_origins_and_paths_differ() {
        let origin = PublicOrigin::parse("https://api.example.com").unwrap();
        for htu in [
            "http://api.example.com/orders/1",
            "https://evil.example.com/orders/1",
            "https://api.example.com:8443/orders/1",
            "https://api.example.com/orders/2",
            "https://api.example.com/orders/1/",
            "https://user@api.example.com/orders/1",
            "/orders/1",
            "",
        ] {
            assert!(!origin.matches(htu, "/orders/1"), "{htu}");
        }
    }

    #[test]
    fn a_prefix_a_proxy_strips() {
        let origin = PublicOrigin::parse("https://example.com/api/").unwrap();
        assert!(origin.matches("https://example.com/api/orders/1", "/orders/1"));
        assert!(!origin.matches("https://example.com/orders/1", "/orders/1"));
        assert_eq!(origin.htu("/orders/1"), "https://example.com/api/orders/1");
    }

    #[test]
    fn forwarded_origins_keep_the_prefix() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            "forwarded",
            "for=1.2.3.4;proto=http;host=inner".parse().unwrap(),
        );
        headers.append(
            "forwarded",
            "for=5.6.7.8;proto=https;host=\"shop.example\""
                .parse()
                .unwrap(),
        );
        let forwarded = ForwardedOrigin::from_headers(&headers).unwrap();
        assert_eq!(forwarded.host, "shop.example");
        let origin = PublicOrigin::parse("https://api.example.com/api").unwrap();
        let seen = origin.forwarded(&forwarded).unwrap();
        assert!(seen.matches("https://shop.example/api/orders", "/orders"));
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "a.example, b.example".parse().unwrap());
        assert_eq!(
            ForwardedOrigin::from_headers(&headers).map(|f| f.host),
            Some("b.example".to_owned())
        );
        headers.remove("x-forwarded-proto");
        assert_eq!(ForwardedOrigin::from_headers(&headers), None);
        let with_path = ForwardedOrigin {
            scheme: "https".to_owned(),
            host: "shop.example/admin".to_owned(),
        };
        assert_eq!(origin.forwarded(&with_path), None);
    }

    #[test]
    fn refused_origins() {
        for origin in [
            "example.com",
            "ftp://example.com",
            "https://u:p@example.com",
            "https://example.com/?a=1",
            "https://example.com/#x",
        ] {
            assert!(PublicOrigin::parse(origin).is_err(), "{origin}");
        }
        let local = PublicOrigin::parse("http://127.0.0.1:3000").unwrap();
        assert_eq!(local.htu("/orders"), "http://127.0.0.1:3000/orders");
    }
}
