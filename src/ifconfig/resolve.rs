//! `wgendpoint host port`: getaddrinfo(3)'s first answer for a UDP endpoint.
//! Service names are looked up in /etc/services (udp entries).

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves a host and a port or service name; the error is the resolver's text.
pub trait Resolve {
    fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String>;
}

/// The system resolver (std's getaddrinfo) plus /etc/services for port names.
pub struct SystemResolver {
    pub services_path: String,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver {
            services_path: "/etc/services".to_string(),
        }
    }
}

/// The udp port of `name` in a services(5) text (names and aliases).
pub fn service_port(services: &str, name: &str) -> Option<u16> {
    for line in services.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(svc), Some(pp)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, proto)) = pp.split_once('/') else {
            continue;
        };
        if proto != "udp" {
            continue;
        }
        if svc == name || words.any(|a| a == name) {
            if let Ok(p) = port.parse::<u16>() {
                return Some(p);
            }
        }
    }
    None
}

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: &str) -> Result<SocketAddr, String> {
        let port: u16 = if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            // getaddrinfo takes a numeric service modulo nothing: out of range fails.
            port.parse()
                .map_err(|_| "Servname not supported for ai_socktype".to_string())?
        } else {
            let services = std::fs::read_to_string(&self.services_path).unwrap_or_default();
            service_port(&services, port)
                .ok_or_else(|| "Servname not supported for ai_socktype".to_string())?
        };
        // A literal IPv6 address may carry brackets on the command line of other
        // tools; getaddrinfo does not accept them, nor do we.
        match (host, port).to_socket_addrs() {
            Ok(mut it) => it
                .next()
                .ok_or_else(|| "no address associated with name".to_string()),
            Err(e) => {
                let s = e.to_string();
                let s = s
                    .strip_prefix("failed to lookup address information: ")
                    .unwrap_or(&s)
                    .to_string();
                Err(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_table() {
        let text = "# comment\nwireguard\t51820/udp wg # x\nhttp 80/tcp www\ndomain 53/udp\n";
        assert_eq!(service_port(text, "wireguard"), Some(51820));
        assert_eq!(service_port(text, "wg"), Some(51820));
        assert_eq!(service_port(text, "domain"), Some(53));
        assert_eq!(service_port(text, "http"), None);
        assert_eq!(service_port(text, "www"), None);
    }

    #[test]
    fn numeric_hosts() {
        let r = SystemResolver::default();
        assert_eq!(
            r.resolve("127.0.0.1", "51820").unwrap(),
            "127.0.0.1:51820".parse().unwrap()
        );
        assert_eq!(r.resolve("::1", "7").unwrap(), "[::1]:7".parse().unwrap());
        assert!(r.resolve("127.0.0.1", "70000").is_err());
    }

    #[test]
    fn service_names_come_from_the_services_file() {
        let path = std::env::temp_dir().join(format!("wgif-services-{}", std::process::id()));
        std::fs::write(&path, "wireguard 51820/udp\n").unwrap();
        let r = SystemResolver {
            services_path: path.display().to_string(),
        };
        assert_eq!(
            r.resolve("127.0.0.1", "wireguard").unwrap(),
            "127.0.0.1:51820".parse().unwrap()
        );
        assert_eq!(
            r.resolve("127.0.0.1", "nosuchservice").unwrap_err(),
            "Servname not supported for ai_socktype"
        );
        let _ = std::fs::remove_file(&path);
    }
}
