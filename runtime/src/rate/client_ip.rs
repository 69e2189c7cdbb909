//! The client's IP address: the socket's peer, or, behind trusted proxies only, the
//! address they forwarded (RFC 7239 `Forwarded`, else `X-Forwarded-For`).
//!
//! Forwarding headers are read only when the peer is a configured proxy, and then from
//! the right: each trusted proxy appends the address it saw, so the rightmost address that
//! is not a trusted proxy is the client. A client that sends its own `X-Forwarded-For`
//! only adds addresses to the left, which are never reached.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// No proxy is trusted: the socket peer is the client.
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    /// Trusts the given networks (`"10.0.0.0/8"`, `"192.0.2.7/32"`, `"::1/128"`).
    pub fn networks<I, S>(networks: I) -> Result<Self, ipnet::AddrParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parsed = networks
            .into_iter()
            .map(|net| net.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies(parsed))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client address of a request that came from `peer` with `headers`.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if self.0.is_empty() || !self.contains(peer) {
            return Some(peer);
        }
        let forwarded = forwarded_for(headers);
        let chain = if forwarded.is_empty() {
            x_forwarded_for(headers)
        } else {
            forwarded
        };
        // Walk from the right past our own proxies; a hop we cannot parse ends the walk at
        // the last proxy we trust.
        let mut client = peer;
        for hop in chain.into_iter().rev() {
            let Some(ip) = hop else { break };
            client = canonical(ip);
            if !self.contains(client) {
                break;
            }
        }
        Some(client)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so one client is one key.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The `for=` addresses of every `Forwarded` header, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(http::header::FORWARDED) {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let found = element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim().trim_matches('"')))
            });
            if let Some(node) = found {
                hops.push(node);
            }
        }
    }
    hops
}

/// `192.0.2.60`, `192.0.2.60:8080`, `[2001:db8::17]`, `[2001:db8::17]:4711`; obfuscated
/// and `unknown` nodes are not addresses.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse().ok().or_else(|| {
        node.rsplit_once(':')
            .and_then(|(host, _)| host.parse().ok())
    })
}

fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(value) => hops.extend(value.split(',').map(|hop| parse_node(hop.trim()))),
            Err(_) => hops.push(None),
        }
    }
    hops
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::none();
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            none.client_ip(Some(ip("203.0.113.9")), &spoofed),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(none.client_ip(None, &spoofed), None);
        let proxies = TrustedProxies::networks(["10.0.0.0/8"]).unwrap();
        assert_eq!(
            proxies.client_ip(Some(ip("203.0.113.9")), &spoofed),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::networks(["10.0.0.0/8", "::1/128"]).unwrap();
        let peer = Some(ip("10.0.0.2"));
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3")]);
        assert_eq!(proxies.client_ip(peer, &xff), Some(ip("198.51.100.7")));
        let split = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(proxies.client_ip(peer, &split), Some(ip("198.51.100.7")));
        let forwarded = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(
            proxies.client_ip(peer, &forwarded),
            Some(ip("2001:db8::17"))
        );
        assert_eq!(proxies.client_ip(peer, &headers(&[])), Some(ip("10.0.0.2")));
        let garbage = headers(&[("x-forwarded-for", "6.6.6.6, not-an-ip")]);
        assert_eq!(proxies.client_ip(peer, &garbage), Some(ip("10.0.0.2")));
        let mapped = Some(ip("::ffff:10.0.0.2"));
        assert_eq!(proxies.client_ip(mapped, &xff), Some(ip("198.51.100.7")));
    }
}
