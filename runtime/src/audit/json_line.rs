//! One audit event as one line of JSON, written straight into a byte buffer: the fields in
//! a fixed order, strings escaped as JSON requires (so a subject holding a quote or a
//! newline cannot break the line or forge another), numbers written with `itoa`. It is the
//! same text `serde_json` makes of those fields, made without its machinery, since every
//! request of an audited API pays for it.
//!
//! What repeats from line to line is encoded once: an endpoint's method, route, handler
//! and required scopes (kept by each thread's [`Encoder`]), and a caller's subject, client
//! and granted scopes (kept with the [`Principal`], which the verified-token cache shares
//! among the requests of one token).

use std::io::Write as _;
use std::net::IpAddr;
use std::ptr;
use std::time::UNIX_EPOCH;

use super::{AuditEvent, Decision, Reason};
use crate::auth::{EncodedFields, Principal};

/// How many endpoints an [`Encoder`] keeps encoded. An endpoint whose slot another holds
/// is encoded again: correct, only slower.
const ENDPOINT_SLOTS: usize = 64;

/// What one thread keeps from line to line: the fields of the endpoints it wrote lines
/// for, encoded, each in the slot its route's address picks.
#[derive(Default)]
pub(crate) struct Encoder {
    endpoints: Vec<Option<EndpointFields>>,
}

/// `,"method":…,"route":…,"handler":…` (`bytes[..split]`) and `,"required_scopes":[…]`
/// (`bytes[split..]`) of one endpoint, with the values they were made from.
struct EndpointFields {
    method: &'static str,
    route: &'static str,
    handler: &'static str,
    required_scopes: &'static [&'static str],
    bytes: Box<[u8]>,
    split: usize,
}

impl EndpointFields {
    fn new(event: &AuditEvent<'_>) -> EndpointFields {
        let mut bytes = Vec::with_capacity(96);
        plain_field(&mut bytes, "method", event.method);
        field(&mut bytes, "route", event.route);
        field(&mut bytes, "handler", event.handler);
        let split = bytes.len();
        bytes.extend_from_slice(b",\"required_scopes\":");
        list(&mut bytes, event.required_scopes.iter().copied());
        EndpointFields {
            method: event.method,
            route: event.route,
            handler: event.handler,
            required_scopes: event.required_scopes,
            bytes: bytes.into_boxed_slice(),
            split,
        }
    }

    /// Whether these are `event`'s endpoint fields. The values are `'static`: text at one
    /// address (and of one length) is the same text for the life of the process, so
    /// comparing addresses compares the values.
    fn describe(&self, event: &AuditEvent<'_>) -> bool {
        ptr::eq(self.route, event.route)
            && ptr::eq(self.handler, event.handler)
            && ptr::eq(self.method, event.method)
            && ptr::eq(self.required_scopes, event.required_scopes)
    }
}

impl Encoder {
    /// The endpoint fields of `event`, encoded now unless this thread already has them.
    fn endpoint(&mut self, event: &AuditEvent<'_>) -> &EndpointFields {
        if self.endpoints.is_empty() {
            self.endpoints.resize_with(ENDPOINT_SLOTS, || None);
        }
        // Fibonacci hashing of the route's address: its top bits pick the slot.
        let address = event.route.as_ptr() as usize as u64;
        let slot = (address.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % ENDPOINT_SLOTS;
        let entry = &mut self.endpoints[slot];
        if entry.as_ref().is_some_and(|fields| !fields.describe(event)) {
            *entry = None;
        }
        entry.get_or_insert_with(|| EndpointFields::new(event))
    }
}
/// Appends `event` to `out` as one JSON object and a newline, with the endpoint's and the
/// caller's fields as `encoder` and the principal keep them.
///
/// Fields, in order: `time_unix_ms`, `request_id`, `method`, `route`, `handler`,
/// `decision`, `reason`, then `detail`, `subject`, `client` and `ip` when known, then
/// `required_scopes`, `granted_scopes`, `status` and `latency_us`.
pub(crate) fn encode(event: &AuditEvent<'_>, out: &mut Vec<u8>, encoder: &mut Encoder) {
    let time_unix_ms = event.time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    });
    out.extend_from_slice(b"{\"time_unix_ms\":");
    number(out, time_unix_ms);
    // A request id is digits, or a client's id of `A-Z a-z 0-9 - _ . : / + =` only; the
    // method, decision and reason are names of Portcullis' own: none needs escaping.
    plain_field(out, "request_id", event.request_id);
    let endpoint = encoder.endpoint(event);
    out.extend_from_slice(&endpoint.bytes[..endpoint.split]);
    if event.decision == Decision::Allow && event.reason == Reason::Authorized {
        out.extend_from_slice(ALLOWED_AS_AUTHORIZED);
    } else {
        plain_field(out, "decision", event.decision.as_str());
        plain_field(out, "reason", event.reason.as_str());
    }
    if let Some(detail) = event.detail {
        field(out, "detail", detail);
    }
    let caller = event
        .principal
        .filter(|principal| holds_fields_of(principal, event))
        .map(|principal| principal.encoded_fields(caller_fields));
    match caller {
        Some(caller) => out.extend_from_slice(&caller.bytes[..caller.split]),
        None => subject_and_client(out, event.subject, event.client),
    }
    if let Some(ip) = event.ip {
        out.extend_from_slice(b",\"ip\":\"");
        address(out, ip);
        out.push(b'"');
    }
    out.extend_from_slice(&endpoint.bytes[endpoint.split..]);
    match caller {
        Some(caller) => out.extend_from_slice(&caller.bytes[caller.split..]),
        None => granted_scopes(out, event.granted_scopes),
    }
    out.extend_from_slice(b",\"status\":");
    number(out, u64::from(event.status));
    out.extend_from_slice(b",\"latency_us\":");
    number(
        out,
        u64::try_from(event.latency.as_micros()).unwrap_or(u64::MAX),
    );
    out.extend_from_slice(b"}\n");
}

/// Whether the event's subject, client and granted scopes are `principal`'s own (the
/// same text at the same address), so its kept encoding says what the event says.
fn holds_fields_of(principal: &Principal, event: &AuditEvent<'_>) -> bool {
    fn same(held: Option<&str>, told: Option<&str>) -> bool {
        match (held, told) {
            (Some(held), Some(told)) => ptr::eq(held, told),
            (None, None) => true,
            _ => false,
        }
    }
    same(principal.subject(), event.subject)
        && same(principal.client_id(), event.client)
        && ptr::eq(principal.scope_list(), event.granted_scopes)
}

/// A caller's fields: `,"subject":…,"client":…` then `,"granted_scopes":[…]`.
fn caller_fields(principal: &Principal) -> EncodedFields {
    let mut bytes = Vec::with_capacity(96);
    subject_and_client(&mut bytes, principal.subject(), principal.client_id());
    let split = bytes.len();
    granted_scopes(&mut bytes, principal.scope_list());
    EncodedFields {
        bytes: bytes.into_boxed_slice(),
        split,
    }
}

fn subject_and_client(out: &mut Vec<u8>, subject: Option<&str>, client: Option<&str>) {
    if let Some(subject) = subject {
        field(out, "subject", subject);
    }
    if let Some(client) = client {
        field(out, "client", client);
    }
}

fn granted_scopes(out: &mut Vec<u8>, scopes: &[String]) {
    out.extend_from_slice(b",\"granted_scopes\":");
    list(out, scopes.iter().map(String::as_str));
}

/// `,"name":"value"`; `name` is one of this module's literals, which need no escaping.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    string(out, value);
}

/// The decision and reason of most lines, in one piece.
const ALLOWED_AS_AUTHORIZED: &[u8] = b",\"decision\":\"allow\",\"reason\":\"authorized\"";

/// `,"name":"value"` for a value known to hold nothing JSON escapes (see `encode`).
/// Inlined, so that the name's pieces are copied as constants.
#[inline(always)]
fn plain_field(out: &mut Vec<u8>, name: &str, value: &str) {
    debug_assert!(
        value.bytes().all(|byte| ESCAPE[usize::from(byte)] == 0),
        "{name} holds a character JSON escapes"
    );
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

fn number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn list<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(out, item);
    }
    out.push(b']');
}

/// An IPv4 address digit by digit; an IPv6 one through its `Display` (which never fails
/// into a `Vec`).
fn address(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (index, octet) in v4.octets().into_iter().enumerate() {
                if index > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(digits.format(octet).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// For each byte, how it is escaped: 0 when it goes as it is, `u` for `\u00XX`, else the
/// character after the backslash.
static ESCAPE: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// `value` as a JSON string: `"` and `\` escaped, control characters as `\n`-style
/// escapes or `\u00XX`, everything else (UTF-8 included) as it is, in runs.
fn string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[run_start..index]);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        run_start = index + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::{Duration, SystemTime};

    use serde::Serialize;

    use super::*;
    use crate::audit::{Decision, Reason};
    use crate::auth::AuthFailure;

    /// The line as `serde_json` writes these fields: what `encode` must equal.
    #[derive(Serialize)]
    struct Expected<'a> {
        time_unix_ms: u64,
        request_id: &'a str,
        method: &'a str,
        route: &'a str,
        handler: &'a str,
        decision: &'a str,
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        subject: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        required_scopes: &'a [&'a str],
        granted_scopes: &'a [String],
        status: u16,
        latency_us: u64,
    }

    fn expected(event: &AuditEvent<'_>) -> Vec<u8> {
        let mut line = serde_json::to_vec(&Expected {
            time_unix_ms: event.time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64,
            request_id: event.request_id,
            method: event.method,
            route: event.route,
            handler: event.handler,
            decision: event.decision.as_str(),
            reason: event.reason.as_str(),
            detail: event.detail,
            subject: event.subject,
            client: event.client,
            ip: event.ip.map(|ip| ip.to_string()),
            required_scopes: event.required_scopes,
            granted_scopes: event.granted_scopes,
            status: event.status,
            latency_us: event.latency.as_micros() as u64,
        })
        .unwrap();
        line.push(b'\n');
        line
    }

    fn encoded(event: &AuditEvent<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(event, &mut out, &mut Encoder::default());
        out
    }

    fn event<'a>(granted: &'a [String]) -> AuditEvent<'a> {
        AuditEvent {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_765_000_000_123),
            request_id: "10000000000000000042",
            handler: "get_order",
            method: "GET",
            route: "/orders/{id}",
            decision: Decision::Allow,
            reason: Reason::Authorized,
            detail: None,
            subject: Some("alice"),
            client: Some("orders-cli"),
            ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
            required_scopes: &["orders:read"],
            granted_scopes: granted,
            principal: None,
            status: 200,
            latency: Duration::from_micros(1_234),
        }
    }

    #[test]
    fn the_piece_of_allowed_lines_is_what_their_fields_make() {
        let mut fields = Vec::new();
        plain_field(&mut fields, "decision", Decision::Allow.as_str());
        plain_field(&mut fields, "reason", Reason::Authorized.as_str());
        assert_eq!(fields, ALLOWED_AS_AUTHORIZED);
    }

    #[test]
    fn an_allowed_request_is_the_line_serde_json_writes() {
        let granted = vec!["orders:read".to_owned(), "orders:write".to_owned()];
        let event = event(&granted);
        assert_eq!(
            String::from_utf8(encoded(&event)).unwrap(),
            "{\"time_unix_ms\":1765000000123,\"request_id\":\"10000000000000000042\",\
             \"method\":\"GET\",\"route\":\"/orders/{id}\",\"handler\":\"get_order\",\
             \"decision\":\"allow\",\"reason\":\"authorized\",\"subject\":\"alice\",\
             \"client\":\"orders-cli\",\"ip\":\"203.0.113.7\",\
             \"required_scopes\":[\"orders:read\"],\
             \"granted_scopes\":[\"orders:read\",\"orders:write\"],\
             \"status\":200,\"latency_us\":1234}\n"
        );
        assert_eq!(encoded(&event), expected(&event));
    }

    #[test]
    fn a_refusal_without_a_principal_leaves_those_fields_out() {
        let mut event = event(&[]);
        event.decision = Decision::Deny;
        event.reason = Reason::Authentication(AuthFailure::Malformed);
        event.subject = None;
        event.client = None;
        event.ip = Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)));
        event.required_scopes = &[];
        event.status = 401;
        event.detail = Some("the policy said no");
        let line = encoded(&event);
        assert_eq!(line, expected(&event));
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["ip"], "2001:db8::1");
        assert_eq!(value["granted_scopes"], serde_json::json!([]));
        assert!(value.get("subject").is_none());
    }

    #[test]
    fn every_escaped_character_is_found_wherever_it_stands() {
        let specials = ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{8}'];
        for special in specials {
            for at in 0..40 {
                let text: String = (0..40)
                    .map(|index| if index == at { special } else { 'a' })
                    .collect();
                let mut out = Vec::new();
                string(&mut out, &text);
                assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
            }
        }
        // Bytes just past the ones escaped are not.
        for byte in [0x20_u8, 0x21, 0x23, 0x5b, 0x5d, 0x7f] {
            let text = String::from(char::from(byte)).repeat(17);
            let mut out = Vec::new();
            string(&mut out, &text);
            assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn strings_from_a_token_cannot_break_the_line() {
        let awkward = [
            "quote\" and backslash\\",
            "new\nline\r\n{\"decision\":\"allow\"}",
            "tab\tbell\u{7}nul\u{0}escape\u{1b}unit\u{1f}del\u{7f}",
            "back\u{8}form\u{c}",
            "élève 名前 🦀 \u{2028}",
            "",
        ];
        for text in awkward {
            let granted = vec![text.to_owned(), "orders:read".to_owned()];
            let mut event = event(&granted);
            event.subject = Some(text);
            event.client = Some(text);
            event.detail = Some(text);
            let line = encoded(&event);
            assert_eq!(line, expected(&event), "{text:?}");
            assert_eq!(
                line.iter().filter(|byte| **byte == b'\n').count(),
                1,
                "{text:?}"
            );
            let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(value["subject"], text);
            assert_eq!(value["granted_scopes"][0], text);
        }
    }

    #[test]
    fn an_endpoint_kept_by_the_encoder_writes_the_same_lines() {
        let granted = vec!["orders:read".to_owned()];
        let mut encoder = Encoder::default();
        // More endpoints than slots, twice over, interleaved: every line is the one
        // `serde_json` writes, whether its endpoint was kept, evicted or never seen.
        let routes: Vec<&'static str> = (0..3 * ENDPOINT_SLOTS)
            .map(|index| &*String::leak(format!("/things/{index}/{{id}}")))
            .collect();
        for round in 0..2 {
            for (index, route) in routes.iter().enumerate() {
                let mut event = event(&granted);
                event.route = route;
                event.handler = if index % 2 == 0 { "even" } else { "odd\"one" };
                event.required_scopes = if round == 0 { &["a"] } else { &["a", "b\\c"] };
                let mut out = Vec::new();
                encode(&event, &mut out, &mut encoder);
                assert_eq!(out, expected(&event), "{route} in round {round}");
            }
        }
        // The same route text at another address is another endpoint, encoded as such.
        let mut event = event(&granted);
        event.route = routes[0];
        let mut first = Vec::new();
        encode(&event, &mut first, &mut encoder);
        event.route = String::leak(routes[0].to_owned());
        event.handler = "other";
        let mut second = Vec::new();
        encode(&event, &mut second, &mut encoder);
        assert_eq!(second, expected(&event));
        assert_ne!(first, second);
    }

    #[test]
    fn a_principal_s_fields_are_encoded_once_and_only_for_its_own_event() {
        let principal = Principal::builder("https://issuer.test/")
            .subject("al\"ice")
            .client_id("orders\ncli")
            .scopes(["orders:read", "orders:write"])
            .build();
        let mut encoder = Encoder::default();
        for _ in 0..2 {
            let mut event = event(principal.scope_list());
            event.subject = principal.subject();
            event.client = principal.client_id();
            event.principal = Some(&principal);
            let mut out = Vec::new();
            encode(&event, &mut out, &mut encoder);
            assert_eq!(out, expected(&event));
        }
        // An event naming other values than its principal's is written with its own.
        let other = vec!["admin".to_owned()];
        let mut event = event(&other);
        event.subject = Some("mallory");
        event.client = None;
        event.principal = Some(&principal);
        let mut out = Vec::new();
        encode(&event, &mut out, &mut encoder);
        assert_eq!(out, expected(&event));
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["subject"], "mallory");
        assert_eq!(value["granted_scopes"], serde_json::json!(["admin"]));
    }
}
