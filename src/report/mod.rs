//! The report of what post-render changed and why: a model built from the `Outcome`, rendered
//! as a helm-diff style text (`diff`) or as JSON (`json`). Secret values (`redact`) and
//! credentials in any other document or in config.yaml (`mask`) are never shown unless asked for.

mod diff;
mod json;
mod mask;
mod redact;

pub use diff::render_human;
pub use json::render_json;
pub use mask::{mask_config, mask_document};
pub use redact::redact_secret;

use crate::rules::change::{Action, FieldDiff, FieldPath, Note, Outcome, RuleId, Text};
use crate::stream::{DocIndex, ResourceId};

#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// Lines of context around each change.
    pub context: usize,
    pub color: bool,
    pub show_secrets: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { context: 3, color: false, show_secrets: false }
    }
}

/// One resource in the report. Its texts are kept as in the stream and masked when shown
/// (`before()`, `after()`, `field()`), so that a format masks only what it prints. They are
/// borrowed from the outcome and the input, never copied.
#[derive(Debug, Clone)]
pub struct ResourceReport<'a> {
    pub document: DocIndex,
    pub id: ResourceId,
    pub action: Action,
    pub reasons: Vec<(RuleId, Text)>,
    pub paths: Vec<FieldPath>,
    before: &'a str,
    after: &'a str,
    field: Option<&'a FieldDiff>,
    show: Show,
}

/// How a resource's texts are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    /// `--show-secrets`: as they are.
    AsIs,
    /// Credentials masked (`mask`).
    Masked,
    /// A Secret: its values redacted (`redact`), other credentials masked.
    Secret,
}

impl ResourceReport<'_> {
    fn shown(&self, text: &str) -> String {
        match self.show {
            Show::AsIs => text.to_string(),
            Show::Masked => mask_document(text),
            Show::Secret => mask_document(&redact_secret(text)),
        }
    }

    /// The document before (Secret values and other credentials masked unless shown).
    pub fn before(&self) -> String {
        self.shown(self.before)
    }

    /// The document after (Secret values and other credentials masked unless shown).
    pub fn after(&self) -> String {
        self.shown(self.after)
    }

    /// A decoded embedded text to show instead of the document (config.yaml, credentials
    /// masked unless shown); never for a Secret unless shown.
    pub fn field(&self) -> Option<FieldDiff> {
        let f = self.field?;
        match self.show {
            Show::AsIs => Some(f.clone()),
            Show::Masked => Some(FieldDiff {
                before: mask_config(&f.before),
                after_value: serde_json::Value::String(mask_config(f.after())).into(),
                ..f.clone()
            }),
            Show::Secret => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub resources: Vec<ResourceReport<'a>>,
    pub notes: Vec<Note>,
}

impl<'a> Report<'a> {
    /// The report of `o`; `input` is the stream post-render read (the documents' texts before).
    pub fn from_outcome(o: &'a Outcome, input: &'a [u8], opts: &ReportOptions) -> Report<'a> {
        let by_doc = crate::rules::change::by_doc(&o.changes);
        let resources = o
            .documents
            .iter()
            .map(|d| {
                let changes: &[&crate::rules::change::Change] = by_doc.get(&d.doc).map_or(&[], Vec::as_slice);
                let show = match (opts.show_secrets, d.resource.kind == "Secret") {
                    (true, _) => Show::AsIs,
                    (false, true) => Show::Secret,
                    (false, false) => Show::Masked,
                };
                ResourceReport {
                    document: d.doc,
                    id: d.resource.clone(),
                    action: d.action,
                    reasons: changes.iter().flat_map(|c| c.reasons.iter().map(|r| (c.rule, r.clone()))).collect(),
                    paths: changes.iter().flat_map(|c| c.paths.iter().cloned()).collect(),
                    before: d.before(input),
                    after: &d.after,
                    field: match changes {
                        [only] => only.field.as_deref(),
                        _ => None,
                    },
                    show,
                }
            })
            .collect();
        Report { resources, notes: o.notes.clone() }
    }

    pub fn changed(&self) -> bool {
        !self.resources.is_empty()
    }

    pub fn count(&self, action: Action) -> usize {
        self.resources.iter().filter(|r| r.action == action).count()
    }

    pub fn totals(&self) -> String {
        let (c, a) = (self.count(Action::Changed), self.count(Action::Added));
        if c + a == 0 {
            return "no changes".into();
        }
        let plural = |n: usize| if n == 1 { "resource" } else { "resources" };
        match (c, a) {
            (c, 0) => format!("{c} {} changed", plural(c)),
            (0, a) => format!("{a} {} added", plural(a)),
            (c, a) => format!("{c} {} changed, {a} added", plural(c)),
        }
    }
}

/// `apps` for `apps/v1`, `v1` for the core group: helm-diff's header.
pub fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => api_version,
    }
}

/// Kinds of the Kubernetes API that are cluster-scoped: they never have a namespace, even when
/// Helm's release namespace is given for documents without one.
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "StorageClass"
            | "CSIDriver"
            | "CSINode"
            | "VolumeAttachment"
            | "RuntimeClass"
            | "PriorityClass"
            | "IngressClass"
            | "CustomResourceDefinition"
            | "APIService"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "FlowSchema"
            | "PriorityLevelConfiguration"
            | "CertificateSigningRequest"
            | "ComponentStatus"
    )
}
