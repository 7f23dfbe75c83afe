//! Decoding `/webapi/find` answers shaped as Go's proxy writes them, and the tunnel address
//! derived from them as Go's `TunnelAddr` does.

use super::*;

/// A find answer as a v17 proxy without TLS routing sends it (Go's field names, the
/// `omitempty` ones present, extra fields this client ignores).
const SEPARATE_PORTS: &str = r#"{"auth":{"type":"local","second_factor":"otp","preferred_local_mfa":"otp","local":{"name":""},"private_key_policy":"none","device_trust":{},"has_motd":false},"proxy":{"kube":{"enabled":true,"listen_addr":"0.0.0.0:3026"},"ssh":{"listen_addr":"0.0.0.0:3023","tunnel_listen_addr":"0.0.0.0:3024","web_listen_addr":"0.0.0.0:3080","public_addr":"teleport.example.com:3080","ssh_public_addr":"ssh.example.com:3023","ssh_tunnel_public_addr":"tunnel.example.com:4024"},"db":{"mysql_listen_addr":"0.0.0.0:3036"},"tls_routing_enabled":false},"server_version":"17.4.8","min_client_version":"16.0.0-aa","cluster_name":"example.com","automatic_upgrades":false,"edition":"oss","fips":false}"#;

fn answer(json: &str) -> FindResponse {
    serde_json::from_str(json).unwrap()
}

#[test]
fn a_go_shaped_answer_decodes() {
    let found = answer(SEPARATE_PORTS);
    assert_eq!(found.cluster_name, "example.com");
    assert_eq!(found.server_version, "17.4.8");
    assert!(!found.proxy.tls_routing_enabled);
    assert_eq!(
        found.proxy.ssh.ssh_tunnel_public_addr,
        "tunnel.example.com:4024"
    );
    assert_eq!(found.proxy.ssh.tunnel_listen_addr, "0.0.0.0:3024");
}

#[test]
fn whole_http_responses_decode_plain_or_chunked() {
    let plain = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{SEPARATE_PORTS}",
        SEPARATE_PORTS.len()
    );
    assert_eq!(
        decode_response(plain.as_bytes()).unwrap(),
        answer(SEPARATE_PORTS)
    );
    let (a, b) = SEPARATE_PORTS.split_at(100);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    assert_eq!(
        decode_response(chunked.as_bytes()).unwrap(),
        answer(SEPARATE_PORTS)
    );
    let missing = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let text = decode_response(missing.as_bytes()).unwrap_err().to_string();
    assert!(text.contains("HTTP 404"), "{text}");
    let html = "HTTP/1.1 200 OK\r\n\r\n<html></html>";
    let text = decode_response(html.as_bytes()).unwrap_err().to_string();
    assert!(text.contains("not Teleport's JSON"), "{text}");
}

#[test]
fn the_tunnel_address_follows_go_precedence() {
    let dialed = "teleport.example.com:3080";
    let mut found = answer(SEPARATE_PORTS);
    let target = |f: &FindResponse| f.tunnel_target(dialed, None).addr;
    assert_eq!(target(&found), "tunnel.example.com:4024");
    found.proxy.ssh.ssh_tunnel_public_addr.clear();
    // The SSH public host, on the tunnel listener's port.
    assert_eq!(target(&found), "ssh.example.com:3024");
    found.proxy.ssh.ssh_public_addr.clear();
    assert_eq!(target(&found), "teleport.example.com:3024");
    found.proxy.ssh.public_addr.clear();
    found.proxy.ssh.tunnel_listen_addr = "0.0.0.0:5024".into();
    // A wildcard listen address: the port on the host that answered.
    assert_eq!(target(&found), "teleport.example.com:5024");
    found.proxy.ssh.tunnel_listen_addr = "10.0.0.5:5024".into();
    assert_eq!(target(&found), "10.0.0.5:5024");
    found.proxy.ssh.tunnel_listen_addr.clear();
    assert_eq!(target(&found), "teleport.example.com:3024");
    assert_eq!(
        found.tunnel_target(dialed, Some("override.example.com")),
        TunnelTarget {
            addr: "override.example.com:3024".into(),
            tls_routing: false
        }
    );
}

#[test]
fn with_tls_routing_the_tunnel_is_the_web_address() {
    let mut found = answer(SEPARATE_PORTS);
    found.proxy.tls_routing_enabled = true;
    found.proxy.ssh.public_addr = "teleport.example.com".into();
    found.proxy.ssh.web_listen_addr = "0.0.0.0:3080".into();
    let target = found.tunnel_target("10.1.1.1:3080", None);
    assert_eq!(
        target,
        TunnelTarget {
            addr: "teleport.example.com:3080".into(),
            tls_routing: true
        }
    );
    found.proxy.ssh.public_addr.clear();
    found.proxy.ssh.web_listen_addr.clear();
    assert_eq!(
        found.tunnel_target("10.1.1.1:443", None).addr,
        "10.1.1.1:443"
    );
}
