//! A small real SMTP server on loopback for tests: EHLO, STARTTLS, AUTH PLAIN/LOGIN,
//! MAIL/RCPT/DATA, RSET, NOOP, QUIT; it records every accepted message and can refuse
//! connections, answer 421, or reject recipients.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How the server behaves.
#[derive(Clone, Default)]
pub(crate) struct SmtpOptions {
    /// Offer STARTTLS with this acceptor.
    pub tls: Option<TlsAcceptor>,
    /// Speak TLS from the first byte (port 465 style) with this acceptor.
    pub implicit_tls: Option<TlsAcceptor>,
    /// Require AUTH with these credentials before MAIL.
    pub credentials: Option<(String, String)>,
    /// Offer only AUTH LOGIN (instead of PLAIN and LOGIN).
    pub login_only: bool,
}

/// One accepted message.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    pub tls: bool,
    pub auth: Option<String>,
}

impl Received {
    /// The value of a header (first occurrence, unfolded).
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    v.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }
}

#[derive(Default)]
struct State {
    messages: Mutex<Vec<Received>>,
    connections: AtomicUsize,
    answer_421: AtomicBool,
    rejected: Mutex<HashSet<String>>,
    changed: Mutex<Option<watch::Sender<u64>>>,
}

/// A running test SMTP server.
pub(crate) struct SmtpServer {
    addr: SocketAddr,
    state: Arc<State>,
    changes: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub(crate) async fn start(options: SmtpOptions) -> Self {
        Self::start_on(options, 0).await.expect("bind")
    }

    /// Listens on 127.0.0.1:`port` (0: any free port).
    pub(crate) async fn start_on(options: SmtpOptions, port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(0);
        let state = Arc::new(State::default());
        *state.changed.lock().unwrap() = Some(tx);
        let task = tokio::spawn(accept(listener, options, state.clone()));
        Ok(Self {
            addr,
            state,
            changes: rx,
            task,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    pub(crate) fn messages(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }

    pub(crate) fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Answer every new connection with `421` (service not available) and close it.
    pub(crate) fn set_unavailable(&self, unavailable: bool) {
        self.state.answer_421.store(unavailable, Ordering::SeqCst);
    }

    /// Reject `RCPT TO` for this address with `550`.
    pub(crate) fn reject_recipient(&self, address: &str) {
        self.state
            .rejected
            .lock()
            .unwrap()
            .insert(address.to_ascii_lowercase());
    }

    /// Waits until `check` holds for the recorded messages and connection count.
    pub(crate) async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[Received], usize) -> Option<T>,
    ) -> T {
        let mut changes = self.changes.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if let Some(found) = check(&self.messages(), self.connections()) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                let messages = self.messages();
                panic!(
                    "SMTP condition not met within {timeout:?}; {} messages: {:#?}",
                    messages.len(),
                    messages
                        .iter()
                        .map(|m| (&m.to, m.header("Subject")))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

impl State {
    fn notify(&self) {
        if let Some(tx) = self.changed.lock().unwrap().as_ref() {
            tx.send_modify(|v| *v += 1);
        }
    }
}

async fn accept(listener: TcpListener, options: SmtpOptions, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        state.notify();
        let options = options.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _ = serve(stream, options, state).await;
        });
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn serve(stream: TcpStream, options: SmtpOptions, state: Arc<State>) -> std::io::Result<()> {
    let mut tls_on = false;
    let mut io: BufReader<Box<dyn Stream>> = match &options.implicit_tls {
        Some(acceptor) => {
            tls_on = true;
            BufReader::new(Box::new(acceptor.accept(stream).await?))
        }
        None => BufReader::new(Box::new(stream)),
    };
    if state.answer_421.load(Ordering::SeqCst) {
        io.write_all(b"421 localhost Service not available, try later\r\n")
            .await?;
        return Ok(());
    }
    io.write_all(b"220 localhost ESMTP test server\r\n").await?;
    let mut authed: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    loop {
        let line = read_line(&mut io).await?;
        let upper = line.to_ascii_uppercase();
        let verb = upper
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        match verb.as_str() {
            "EHLO" | "HELO" => {
                let mut reply = String::from("250-localhost greets you\r\n");
                if options.tls.is_some() && !tls_on {
                    reply.push_str("250-STARTTLS\r\n");
                }
                if options.credentials.is_some() {
                    reply.push_str(if options.login_only {
                        "250-AUTH LOGIN\r\n"
                    } else {
                        "250-AUTH PLAIN LOGIN\r\n"
                    });
                }
                reply.push_str("250 8BITMIME\r\n");
                io.write_all(reply.as_bytes()).await?;
            }
            "STARTTLS" => {
                let Some(acceptor) = options.tls.clone().filter(|_| !tls_on) else {
                    io.write_all(b"502 not offered\r\n").await?;
                    continue;
                };
                io.write_all(b"220 go ahead\r\n").await?;
                let inner = io.into_inner();
                let tls = acceptor.accept(inner).await?;
                io = BufReader::new(Box::new(tls));
                tls_on = true;
                authed = None;
                from = None;
                to.clear();
            }
            "AUTH" => {
                let Some((user, pass)) = &options.credentials else {
                    io.write_all(b"502 no auth\r\n").await?;
                    continue;
                };
                let parts: Vec<&str> = line.split_whitespace().collect();
                let mechanism = parts.get(1).map(|m| m.to_ascii_uppercase());
                let given = match mechanism.as_deref() {
                    Some("PLAIN") => {
                        let encoded = match parts.get(2) {
                            Some(initial) => (*initial).to_owned(),
                            None => {
                                io.write_all(b"334 \r\n").await?;
                                read_line(&mut io).await?
                            }
                        };
                        let decoded = B64.decode(encoded.trim()).unwrap_or_default();
                        let fields: Vec<String> = decoded
                            .split(|b| *b == 0)
                            .map(|f| String::from_utf8_lossy(f).into_owned())
                            .collect();
                        (fields.len() == 3).then(|| (fields[1].clone(), fields[2].clone()))
                    }
                    Some("LOGIN") => {
                        io.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                        let u = read_line(&mut io).await?;
                        io.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                        let p = read_line(&mut io).await?;
                        let decode = |s: &str| {
                            String::from_utf8_lossy(&B64.decode(s.trim()).unwrap_or_default())
                                .into_owned()
                        };
                        Some((decode(&u), decode(&p)))
                    }
                    _ => None,
                };
                match given {
                    Some((u, p)) if &u == user && &p == pass => {
                        authed = Some(format!("{}:{u}", mechanism.unwrap_or_default()));
                        io.write_all(b"235 2.7.0 Authentication successful\r\n")
                            .await?;
                    }
                    _ => {
                        io.write_all(b"535 5.7.8 Authentication credentials invalid\r\n")
                            .await?
                    }
                }
            }
            "MAIL" => {
                if options.credentials.is_some() && authed.is_none() {
                    io.write_all(b"530 5.7.0 Authentication required\r\n")
                        .await?;
                    continue;
                }
                from = Some(address(&line));
                to.clear();
                io.write_all(b"250 OK\r\n").await?;
            }
            "RCPT" => {
                let rcpt = address(&line);
                if state
                    .rejected
                    .lock()
                    .unwrap()
                    .contains(&rcpt.to_ascii_lowercase())
                {
                    io.write_all(b"550 5.1.1 No such user here\r\n").await?;
                } else {
                    to.push(rcpt);
                    io.write_all(b"250 OK\r\n").await?;
                }
            }
            "DATA" => {
                if from.is_none() || to.is_empty() {
                    io.write_all(b"503 need MAIL and RCPT\r\n").await?;
                    continue;
                }
                io.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    let line = read_line(&mut io).await?;
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(line);
                    data.push_str("\r\n");
                }
                state.messages.lock().unwrap().push(Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                    tls: tls_on,
                    auth: authed.clone(),
                });
                state.notify();
                io.write_all(b"250 OK queued\r\n").await?;
            }
            "RSET" => {
                from = None;
                to.clear();
                io.write_all(b"250 OK\r\n").await?;
            }
            "NOOP" => io.write_all(b"250 OK\r\n").await?,
            "QUIT" => {
                io.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => io.write_all(b"502 command not implemented\r\n").await?,
        }
        io.flush().await?;
    }
}

async fn read_line(io: &mut BufReader<Box<dyn Stream>>) -> std::io::Result<String> {
    let mut line = String::new();
    if io.read_line(&mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

/// A test CA and a certificate for `localhost`/127.0.0.1 signed by it.
pub(crate) struct TestCa {
    pub ca_pem: String,
    pub acceptor: TlsAcceptor,
}

impl TestCa {
    pub(crate) fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test SMTP CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}
