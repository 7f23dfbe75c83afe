//! The e-mail transports (SMTP or Mailgun) behind one [`Mailer`], the outgoing mail, and the
//! `Message-ID`s mails carry: a fresh one for every reply, and for a thread's first mail one
//! derived from the request and the recipient ([`root_message_id`]), the same on every replica.

pub mod mailgun;
pub mod smtp;

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use teleport_plugin_runtime::messaging::PostWindow;
use teleport_plugin_runtime::service_error::ServiceError;

use self::mailgun::{MailgunMailer, SentMail};
use self::smtp::SmtpMailer;

/// An e-mail ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: String,
    /// `Subject:`.
    pub subject: String,
    /// The text/plain body.
    pub text: String,
    /// The text/html alternative.
    pub html: String,
    /// Our `Message-ID`, without the angle brackets.
    pub message_id: String,
    /// The thread's first message ID (`In-Reply-To` and `References`), for replies.
    pub in_reply_to: Option<String>,
}

/// The configured transport.
#[derive(Debug)]
pub enum Mailer {
    /// An SMTP server.
    Smtp(SmtpMailer),
    /// The Mailgun HTTP API.
    Mailgun(MailgunMailer),
}

impl Mailer {
    /// Which transport this is, for logs and errors.
    pub fn service_name(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "SMTP server",
            Self::Mailgun(_) => "Mailgun API",
        }
    }

    /// The start-up check: the SMTP server takes a connection (TLS and AUTH included), or
    /// Mailgun knows the sending domain under this key.
    pub async fn check(&self) -> Result<(), ServiceError> {
        match self {
            Self::Smtp(smtp) => smtp.check().await,
            Self::Mailgun(mailgun) => mailgun.check().await,
        }
    }

    /// Sends one mail; returns the message ID the thread is known by.
    pub async fn send(
        &self,
        sender: &Mailbox,
        mail: &OutgoingMail,
    ) -> Result<String, ServiceError> {
        match self {
            Self::Smtp(smtp) => smtp
                .send(sender, mail)
                .await
                .map(|()| mail.message_id.clone()),
            Self::Mailgun(mailgun) => mailgun.send(sender, mail).await,
        }
    }

    /// Whether [`find_sent`](Self::find_sent) can tell that a mail was accepted: Mailgun (its
    /// events API, under the same private key), not SMTP, which keeps no record to read.
    pub fn finds_sent(&self) -> bool {
        matches!(self, Self::Mailgun(_))
    }

    /// The mail with `message_id` accepted within `window`, if the transport can tell
    /// (`Ok(None)` from SMTP, always).
    pub async fn find_sent(
        &self,
        message_id: &str,
        window: &PostWindow,
    ) -> Result<Option<SentMail>, ServiceError> {
        match self {
            Self::Smtp(_) => Ok(None),
            Self::Mailgun(mailgun) => mailgun.find_accepted(message_id, window).await,
        }
    }
}

/// The `Message-ID` (without brackets) of the first mail of `request_id`'s thread to
/// `recipient`: `<request-id>.<hash>@<domain>`, `domain` being the sender's. The hash (64-bit
/// FNV-1a, in hex) covers the request ID and the lower-cased recipient, so the ID is the same
/// on every replica and in every attempt, and differs per recipient. A replica that takes
/// over a mail left unrecorded asks Mailgun for this ID before sending; over SMTP, which
/// cannot be asked, a second copy carries the same ID, and mail clients that fold copies by
/// `Message-ID` (Gmail among them) show it once.
///
/// Characters a `Message-ID`'s left part cannot hold (Teleport's request IDs are UUIDs and
/// have none) are written as `_`; the hash still tells such IDs apart.
pub fn root_message_id(request_id: &str, recipient: &str, domain: &str) -> String {
    let mut hash = Fnv1a::new();
    hash.write(request_id.as_bytes());
    hash.write(&[0]);
    hash.write(recipient.trim().to_lowercase().as_bytes());
    let request: String = request_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{request}.{:016x}@{domain}", hash.finish())
}

/// 64-bit FNV-1a: small, and the same on every build and platform (std's `DefaultHasher`
/// promises neither), which an ID every replica must derive alike needs.
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A fresh `Message-ID` (without brackets): time and randomness in base 36 at `domain` (the
/// host name, as Go's mail library writes them).
pub fn new_message_id(domain: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    format!(
        "{}.{}@{domain}",
        base36(nanos),
        base36(rand::random::<u64>())
    )
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `<id>` with brackets stripped, as message IDs are stored.
pub fn strip_brackets(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u64::MAX), "3W5E11264SGSF");
        let a = new_message_id("example.com");
        let b = new_message_id("example.com");
        assert_ne!(a, b);
        assert!(a.ends_with("@example.com"), "{a}");
        assert_eq!(strip_brackets("<x@y>"), "x@y");
        assert_eq!(strip_brackets("x@y"), "x@y");
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let hash = |text: &str| {
            let mut fnv = Fnv1a::new();
            fnv.write(text.as_bytes());
            fnv.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_root_message_id_is_stable_per_request_and_recipient() {
        let request = "7f5a9c2e-0b1d-4c8e-9f3a-2d6b8e1c4a70";
        let id = root_message_id(request, "admin@example.com", "example.com");
        // The same on every call (every replica), whatever the recipient's case.
        assert_eq!(
            id,
            root_message_id(request, "admin@example.com", "example.com")
        );
        assert_eq!(
            id,
            root_message_id(request, " Admin@Example.COM", "example.com")
        );
        // Pinned: a change here would make replicas of two versions miss each other's mails.
        assert_eq!(id, format!("{request}.8223f7b972216f96@example.com"));
        assert_ne!(
            id,
            root_message_id(request, "ops@example.com", "example.com")
        );
        assert_ne!(
            id,
            root_message_id(
                "0c1d2e3f-0b1d-4c8e-9f3a-2d6b8e1c4a70",
                "admin@example.com",
                "example.com"
            )
        );

        // A valid Message-ID: a dot-atom left part, one `@`, lettre takes it as a header.
        let (left, domain) = id.split_once('@').expect("one @");
        assert_eq!(domain, "example.com");
        assert!(!left.is_empty() && !left.starts_with('.') && !left.ends_with('.'));
        assert!(!left.contains(".."));
        assert!(
            left.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
            "{left}"
        );
        let message = lettre::Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .message_id(Some(format!("<{id}>")))
            .body(String::from("x"))
            .expect("lettre accepts it");
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(text.contains(&format!("Message-ID: <{id}>")), "{text}");

        // What a Message-ID cannot hold is replaced; the hash still tells the IDs apart.
        let odd = root_message_id("a b@c", "admin@example.com", "example.com");
        assert!(odd.starts_with("a_b_c."), "{odd}");
        assert_ne!(
            odd,
            root_message_id("a_b_c", "admin@example.com", "example.com")
        );
    }
}
