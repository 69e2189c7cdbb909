//! The client's IP address: the socket's peer, or, behind trusted proxies only, the
//! address they forwarded (RFC 7239 `Forwarded`, else `X-Forwarded-For`).
//!
//! Forwarding headers are read only when the peer is a configured proxy, and then from
//! the right: each trusted proxy appends the address it saw, so the rightmost address that
//! is not a trusted proxy is the client. A client that sends its own `X-Forwarded-For`
//! only adds addresses to the left, which are never reached.

use std::net::IpAddr;

use http::HeaderMap;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

/// A network in CIDR notation that [`TrustedProxies::networks`] could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{network}` is not a network in CIDR notation: an IPv4 or IPv6 address, `/` and a prefix \
     length (`10.0.0.0/8`, `192.0.2.7/32`, `2001:db8::/32`)"
)]
pub struct InvalidNetwork {
    /// The text given.
    pub network: String,
}

/// An address and a prefix length: the addresses whose first `prefix` bits are those of
/// `address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `2001:db8::/32`: an address, `/`, and a decimal prefix length of at
    /// most 32 (IPv4) or 128 (IPv6). Bits after the prefix may be set (`10.1.2.3/8` is
    /// `10.0.0.0/8`).
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = text.split_once('/')?;
        let address: IpAddr = address.parse().ok()?;
        let digits = !prefix.is_empty()
            && prefix.len() <= 3
            && prefix.bytes().all(|byte| byte.is_ascii_digit());
        let prefix: u8 = if digits {
            prefix.parse().ok()?
        } else {
            return None;
        };
        let longest = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= longest).then_some(Network { address, prefix })
    }

    /// Whether `ip` is in the network (never across address families).
    fn contains(&self, ip: IpAddr) -> bool {
        let (differing, bits) = match (self.address, ip) {
            (IpAddr::V4(own), IpAddr::V4(ip)) => (u128::from(u32::from(own) ^ u32::from(ip)), 32),
            (IpAddr::V6(own), IpAddr::V6(ip)) => (u128::from(own) ^ u128::from(ip), 128),
            _ => return false,
        };
        // The differing bits, shifted so that only those of the prefix are left.
        let shift = bits - u32::from(self.prefix);
        shift >= 128 || differing >> shift == 0
    }
}

impl TrustedProxies {
    /// No proxy is trusted: the socket peer is the client.
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    /// Trusts the given networks (`"10.0.0.0/8"`, `"192.0.2.7/32"`, `"::1/128"`).
    pub fn networks<I, S>(networks: I) -> Result<Self, InvalidNetwork>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parsed = networks
            .into_iter()
            .map(|net| {
                Network::parse(net.as_ref()).ok_or_else(|| InvalidNetwork {
                    network: net.as_ref().to_owned(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies(parsed))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(ip))
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client address of a request that came from `peer` with `headers`.
    #[inline]
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
    fn networks_are_read_in_cidr_notation() {
        let proxies = TrustedProxies::networks([
            "10.0.0.0/8",
            "192.0.2.7/32",
            "172.16.5.4/12",
            "2001:db8::/32",
            "::1/128",
        ])
        .unwrap();
        for inside in [
            "10.0.0.0",
            "10.255.255.255",
            "192.0.2.7",
            "172.31.0.1",
            "2001:db8::1",
            "2001:db8:ffff::",
            "::1",
            "::ffff:10.1.2.3",
        ] {
            assert!(proxies.contains(ip(inside)), "{inside}");
        }
        for outside in [
            "11.0.0.0",
            "9.255.255.255",
            "192.0.2.8",
            "172.32.0.0",
            "2001:db9::",
            "::2",
            "::a00:1",
        ] {
            assert!(!proxies.contains(ip(outside)), "{outside}");
        }
        let everyone = TrustedProxies::networks(["0.0.0.0/0", "::/0"]).unwrap();
        assert!(everyone.contains(ip("203.0.113.9")) && everyone.contains(ip("2001:db8::9")));
        let v4_only = TrustedProxies::networks(["0.0.0.0/0"]).unwrap();
        assert!(!v4_only.contains(ip("2001:db8::9")));

        for bad in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0.0/0008",
            "10.0.0/8",
            "10.0.0.0/8 ",
            "proxy.example/32",
            "",
        ] {
            assert_eq!(
                TrustedProxies::networks(["10.0.0.0/8", bad]),
                Err(InvalidNetwork {
                    network: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
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
