//! Connect time per dial mode: a new client's first Ping (TCP, any proxy or upgrade, the
//! end-to-end mTLS handshake with auth, HTTP/2, one RPC) against the testkit on loopback.
//!
//! `only/*` dials one fixed mode; `auto/*` is what a plugin does from its `addr`: every
//! applicable mode at once (with the load-balancer probe), the first to work wins. The
//! `web_*` cases start from a proxy web address: `/webapi/find` (a new client asks it once),
//! then the tunnel it names, with or without TLS routing. `*_rsa` uses an RSA identity;
//! `*_rsa_host` a tunnel with an RSA host CA and RSA host key (Teleport's legacy suite).

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use teleport_client::{
    ClientConfig, CredentialsSource, DialEnv, DialMode, DialPolicy, TeleportClient,
};
use teleport_testkit::{ConnectProxy, IdentityRequest, KeyKind, SshHostCa, Testkit};

const PROXIED_NAME: &str = "teleport.test:443";

fn config(addr: &str, dir: &Path, policy: DialPolicy, env: &[(&str, String)]) -> ClientConfig {
    config_with("auth_id", addr, dir, policy, env)
}

/// Writes an identity (`kind` key) and the web CA of `kit` into `dir`.
fn write_identity(kit: &Testkit, dir: &Path, name: &str, kind: KeyKind) {
    kit.issue_identity(&IdentityRequest::new("access-plugin").key(kind))
        .expect("identity")
        .write_identity_file(&dir.join(name))
        .expect("identity file");
    std::fs::write(dir.join("web-ca.pem"), kit.web_ca_pem().expect("web CA")).expect("web CA");
}

fn config_with(
    identity: &str,
    addr: &str,
    dir: &Path,
    policy: DialPolicy,
    env: &[(&str, String)],
) -> ClientConfig {
    let mut config = ClientConfig::new(addr, CredentialsSource::IdentityFile(dir.join(identity)));
    config.dial_policy = policy;
    config.web_ca_file = Some(dir.join("web-ca.pem"));
    config.dial_env = DialEnv::fixed(env.iter().map(|(k, v)| (*k, v.clone())));
    config
}

fn connect(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (kit, plain_kit, rsa_host_kit, proxy) = runtime.block_on(async {
        let kit = Testkit::builder()
            .with_proxy(true)
            .with_l7_front(true)
            .with_tunnel(true)
            .with_web_front(true)
            .start()
            .await
            .expect("testkit");
        // A proxy without TLS routing: its web front names a separate tunnel port.
        let plain_kit = Testkit::builder()
            .with_web_front(false)
            .start()
            .await
            .expect("testkit");
        let rsa_host_kit = Testkit::builder()
            .with_tunnel(true)
            .with_l7_front(true)
            .ssh_host_ca(SshHostCa::Rsa)
            .start()
            .await
            .expect("testkit");
        let proxy = ConnectProxy::start().await.expect("CONNECT proxy");
        proxy.route(PROXIED_NAME, kit.proxy_addr().expect("proxy"));
        (kit, plain_kit, rsa_host_kit, proxy)
    });
    let dir = tempfile::tempdir().expect("temp dir");
    write_identity(&kit, dir.path(), "auth_id", KeyKind::EcdsaP256);
    write_identity(&kit, dir.path(), "rsa_id", KeyKind::Rsa2048Pkcs1);
    let plain_dir = tempfile::tempdir().expect("temp dir");
    write_identity(&plain_kit, plain_dir.path(), "auth_id", KeyKind::EcdsaP256);
    let rsa_host_dir = tempfile::tempdir().expect("temp dir");
    write_identity(
        &rsa_host_kit,
        rsa_host_dir.path(),
        "auth_id",
        KeyKind::EcdsaP256,
    );
    write_identity(
        &rsa_host_kit,
        rsa_host_dir.path(),
        "rsa_id",
        KeyKind::Rsa2048Pkcs1,
    );
    let rsa_host_tunnel = rsa_host_kit.tunnel_addr().expect("tunnel").to_string();
    let web = kit.web_addr().expect("web front").to_string();
    let plain_web = plain_kit.web_addr().expect("web front").to_string();

    let auth = kit.auth_addr().to_string();
    let routing = kit.proxy_addr().expect("proxy").to_string();
    let l7 = kit.l7_addr().expect("L7 front").to_string();
    let tunnel = kit.tunnel_addr().expect("tunnel").to_string();
    let via_proxy = vec![("HTTPS_PROXY", proxy.url())];
    let cases: Vec<(&str, ClientConfig)> = vec![
        (
            "only/auth_direct",
            config(
                &auth,
                dir.path(),
                DialPolicy::Only(DialMode::AuthDirect),
                &[],
            ),
        ),
        (
            "only/proxy_tls_routing",
            config(
                &routing,
                dir.path(),
                DialPolicy::Only(DialMode::ProxyTlsRouting),
                &[],
            ),
        ),
        (
            "only/l7_conn_upgrade",
            config(
                &l7,
                dir.path(),
                DialPolicy::Only(DialMode::ProxyConnUpgrade),
                &[],
            ),
        ),
        (
            "only/reverse_tunnel",
            config(
                &tunnel,
                dir.path(),
                DialPolicy::Only(DialMode::ReverseTunnel),
                &[],
            ),
        ),
        (
            "only/reverse_tunnel_rsa",
            config_with(
                "rsa_id",
                &tunnel,
                dir.path(),
                DialPolicy::Only(DialMode::ReverseTunnel),
                &[],
            ),
        ),
        (
            "only/reverse_tunnel_rsa_host",
            config(
                &rsa_host_tunnel,
                rsa_host_dir.path(),
                DialPolicy::Only(DialMode::ReverseTunnel),
                &[],
            ),
        ),
        (
            "only/reverse_tunnel_rsa_host_rsa",
            config_with(
                "rsa_id",
                &rsa_host_tunnel,
                rsa_host_dir.path(),
                DialPolicy::Only(DialMode::ReverseTunnel),
                &[],
            ),
        ),
        (
            "only/web_find_tunnel_port",
            config(
                &plain_web,
                plain_dir.path(),
                DialPolicy::Only(DialMode::ProxyTunnel),
                &[],
            ),
        ),
        (
            "only/web_find_tunnel_tls_routing",
            config(
                &web,
                dir.path(),
                DialPolicy::Only(DialMode::ProxyTunnelTlsRouting),
                &[],
            ),
        ),
        (
            "auto/web_without_tls_routing",
            config(&plain_web, plain_dir.path(), DialPolicy::Auto, &[]),
        ),
        (
            "auto/web_with_tls_routing",
            config(&web, dir.path(), DialPolicy::Auto, &[]),
        ),
        (
            "only/proxy_tls_routing_via_http_connect",
            config(
                PROXIED_NAME,
                dir.path(),
                DialPolicy::Only(DialMode::ProxyTlsRouting),
                &via_proxy,
            ),
        ),
        (
            "auto/auth_port",
            config(&auth, dir.path(), DialPolicy::Auto, &[]),
        ),
        (
            "auto/proxy_tls_routing",
            config(&routing, dir.path(), DialPolicy::Auto, &[]),
        ),
        (
            "auto/l7_detected",
            config(&l7, dir.path(), DialPolicy::Auto, &[]),
        ),
        (
            "auto/tunnel_port",
            config(&tunnel, dir.path(), DialPolicy::Auto, &[]),
        ),
        (
            "auto/l7_forced_by_env",
            config(
                &l7,
                dir.path(),
                DialPolicy::Auto,
                &[("TELEPORT_TLS_ROUTING_CONN_UPGRADE", "true".into())],
            ),
        ),
    ];

    let mut group = c.benchmark_group("connect");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(4));
    for (name, config) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let client = TeleportClient::new(config.clone()).expect("client");
                    client.ping().await.expect("ping");
                })
            });
        });
    }
    group.finish();
    drop(proxy);
    drop(plain_kit);
    drop(rsa_host_kit);
    drop(kit);
}

criterion_group!(benches, connect);
criterion_main!(benches);
