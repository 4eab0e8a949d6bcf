//! `$KUBECONFIG` with several files, merged as kubectl merges them: the first file to define a
//! cluster, user or context name wins it whole; `current-context` (and every other single
//! value) comes from the first file that sets it; a relative file reference (a certificate, a
//! key, a token file, an exec command with a `/`) is taken from its own file's folder.

use std::path::Path;

use kube::config::Kubeconfig;

use super::{KubeconfigError, parse_message};

/// Merges `files` (path, text) in order into one kubeconfig, returned as its text (JSON, which
/// YAML readers read the same).
pub fn merge(files: &[(&Path, &str)]) -> Result<String, KubeconfigError> {
    let mut merged = Kubeconfig::default();
    for (path, text) in files {
        let shown = path.display().to_string();
        let mut config = Kubeconfig::from_yaml(text)
            .map_err(|e| KubeconfigError::Parse { path: shown.clone(), message: parse_message(&e) })?;
        absolute_paths(&mut config, path.parent().unwrap_or(Path::new("")));
        merged =
            merged.merge(config).map_err(|e| KubeconfigError::Parse { path: shown, message: parse_message(&e) })?;
    }
    serde_json::to_string_pretty(&merged)
        .map(|t| t + "\n")
        .map_err(|e| KubeconfigError::Parse { path: "$KUBECONFIG".into(), message: e.to_string() })
}

/// kubectl resolves a relative reference against the folder of the file that holds it.
fn absolute_paths(config: &mut Kubeconfig, dir: &Path) {
    let abs = |p: &mut Option<String>| {
        if let Some(v) = p.as_deref().filter(|v| Path::new(v).is_relative() && !v.is_empty()) {
            *p = Some(dir.join(v).display().to_string());
        }
    };
    for c in config.clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        abs(&mut c.certificate_authority);
    }
    for u in config.auth_infos.iter_mut().filter_map(|u| u.auth_info.as_mut()) {
        abs(&mut u.client_certificate);
        abs(&mut u.client_key);
        abs(&mut u.token_file);
        if let Some(exec) = u.exec.as_mut().filter(|e| e.command.as_deref().is_some_and(|c| c.contains('/'))) {
            abs(&mut exec.command);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_file_wins_each_name_and_current_context() {
        let a = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: https://a, certificate-authority: ca.pem}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: a}\n";
        let b = "apiVersion: v1\nkind: Config\ncurrent-context: y\nclusters:\n- name: c\n  cluster: {server: https://b}\ncontexts:\n- name: y\n  context: {cluster: c, user: u}\n";
        let text = merge(&[(Path::new("/one/a"), a), (Path::new("/two/b"), b)]).unwrap();
        let k = Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(k.current_context.as_deref(), Some("y"));
        assert_eq!(k.clusters.len(), 1);
        let c = k.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(c.server.as_deref(), Some("https://a"));
        assert_eq!(c.certificate_authority.as_deref(), Some("/one/ca.pem"));
        assert_eq!(k.contexts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    }
}
