//! Kubeconfigs, read with kube's types (`kube::config::Kubeconfig`).

pub mod cert;
pub mod contexts_file;
pub mod doctor;
pub mod live;
pub mod pack;

use kube::config::Kubeconfig;

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The message is kube's, scrubbed: kube quotes the source lines, which hold credentials.
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
            .map_err(|e| KubeconfigError::Parse { path: path.into(), message: scrub(&e.to_string()) })?;
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

/// Removes anything quoted from a parser message (it could be a credential) and the source
/// snippet kube appends.
pub fn scrub(message: &str) -> String {
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
