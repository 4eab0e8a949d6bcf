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
/// credentials); scheme, host, port and path stay.
pub fn strip_userinfo(server: &str) -> String {
    let (scheme, rest) = doctor::split_scheme(server);
    let scheme = scheme.unwrap_or_default();
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() { format!("{host}{path}") } else { format!("{scheme}://{host}{path}") }
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
                    .map(strip_userinfo);
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
            message: match e.without_snippet() {
                // The field is one of this file's own names, never the file's text.
                serde_saphyr::Error::SerdeMissingField { field, .. } => match e.location() {
                    Some(l) => format!("missing field `{field}` (line {}, column {})", l.line(), l.column()),
                    None => format!("missing field `{field}`"),
                },
                _ => crate::kubeconfig::scrub(&e.to_string()),
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
        ] {
            assert_eq!(super::strip_userinfo(given), want);
        }
    }
}
