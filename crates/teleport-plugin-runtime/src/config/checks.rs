//! The checks every plugin's validation makes alike — a CA file that must load, an API URL
//! that must be http(s), a list of names without an empty one, a recipient's key path — so that each `config.rs` keeps only its
//! own rules and the error texts stay the same across plugins.

use std::path::Path;

use reqwest::Url;

use super::{ConfigError, Loaded, paths};

impl<P> Loaded<P> {
    /// A configured CA file (`key`, e.g. `discord.ca_file`) must be a readable PEM bundle:
    /// found at start-up, not at the first call.
    pub fn check_ca_file(&self, key: &str, ca_file: Option<&Path>) -> Result<(), ConfigError> {
        match ca_file {
            Some(ca) => crate::tls::root_store(Some(ca))
                .map(drop)
                .map_err(|e| self.key_error(key, e.to_string())),
            None => Ok(()),
        }
    }

    /// `text` (the value of `key`) as an `http://` or `https://` URL with a host.
    pub fn http_url(&self, key: &str, text: &str, expected: &str) -> Result<Url, ConfigError> {
        http_url(text).ok_or_else(|| self.key_error(key, expected))
    }

    /// An API endpoint (`key`) as configured, else `default`: trimmed, without a trailing
    /// `/`, and an http(s) URL with a host (`expected` says what else it must be).
    pub fn api_endpoint<'a>(
        &self,
        key: &str,
        value: Option<&'a str>,
        default: &'a str,
        expected: &str,
    ) -> Result<&'a str, ConfigError> {
        let endpoint = value.unwrap_or(default).trim().trim_end_matches('/');
        self.http_url(key, endpoint, expected)?;
        Ok(endpoint)
    }

    /// A list of names (`key`, e.g. `opsgenie.default_teams`), trimmed; an empty name, which
    /// names nothing, is refused by its index.
    pub fn names(&self, key: &str, list: &[String]) -> Result<Vec<String>, ConfigError> {
        let cleaned: Vec<String> = list.iter().map(|s| s.trim().to_owned()).collect();
        match cleaned.iter().position(String::is_empty) {
            Some(index) => Err(self.key_error(
                &format!("{key}[{index}]"),
                "expected a name, found an empty string",
            )),
            None => Ok(cleaned),
        }
    }

    /// [`Loaded::names`] of a list that may be unset (`None` stays `None`).
    pub fn optional_names(
        &self,
        key: &str,
        list: Option<&[String]>,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        list.map(|list| self.names(key, list)).transpose()
    }
}

/// `text` as an `http://` or `https://` URL with a host; `None` for anything else.
pub fn http_url(text: &str) -> Option<Url> {
    Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

/// The key path of one recipient of `role` as the user wrote it: `role_to_recipients.dev` for
/// a list of one, `role_to_recipients."*"[2]` otherwise.
pub fn recipient_key(role: &str, index: usize, count: usize) -> String {
    let key = paths::child("role_to_recipients", role);
    if count == 1 {
        key
    } else {
        format!("{key}[{index}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_keys_are_written_as_toml_paths() {
        assert_eq!(recipient_key("dev", 0, 1), "role_to_recipients.dev");
        assert_eq!(recipient_key("*", 2, 3), "role_to_recipients.\"*\"[2]");
        assert_eq!(
            recipient_key("a \"b\"", 0, 1),
            "role_to_recipients.\"a \\\"b\\\"\""
        );
    }

    #[test]
    fn only_http_urls_with_a_host_pass() {
        for good in ["https://discord.com/api/", "http://127.0.0.1:8080"] {
            assert!(http_url(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "discord.com",
            "ftp://x",
            "http://",
            "mailto:x@example.com",
        ] {
            assert!(http_url(bad).is_none(), "{bad}");
        }
    }
}
