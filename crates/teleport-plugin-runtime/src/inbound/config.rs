//! The `[http]` section of the Jira and GitLab plugins (Go's `lib.HTTPConfig`): where the
//! webhook listener binds, its TLS files, basic auth and client-certificate checks.
//!
//! ```toml
//! [http]
//! listen_addr = ":8081"                       # [host]:port; default ":8081" (every interface)
//! public_addr = "https://plugin.example.com"  # how Jira / GitLab reach the listener
//! https_key_file = "/var/lib/teleport/plugins/jira/server.key"
//! https_cert_file = "/var/lib/teleport/plugins/jira/server.crt"
//!
//! [http.basic_auth]                           # optional
//! user = "jira"
//! password = "env:JIRA_WEBHOOK_PASSWORD"      # inline, /path, file:<path> or env:<NAME>
//!
//! [http.tls]
//! verify_client_cert = true                   # require a client certificate
//! client_ca_file = "/etc/jira-webhook-ca.pem" # ours: the CA that signs them (default: system roots, as Go)
//! ```
//!
//! `--insecure-no-tls` on `start` ([`InsecureNoTls`]) serves plain HTTP for a TLS-terminating
//! ingress; then the TLS keys are not needed (and are ignored with a warning).

use std::path::PathBuf;

use reqwest::Url;
use serde::Deserialize;

use crate::config::{ConfigError, ConfigWarning, Loaded, Secret};

/// Go's default listen address: port 8081 on every interface.
pub const DEFAULT_LISTEN_ADDR: &str = ":8081";

/// The `start` flag of plugins with a webhook listener.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct InsecureNoTls {
    /// Serve the webhook over plain HTTP (behind a TLS-terminating proxy or ingress).
    #[arg(long)]
    pub insecure_no_tls: bool,
}

/// `[http]` as written in the file.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct HttpSection {
    /// `[host]:port` to listen on; default `:8081`.
    #[serde(default)]
    pub listen_addr: Option<String>,
    /// The URL the upstream service calls; `user:password@` in it means basic auth.
    #[serde(default)]
    pub public_addr: Option<String>,
    /// TLS private key (PEM).
    #[serde(default)]
    pub https_key_file: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[serde(default)]
    pub https_cert_file: Option<PathBuf>,
    /// `[http.basic_auth]`.
    #[serde(default)]
    pub basic_auth: BasicAuthSection,
    /// `[http.tls]`.
    #[serde(default)]
    pub tls: TlsSection,
}

/// `[http.basic_auth]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct BasicAuthSection {
    /// The user name callers must present.
    #[serde(default)]
    pub user: Option<String>,
    /// Their password (a secret: inline, `/path`, `file:` or `env:`).
    #[serde(default)]
    pub password: Option<Secret>,
}

/// `[http.tls]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TlsSection {
    /// Require a client certificate signed by a trusted CA.
    #[serde(default)]
    pub verify_client_cert: bool,
    /// Ours: the CA file client certificates are checked against (default: the system
    /// store, as the Go plugins did).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

/// Basic-auth credentials callers must present.
#[derive(Clone, Debug)]
pub struct BasicAuth {
    /// The user name.
    pub user: String,
    /// The password; `Debug` prints `***`.
    pub password: Secret,
}

/// How the listener secures its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with these files.
    Tls {
        /// The certificate chain (PEM).
        cert_file: PathBuf,
        /// The private key (PEM).
        key_file: PathBuf,
        /// `Some` when a client certificate is required: the CA file to check it against,
        /// or `None` inside for the system store.
        client_ca: Option<ClientCa>,
    },
    /// Plain HTTP (`--insecure-no-tls`).
    Plain,
}

/// Which CAs client certificates are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCa {
    /// The system store (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), as Go.
    System,
    /// Only the certificates in this file.
    File(PathBuf),
}

/// The validated `[http]` section.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `[host]:port` to bind; an empty host means every interface.
    pub listen_addr: String,
    /// The public base URL, when configured (credentials removed).
    pub public_url: Option<Url>,
    /// TLS or plain HTTP.
    pub transport: Transport,
    /// Basic auth, when required.
    pub basic_auth: Option<BasicAuth>,
}

impl HttpConfig {
    /// Plain HTTP on `listen_addr` with no auth (tests, embedding).
    pub fn plain(listen_addr: impl Into<String>) -> Self {
        Self {
            listen_addr: listen_addr.into(),
            public_url: None,
            transport: Transport::Plain,
            basic_auth: None,
        }
    }
}

impl HttpSection {
    /// Validates the section of `loaded` found under `key` (normally `http`), with
    /// `insecure` from `--insecure-no-tls`. Errors name the key and its line; keys without
    /// effect are reported in `warnings`.
    pub fn validate<P>(
        &self,
        loaded: &Loaded<P>,
        key: &str,
        insecure: bool,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<HttpConfig, ConfigError> {
        let at = |name: &str| format!("{key}.{name}");
        let listen_addr = self
            .listen_addr
            .clone()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_LISTEN_ADDR.to_owned());
        check_listen_addr(&listen_addr)
            .map_err(|problem| loaded.key_error(&at("listen_addr"), problem))?;

        let (public_url, url_auth) = match self.public_addr.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(raw) => parse_public_addr(raw, insecure)
                .map_err(|problem| loaded.key_error(&at("public_addr"), problem))?,
        };

        let user = self.basic_auth.user.clone().filter(|u| !u.is_empty());
        let mut basic_auth = match (user, &self.basic_auth.password) {
            (None, Some(password)) if !password.is_empty() => {
                return Err(loaded.key_error(
                    &at("basic_auth.user"),
                    "required when basic_auth.password is set",
                ));
            }
            (None, _) => None,
            (Some(user), password) => Some(BasicAuth {
                user,
                password: password.clone().unwrap_or_else(|| Secret::new("")),
            }),
        };
        if let Some(from_url) = url_auth {
            if basic_auth.is_some() {
                return Err(loaded.key_error(
                    &at("public_addr"),
                    "credentials in public_addr and a [http.basic_auth] section cannot both be set",
                ));
            }
            basic_auth = Some(from_url);
        }

        let transport = if insecure {
            let written = [
                ("https_key_file", self.https_key_file.is_some()),
                ("https_cert_file", self.https_cert_file.is_some()),
            ];
            for (name, set) in written {
                if set {
                    warnings.push(ConfigWarning::NoEffect {
                        file: loaded.file().to_path_buf(),
                        key: at(name),
                        reason: "the listener serves plain HTTP (--insecure-no-tls)".into(),
                    });
                }
            }
            if self.tls.verify_client_cert {
                return Err(loaded.key_error(
                    &at("tls.verify_client_cert"),
                    "client certificates need TLS; remove --insecure-no-tls or this key",
                ));
            }
            Transport::Plain
        } else {
            let files = (self.https_cert_file.clone(), self.https_key_file.clone());
            let (cert_file, key_file) = match files {
                (Some(cert), Some(key)) => (cert, key),
                // The error names the key that is written, so it carries a line.
                (Some(_), None) => {
                    return Err(loaded
                        .key_error(&at("https_cert_file"), "https_key_file is required with it"));
                }
                (None, Some(_)) => {
                    return Err(loaded
                        .key_error(&at("https_key_file"), "https_cert_file is required with it"));
                }
                (None, None) => {
                    return Err(loaded.key_error(
                        &at("https_cert_file"),
                        "the webhook listener serves HTTPS: set https_cert_file and \
                         https_key_file, or start with --insecure-no-tls behind a \
                         TLS-terminating proxy",
                    ));
                }
            };
            let client_ca = self.tls.verify_client_cert.then(|| {
                self.tls
                    .client_ca_file
                    .clone()
                    .map_or(ClientCa::System, ClientCa::File)
            });
            if client_ca.is_none() && self.tls.client_ca_file.is_some() {
                warnings.push(ConfigWarning::NoEffect {
                    file: loaded.file().to_path_buf(),
                    key: at("tls.client_ca_file"),
                    reason: "tls.verify_client_cert is not set".into(),
                });
            }
            Transport::Tls {
                cert_file,
                key_file,
                client_ca,
            }
        };

        Ok(HttpConfig {
            listen_addr,
            public_url,
            transport,
            basic_auth,
        })
    }
}

/// `[host]:port` with a numeric port; the host may be empty, a name, IPv4 or `[IPv6]`.
fn check_listen_addr(addr: &str) -> Result<(), String> {
    let expected = "expected [host]:port, such as \":8081\" or \"0.0.0.0:8081\"";
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(expected.into());
    };
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "{expected}; the port is not a number from 0 to 65535"
        ));
    }
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.contains(':') && !bracketed {
        return Err(format!("{expected}; write an IPv6 host in brackets"));
    }
    Ok(())
}

/// Go's `BaseURL`: no scheme means https (http with `--insecure-no-tls`); only http and
/// https; `user:password@` becomes basic auth and is removed from the URL.
fn parse_public_addr(
    raw: &str,
    insecure: bool,
) -> Result<(Option<Url>, Option<BasicAuth>), String> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        let scheme = if insecure { "http" } else { "https" };
        format!("{scheme}://{raw}")
    };
    // The URL may hold a password, so the parser's message (which never quotes input) is
    // all that is shown.
    let mut url = Url::parse(&with_scheme).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be http or https, found {}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    let auth = if url.username().is_empty() {
        None
    } else {
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| "the credentials in the URL are not UTF-8".to_owned())
        };
        let user = decode(url.username())?;
        let password = decode(url.password().unwrap_or(""))?;
        Some(BasicAuth {
            user,
            password: Secret::new(password),
        })
    };
    // Setting these cannot fail on an http(s) URL with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((Some(url), auth))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_plugin_config_str;

    #[derive(Debug, Deserialize)]
    struct File {
        #[serde(default)]
        http: HttpSection,
    }

    fn validate(text: &str, insecure: bool) -> Result<(HttpConfig, Vec<ConfigWarning>), String> {
        let loaded =
            load_plugin_config_str::<File>("plugin.toml", text).map_err(|e| e.to_string())?;
        let mut warnings = Vec::new();
        let config = loaded
            .plugin
            .http
            .validate(&loaded, "http", insecure, &mut warnings)
            .map_err(|e| e.to_string())?;
        Ok((config, warnings))
    }

    const TLS: &str = "https_key_file = \"/k.pem\"\nhttps_cert_file = \"/c.pem\"\n";

    #[test]
    fn defaults_as_go() {
        let (config, warnings) = validate(&format!("[http]\n{TLS}"), false).unwrap();
        assert_eq!(config.listen_addr, ":8081");
        assert!(config.public_url.is_none());
        assert!(config.basic_auth.is_none());
        assert_eq!(
            config.transport,
            Transport::Tls {
                cert_file: "/c.pem".into(),
                key_file: "/k.pem".into(),
                client_ca: None
            }
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn tls_files_are_required_unless_insecure() {
        let err = validate("[http]\nlisten_addr = \":8045\"\n", false).unwrap_err();
        assert!(err.contains("\"http.https_cert_file\""), "{err}");
        assert!(err.contains("--insecure-no-tls"), "{err}");
        let err = validate("[http]\nhttps_key_file = \"/k\"\n", false).unwrap_err();
        assert!(
            err.contains("\"http.https_key_file\": https_cert_file is required")
                && err.contains("(line 2)"),
            "{err}"
        );
        let err = validate("[http]\nhttps_cert_file = \"/c\"\n", false).unwrap_err();
        assert!(
            err.contains("\"http.https_cert_file\": https_key_file is required"),
            "{err}"
        );

        let (config, warnings) = validate(&format!("[http]\n{TLS}"), true).unwrap();
        assert_eq!(config.transport, Transport::Plain);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn public_addr_scheme_and_credentials() {
        let (config, _) =
            validate("[http]\npublic_addr = \"plugins.example.com:8443\"\n", true).unwrap();
        assert_eq!(
            config.public_url.unwrap().as_str(),
            "http://plugins.example.com:8443/"
        );
        let (config, _) = validate(
            &format!("[http]\npublic_addr = \"https://jira:p%40ss@hooks.example.com\"\n{TLS}"),
            false,
        )
        .unwrap();
        assert_eq!(
            config.public_url.unwrap().as_str(),
            "https://hooks.example.com/"
        );
        let auth = config.basic_auth.unwrap();
        assert_eq!(
            (auth.user.as_str(), auth.password.expose()),
            ("jira", "p@ss")
        );

        let err = validate("[http]\npublic_addr = \"ftp://x\"\n", true).unwrap_err();
        assert!(
            err.contains("http.public_addr") && err.contains("ftp"),
            "{err}"
        );
        let err = validate(
            "[http]\npublic_addr = \"https://a:secret-pw@x\"\n[http.basic_auth]\nuser = \"b\"\n",
            true,
        )
        .unwrap_err();
        assert!(err.contains("cannot both be set"), "{err}");
        assert!(!err.contains("secret-pw"), "{err}");
    }

    #[test]
    fn basic_auth_needs_a_user() {
        let err =
            validate("[http]\n[http.basic_auth]\npassword = \"hunter2\"\n", true).unwrap_err();
        assert!(err.contains("http.basic_auth.user"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let (config, _) = validate(
            "[http.basic_auth]\nuser = \"jira\"\npassword = \"hunter2\"\n",
            true,
        )
        .unwrap();
        let auth = config.basic_auth.unwrap();
        assert_eq!(auth.user, "jira");
        assert!(!format!("{auth:?}").contains("hunter2"));
    }

    #[test]
    fn client_certificates() {
        let (config, _) = validate(
            &format!("[http]\n{TLS}[http.tls]\nverify_client_cert = true\n"),
            false,
        )
        .unwrap();
        assert!(matches!(
            config.transport,
            Transport::Tls {
                client_ca: Some(ClientCa::System),
                ..
            }
        ));
        let (config, _) = validate(
            &format!(
                "[http]\n{TLS}[http.tls]\nverify_client_cert = true\nclient_ca_file = \"/ca.pem\"\n"
            ),
            false,
        )
        .unwrap();
        assert!(matches!(
            config.transport,
            Transport::Tls { client_ca: Some(ClientCa::File(ref f)), .. } if f == &PathBuf::from("/ca.pem")
        ));
        let err = validate("[http.tls]\nverify_client_cert = true\n", true).unwrap_err();
        assert!(err.contains("http.tls.verify_client_cert"), "{err}");
    }

    #[test]
    fn listen_addr_forms() {
        for good in [":8081", "0.0.0.0:8045", "localhost:1", "[::1]:8081"] {
            assert!(check_listen_addr(good).is_ok(), "{good}");
        }
        for bad in ["8081", ":http", "::1:8081", "host:99999"] {
            assert!(check_listen_addr(bad).is_err(), "{bad}");
        }
        let err = validate("[http]\nlisten_addr = \"8081\"\n", true).unwrap_err();
        assert!(
            err.contains("http.listen_addr") && err.contains("line 2"),
            "{err}"
        );
    }
}
