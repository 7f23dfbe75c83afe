//! `/webapi/find` discovery, as Go's `proxyConnect`: when `addr` is a proxy's web address,
//! the proxy says whether TLS routing is on and where its reverse tunnel listens. The answer
//! decides between SSH over TLS on the web port (ALPN `teleport-reversetunnel`) and SSH to
//! the separate tunnel port.
//!
//! The request is a plain HTTP/1.1 GET over the already verified TLS stream: one small JSON
//! body (bounded), `Connection: close`, no client library needed.

use std::io;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::BoxIo;
use super::http_proxy::split_host_port;

/// The discovery path on the proxy's web port.
pub(crate) const FIND_PATH: &str = "/webapi/find";
/// Go's override of the discovered tunnel address.
pub(crate) const TUNNEL_PUBLIC_ADDR_ENV: &str = "TELEPORT_TUNNEL_PUBLIC_ADDR";
/// A find answer is well under a kilobyte; anything past this is not a Teleport proxy.
const MAX_RESPONSE: usize = 64 * 1024;
/// The reverse tunnel's port by convention.
const TUNNEL_PORT: u16 = 3024;
/// The web port by convention when TLS routing is on and no port is given.
const HTTPS_PORT: u16 = 443;

/// The part of Go's `PingResponse` the dialer needs (unknown fields ignored).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct FindResponse {
    #[serde(default)]
    pub(crate) proxy: ProxySettings,
    #[serde(default)]
    pub(crate) cluster_name: String,
    #[serde(default)]
    pub(crate) server_version: String,
}

/// Go's `ProxySettings`, the fields used here.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct ProxySettings {
    #[serde(default)]
    pub(crate) ssh: SshProxySettings,
    #[serde(default)]
    pub(crate) tls_routing_enabled: bool,
}

/// Go's `SSHProxySettings`: listen and public addresses, any of them possibly empty.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct SshProxySettings {
    #[serde(default)]
    pub(crate) listen_addr: String,
    #[serde(default)]
    pub(crate) tunnel_listen_addr: String,
    #[serde(default)]
    pub(crate) web_listen_addr: String,
    #[serde(default)]
    pub(crate) public_addr: String,
    #[serde(default)]
    pub(crate) ssh_public_addr: String,
    #[serde(default)]
    pub(crate) ssh_tunnel_public_addr: String,
}

/// Where the tunnel is, and whether it is behind TLS routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TunnelTarget {
    pub(crate) addr: String,
    pub(crate) tls_routing: bool,
}

/// `host:port` from an address that may carry a scheme, with `port` when it has none
/// (`override_port` replaces any port, as Go's `WithOverridePort`).
fn host_port(addr: &str, port: u16, override_port: bool) -> Option<(String, u16)> {
    let bare = addr.split_once("://").map_or(addr, |(_, rest)| rest);
    let bare = bare.split('/').next().unwrap_or_default();
    let (host, given) = split_host_port(bare);
    if host.is_empty() {
        return None;
    }
    let port = match (override_port, given) {
        (false, Some(given)) => given,
        _ => port,
    };
    Some((host.to_owned(), port))
}

fn join(host: &str, port: u16) -> String {
    match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    }
}

/// A listen address's host means nothing to a client when it is a wildcard.
fn is_wildcard(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "::" | "[::]")
}

impl FindResponse {
    /// The tunnel's address, as Go's `TunnelAddr`: the web address itself with TLS routing,
    /// else the tunnel's public address, the SSH or web public host on the tunnel port, the
    /// tunnel listen address (on the dialed host when it listens on a wildcard), and at last
    /// the dialed host on port 3024. `dialed` is the configured web address.
    pub(crate) fn tunnel_target(&self, dialed: &str, env_override: Option<&str>) -> TunnelTarget {
        let ssh = &self.proxy.ssh;
        let (dialed_host, dialed_port) = split_host_port(dialed);
        let tls_routing = self.proxy.tls_routing_enabled;
        if let Some((host, port)) = env_override
            .filter(|v| !v.is_empty())
            .and_then(|v| host_port(v, TUNNEL_PORT, false))
        {
            return TunnelTarget {
                addr: join(&host, port),
                tls_routing,
            };
        }
        let addr = if tls_routing {
            let web_port = host_port(&ssh.web_listen_addr, 0, false)
                .map(|(_, p)| p)
                .filter(|p| *p != 0)
                .or(dialed_port)
                .unwrap_or(HTTPS_PORT);
            [&ssh.public_addr, &ssh.web_listen_addr]
                .into_iter()
                .filter_map(|a| host_port(a, web_port, false))
                .find(|(host, _)| !is_wildcard(host))
                .map(|(host, port)| join(&host, port))
                .unwrap_or_else(|| dialed.to_owned())
        } else {
            let tunnel_port = host_port(&ssh.tunnel_listen_addr, 0, false)
                .map(|(_, p)| p)
                .filter(|p| *p != 0)
                .unwrap_or(TUNNEL_PORT);
            let public = host_port(&ssh.ssh_tunnel_public_addr, tunnel_port, false)
                .or_else(|| host_port(&ssh.ssh_public_addr, tunnel_port, true))
                .or_else(|| host_port(&ssh.public_addr, tunnel_port, true));
            match public {
                Some((host, port)) => join(&host, port),
                None => match host_port(&ssh.tunnel_listen_addr, tunnel_port, false) {
                    Some((host, port)) if !is_wildcard(&host) => join(&host, port),
                    _ => join(dialed_host, tunnel_port),
                },
            }
        };
        TunnelTarget { addr, tls_routing }
    }
}

/// GET `/webapi/find` on `stream` (TLS to the web port, already verified) and decode it.
pub(crate) async fn find(mut stream: BoxIo, host: &str) -> io::Result<FindResponse> {
    let request = format!(
        "GET {FIND_PATH} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\
         User-Agent: teleport-plugin-rs\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut raw = Vec::with_capacity(2048);
    let mut limited = (&mut stream).take(MAX_RESPONSE as u64 + 1);
    limited.read_to_end(&mut raw).await?;
    if raw.len() > MAX_RESPONSE {
        return Err(bad(format!(
            "the {FIND_PATH} answer is over {MAX_RESPONSE} bytes"
        )));
    }
    decode_response(&raw)
}

fn bad(text: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text)
}

/// Status line, headers and body (with or without chunked encoding) of a whole response.
pub(crate) fn decode_response(raw: &[u8]) -> io::Result<FindResponse> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err(bad(format!("the {FIND_PATH} answer ended early")));
        }
        Err(e) => return Err(bad(format!("the {FIND_PATH} answer is not HTTP: {e}"))),
    };
    let code = response.code.unwrap_or_default();
    if code != 200 {
        return Err(io::Error::other(format!(
            "{FIND_PATH} answered HTTP {code}; is this a Teleport proxy's web address?"
        )));
    }
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let body = raw.get(head_len..).unwrap_or_default();
    let body = match chunked {
        true => dechunk(body)?,
        false => body.to_vec(),
    };
    serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "the {FIND_PATH} answer is not Teleport's JSON: {e}"
        ))
    })
}

/// A chunked body, joined (trailers ignored).
fn dechunk(mut body: &[u8]) -> io::Result<Vec<u8>> {
    let broken = || bad(format!("the {FIND_PATH} answer's chunked body is broken"));
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(broken)?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| broken())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| broken())?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or_else(broken)?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or_else(broken)?;
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
