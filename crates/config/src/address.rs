//! `host:port` addresses: backend endpoints and the listen address.

use std::net::Ipv6Addr;

use crate::Endpoint;

/// Parses `host:port`, `[ipv6]:port` included. `allow_port_zero` is for listen addresses
/// (port 0 asks the OS for a free port); a MariaDB endpoint needs a real port.
pub(crate) fn parse_address(text: &str, allow_port_zero: bool) -> Result<Endpoint, String> {
    let invalid = |why: &str| {
        format!("invalid address {text:?}: {why} (expected host:port, e.g. 127.0.0.1:3306 or [::1]:3306)")
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or_else(|| invalid("missing \"]:\" after an IPv6 address"))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(invalid("not an IPv6 address between the brackets"));
        }
        (host, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing port"))?;
        if host.contains(':') {
            return Err(invalid("an IPv6 address needs brackets"));
        }
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if !host.chars().all(valid_char) {
            return Err(invalid("the host has characters a host name cannot have"));
        }
        (host, port)
    };
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("the port must be a number from 1 to 65535"))?;
    if port == 0 && !allow_port_zero {
        return Err(invalid("the port must be a number from 1 to 65535"));
    }
    Ok(Endpoint {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, u16) {
        let e = parse_address(text, false).unwrap();
        (e.host, e.port)
    }

    #[test]
    fn accepts_hosts_and_ips() {
        assert_eq!(ok("127.0.0.1:3306"), ("127.0.0.1".into(), 3306));
        assert_eq!(
            ok("db-1.example.com:3310"),
            ("db-1.example.com".into(), 3310)
        );
        assert_eq!(ok("[::1]:3306"), ("::1".into(), 3306));
        assert_eq!(ok("[fe80::1]:65535"), ("fe80::1".into(), 65535));
    }

    #[test]
    fn displays_ipv6_in_brackets() {
        let e = parse_address("[::1]:3306", false).unwrap();
        assert_eq!(e.to_string(), "[::1]:3306");
    }

    #[test]
    fn rejects_malformed() {
        for (text, why) in [
            ("localhost", "missing port"),
            (":3306", "missing host"),
            ("host:", "the port must be"),
            ("host:70000", "the port must be"),
            ("host:-1", "the port must be"),
            ("host:0", "the port must be"),
            ("::1:3306", "needs brackets"),
            ("[::1]3306", "missing \"]:\""),
            ("[nope]:3306", "not an IPv6"),
            ("ho st:3306", "characters"),
            ("", "missing port"),
        ] {
            let err = parse_address(text, false).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn listen_may_use_port_zero() {
        assert_eq!(parse_address("127.0.0.1:0", true).unwrap().port, 0);
    }
}
