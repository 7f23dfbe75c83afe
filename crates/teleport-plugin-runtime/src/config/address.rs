//! Is a string exactly one plain e-mail address, by the rule the Go plugins use?

/// True when `s` is exactly one bare RFC 5322 address (`user@example.com`), nothing more.
///
/// This is the Go plugins' test `mail.ParseAddress(s).Address == s`: a display name
/// (`Jo <jo@example.com>`), comments, surrounding spaces or a quoted local part all change the
/// parsed address, so they are rejected. Both sides of the `@` must be dot-atoms: printable
/// ASCII other than the RFC 5322 specials, or any non-ASCII character, with single dots between
/// non-empty parts.
pub fn is_plain_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    is_dot_atom(local) && is_dot_atom(domain)
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext))
}

fn is_atext(c: char) -> bool {
    match c {
        '(' | ')' | '<' | '>' | '[' | ']' | ':' | ';' | '@' | '\\' | ',' | '"' | '.' => false,
        '!'..='~' => true,
        c => !c.is_ascii(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_plain_email;

    #[test]
    fn accepts_plain_addresses() {
        for good in [
            "alice@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'neil@example.com",
            "admin@localhost",
            "josé@exämple.com",
            "x!#$%&*/=?^_`{|}~-@example.com",
        ] {
            assert!(is_plain_email(good), "{good}");
        }
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "alice",
            "devs-slack-channel",
            "@example.com",
            "alice@",
            "Alice <alice@example.com>",
            " alice@example.com",
            "alice@example.com ",
            "alice@example.com (work)",
            "\"alice\"@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@example..com",
            "a@example.com.",
            "a@b@example.com",
            "a@[127.0.0.1]",
            "alice@example.com, bob@example.com",
            "team/channel",
        ] {
            assert!(!is_plain_email(bad), "{bad}");
        }
    }
}
