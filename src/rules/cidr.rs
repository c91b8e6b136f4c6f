//! Does a set of CIDRs cover the whole internet?
//!
//! Strings are not compared: each CIDR is parsed (host bits dropped, so `1.2.3.4/0` is the
//! world) and the union of a rule's CIDRs is aggregated per address family, so `0.0.0.0/1` +
//! `128.0.0.0/1` is the world too. Peers that string-match `"0.0.0.0/0"` miss both.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    pub fn world(self) -> &'static str {
        match self {
            Family::Ipv4 => "0.0.0.0/0",
            Family::Ipv6 => "::/0",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// Parses one CIDR as AWS reads it. A bare address (`10.0.0.1`) is not a CIDR.
pub fn parse(text: &str) -> Option<IpNet> {
    let net: IpNet = text.trim().parse().ok()?;
    Some(net.trunc())
}

/// The family of a parsed network.
pub fn family(net: &IpNet) -> Family {
    match net.addr() {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

/// True when the union of `nets` (all of one family or mixed) covers every address of `family`.
pub fn covers_world(nets: &[IpNet], family: Family) -> bool {
    match family {
        Family::Ipv4 => {
            let v4: Vec<Ipv4Net> = nets
                .iter()
                .filter_map(|n| match n {
                    IpNet::V4(n) => Some(*n),
                    IpNet::V6(_) => None,
                })
                .collect();
            Ipv4Net::aggregate(&v4).iter().any(|n| n.prefix_len() == 0)
        }
        Family::Ipv6 => {
            let v6: Vec<Ipv6Net> = nets
                .iter()
                .filter_map(|n| match n {
                    IpNet::V6(n) => Some(*n),
                    IpNet::V4(_) => None,
                })
                .collect();
            Ipv6Net::aggregate(&v6).iter().any(|n| n.prefix_len() == 0)
        }
    }
}

/// True unless `net` lies wholly inside private (RFC 1918), shared (RFC 6598, `100.64.0.0/10`),
/// unique local (`fc00::/7`) or link-local space: whether its addresses can be on the internet.
pub fn is_public(net: &IpNet) -> bool {
    const NOT_PUBLIC: [&str; 7] = [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ];
    !NOT_PUBLIC
        .iter()
        .filter_map(|text| text.parse::<IpNet>().ok())
        .any(|private| private.contains(net))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts.iter().map(|t| parse(t).unwrap()).collect()
    }

    #[test]
    fn canonical_and_non_canonical_zero_prefixes_are_the_world() {
        assert!(covers_world(&nets(&["0.0.0.0/0"]), Family::Ipv4));
        assert!(covers_world(&nets(&["1.2.3.4/0"]), Family::Ipv4));
        assert!(covers_world(&nets(&["::/0"]), Family::Ipv6));
        assert!(covers_world(&nets(&["2001:db8::/0"]), Family::Ipv6));
    }

    #[test]
    fn split_halves_are_the_world() {
        assert!(covers_world(
            &nets(&["0.0.0.0/1", "128.0.0.0/1"]),
            Family::Ipv4
        ));
        assert!(covers_world(&nets(&["::/1", "8000::/1"]), Family::Ipv6));
        assert!(covers_world(
            &nets(&["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1", "10.0.0.0/8"]),
            Family::Ipv4
        ));
    }

    #[test]
    fn partial_covers_and_other_families_are_not_the_world() {
        assert!(!covers_world(&nets(&["0.0.0.0/1"]), Family::Ipv4));
        assert!(!covers_world(
            &nets(&["0.0.0.0/1", "128.0.0.0/2"]),
            Family::Ipv4
        ));
        assert!(!covers_world(&nets(&["::/0"]), Family::Ipv4));
        assert!(!covers_world(&nets(&["0.0.0.0/0"]), Family::Ipv6));
        assert!(!covers_world(&nets(&["10.0.0.0/8"]), Family::Ipv4));
    }

    #[test]
    fn garbage_is_not_a_cidr() {
        for text in [
            "",
            "0.0.0.0",
            "0.0.0.0/33",
            "abc/0",
            "::/129",
            "0.0.0.0/0/0",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    proptest! {
        /// Splitting the IPv4 space into 2^k equal blocks always covers it; dropping any one
        /// block never does.
        #[test]
        fn equal_splits_cover_exactly_when_complete(k in 1u8..8, drop in 0usize..256) {
            let count = 1usize << k;
            let step = 1u64 << (32 - k);
            let all: Vec<IpNet> = (0..count)
                .map(|i| {
                    let addr = std::net::Ipv4Addr::from((i as u64 * step) as u32);
                    IpNet::V4(Ipv4Net::new(addr, k).unwrap())
                })
                .collect();
            prop_assert!(covers_world(&all, Family::Ipv4));
            let mut partial = all.clone();
            partial.remove(drop % count);
            prop_assert!(!covers_world(&partial, Family::Ipv4));
        }
    }
}
