//! Kubeconfigs, read with kube's types (`kube::config::Kubeconfig`).

pub mod cert;
pub mod contexts_file;
pub mod doctor;
pub mod identity;
pub mod merge;
pub mod pack;

use kube::config::Kubeconfig;

/// DNS-1123 subdomain (what Kubernetes requires of a Secret's name): DNS-1123 labels joined
/// by `.`, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|l| is_dns1123_label(l, 63))
}

/// DNS-1123 label: lowercase alphanumerics and `-`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Why `name` cannot name the kubeconfig Secret (Kubernetes wants a DNS-1123 subdomain), or
/// None: the one check of generate's `kubeconfigSecretName`, post-render's `--secret-name`, the
/// contexts file's `secretName` and pack's `--secret-name`. The name is shown quoted as YAML
/// would (an empty name as `""`).
pub fn secret_name_problem(name: &str) -> Option<String> {
    (!is_dns1123_subdomain(name)).then(|| {
        format!(
            "{} is not a valid Secret name (a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, at most 253)",
            crate::messages::sanitize(&crate::yaml::emit::scalar(&serde_json::Value::String(name.to_string())), &[])
        )
    })
}

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The message holds nothing of the file's text (`parse_message`).
    #[error("kubeconfig {path}: {message}")]
    Parse { path: String, message: String },
    #[error("kubeconfig {path}: not UTF-8")]
    NotUtf8 { path: String },
}

/// A kubeconfig with the name it was read under (for messages).
#[derive(Debug, Clone)]
pub struct LoadedKubeconfig {
    pub path: String,
    pub config: Kubeconfig,
}

impl LoadedKubeconfig {
    pub fn parse(path: &str, bytes: &[u8]) -> Result<LoadedKubeconfig, KubeconfigError> {
        let text = std::str::from_utf8(bytes).map_err(|_| KubeconfigError::NotUtf8 { path: path.into() })?;
        let config = Kubeconfig::from_yaml(text)
            .map_err(|e| KubeconfigError::Parse { path: path.into(), message: parse_message(&e) })?;
        Ok(LoadedKubeconfig { path: path.into(), config })
    }

    /// The names and current-context of a contexts file, as a kubeconfig without clusters or
    /// users (enough for checking names).
    pub fn names_of(file: &contexts_file::ContextsFile) -> LoadedKubeconfig {
        let config = Kubeconfig {
            current_context: file.current_context.clone(),
            contexts: file
                .contexts
                .iter()
                .map(|c| kube::config::NamedContext { name: c.name.clone(), context: None, other: Default::default() })
                .collect(),
            ..Kubeconfig::default()
        };
        LoadedKubeconfig { path: "contexts file".into(), config }
    }

    pub fn context_names(&self) -> Vec<String> {
        self.config.contexts.iter().map(|c| c.name.clone()).collect()
    }

    pub fn current_context(&self) -> Option<&str> {
        self.config.current_context.as_deref().filter(|c| !c.is_empty())
    }
}

/// Why kube could not read a kubeconfig, with the line and column, and nothing of the file's
/// text: parser messages may quote a key or a value (serde-saphyr's `duplicate mapping key: K`
/// quotes the key without quotation marks), and a kubeconfig's keys and values may be
/// credentials. Each kind of error gets a fixed description; a YAML syntax error keeps the
/// parser's sentence up to its first quoted part.
pub fn parse_message(e: &kube::config::KubeconfigError) -> String {
    use serde_saphyr::Error as E;
    let kube::config::KubeconfigError::Parse(inner) = e else {
        return scrub(&e.to_string());
    };
    if let Some(deep) = crate::messages::too_deep(inner) {
        return format!("failed to parse kubeconfig YAML: {deep}");
    }
    let inner = inner.without_snippet();
    let what = match inner {
        E::DuplicateMappingKey { .. } => "a mapping has the same key twice".to_string(),
        E::SerdeMissingField { field, .. } => format!("missing field `{field}`"),
        // Both are the deserializer's own words (`&'static str`), never the file's.
        E::Unexpected { expected, .. } => format!("expected {expected}"),
        E::Eof { .. } => "unexpected end of the file".to_string(),
        E::SerdeInvalidType { .. }
        | E::SerdeInvalidValue { .. }
        | E::SerdeInvalidLength { .. }
        | E::InvalidScalar { .. }
        | E::InvalidBooleanStrict { .. }
        | E::NullIntoString { .. }
        | E::SerdeUnknownVariant { .. } => "a value of the wrong type or form".to_string(),
        E::UnknownAnchor { .. } => "an alias to an unknown anchor".to_string(),
        E::AliasError { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::Budget { .. } => "too many aliases, or too large".to_string(),
        E::InvalidUtf8Input => "not UTF-8".to_string(),
        E::ExternalMessage { msg, .. } => {
            let cut = msg.find(['\'', '"', '`', '[']).map_or(msg.as_str(), |i| &msg[..i]);
            let cut = cut.trim_end_matches([' ', ':', ',']);
            format!("not valid YAML: {cut}")
        }
        _ => "not a kubeconfig".to_string(),
    };
    match inner.location() {
        Some(l) => format!("failed to parse kubeconfig YAML: {what} (line {}, column {})", l.line(), l.column()),
        None => format!("failed to parse kubeconfig YAML: {what}"),
    }
}

/// Removes anything quoted from a parser message (it could be a credential) and the source
/// snippet kube appends.
pub fn scrub(message: &str) -> String {
    let message = crate::messages::without_library_hints(message);
    let first = message.lines().next().unwrap_or_default();
    let mut out = String::new();
    let mut quoted = false;
    for c in first.chars() {
        if c == '"' || c == '`' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}
