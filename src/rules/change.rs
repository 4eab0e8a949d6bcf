//! What the rules return: changes (with the edits that make them and the reasons) and notes.
//! Rules never print; the report renders these.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::model::Severity;
use crate::stream::{DocIndex, ResourceId};
use crate::yaml::Edits;

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// The item of a list whose `name` is this (containers, volumes, env).
    Named(String),
    Index(usize),
}

impl Seg {
    pub fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }
}

/// A path of mapping keys, from dotted text (`spec.template.spec`).
pub fn keys(dotted: &str) -> Vec<Seg> {
    dotted.split('.').map(Seg::key).collect()
}

/// What an edit means, declared by the rule that makes it. After rendering, the pipeline reads
/// the document again and checks that it means exactly the original plus these, nothing else.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// The list at `path` (created when missing or null) gains `items` at its end.
    Append { path: Vec<Seg>, items: Vec<Value> },
    /// The value at `path` (created with its parent mappings when missing) becomes `value`.
    /// Shared: a whole new config.yaml is declared once, and shown by the field diff (its
    /// [`FieldDiff::after`]) from the same text.
    Set { path: Vec<Seg>, value: Arc<Value> },
    /// The mapping at `path` has key `from` renamed to `to` (its value and position kept).
    RenameKey { path: Vec<Seg>, from: String, to: String },
    /// Each item of the list at `path` whose index is in `items` (ascending) has `key` set to
    /// `value`: one intent for many items (tighten narrows thousands of rules to one list of
    /// verbs), so that what a change declares stays small; `path`, `key` and `value` are shared
    /// by the changes that say the same (tighten narrows thousands of roles' `rules` to a few
    /// lists of verbs).
    SetEach { path: Arc<[Seg]>, items: Vec<usize>, key: Arc<str>, value: Arc<Value> },
}

/// The rule behind a change or a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    KubeconfigMount,
    AllowedContexts,
    Rbac,
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleId::KubeconfigMount => "kubeconfig-mount",
            RuleId::AllowedContexts => "allowed-contexts",
            RuleId::Rbac => "rbac",
        })
    }
}

/// A text of a report kept once however many changes say it (`Arc`): tighten gives thousands of
/// roles the same few reasons.
pub type Text = Arc<str>;

/// A changed field's path: most are names written in the source (`rules`), not copies.
pub type FieldPath = Cow<'static, str>;

/// One rule's edits to one document, and why.
#[derive(Debug, Clone)]
pub struct Change {
    pub doc: DocIndex,
    pub resource: ResourceId,
    pub rule: RuleId,
    pub reasons: Vec<Text>,
    /// The edits to the document; in an [`Outcome`] they are applied (moved into the
    /// document's text, `DocChange::after`) and this is empty.
    pub edits: Edits,
    /// Paths of the fields the change touches (for the diff's JSON).
    pub paths: Vec<FieldPath>,
    /// When the change is to a text embedded in one field (config.yaml in a ConfigMap): the
    /// decoded text before and after, which the diff shows instead of the escaped string.
    /// Boxed: most changes have none, and tighten makes one change per role it narrows.
    pub field: Option<Box<FieldDiff>>,
    /// What the edits mean (checked after rendering).
    pub intents: Vec<Intent>,
}

#[derive(Debug, Clone)]
pub struct FieldDiff {
    pub path: String,
    /// The text before; empty while `before_node` says where it is.
    pub before: String,
    /// The node of the edited document's original tree whose string is the text before: the
    /// pipeline copies it into `before` once the proofs are done (a whole config.yaml is not
    /// held twice while they run).
    pub before_node: Option<crate::yaml::NodeId>,
    /// The new text, as a string value shared with the change's `Set` intent ([`Self::after`]).
    pub after_value: Arc<Value>,
    /// What the change means inside the embedded text, as PyYAML reads it (SkyPilot's config).
    pub intents: Vec<Intent>,
    /// The new text was proven against the old one's tree while the rule held that tree (the
    /// pipeline's own proof, handed to the rule: `allowed_contexts::ProveConfig`); the pipeline
    /// does not prove it again. When it was not, the pipeline parses the text before again and
    /// says what differs.
    pub proven: bool,
}

impl FieldDiff {
    /// The new text.
    pub fn after(&self) -> &str {
        self.after_value.as_str().unwrap_or_default()
    }
}

/// A document a rule adds to the stream: `value` is what it must mean, `text` how it is written.
#[derive(Debug, Clone)]
pub struct AddedDoc {
    pub rule: RuleId,
    pub resource: ResourceId,
    pub value: Value,
    pub text: String,
    pub reasons: Vec<Text>,
    pub paths: Vec<FieldPath>,
}

/// What every rule returns: edits to documents (with reasons and intents), added documents, and
/// notes. The pipeline applies all rules' outputs the same way.
#[derive(Debug, Default)]
pub struct RuleOutput {
    pub changes: Vec<Change>,
    pub added: Vec<AddedDoc>,
    pub notes: Vec<Note>,
}

impl RuleOutput {
    pub fn extend(&mut self, other: RuleOutput) {
        self.changes.extend(other.changes);
        self.added.extend(other.added);
        self.notes.extend(other.notes);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Changed,
    Added,
}

/// One document that post-render changed or added, with its text before and after.
#[derive(Debug, Clone)]
pub struct DocChange {
    /// Its position in the input stream (for added documents: where they were inserted).
    pub doc: DocIndex,
    pub resource: ResourceId,
    pub action: Action,
    /// Where its text before is in the input (empty for an added document): a range, not a
    /// copy, so that an edited stream is not held twice ([`DocChange::before`]).
    pub before: std::ops::Range<usize>,
    pub after: String,
}

impl DocChange {
    /// The document's text before, from `input` (the stream post-render read; empty for an
    /// added document).
    pub fn before<'a>(&self, input: &'a [u8]) -> &'a str {
        input.get(self.before.clone()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
    }
}

/// Something the user should know that is not an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub severity: Severity,
    pub rule: RuleId,
    pub message: String,
}

/// One piece of the output stream: see [`Outcome::output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes of the input as they were (documents no rule edited, runs of them as one range).
    Input(std::ops::Range<usize>),
    /// The text (`after`) of `Outcome::documents[i]`: an edited or an added document.
    Document(usize),
    /// The line break put before an added document when the stream does not end with one.
    Newline,
}

/// The changes of each document, found once for all documents (a scan of every change per
/// document would be quadratic in the number of edited documents).
pub fn by_doc(changes: &[Change]) -> std::collections::HashMap<DocIndex, Vec<&Change>> {
    let mut map: std::collections::HashMap<DocIndex, Vec<&Change>> = std::collections::HashMap::new();
    for c in changes {
        map.entry(c.doc).or_default().push(c);
    }
    map
}

/// How many changes of one rule the summary lists (see [`Outcome::log_lines`]).
pub const CHANGE_LINES: usize = 20;

/// What post-render produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The output stream as pieces of the input and the edited and added documents' texts, in
    /// order ([`Outcome::output_slices`]): never a second full-size copy of the stream.
    pub output: Vec<Piece>,
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
    pub documents: Vec<DocChange>,
}

impl Outcome {
    /// The output stream's bytes as slices, in order; `input` is the stream post-render read.
    pub fn output_slices<'a>(&'a self, input: &'a [u8]) -> Vec<&'a [u8]> {
        self.output
            .iter()
            .map(|p| match p {
                Piece::Input(r) => input.get(r.clone()).unwrap_or_default(),
                Piece::Document(i) => self.documents.get(*i).map_or(&[][..], |d| d.after.as_bytes()),
                Piece::Newline => b"\n",
            })
            .collect()
    }

    /// The output stream in one buffer (for tests and fuzzing; the binary writes the slices).
    pub fn output_bytes(&self, input: &[u8]) -> Vec<u8> {
        self.output_slices(input).concat()
    }

    /// A short human summary: one line per change reason, then the notes. Names from the
    /// stream in them are shown escaped (`messages::escaped`).
    /// Each rule's first [`CHANGE_LINES`] changes are listed; the others are counted, one line
    /// per rule, so that the summary stays bounded (`skyhelm diff` lists every change).
    pub fn log_lines(&self) -> String {
        let mut s = String::new();
        // Per rule: (changes listed, changes beyond them, the first few of those).
        let mut seen: Vec<(RuleId, usize, crate::policy::grants::Sample)> = Vec::new();
        for c in &self.changes {
            let at = match seen.iter().position(|(r, ..)| *r == c.rule) {
                Some(at) => at,
                None => {
                    seen.push((c.rule, 0, crate::policy::grants::Sample::default()));
                    seen.len() - 1
                }
            };
            let Some((_, listed, more)) = seen.get_mut(at) else { continue };
            if *listed >= CHANGE_LINES {
                more.push(|| c.resource.to_string());
                continue;
            }
            *listed += 1;
            for r in &c.reasons {
                s.push_str(&crate::messages::escaped(&format!("changed {} [{}]: {}", c.resource, c.rule, r)));
                s.push('\n');
            }
        }
        for (rule, _, more) in &seen {
            if more.count > 0 {
                s.push_str(&crate::messages::escaped(&format!(
                    "changed {} more resources [{rule}] (skyhelm diff lists each): {}",
                    more.count,
                    more.describe(", ")
                )));
                s.push('\n');
            }
        }
        for n in &self.notes {
            s.push_str(&crate::messages::escaped(&format!("{} [{}]: {}", n.severity.label(), n.rule, n.message)));
            s.push('\n');
        }
        if self.changes.is_empty() {
            s.push_str("no changes\n");
        }
        s
    }
}
