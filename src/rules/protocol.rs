//! Protocols and port ranges as the EC2 API reads them.
//!
//! AWS accepts protocol names in any case and IANA numbers; `-1` (Terraform also takes `all`)
//! means every protocol and every port, with the port fields ignored. TCP and UDP need both
//! port bounds; a missing bound or a reversed range is rejected by AWS at apply, so it opens
//! nothing here. Any other protocol (ICMP, ESP, `50`, …) has no ports and never reaches a TCP or
//! UDP service.

use std::fmt;

/// A layer-4 protocol that has ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum L4 {
    Tcp,
    Udp,
}

impl L4 {
    pub const ALL: [L4; 2] = [L4::Tcp, L4::Udp];

    pub fn as_str(self) -> &'static str {
        match self {
            L4::Tcp => "tcp",
            L4::Udp => "udp",
        }
    }
}

impl fmt::Display for L4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol value of a security group rule, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// `-1` / `all`: every protocol, every port.
    All,
    Ported(L4),
    /// Anything else (ICMP, ICMPv6, ESP, GRE, a number): no TCP/UDP ports.
    Other(String),
}

impl Protocol {
    /// Reads a protocol as the AWS provider hands it to EC2 (`protocolForValue`): a name in
    /// any case, or a number read like Go's `strconv.Atoi`, so `06` and `+6` are TCP and `-01`
    /// is every protocol.
    pub fn parse(text: &str) -> Protocol {
        // Asked of every rule by every policy: no allocation unless the protocol is another.
        let text = text.trim();
        let is = |name: &str| text.eq_ignore_ascii_case(name);
        match text.parse::<i64>().ok() {
            Some(-1) => Protocol::All,
            Some(6) => Protocol::Ported(L4::Tcp),
            Some(17) => Protocol::Ported(L4::Udp),
            _ if is("all") => Protocol::All,
            _ if is("tcp") => Protocol::Ported(L4::Tcp),
            _ if is("udp") => Protocol::Ported(L4::Udp),
            _ => Protocol::Other(text.to_ascii_lowercase()),
        }
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    /// Reads `from_port`/`to_port` literally: both present, within 0..=65535, `from <= to`.
    pub fn from_bounds(from: Option<i64>, to: Option<i64>) -> Option<PortRange> {
        let from = u16::try_from(from?).ok()?;
        let to = u16::try_from(to?).ok()?;
        (from <= to).then_some(PortRange { from, to })
    }

    pub const ALL: PortRange = PortRange { from: 0, to: 65535 };

    pub fn intersection(self, other: PortRange) -> Option<PortRange> {
        let from = self.from.max(other.from);
        let to = self.to.min(other.to);
        (from <= to).then_some(PortRange { from, to })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// What a rule lets in, ignoring where from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    Nothing,
    /// Every protocol and port (`-1`).
    All,
    Ports(L4, PortRange),
}

impl Exposure {
    pub fn of(protocol: &Protocol, from: Option<i64>, to: Option<i64>) -> Exposure {
        match protocol {
            Protocol::All => Exposure::All,
            Protocol::Ported(l4) => match PortRange::from_bounds(from, to) {
                Some(range) => Exposure::Ports(*l4, range),
                None => Exposure::Nothing,
            },
            Protocol::Other(_) => Exposure::Nothing,
        }
    }

    /// The parts of `(l4, range)` this exposure opens.
    pub fn overlap(&self, l4: L4, range: PortRange) -> Option<PortRange> {
        match self {
            Exposure::Nothing => None,
            Exposure::All => Some(range),
            Exposure::Ports(own, own_range) if *own == l4 => own_range.intersection(range),
            Exposure::Ports(..) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_and_numbers_normalise() {
        for text in ["tcp", "TCP", "Tcp", "6", " tcp "] {
            assert_eq!(Protocol::parse(text), Protocol::Ported(L4::Tcp), "{text}");
        }
        for text in ["udp", "UDP", "17"] {
            assert_eq!(Protocol::parse(text), Protocol::Ported(L4::Udp), "{text}");
        }
        for text in ["-1", "all", "ALL"] {
            assert_eq!(Protocol::parse(text), Protocol::All, "{text}");
        }
        assert_eq!(Protocol::parse("icmp"), Protocol::Other("icmp".into()));
        assert_eq!(Protocol::parse("50"), Protocol::Other("50".into()));
    }

    /// Found by tests/properties.rs: the AWS provider reads protocol numbers with Go's
    /// `strconv.Atoi`, so a sign or leading zeros still name TCP, UDP or every protocol.
    #[test]
    fn protocol_numbers_are_read_like_the_aws_provider_reads_them() {
        for text in ["06", "+6", "0006"] {
            assert_eq!(Protocol::parse(text), Protocol::Ported(L4::Tcp), "{text}");
        }
        for text in ["017", "+17"] {
            assert_eq!(Protocol::parse(text), Protocol::Ported(L4::Udp), "{text}");
        }
        for text in ["-01", "-001"] {
            assert_eq!(Protocol::parse(text), Protocol::All, "{text}");
        }
        for text in ["6.0", "0x6", "6e0", "- 1", "--1", "+-6", "tcp6"] {
            assert!(
                matches!(Protocol::parse(text), Protocol::Other(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn ranges_are_read_literally() {
        assert_eq!(
            PortRange::from_bounds(Some(0), Some(65535)),
            Some(PortRange::ALL)
        );
        assert_eq!(PortRange::from_bounds(Some(443), Some(22)), None);
        assert_eq!(PortRange::from_bounds(None, Some(443)), None);
        assert_eq!(PortRange::from_bounds(Some(-1), Some(-1)), None);
        assert_eq!(PortRange::from_bounds(Some(0), Some(70000)), None);
    }

    #[test]
    fn all_traffic_ignores_ports_and_icmp_opens_nothing() {
        let smb = PortRange { from: 445, to: 445 };
        assert_eq!(
            Exposure::of(&Protocol::All, None, None).overlap(L4::Udp, smb),
            Some(smb)
        );
        assert_eq!(
            Exposure::of(&Protocol::parse("icmp"), Some(-1), Some(-1)),
            Exposure::Nothing
        );
        let wide = Exposure::of(&Protocol::parse("tcp"), Some(400), Some(500));
        assert_eq!(wide.overlap(L4::Tcp, smb), Some(smb));
        assert_eq!(wide.overlap(L4::Udp, smb), None);
        let netbios = PortRange { from: 137, to: 139 };
        let partial = Exposure::of(&Protocol::parse("udp"), Some(138), Some(200));
        assert_eq!(
            partial.overlap(L4::Udp, netbios),
            Some(PortRange { from: 138, to: 139 })
        );
    }
}
