//! Reads the ALPN list (and SNI) from a TLS ClientHello without terminating TLS, across
//! however many records and reads the hello arrives in.

const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
/// TLS plaintext records carry at most 2^14 bytes.
const MAX_RECORD: usize = 1 << 14;
/// Hellos larger than this are refused rather than buffered.
pub(crate) const MAX_HELLO: usize = 64 * 1024;

/// What the router needs from a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ClientHello {
    /// Offered application protocols, in the client's order.
    pub(crate) alpn: Vec<Vec<u8>>,
    /// The `host_name` from the server_name extension.
    pub(crate) server_name: Option<String>,
}

/// Why bytes are not a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HelloError {
    #[error("not a TLS handshake record")]
    NotHandshake,
    #[error("first handshake message is not a ClientHello")]
    NotClientHello,
    #[error("ClientHello too large")]
    TooLarge,
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
}

/// Parses the ClientHello at the start of `bytes`: `Ok(None)` means "need more bytes".
pub(crate) fn parse(bytes: &[u8]) -> Result<Option<ClientHello>, HelloError> {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        let Some(header) = rest.get(..5) else {
            return Ok(None);
        };
        if header[0] != CONTENT_HANDSHAKE {
            return Err(HelloError::NotHandshake);
        }
        if header[1] != 3 {
            return Err(HelloError::Malformed("record version"));
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > MAX_RECORD {
            return Err(HelloError::Malformed("record length"));
        }
        let Some(fragment) = rest.get(5..5 + len) else {
            return Ok(None);
        };
        handshake.extend_from_slice(fragment);
        rest = &rest[5 + len..];

        if handshake.len() < 4 {
            continue;
        }
        if handshake[0] != HANDSHAKE_CLIENT_HELLO {
            return Err(HelloError::NotClientHello);
        }
        let body_len = usize::from(handshake[1]) << 16
            | usize::from(handshake[2]) << 8
            | usize::from(handshake[3]);
        if body_len > MAX_HELLO {
            return Err(HelloError::TooLarge);
        }
        if let Some(body) = handshake.get(4..4 + body_len) {
            return parse_body(body).map(Some);
        }
    }
}

/// A bounds-checked big-endian reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], HelloError> {
        if self.0.len() < n {
            return Err(HelloError::Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, HelloError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, HelloError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A vector with a one- or two-byte length prefix.
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let len = usize::from(self.u8(what)?);
        self.take(len, what)
    }
    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let len = usize::from(self.u16(what)?);
        self.take(len, what)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_body(body: &[u8]) -> Result<ClientHello, HelloError> {
    let mut r = Reader(body);
    r.take(2, "legacy version")?;
    r.take(32, "random")?;
    r.vec8("session id")?;
    r.vec16("cipher suites")?;
    r.vec8("compression methods")?;
    let mut hello = ClientHello::default();
    if r.is_empty() {
        return Ok(hello); // a hello without extensions is legal (and has no ALPN)
    }
    let mut extensions = Reader(r.vec16("extensions")?);
    while !extensions.is_empty() {
        let kind = extensions.u16("extension type")?;
        let mut data = Reader(extensions.vec16("extension data")?);
        match kind {
            EXT_ALPN => {
                let mut list = Reader(data.vec16("ALPN list")?);
                while !list.is_empty() {
                    let protocol = list.vec8("ALPN protocol")?;
                    if protocol.is_empty() {
                        return Err(HelloError::Malformed("empty ALPN protocol"));
                    }
                    hello.alpn.push(protocol.to_vec());
                }
            }
            EXT_SERVER_NAME => {
                let mut list = Reader(data.vec16("server name list")?);
                while !list.is_empty() {
                    let name_type = list.u8("server name type")?;
                    let name = list.vec16("server name")?;
                    if name_type == 0 {
                        hello.server_name = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(hello)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The bytes a real rustls client sends first.
    fn rustls_hello(alpn: &[&[u8]], max_fragment: Option<usize>) -> Vec<u8> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config.max_fragment_size = max_fragment;
        let name = rustls_pki_types::ServerName::try_from("teleport.cluster.local").unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out).unwrap();
        }
        out
    }

    fn record_count(mut bytes: &[u8]) -> usize {
        let mut n = 0;
        while bytes.len() >= 5 {
            let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
            bytes = &bytes[5 + len..];
            n += 1;
        }
        n
    }

    /// One record holding a minimal ClientHello with the given extensions block content.
    fn hand_made_hello(extensions: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
        let mut handshake = vec![HANDSHAKE_CLIENT_HELLO];
        handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        handshake.extend_from_slice(&body);
        let mut record = vec![CONTENT_HANDSHAKE, 3, 1];
        record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }

    const ALPN: [&[u8]; 2] = [
        b"teleport-auth@6578616d706c652e636f6d.teleport.cluster.local",
        b"h2",
    ];

    #[test]
    fn whole_hello_yields_alpn_in_order_and_sni() {
        let bytes = rustls_hello(&ALPN, None);
        assert_eq!(record_count(&bytes), 1);
        let hello = parse(&bytes).unwrap().unwrap();
        assert_eq!(hello.alpn, ALPN.map(<[u8]>::to_vec));
        assert_eq!(hello.server_name.as_deref(), Some("teleport.cluster.local"));
    }

    #[test]
    fn every_prefix_asks_for_more() {
        let bytes = rustls_hello(&ALPN, None);
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "prefix of {cut} bytes");
        }
    }

    #[test]
    fn hello_fragmented_over_records_is_reassembled() {
        let bytes = rustls_hello(&ALPN, Some(64));
        assert!(
            record_count(&bytes) > 3,
            "the hello should span several records"
        );
        let hello = parse(&bytes).unwrap().unwrap();
        assert_eq!(hello.alpn, ALPN.map(<[u8]>::to_vec));
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "prefix of {cut} bytes");
        }
    }

    #[test]
    fn hello_without_alpn_has_an_empty_list() {
        let bytes = rustls_hello(&[], None);
        assert_eq!(parse(&bytes).unwrap().unwrap().alpn, Vec::<Vec<u8>>::new());
    }

    #[test]
    fn non_tls_and_corrupt_input_is_refused() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(HelloError::NotHandshake)
        );
        // A handshake record carrying a ServerHello (type 2).
        assert_eq!(
            parse(&[22, 3, 1, 0, 4, 2, 0, 0, 0]),
            Err(HelloError::NotClientHello)
        );
        // An ALPN extension whose list length overruns its data.
        let overrun = hand_made_hello(&[0, 16, 0, 4, 0, 100, 2, b'h']);
        assert_eq!(parse(&overrun), Err(HelloError::Malformed("ALPN list")));
        let empty_protocol = hand_made_hello(&[0, 16, 0, 3, 0, 1, 0]);
        assert_eq!(
            parse(&empty_protocol),
            Err(HelloError::Malformed("empty ALPN protocol"))
        );
        let fine = hand_made_hello(&[0, 16, 0, 5, 0, 3, 2, b'h', b'2']);
        assert_eq!(parse(&fine).unwrap().unwrap().alpn, vec![b"h2".to_vec()]);
        assert_eq!(
            parse(&[22, 3, 1, 0, 0]),
            Err(HelloError::Malformed("record length"))
        );
    }
}
