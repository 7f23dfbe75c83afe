//! The e-mail transports (SMTP or Mailgun) behind one [`Mailer`], and the outgoing mail.

pub mod mailgun;
pub mod smtp;

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use teleport_plugin_runtime::service_error::ServiceError;

use self::mailgun::MailgunMailer;
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
}
