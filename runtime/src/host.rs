//! The process tags every Jaeger client sends (`jaeger.version`, `hostname`, `ip`), found with the
//! standard library: the `local-ip-address` and `hostname` crates brought 26 crates of their own
//! into the build for these two tags.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use crate::tag::{Tag, TagValue};

/// The tags Jaeger clients put on their process, then the configured ones (`JAEGER_TAGS`,
/// [`crate::Config::tag`]). A configured `hostname` or `ip` replaces the one found here, as in
/// Jaeger's Go client. `toward` is where spans go (the agent or collector), if known: the `ip`
/// tag is the address this host uses to reach it.
pub(crate) fn process_tags(
    configured: Vec<(String, TagValue)>,
    toward: Option<SocketAddr>,
) -> Vec<Tag> {
    let is_configured = |key: &str| configured.iter().any(|(k, _)| k == key);
    let mut tags = vec![Tag::new(
        "jaeger.version",
        concat!("Rust-traced-", env!("CARGO_PKG_VERSION")),
    )];
    if !is_configured("hostname") {
        if let Some(name) = hostname() {
            tags.push(Tag::new("hostname", name));
        }
    }
    if !is_configured("ip") {
        if let Some(ip) = ip_toward(toward) {
            tags.push(Tag::new("ip", ip.to_string()));
        }
    }
    tags.extend(configured.into_iter().map(|(k, v)| Tag::new(k, v)));
    tags
}

/// The local address of a UDP socket connected toward `peer`: the address of the interface the
/// host's routes pick for it. Connecting a UDP socket sends nothing; it only looks up the route.
/// A loopback answer (an agent on this host, the default) says nothing about the host, so the
/// route toward a documentation address (never routed anywhere, RFC 5737 and RFC 3849) is asked
/// next: the default route's interface. A host without one has no `ip` tag.
pub(crate) fn ip_toward(peer: Option<SocketAddr>) -> Option<IpAddr> {
    const OUTSIDE_V4: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 9);
    const OUTSIDE_V6: SocketAddr = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        9,
    );
    peer.into_iter()
        .chain([OUTSIDE_V4, OUTSIDE_V6])
        .filter_map(local_address)
        .find(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

fn local_address(peer: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(peer).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// The host's name: the kernel's node name on Linux (what `gethostname` returns there),
/// `gethostname` on other Unix systems, `COMPUTERNAME` on Windows.
pub(crate) fn hostname() -> Option<String> {
    let name = platform_hostname()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn platform_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok()
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn platform_hostname() -> Option<String> {
    // POSIX caps host names at 255 bytes.
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what is passed.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

#[cfg(not(unix))]
fn platform_hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a TagValue> {
        tags.iter().find(|t| t.name() == key).map(Tag::value)
    }

    #[test]
    fn the_process_is_tagged_with_the_hosts_name_and_address() {
        let tags = process_tags(Vec::new(), None);
        let Some(TagValue::String(name)) = tag(&tags, "hostname") else {
            panic!("no hostname tag: {tags:?}");
        };
        let expected = std::process::Command::new("hostname")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
        if let Ok(expected) = expected {
            assert_eq!(name, &expected);
        }
        // This machine has a default route; its address is neither loopback nor unspecified.
        let Some(TagValue::String(ip)) = tag(&tags, "ip") else {
            panic!("no ip tag: {tags:?}");
        };
        let ip: IpAddr = ip.parse().expect("the ip tag is an address");
        assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
    }

    #[test]
    fn the_address_is_the_connected_sockets_own() {
        // Toward loopback, the route's interface is loopback: the socket's own address, not the
        // unspecified one it was bound to.
        let agent = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        let local = local_address(agent.local_addr().unwrap());
        assert_eq!(local, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn an_agent_on_loopback_does_not_make_the_ip_tag_loopback() {
        let ip = ip_toward(Some(([127, 0, 0, 1], 6831).into()));
        assert!(ip.is_some_and(|ip| !ip.is_loopback()), "{ip:?}");
    }

    #[test]
    fn configured_hostname_and_ip_replace_the_ones_found() {
        let tags = process_tags(
            vec![
                ("ip".into(), "10.1.2.3".into()),
                ("hostname".into(), "api-7".into()),
                ("team".into(), "gallery".into()),
            ],
            None,
        );
        let keys: Vec<&str> = tags.iter().map(Tag::name).collect();
        assert_eq!(keys, ["jaeger.version", "ip", "hostname", "team"]);
        assert_eq!(tag(&tags, "ip"), Some(&TagValue::from("10.1.2.3")));
        assert_eq!(tag(&tags, "hostname"), Some(&TagValue::from("api-7")));
    }
}
