//! stop() and restart(): a real outage on the same ports, with state kept.

use crate::common;

use common::{WAIT, client, id_of, next, open_watch, watch, watch_kind};
use teleport_client::wire::proto::PingRequest;
use teleport_testkit::Testkit;

#[tokio::test]
async fn stop_closes_the_port_and_live_connections_and_restart_reuses_it() {
    let kit = Testkit::builder().with_proxy(true).start().await.unwrap();
    let auth_addr = kit.auth_addr();
    let proxy_addr = kit.proxy_addr().unwrap();
    let request = kit.create_request("alice", &["editor"], "before").unwrap();
    kit.put_plugin_data(
        "access_request",
        &id_of(&request),
        "slack",
        &[("user", "alice")],
    )
    .unwrap();
    let mut bot = client(&kit, "access-plugin").await;
    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    assert!(kit.is_running().await);

    kit.stop().await;
    assert!(!kit.is_running().await);
    // The open stream fails instead of hanging, and nothing listens any more.
    let outcome = next(&mut stream).await;
    assert!(matches!(outcome, Some(Err(_)) | None), "{outcome:?}");
    for addr in [auth_addr, proxy_addr] {
        let refused = tokio::net::TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(
            refused.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{addr}"
        );
    }
    let down = tokio::time::timeout(WAIT, bot.ping(PingRequest {}))
        .await
        .unwrap();
    assert!(down.is_err(), "ping must fail while stopped");
    assert_eq!(kit.watcher_count(), 0);
    kit.stop().await; // idempotent

    kit.restart().await.unwrap();
    assert_eq!(
        (kit.auth_addr(), kit.proxy_addr()),
        (auth_addr, Some(proxy_addr))
    );
    // The same tonic channel reconnects; state survived the outage.
    let ping = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(reply) = bot.ping(PingRequest {}).await {
                return reply.into_inner();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client reconnects after restart");
    assert_eq!(ping.cluster_name, "example.com");
    assert_eq!(kit.get_request(&id_of(&request)).unwrap(), request);
    assert_eq!(
        kit.plugin_data(&id_of(&request), "slack").unwrap()["user"],
        "alice"
    );
    let mut stream = open_watch(&mut bot, watch(vec![watch_kind(&[])])).await;
    kit.create_request("bob", &["editor"], "after").unwrap();
    assert_eq!(next(&mut stream).await.unwrap().unwrap().r#type, 1);

    // restart() while running also bounces the server.
    kit.restart().await.unwrap();
    assert!(kit.is_running().await);
}

#[tokio::test]
async fn dropping_the_testkit_frees_its_port() {
    let kit = common::kit().await;
    let addr = kit.auth_addr();
    drop(kit);
    // The listener closes as its task winds down; wait for it without a fixed sleep.
    tokio::time::timeout(WAIT, async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("port closed after drop");
}
