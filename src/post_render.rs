//! The post-render pipeline: split → locate the API server → rules → edits → output.

use sha2::{Digest, Sha256};

use crate::change::{Action, Change, DocChange, Outcome, RuleId};
use crate::kubeconfig::contexts_file::ContextsFile;
use crate::kubeconfig::{KubeconfigError, LoadedKubeconfig};
use crate::rules::{RuleError, allowed_contexts, api_server::ApiServer, kubeconfig_mount, rbac};
use crate::settings::Settings;
use crate::stream::{self, InputError, ManifestError, Manifests};
use crate::yaml::Limits;

#[derive(Debug, thiserror::Error)]
pub enum PostRenderError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
}

/// Lowercase hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Post-renders a manifest stream. `kubeconfig` is the content of `--kubeconfig`, if given.
/// On error nothing of the output exists: the caller writes `output` only on success.
pub fn post_render(input: &[u8], settings: &Settings, kubeconfig: Option<&[u8]>) -> Result<Outcome, PostRenderError> {
    post_render_with(input, settings, kubeconfig, None)
}

/// [`post_render`] with a contexts file (`--contexts-file`) instead of a kubeconfig: names are
/// checked against it and its recorded sha256 is the rollout annotation.
pub fn post_render_with(
    input: &[u8],
    settings: &Settings,
    kubeconfig: Option<&[u8]>,
    contexts_file: Option<&ContextsFile>,
) -> Result<Outcome, PostRenderError> {
    let limits = &settings.limits;
    if input.len() > limits.max_input_bytes {
        return Err(InputError::TooLarge { size: input.len(), limit: limits.max_input_bytes }.into());
    }
    let text = stream::decode(input)?;
    if text.trim().is_empty() {
        return Ok(Outcome { output: text.to_string(), ..Outcome::default() });
    }
    let m = Manifests::new(text, limits.clone(), settings.namespace.clone());
    if m.len() > limits.max_documents {
        return Err(InputError::TooManyDocuments { count: m.len(), limit: limits.max_documents }.into());
    }
    let api = ApiServer::locate(&m, settings.deployment.as_deref(), &settings.container)?;
    let checksum = kubeconfig.map(sha256_hex).or_else(|| contexts_file.map(|f| f.config_sha256.clone()));
    let mount =
        kubeconfig_mount::MountSettings { secret_name: &settings.secret_name, kubeconfig_sha256: checksum.as_deref() };

    let mut outcome = Outcome::default();
    if settings.mount_kubeconfig {
        outcome.changes.extend(kubeconfig_mount::run(&m, &api, &mount)?);
    }

    let loaded = match (&settings.kubeconfig, kubeconfig) {
        (Some(path), Some(bytes)) => Some(LoadedKubeconfig::parse(&path.display().to_string(), bytes)?),
        _ => contexts_file.map(LoadedKubeconfig::names_of),
    };
    let ctx = allowed_contexts::ContextSettings {
        kubeconfig: loaded.as_ref(),
        explicit: &settings.allowed_contexts,
        allow_unknown: settings.allow_unknown_contexts,
    };
    // The kubeconfig is mounted unless `--no-mount` says the chart uses none.
    let facts = allowed_contexts::facts(&m, &api, &ctx, settings.mount_kubeconfig)?;
    let contexts = allowed_contexts::run(&m, &api, &ctx, &facts)?;
    outcome.changes.extend(contexts.change);
    outcome.notes.extend(contexts.notes);

    let rbac = rbac::run(&m, &api, &facts, settings.rbac)?;
    outcome.changes.extend(rbac.changes);
    outcome.notes.extend(rbac.notes);

    let mut edits = vec![Vec::new(); m.len()];
    for c in &outcome.changes {
        if let Some(e) = edits.get_mut(c.doc) {
            e.extend(c.edits.iter().cloned());
        }
    }
    let (mut output, edited) = m.render(&edits)?;
    for (doc, after) in edited {
        if let Some(resource) = outcome.changes.iter().find(|c| c.doc == doc).map(|c| c.resource.clone()) {
            let before = m.text(doc).to_string();
            outcome.documents.push(DocChange { doc, resource, action: Action::Changed, before, after });
        }
    }
    for (i, added) in rbac.added.into_iter().enumerate() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&added.text);
        let doc = m.len() + i;
        let (resource, after) = (added.resource, added.text);
        outcome.documents.push(DocChange {
            doc,
            resource: resource.clone(),
            action: Action::Added,
            before: String::new(),
            after,
        });
        outcome.changes.push(Change {
            doc,
            resource,
            rule: RuleId::Rbac,
            reasons: added.reasons,
            edits: Vec::new(),
            paths: added.paths,
            field: None,
        });
    }
    outcome.output = output;
    Ok(outcome)
}

/// Reads what rendered manifests say about contexts (for `doctor --manifests`).
pub fn inspect(
    input: &[u8],
    deployment: Option<&str>,
    container: &str,
) -> Result<allowed_contexts::Inspected, PostRenderError> {
    let text = stream::decode(input)?;
    let m = Manifests::new(text, Limits::default(), None);
    let api = ApiServer::locate(&m, deployment, container)?;
    Ok(allowed_contexts::inspect(&m, &api)?)
}
