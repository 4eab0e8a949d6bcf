//! `skyhelm kubeconfig pack`: a self-contained kubeconfig with only the named contexts and the
//! clusters and users they use; file references read and inlined as `*-data`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::config::{Kubeconfig, NamedAuthInfo, NamedCluster};
use secrecy::SecretString;
use serde_json::Value;

use crate::messages::did_you_mean;
use crate::policy::contexts::nearest;
use crate::yaml::emit::{self, Layout};

/// A name or command from the kubeconfig (or the command line) as errors show it: control
/// characters and direction marks made harmless, the length capped (as doctor shows them).
fn shown(text: &str) -> String {
    crate::messages::sanitize(text, &[])
}

/// A path the kubeconfig names, as errors show it (`shown`).
fn shown_path(path: &Path) -> String {
    shown(&path.display().to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Kubeconfig(#[from] super::KubeconfigError),
    #[error("context `{name}` is not in the kubeconfig{}; available: {}", did_you_mean(suggestions), available.join(", "))]
    UnknownContext { name: String, suggestions: Vec<String>, available: Vec<String> },
    #[error("context `{context}` names {what} `{name}`, which is not in the kubeconfig")]
    Dangling { context: String, what: &'static str, name: String },
    #[error(
        "user `{user}` authenticates with the exec plugin `{command}`, which the API server image may not have; use a static-token kubeconfig, or pass --allow-exec to pack it anyway"
    )]
    Exec { user: String, command: String },
    #[error("reading {field} of {subject} ({path}): {cause}")]
    ReadFile { field: &'static str, subject: String, path: String, cause: std::io::Error },
    /// What is wrong with a file `pack` would inline; never its content.
    #[error("{field} of {subject} ({path}) {problem}")]
    BadFile { field: &'static str, subject: String, path: String, problem: &'static str },
    #[error(
        "{field} of {subject} ({path}) is larger than 1 MiB ({MAX_FILE_BYTES} bytes); certificates, keys and tokens are far smaller"
    )]
    TooLarge { field: &'static str, subject: String, path: String },
    #[error("no --context given")]
    NoContext,
}

pub struct PackInput<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub contexts: &'a [String],
    pub allow_exec: bool,
}

/// Reads a file a kubeconfig refers to (the caller decides how: the library does no I/O). The
/// caller reads regular files only, and at most `MAX_FILE_BYTES` + 1 bytes of one.
pub type ReadFile<'r> = dyn FnMut(&Path) -> std::io::Result<Vec<u8>> + 'r;

/// The largest file `pack` inlines: certificates, keys and tokens are a few kilobytes, a CA
/// bundle a few hundred.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// What a referenced file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    Certificate,
    PrivateKey,
    Token,
}

/// Reads a referenced file and checks it holds what its field needs, as kubectl would read it:
/// certificates and keys in PEM, a token file one token. Errors name the field and the path,
/// never the content.
fn inline(
    read: &mut ReadFile,
    field: &'static str,
    subject: &str,
    path: PathBuf,
    holds: Holds,
) -> Result<Vec<u8>, PackError> {
    let bytes = match read(&path) {
        Ok(b) => b,
        Err(cause) => {
            return Err(PackError::ReadFile { field, subject: subject.into(), path: shown_path(&path), cause });
        }
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(PackError::TooLarge { field, subject: subject.into(), path: shown_path(&path) });
    }
    let problem = match holds {
        Holds::Certificate => super::cert::pem_problem(&bytes, super::cert::PemWant::Certificate),
        Holds::PrivateKey => super::cert::pem_problem(&bytes, super::cert::PemWant::PrivateKey),
        Holds::Token => match token(&bytes) {
            Ok(t) => return Ok(t.into_bytes()),
            Err(p) => Some(p),
        },
    };
    match problem {
        None => Ok(bytes),
        Some(problem) => Err(PackError::BadFile { field, subject: subject.into(), path: shown_path(&path), problem }),
    }
}

/// The token of a token file as client-go reads it (white space around it trimmed, so a
/// trailing line break goes), when the file holds exactly one token.
fn token(bytes: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text; a token file holds one token")?;
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty; a token file holds one token");
    }
    // U+0085, U+2028 and U+2029 break lines for YAML 1.1 readers too.
    if t.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
        return Err("holds more than one line; a token file holds one token");
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds white space or a control character inside the token; a token file holds one token");
    }
    Ok(t.to_string())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The kubeconfig with only `input.contexts` (the first becomes current-context) and the
/// clusters (`packed_cluster`) and users (`packed_user`) they name, files inlined.
pub fn pack(input: &PackInput, read: &mut ReadFile) -> Result<Kubeconfig, PackError> {
    let full = Kubeconfig::from_yaml(input.text).map_err(|e| super::KubeconfigError::Parse {
        path: input.path.display().to_string(),
        message: super::parse_message(&e),
    })?;
    let first = input.contexts.first().ok_or(PackError::NoContext)?;
    let base = input.path.parent().unwrap_or(Path::new(""));
    let available: Vec<String> = full.contexts.iter().map(|c| c.name.clone()).collect();
    let mut out = Kubeconfig {
        api_version: Some("v1".into()),
        kind: Some("Config".into()),
        current_context: Some(first.clone()),
        ..Kubeconfig::default()
    };
    for name in input.contexts {
        if out.contexts.iter().any(|c| &c.name == name) {
            continue;
        }
        let ctx = full.contexts.iter().find(|c| &c.name == name).ok_or_else(|| PackError::UnknownContext {
            name: shown(name),
            suggestions: nearest(name, &available).iter().map(|n| shown(n)).collect(),
            available: available.iter().map(|n| shown(n)).collect(),
        })?;
        let inner = ctx.context.clone().unwrap_or_default();
        if !out.clusters.iter().any(|c| c.name == inner.cluster) {
            out.clusters.push(packed_cluster(&full, name, &inner.cluster, base, read)?);
        }
        if let Some(user) = &inner.user
            && !out.auth_infos.iter().any(|u| &u.name == user)
        {
            out.auth_infos.push(packed_user(&full, name, user, input.allow_exec, base, read)?);
        }
        out.contexts.push(ctx.clone());
    }
    Ok(out)
}

/// A file reference as kubectl reads it: relative to the kubeconfig's folder `base`.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_relative() { base.join(p) } else { p.to_path_buf() }
}

/// Context `context` names a `what` (cluster or user) `name` the kubeconfig does not have.
fn dangling(context: &str, what: &'static str, name: &str) -> PackError {
    PackError::Dangling { context: shown(context), what, name: shown(name) }
}

/// The cluster `cluster` that context `context` names, its certificate-authority file inlined.
fn packed_cluster(
    full: &Kubeconfig,
    context: &str,
    cluster: &str,
    base: &Path,
    read: &mut ReadFile,
) -> Result<NamedCluster, PackError> {
    let mut cl = full
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .cloned()
        .ok_or_else(|| dangling(context, "cluster", cluster))?;
    if let Some(info) = cl.cluster.as_mut()
        && let Some(p) = info.certificate_authority.take()
    {
        let subject = format!("cluster {}", shown(&cl.name));
        let bytes = inline(read, "certificate-authority", &subject, resolve(base, &p), Holds::Certificate)?;
        info.certificate_authority_data = Some(b64(&bytes));
    }
    Ok(cl)
}

/// The user `user` that context `context` names, its client certificate, client key (which
/// must match) and token file inlined; a user with an exec plugin only with `allow_exec`.
fn packed_user(
    full: &Kubeconfig,
    context: &str,
    user: &str,
    allow_exec: bool,
    base: &Path,
    read: &mut ReadFile,
) -> Result<NamedAuthInfo, PackError> {
    let mut u =
        full.auth_infos.iter().find(|u| u.name == user).cloned().ok_or_else(|| dangling(context, "user", user))?;
    let subject = format!("user {}", shown(&u.name));
    if let Some(a) = u.auth_info.as_mut() {
        if let Some(exec) = &a.exec
            && !allow_exec
        {
            return Err(PackError::Exec {
                user: shown(user),
                command: shown(exec.command.as_deref().unwrap_or_default()),
            });
        }
        let mut load =
            |field: &'static str, p: String, holds: Holds| inline(read, field, &subject, resolve(base, &p), holds);
        let cert = match a.client_certificate.take() {
            Some(p) => Some(load("client-certificate", p, Holds::Certificate)?),
            None => None,
        };
        let key = match a.client_key.take() {
            Some(p) => Some((load("client-key", p.clone(), Holds::PrivateKey)?, p)),
            None => None,
        };
        // Any certificate version, as kubectl (`identity::key_matches`).
        if let (Some(c), Some((k, p))) = (&cert, &key)
            && super::identity::key_matches(c, k) == Some(false)
        {
            return Err(PackError::BadFile {
                field: "client-key",
                subject,
                path: shown_path(&resolve(base, p)),
                problem: "is not the key of client-certificate (their public keys differ)",
            });
        }
        if let Some(c) = cert {
            a.client_certificate_data = Some(b64(&c));
        }
        if let Some((k, _)) = key {
            a.client_key_data = Some(SecretString::from(b64(&k)));
        }
        if let Some(p) = a.token_file.take() {
            let token = String::from_utf8_lossy(&load("tokenFile", p, Holds::Token)?).into_owned();
            a.token = Some(SecretString::from(token));
        }
    }
    Ok(u)
}

fn layout() -> Layout {
    Layout { seq_offset: 0, nl: "\n" }
}

/// The kubeconfig as YAML (credentials included: this is the file the Secret carries).
pub fn render_kubeconfig(k: &Kubeconfig) -> String {
    let v = serde_json::to_value(k).unwrap_or(Value::Null);
    emit::document(
        &emit::keys_first(v, &["apiVersion", "kind", "current-context", "clusters", "contexts", "users"]),
        layout(),
    )
}

/// A Secret with the kubeconfig under key `config`, the key the chart mounts.
pub fn render_secret(kubeconfig_yaml: &str, name: &str, namespace: Option<&str>) -> String {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(str::to_string),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([("config".to_string(), ByteString(kubeconfig_yaml.as_bytes().to_vec()))])),
        ..Default::default()
    };
    let mut v = serde_json::to_value(&secret).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), Value::String("v1".into()));
        m.insert("kind".into(), Value::String("Secret".into()));
    }
    emit::document(&emit::keys_first(v, &["apiVersion", "kind", "metadata", "type", "data"]), layout())
}
