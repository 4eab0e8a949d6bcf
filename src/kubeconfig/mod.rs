//! Kubeconfigs, read with kube's types (`kube::config::Kubeconfig`).

pub mod cert;
pub mod doctor;
pub mod live;
pub mod pack;

use kube::config::Kubeconfig;

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig {path}: {source}")]
    Parse { path: String, source: kube::config::KubeconfigError },
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
        let config =
            Kubeconfig::from_yaml(text).map_err(|source| KubeconfigError::Parse { path: path.into(), source })?;
        Ok(LoadedKubeconfig { path: path.into(), config })
    }

    pub fn context_names(&self) -> Vec<String> {
        self.config.contexts.iter().map(|c| c.name.clone()).collect()
    }

    pub fn current_context(&self) -> Option<&str> {
        self.config.current_context.as_deref().filter(|c| !c.is_empty())
    }
}
