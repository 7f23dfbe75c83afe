//! `HTTPS_PROXY` / `NO_PROXY` for the Teleport connection: which proxy (if any) to use for an
//! address, and the HTTP `CONNECT` tunnel through it.
//!
//! Go's client reads the same variables through `httpproxy.FromEnvironment` for an
//! `https://<addr>` URL first and an `http://<addr>` one second, so `HTTPS_PROXY` wins over
//! `HTTP_PROXY`, lower-case spellings are accepted, and `NO_PROXY` exempts hosts. Unlike Go we
//! do not exempt loopback addresses on our own: an operator who sets a proxy for a local
//! address gets what they asked for, and `NO_PROXY=localhost,127.0.0.1` says otherwise.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest CONNECT response head we read before giving up on the proxy.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// An HTTP proxy from the environment. `Debug`/`Display` never show the credentials.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HttpProxy {
    /// `host:port` of the proxy.
    pub(crate) addr: String,
    /// `user:password` for `Proxy-Authorization: Basic`, when the URL carries them.
    credentials: Option<String>,
    /// Which variable named it, for messages.
    pub(crate) source: &'static str,
}

impl fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProxy")
            .field("addr", &self.addr)
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for HttpProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP proxy {} (from {})", self.addr, self.source)
    }
}

/// A proxy variable that cannot be used; the message never repeats its value (it may carry
/// a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not a usable HTTP proxy URL: {reason}")]
pub(crate) struct ProxyUrlError {
    variable: &'static str,
    reason: &'static str,
}

/// The proxy to use for `addr` (`host:port`), from the variables `env` looks up.
pub(crate) fn proxy_for_with(
    addr: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<HttpProxy>, ProxyUrlError> {
    let first = |names: [&'static str; 2]| {
        names.into_iter().find_map(|name| {
            env(name)
                .filter(|value| !value.trim().is_empty())
                .map(|value| (name, value))
        })
    };
    let no_proxy = first(["NO_PROXY", "no_proxy"])
        .map(|(_, v)| v)
        .unwrap_or_default();
    if is_exempt(addr, &no_proxy) {
        return Ok(None);
    }
    match first(["HTTPS_PROXY", "https_proxy"]).or_else(|| first(["HTTP_PROXY", "http_proxy"])) {
        Some((variable, url)) => parse_proxy_url(variable, url.trim()).map(Some),
        None => Ok(None),
    }
}

fn parse_proxy_url(variable: &'static str, url: &str) -> Result<HttpProxy, ProxyUrlError> {
    let error = |reason| ProxyUrlError { variable, reason };
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
            return Err(error(
                "https:// proxies (TLS to the proxy itself) are not supported; use http://",
            ));
        }
        Some(_) => return Err(error("only http:// proxies are supported")),
        // Go accepts a bare host:port and reads it as http://.
        None => url,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(percent_decode(userinfo)), host_port),
        None => (None, authority),
    };
    if host_port.is_empty() {
        return Err(error("it names no host"));
    }
    let addr = if split_host_port(host_port).1.is_some() {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    Ok(HttpProxy {
        addr,
        credentials,
        source: variable,
    })
}

/// `%XX` escapes in URL user info (passwords often need them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `host:port`, `[v6]:port` or a bare host.
pub(crate) fn split_host_port(addr: &str) -> (&str, Option<u16>) {
    if let Some((host, tail)) = addr.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        return (host, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (addr, None),
    }
}

/// `NO_PROXY` as Go reads it: comma-separated; `*` exempts everything; an IP or CIDR
/// matches addresses; a name matches itself and its subdomains (a leading `.` or `*.` is
/// the same); an entry with a port only matches that port.
fn is_exempt(addr: &str, no_proxy: &str) -> bool {
    let (host, port) = split_host_port(addr);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return match (ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            let (entry_host, entry_port) = split_host_port(entry);
            if entry_port.is_some() && entry_port != port {
                return false;
            }
            if let (Some(ip), Ok(entry_ip)) = (ip, entry_host.parse::<IpAddr>()) {
                return ip == entry_ip;
            }
            let name = entry_host
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
        })
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Asks the proxy on `stream` for a tunnel to `target` (`host:port`); on success the stream
/// carries the tunnel.
pub(crate) async fn connect_through<S>(
    stream: &mut S,
    proxy: &HttpProxy,
    target: &str,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(credentials) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(credentials);
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    // Read byte by byte up to the blank line: the proxy starts relaying right after it, and
    // anything read past it would belong to the tunnel.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_RESPONSE_HEAD {
            return Err(std::io::Error::other(format!(
                "{proxy} sent an over-long response to CONNECT"
            )));
        }
        let byte = stream.read_u8().await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("{proxy} closed the connection during CONNECT: {e}"),
            )
        })?;
        head.push(byte);
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            return Err(std::io::Error::other(format!(
                "{proxy} answered CONNECT with something that is not HTTP"
            )));
        }
    }
    match response.code {
        Some(code) if (200..300).contains(&code) => Ok(()),
        Some(407) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{proxy} requires authentication (407){}",
                if proxy.credentials.is_some() {
                    "; the user and password in the proxy URL were refused"
                } else {
                    "; put user:password@ in the proxy URL"
                }
            ),
        )),
        code => Err(std::io::Error::other(format!(
            "{proxy} refused CONNECT to {target}: {} {}",
            code.unwrap_or_default(),
            response.reason.unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn check(addr: &str, vars: &[(&str, &str)]) -> Option<String> {
        proxy_for_with(addr, lookup(vars)).unwrap().map(|p| p.addr)
    }

    #[test]
    fn which_variable_wins() {
        let addr = "teleport.example.com:443";
        assert_eq!(check(addr, &[]), None);
        assert_eq!(
            check(addr, &[("HTTPS_PROXY", "http://p1:3128")]).as_deref(),
            Some("p1:3128")
        );
        assert_eq!(
            check(addr, &[("https_proxy", "p2:8080")]).as_deref(),
            Some("p2:8080")
        );
        assert_eq!(
            check(
                addr,
                &[("HTTP_PROXY", "http://p3"), ("HTTPS_PROXY", "http://p1:1")]
            )
            .as_deref(),
            Some("p1:1")
        );
        assert_eq!(
            check(addr, &[("http_proxy", "http://p3")]).as_deref(),
            Some("p3:80")
        );
        assert_eq!(check(addr, &[("HTTPS_PROXY", "  ")]), None);
    }

    #[test]
    fn no_proxy_matching() {
        let proxy = ("HTTPS_PROXY", "http://proxy:3128");
        let exempt =
            |addr: &str, no_proxy: &str| check(addr, &[proxy, ("NO_PROXY", no_proxy)]).is_none();
        assert!(exempt("teleport.example.com:443", "*"));
        assert!(exempt("teleport.example.com:443", "example.com"));
        assert!(exempt("teleport.example.com:443", ".example.com"));
        assert!(exempt("teleport.example.com:443", "*.example.com"));
        assert!(exempt("example.com:443", "example.com"));
        assert!(!exempt("notexample.com:443", "example.com"));
        assert!(exempt(
            "TELEPORT.example.com:443",
            "other, teleport.EXAMPLE.com "
        ));
        assert!(exempt(
            "teleport.example.com:443",
            "teleport.example.com:443"
        ));
        assert!(!exempt(
            "teleport.example.com:3025",
            "teleport.example.com:443"
        ));
        assert!(exempt("10.1.2.3:3025", "10.0.0.0/8"));
        assert!(!exempt("11.1.2.3:3025", "10.0.0.0/8"));
        assert!(exempt("127.0.0.1:3025", "127.0.0.1"));
        assert!(exempt("[::1]:3025", "::1"));
        assert!(exempt("[fd00::5]:443", "fd00::/8"));
        assert!(!exempt("127.0.0.1:3025", ""));
        assert!(!exempt("h:1", "no_proxy_only"));
        assert!(check("h:1", &[proxy, ("no_proxy", "h")]).is_none());
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        let proxy = proxy_for_with(
            "t:443",
            lookup(&[("HTTPS_PROXY", "http://bob:s%40cret@proxy.corp:3128/")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(proxy.addr, "proxy.corp:3128");
        assert_eq!(proxy.credentials.as_deref(), Some("bob:s@cret"));
        for text in [format!("{proxy}"), format!("{proxy:?}")] {
            assert!(!text.contains("cret"), "{text}");
            assert!(text.contains("proxy.corp:3128"), "{text}");
        }
    }

    #[test]
    fn unusable_urls_are_refused_without_echoing_them() {
        for url in ["https://u:pw@p:1", "socks5://u:pw@p:1", "http://"] {
            let error = proxy_for_with("t:443", lookup(&[("HTTPS_PROXY", url)])).unwrap_err();
            let text = error.to_string();
            assert!(text.starts_with("HTTPS_PROXY is not"), "{text}");
            assert!(!text.contains("pw"), "{text}");
        }
    }

    #[test]
    fn host_port_splitting() {
        assert_eq!(split_host_port("a.b:443"), ("a.b", Some(443)));
        assert_eq!(split_host_port("a.b"), ("a.b", None));
        assert_eq!(split_host_port("[::1]:3025"), ("::1", Some(3025)));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("a:x"), ("a", None));
    }
}
