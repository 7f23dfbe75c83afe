//! The patched russh (third_party/russh) over loopback: a client opens a channel of the
//! custom type `teleport-transport`, sends the `teleport-transport-dial` request with Go's
//! raw JSON payload, and gets either success and a byte stream, or failure with the reason
//! on stderr, as Teleport's `ConnectProxyTransport` reads it.

use std::sync::Arc;
use std::time::Duration;

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::server::{self, ChannelOpenHandle, Msg as ServerMsg};
use russh::{Channel, ChannelId, ChannelMsg, client};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

fn ed25519(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

/// What the server saw: the channel type and each request's name and payload.
#[derive(Debug)]
enum Seen {
    Open(String),
    Request(String, bool, Vec<u8>),
}

struct Server {
    seen: mpsc::UnboundedSender<Seen>,
    channels: Vec<Channel<ServerMsg>>,
}

impl server::Handler for Server {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        _: &str,
        _: server::VerifiedPublicKey<'_>,
    ) -> Result<server::Auth, Self::Error> {
        Ok(server::Auth::Accept)
    }

    async fn channel_open_unknown(
        &mut self,
        channel: Channel<ServerMsg>,
        channel_type: &str,
        reply: ChannelOpenHandle,
        _: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let _ = self.seen.send(Seen::Open(channel_type.to_owned()));
        if channel_type == "teleport-transport" {
            self.channels.push(channel);
            reply.accept().await;
        }
        // Anything else: the handle dropped refuses the channel.
        Ok(())
    }

    async fn channel_request_unknown(
        &mut self,
        channel: ChannelId,
        name: &str,
        want_reply: bool,
        payload: &[u8],
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let _ = self
            .seen
            .send(Seen::Request(name.to_owned(), want_reply, payload.to_vec()));
        let address = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["address"].as_str().map(str::to_owned));
        if name == "teleport-transport-dial" && address.as_deref() == Some("@remote-auth-server") {
            session.channel_success(channel)?;
            session.data(channel, b"hello from auth".to_vec())?;
        } else {
            // Go's proxy writes the reason to stderr before refusing.
            session.extended_data(channel, 1, b"no route\n".to_vec())?;
            session.channel_failure(channel)?;
            session.close(channel)?;
        }
        Ok(())
    }
}

struct Client;

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

async fn serve() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let mut config = server::Config {
        auth_rejection_time: Duration::ZERO,
        ..Default::default()
    };
    config.keys.push(ed25519(1));
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let handler = Server {
                seen: tx.clone(),
                channels: Vec::new(),
            };
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok(session) = server::run_stream(config, socket, handler).await {
                    let _ = session.await;
                }
            });
        }
    });
    (addr, rx)
}

async fn connect(addr: std::net::SocketAddr) -> client::Handle<Client> {
    let mut session = client::connect(Arc::new(client::Config::default()), addr, Client)
        .await
        .unwrap();
    let auth = session
        .authenticate_publickey(
            "alice",
            PrivateKeyWithHashAlg::new(Arc::new(ed25519(2)), None),
        )
        .await
        .unwrap();
    assert!(auth.success());
    session
}

#[tokio::test]
async fn transport_channel_and_dial_request_reach_the_server_and_carry_bytes() {
    let (addr, mut seen) = serve().await;
    let session = connect(addr).await;

    let mut channel = session
        .channel_open_custom("teleport-transport", Vec::new())
        .await
        .unwrap();
    let payload = br#"{"address":"@remote-auth-server","conn_type":"node"}"#.to_vec();
    channel
        .request_custom(true, "teleport-transport-dial", payload.clone())
        .await
        .unwrap();

    assert!(matches!(seen.recv().await, Some(Seen::Open(t)) if t == "teleport-transport"));
    match seen.recv().await {
        Some(Seen::Request(name, want_reply, got)) => {
            assert_eq!(name, "teleport-transport-dial");
            assert!(want_reply);
            assert_eq!(
                got, payload,
                "the payload goes as raw bytes, as Go's SendRequest"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(channel.wait().await, Some(ChannelMsg::Success)));
    match channel.wait().await {
        Some(ChannelMsg::Data { data }) => assert_eq!(&data[..], b"hello from auth"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn refused_dial_answers_failure_with_the_reason_on_stderr() {
    let (addr, _seen) = serve().await;
    let session = connect(addr).await;
    let mut channel = session
        .channel_open_custom("teleport-transport", Vec::new())
        .await
        .unwrap();
    channel
        .request_custom(
            true,
            "teleport-transport-dial",
            br#"{"address":"nowhere:1"}"#.to_vec(),
        )
        .await
        .unwrap();
    let mut stderr = Vec::new();
    let mut failed = false;
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
            ChannelMsg::Failure => failed = true,
            ChannelMsg::Close | ChannelMsg::Eof => break,
            _ => {}
        }
    }
    assert!(failed);
    assert_eq!(stderr, b"no route\n");
}

#[tokio::test]
async fn unknown_channel_types_and_requests_are_still_refused_by_default() {
    let (addr, _seen) = serve().await;
    let session = connect(addr).await;
    let refused = session
        .channel_open_custom("something-else", Vec::new())
        .await;
    assert!(
        matches!(refused, Err(russh::Error::ChannelOpenFailure(_))),
        "{refused:?}"
    );
}
