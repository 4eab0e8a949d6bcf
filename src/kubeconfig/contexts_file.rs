//! The contexts file: what a packed kubeconfig Secret holds, without credentials, meant to be
//! committed. `kubeconfig pack --contexts-file` writes it; post-render, diff, doctor and
//! generate check context names against it, and its `configSha256` is the rollout annotation.

use kube::config::{AuthInfo, Kubeconfig};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::doctor::{self, DoctorInput, Finding};
use crate::yaml::emit::{self, Layout};

pub const API_VERSION: &str = "skyhelm.io/v1";
pub const KIND: &str = "ContextsFile";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextsFile {
    pub api_version: String,
    pub kind: String,
    /// The Secret that holds the kubeconfig (key `config`).
    pub secret_name: String,
    /// Lowercase hex sha256 of the Secret's `config` value.
    pub config_sha256: String,
    #[serde(default)]
    pub current_context: Option<String>,
    pub contexts: Vec<ContextEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextEntry {
    pub name: String,
    /// The cluster's server URL, without any user information.
    #[serde(default)]
    pub server: Option<String>,
    /// token, client-certificate, exec, auth-provider, basic, none.
    pub auth: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextsFileError {
    #[error("contexts file {path}: not UTF-8")]
    NotUtf8 { path: String },
    #[error("contexts file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("contexts file {path}: expected apiVersion {API_VERSION} and kind {KIND}")]
    WrongKind { path: String },
    #[error("contexts file {path}: configSha256 is not a lowercase hex sha256")]
    BadSha256 { path: String },
    /// `name` is already sanitized for display.
    #[error("contexts file {path}: currentContext `{name}` is not one of its contexts")]
    UnknownCurrentContext { path: String, name: String },
}

/// The kind of authentication a user entry uses (never its value).
pub fn auth_kind(a: Option<&AuthInfo>) -> &'static str {
    let Some(a) = a else { return "none" };
    if a.exec.is_some() {
        "exec"
    } else if a.auth_provider.is_some() {
        "auth-provider"
    } else if a.client_certificate_data.is_some() || a.client_certificate.is_some() {
        "client-certificate"
    } else if a.token.is_some() || a.token_file.is_some() {
        "token"
    } else if a.username.is_some() || a.password.is_some() {
        "basic"
    } else {
        "none"
    }
}

/// A server URL with any `user:password@`, query and fragment removed (they may carry
/// credentials); scheme, slashes, host, port and path stay as written. Whatever the scheme form
/// (`https://`, scheme-relative `//`, one slash `https:/`, none), everything up to the last `@`
/// is user information: a password may hold `/` or `:`, and text before the host is never shown.
/// `None` when an `@` follows a `?` or `#`: then either the password holds one of them or the
/// query an `@`, and no part can be shown safely. (A path holding an `@` loses what precedes it.)
pub fn strip_userinfo(server: &str) -> Option<String> {
    let is_scheme = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    // `scheme:` counts only before a slash: `u:pw@host` is user information, not a scheme `u`.
    let scheme_len =
        server.find(':').filter(|&i| is_scheme(&server[..i]) && server[i + 1..].starts_with('/')).map_or(0, |i| i + 1);
    let after_scheme = &server[scheme_len..];
    let slashes = after_scheme.len() - after_scheme.trim_start_matches(['/', '\\']).len();
    let (prefix, rest) = server.split_at(scheme_len + slashes);
    let cut = rest.find(['?', '#']).unwrap_or(rest.len());
    if rest[cut..].contains('@') {
        return None;
    }
    let authority_and_path = &rest[..cut];
    let host_and_path = authority_and_path.rsplit_once('@').map_or(authority_and_path, |(_, h)| h);
    Some(format!("{prefix}{host_and_path}"))
}

impl ContextsFile {
    /// The contexts file of a packed kubeconfig whose Secret holds `config`.
    pub fn of(packed: &Kubeconfig, secret_name: &str, config: &str) -> ContextsFile {
        let contexts = packed
            .contexts
            .iter()
            .map(|c| {
                let inner = c.context.as_ref();
                let server = inner
                    .and_then(|i| packed.clusters.iter().find(|cl| cl.name == i.cluster))
                    .and_then(|cl| cl.cluster.as_ref())
                    .and_then(|cl| cl.server.as_deref())
                    .and_then(strip_userinfo);
                let user = inner
                    .and_then(|i| i.user.as_ref())
                    .and_then(|u| packed.auth_infos.iter().find(|a| &a.name == u))
                    .and_then(|a| a.auth_info.as_ref());
                ContextEntry { name: c.name.clone(), server, auth: auth_kind(user).into() }
            })
            .collect();
        ContextsFile {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            secret_name: secret_name.into(),
            config_sha256: crate::text::sha256_hex(config.as_bytes()),
            current_context: packed.current_context.clone().filter(|c| !c.is_empty()),
            contexts,
        }
    }

    /// The YAML text (every value through the one YAML 1.1-safe quoting function).
    pub fn render(&self) -> String {
        let value = emit::keys_first(
            json!({
                "apiVersion": self.api_version,
                "kind": self.kind,
                "secretName": self.secret_name,
                "configSha256": self.config_sha256,
                "currentContext": self.current_context,
                "contexts": self.contexts.iter().map(|c| emit::keys_first(json!({"name": c.name, "server": c.server, "auth": c.auth}), &["name"])).collect::<Vec<_>>(),
            }),
            &["apiVersion", "kind", "secretName", "configSha256", "currentContext", "contexts"],
        );
        let mut s = String::from(
            "# Written by `skyhelm kubeconfig pack --contexts-file`: the packed Secret's contexts, without\n# credentials. Commit it; pass it with --contexts-file to check context names.\n",
        );
        s.push_str(&emit::document(&value, Layout { seq_offset: 0, nl: "\n" }));
        s
    }

    pub fn parse(path: &str, text: &str) -> Result<ContextsFile, ContextsFileError> {
        let f: ContextsFile = serde_saphyr::from_str(text).map_err(|e| ContextsFileError::Parse {
            path: path.into(),
            message: match (crate::messages::too_deep(&e), e.without_snippet()) {
                (Some(deep), _) => deep,
                // The field is one of this file's own names, never the file's text.
                (None, serde_saphyr::Error::SerdeMissingField { field, .. }) => match e.location() {
                    Some(l) => format!("missing field `{field}` (line {}, column {})", l.line(), l.column()),
                    None => format!("missing field `{field}`"),
                },
                (None, _) => crate::kubeconfig::scrub(&e.to_string()),
            },
        })?;
        if f.api_version != API_VERSION || f.kind != KIND {
            return Err(ContextsFileError::WrongKind { path: path.into() });
        }
        if f.config_sha256.len() != 64
            || !f.config_sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ContextsFileError::BadSha256 { path: path.into() });
        }
        if let Some(cur) = &f.current_context
            && !f.contexts.iter().any(|c| &c.name == cur)
        {
            return Err(ContextsFileError::UnknownCurrentContext {
                path: path.into(),
                name: crate::messages::sanitize(cur, &[]),
            });
        }
        Ok(f)
    }

    pub fn context_names(&self) -> Vec<String> {
        self.contexts.iter().map(|c| c.name.clone()).collect()
    }

    /// Doctor-style warnings for the named contexts: exec plugins, auth providers, loopback
    /// servers (subject, check, message).
    pub fn findings(&self, used: &[String]) -> Vec<Finding> {
        let mut out = Vec::new();
        for c in self.contexts.iter().filter(|c| used.contains(&c.name)) {
            let subject = format!("context {}", c.name);
            if let Some(host) = c.server.as_deref().and_then(doctor::loopback_host) {
                out.push(doctor::loopback_finding(&subject, &host));
            }
            if c.auth == "exec" || c.auth == "auth-provider" {
                out.push(doctor::finding(
                    crate::model::Severity::Warning,
                    if c.auth == "exec" { "exec-plugin" } else { "auth-provider" },
                    subject,
                    format!("authenticates with an {} (as recorded in the contexts file): the API server image must contain it", if c.auth == "exec" { "exec plugin" } else { "auth-provider" }),
                ));
            }
        }
        out
    }
}

/// doctor for a contexts file (`kubeconfig pack --contexts-file`): the allowed names against
/// its contexts, its current-context, and the exec plugins and loopback servers it records.
pub fn doctor(file: &ContextsFile, input: &DoctorInput) -> Vec<Finding> {
    let config = super::LoadedKubeconfig::names_of(file).config;
    let mut out = Vec::new();
    if file.current_context.is_none() {
        out.push(doctor::current_context_unset());
    }
    out.extend(file.findings(&file.context_names()));
    doctor::check_allowed_contexts(&config, input, &mut out);
    doctor::demote_unused(&config, input, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn servers_lose_what_may_carry_credentials() {
        for (given, want) in [
            ("https://admin:pw@c1.example.com:6443/k8s/clusters/c-1", "https://c1.example.com:6443/k8s/clusters/c-1"),
            ("https://c1.example.com?token=SECRET#frag", "https://c1.example.com"),
            ("https://u@[::1]:6443/p?x=1", "https://[::1]:6443/p"),
            ("c1.example.com:6443", "c1.example.com:6443"),
            // Text before `://` that is no scheme is authority (found in review: it was kept).
            ("u:pw@host/p?r=https://x", "host/p"),
            // Scheme-relative, one slash, three, a password with `/` and `:` (issue 24).
            ("//admin:PW@host:6443", "//host:6443"),
            ("https:/PW:x@host", "https:/host"),
            ("https:///u:p@host/p", "https:///host/p"),
            ("https://u:p/w:x@host:6443/k8s", "https://host:6443/k8s"),
            ("HTTPS:PW@host", "host"),
        ] {
            assert_eq!(super::strip_userinfo(given).as_deref(), Some(want), "{given}");
        }
        for unclear in ["https://u:p?w@host", "https://u:p#w@host", "https://host/p?x=a@b"] {
            assert_eq!(super::strip_userinfo(unclear), None, "{unclear}");
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// Any spelling of a server URL with user information: neither the user nor the password
        /// (nor a 3-character piece of either) is kept, and the host is, unless the URL is
        /// unclear (`None`).
        #[test]
        fn no_spelling_keeps_user_information(
            scheme in prop::sample::select(vec!["https://", "https:/", "https:///", "//", "/", "", "HTTPS://", "https:", "http+unix://", "https:\\\\"]),
            user in "[A-Za-z0-9._~-]{0,8}",
            password in proptest::option::of("[A-Za-z0-9/:._~!$&'()*+,;=%@-]{1,12}"),
            host in prop::sample::select(vec!["c1.example.com", "10.0.0.1", "[::1]", "h"]),
            port in proptest::option::of(1u16..),
            path in "(/[a-z0-9]{0,5}){0,3}",
            query in proptest::option::of("[?#][a-z=&]{0,8}"),
        ) {
            let secret_user = format!("U{user}Q");
            let secret_pw = password.as_ref().map(|p| format!("W{p}X"));
            let userinfo = match &secret_pw {
                Some(p) => format!("{secret_user}:{p}"),
                None => secret_user.clone(),
            };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}{userinfo}@{host}{port}{path}{}", query.clone().unwrap_or_default());
            let shown = super::strip_userinfo(&url);
            if let Some(shown) = &shown {
                for secret in std::iter::once(&secret_user).chain(secret_pw.as_ref()) {
                    let c: Vec<char> = secret.chars().collect();
                    for w in c.windows(3.min(c.len())) {
                        let w: String = w.iter().collect();
                        // Only runs that are not also in the rest of the URL.
                        let rest = format!("{scheme}{host}{port}{path}");
                        prop_assert!(!shown.contains(&w) || rest.contains(&w), "{url} -> {shown}");
                    }
                }
                prop_assert!(shown.contains(host), "{url} -> {shown}");
            } else {
                prop_assert!(url.contains('?') || url.contains('#'), "{url}");
            }
        }
    }
}
