//! The guard in front of authentication: one `Authorization: Bearer` header, of bounded
//! size, and no token in the query string.

use http::{HeaderMap, Uri, header};

use super::AuthFailure;

/// Extracts the bearer token of a request.
///
/// The scheme compares case-insensitively (RFC 9110 §11.1); a header with another scheme
/// counts as no token. Returns `Ok(None)` when there is no bearer token at all.
pub fn bearer_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<Option<&'a str>, AuthFailure> {
    match bearer_bytes(headers, uri, max_len)? {
        Some(token) => token_text(token).map(Some),
        None => Ok(None),
    }
}

/// The scheme an access token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Authorization: Bearer` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` (RFC 9449), with a proof in the `DPoP` header.
    Dpop,
}

/// [`bearer_token`] without the check of the token's characters: the pipeline looks the
/// bytes up in the verified-token cache first (a cached token passed the check when it was
/// verified), and calls [`token_text`] only on a miss.
pub(crate) fn bearer_bytes<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<Option<&'a [u8]>, AuthFailure> {
    Ok(credentials(headers, uri, max_len)?
        .filter(|(scheme, _)| *scheme == Scheme::Bearer)
        .map(|(_, token)| token))
}

/// The access token of a request and its scheme, `Bearer` or `DPoP` (compared
/// case-insensitively); `Ok(None)` when there is none, or another scheme.
pub(crate) fn credentials<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<Option<(Scheme, &'a [u8])>, AuthFailure> {
    if query_has_access_token(uri) {
        return Err(AuthFailure::TokenInQuery);
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthFailure::MultipleAuthorizationHeaders);
    }
    let bytes = value.as_bytes();
    let (scheme, token) = if starts_with_scheme(bytes, b"bearer ") {
        (Scheme::Bearer, &bytes[7..])
    } else if starts_with_scheme(bytes, b"dpop ") {
        (Scheme::Dpop, &bytes[5..])
    } else {
        return Ok(None);
    };
    let token = trim_spaces(token);
    if token.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    if token.len() > max_len {
        return Err(AuthFailure::TokenTooLarge);
    }
    Ok(Some((scheme, token)))
}

fn starts_with_scheme(bytes: &[u8], scheme: &[u8]) -> bool {
    bytes.len() >= scheme.len() && bytes[..scheme.len()].eq_ignore_ascii_case(scheme)
}

/// The token as text, if it has only the characters a compact JWS can have.
pub(crate) fn token_text(token: &[u8]) -> Result<&str, AuthFailure> {
    // RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" followed by "="s.
    // A JWS uses only base64url characters and dots.
    if !is_base64url_or_dot(token) {
        return Err(AuthFailure::Malformed);
    }
    std::str::from_utf8(token).map_err(|_| AuthFailure::Malformed)
}

/// The token as text, if it is an RFC 6750 `b64token`: `A-Z a-z 0-9 - . _ ~ + /`, then
/// `=`s. Opaque tokens may use the whole grammar; JWTs never do.
pub(crate) fn b64token_text(token: &[u8]) -> Result<&str, AuthFailure> {
    let body = token.len() - token.iter().rev().take_while(|&&byte| byte == b'=').count();
    let valid = body > 0
        && token[..body].iter().all(|&byte| {
            byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if !valid {
        return Err(AuthFailure::Malformed);
    }
    std::str::from_utf8(token).map_err(|_| AuthFailure::Malformed)
}

/// Whether every byte is `A-Z a-z 0-9 - _ .`.
///
/// Every request carries a token of several hundred bytes, so this runs branch-free over
/// blocks of 32 bytes, which the compiler turns into vector instructions.
fn is_base64url_or_dot(bytes: &[u8]) -> bool {
    fn allowed(byte: u8) -> bool {
        let folded = byte | 0x20;
        (folded.wrapping_sub(b'a') < 26)
            | (byte.wrapping_sub(b'0') < 10)
            | (byte == b'-')
            | (byte == b'_')
            | (byte == b'.')
    }
    let mut blocks = bytes.chunks_exact(32);
    let whole = blocks
        .by_ref()
        .all(|block| block.iter().fold(true, |ok, &byte| ok & allowed(byte)));
    whole && blocks.remainder().iter().all(|&byte| allowed(byte))
}

fn trim_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' '] = bytes {
        bytes = rest;
    }
    bytes
}

fn query_has_access_token(uri: &Uri) -> bool {
    uri.query().is_some_and(|query| {
        query.split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            is_access_token(name)
        })
    })
}

/// Whether a query parameter's name is `access_token` once percent-decoded, as every
/// `application/x-www-form-urlencoded` parser (axum's `Query` among them) reads it:
/// `access%5Ftoken` names the same parameter and gets the same answer.
fn is_access_token(name: &str) -> bool {
    const NAME: &[u8] = b"access_token";
    let mut rest = name.as_bytes();
    for expected in NAME {
        let byte = match rest {
            [b'%', high, low, tail @ ..] => {
                rest = tail;
                match (hex_digit(*high), hex_digit(*low)) {
                    (Some(high), Some(low)) => (high << 4) | low,
                    // A stray `%` stays a `%`, which `access_token` does not contain.
                    _ => return false,
                }
            }
            [byte, tail @ ..] => {
                rest = tail;
                *byte
            }
            [] => return false,
        };
        if byte != *expected {
            return false;
        }
    }
    rest.is_empty()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64tokens_are_what_rfc_6750_allows() {
        for token in [
            "abc",
            "a.b.c",
            "x~y+z/w==",
            "AAAA=",
            "2YotnFZFEjr1zCsicMWpAA",
        ] {
            assert_eq!(b64token_text(token.as_bytes()), Ok(token), "{token}");
        }
        for token in ["", "=", "a=b", "a b", "a\"b", "caf\u{e9}", "a,b", "a%20"] {
            assert_eq!(
                b64token_text(token.as_bytes()),
                Err(AuthFailure::Malformed),
                "{token}"
            );
        }
    }
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn extract(values: &[&str], uri: &str) -> Result<Option<String>, AuthFailure> {
        let map = headers(values);
        bearer_token(&map, &uri.parse().unwrap(), 64).map(|t| t.map(str::to_owned))
    }

    #[test]
    fn accepts_one_bearer_header_any_case() {
        assert_eq!(
            extract(&["Bearer a.b.c"], "/").unwrap().as_deref(),
            Some("a.b.c")
        );
        assert_eq!(
            extract(&["bEaReR   a.b.c "], "/").unwrap().as_deref(),
            Some("a.b.c")
        );
    }

    #[test]
    fn dpop_scheme_tokens_are_told_apart() {
        let map = headers(&["DPoP a.b.c"]);
        let uri = "/".parse().unwrap();
        assert_eq!(
            credentials(&map, &uri, 64),
            Ok(Some((Scheme::Dpop, &b"a.b.c"[..])))
        );
        // Not a bearer token.
        assert_eq!(bearer_token(&map, &uri, 64), Ok(None));
        let map = headers(&["dpop  a.b.c"]);
        assert_eq!(
            credentials(&map, &uri, 64),
            Ok(Some((Scheme::Dpop, &b"a.b.c"[..])))
        );
    }

    #[test]
    fn other_schemes_are_no_token() {
        assert_eq!(extract(&[], "/"), Ok(None));
        assert_eq!(extract(&["Basic dXNlcjpwYXNz"], "/"), Ok(None));
        assert_eq!(extract(&["Bearer"], "/"), Ok(None));
    }

    #[test]
    fn rejects_duplicates_oversize_and_query_tokens() {
        assert_eq!(
            extract(&["Bearer a.b.c", "Bearer d.e.f"], "/"),
            Err(AuthFailure::MultipleAuthorizationHeaders)
        );
        let long = format!("Bearer {}", "a".repeat(65));
        assert_eq!(extract(&[&long], "/"), Err(AuthFailure::TokenTooLarge));
        assert_eq!(extract(&["Bearer  "], "/"), Err(AuthFailure::Malformed));
        assert_eq!(extract(&["Bearer a b"], "/"), Err(AuthFailure::Malformed));
        assert_eq!(
            extract(&[], "/x?access_token=abc"),
            Err(AuthFailure::TokenInQuery)
        );
        assert_eq!(
            extract(&["Bearer a.b.c"], "/x?a=1&access_token"),
            Err(AuthFailure::TokenInQuery)
        );
        assert_eq!(extract(&[], "/x?my_access_token=1"), Ok(None));
        for encoded in [
            "access%5Ftoken",
            "access%5ftoken",
            "%61ccess_token",
            "%61%63cess_token",
        ] {
            assert_eq!(
                extract(&["Bearer a.b.c"], &format!("/x?{encoded}=abc")),
                Err(AuthFailure::TokenInQuery),
                "{encoded}"
            );
        }
        for other in [
            "access_tokens",
            "access%5Ftoken%",
            "access%5",
            "access%255Ftoken",
            "access_toke",
        ] {
            assert_eq!(extract(&[], &format!("/x?{other}=1")), Ok(None), "{other}");
        }
    }
}
