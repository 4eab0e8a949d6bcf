//! What the rules return: changes (with the edits that make them and the reasons) and notes.
//! Rules never print; the report renders these.

use std::fmt;

use crate::stream::ResourceId;
use crate::yaml::Edit;

/// The rule behind a change or a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    KubeconfigMount,
    AllowedContexts,
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleId::KubeconfigMount => "kubeconfig-mount",
            RuleId::AllowedContexts => "allowed-contexts",
        })
    }
}

/// One rule's edits to one document, and why.
#[derive(Debug, Clone)]
pub struct Change {
    /// 0-based index of the document in the stream.
    pub doc: usize,
    pub resource: ResourceId,
    pub rule: RuleId,
    pub reasons: Vec<String>,
    pub edits: Vec<Edit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        }
    }
}

/// Something the user should know that is not an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub severity: Severity,
    pub rule: RuleId,
    pub message: String,
}

/// What post-render produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub output: String,
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
}

impl Outcome {
    /// A short human summary: one line per change reason, then the notes.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for c in &self.changes {
            for r in &c.reasons {
                s.push_str(&format!("changed {} [{}]: {}\n", c.resource, c.rule, r));
            }
        }
        for n in &self.notes {
            s.push_str(&format!("{} [{}]: {}\n", n.severity.label(), n.rule, n.message));
        }
        if self.changes.is_empty() {
            s.push_str("no changes\n");
        }
        s
    }
}
