//! The post-render pipeline: split → locate the API server → rules → edits → output.

mod expected;
#[cfg(test)]
mod expected_tests;
pub mod verify;

use crate::kubeconfig::contexts_file::ContextsFile;
use crate::kubeconfig::doctor;
use crate::kubeconfig::{KubeconfigError, LoadedKubeconfig};
use crate::model::Severity;
use crate::rules::change::{
    Action, AddedDoc, Change, DocChange, FieldDiff, Intent, Note, Outcome, Piece, RuleId, RuleOutput,
};
use crate::rules::{RuleError, allowed_contexts, api_server::ApiServer, kubeconfig_checks, kubeconfig_mount, rbac};
use crate::settings::Settings;
use crate::stream::{self, DocIndex, DocRef, InputError, ManifestError, Manifests};
use crate::text::sha256_hex;
use crate::yaml::{Limits, Reader, Tree};
use verify::Mismatch;

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
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// `--strict`: corrections and warnings are errors; nothing is written.
    #[error("--strict: {} (nothing was written; fix these at the source):\n{}", counts(.fixes.len(), .warnings.len()), list_strict(.fixes, .warnings))]
    Strict { fixes: Vec<(DocRef, String)>, warnings: Vec<String> },
    /// An edited or added document does not mean what the rules declared: a bug (exit 70).
    #[error("{at}: internal error (a bug): after editing, {cause}; nothing was written")]
    Internal { at: DocRef, cause: Mismatch },
}

impl PostRenderError {
    /// True for a bug in skyhelm (exit 70) rather than bad input.
    pub fn is_internal(&self) -> bool {
        matches!(self, PostRenderError::Internal { .. })
    }
}

fn counts(fixes: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!("{} and {}", plural(fixes, "correction"), plural(warnings, "warning"))
}

fn list_strict(fixes: &[(DocRef, String)], warnings: &[String]) -> String {
    fixes
        .iter()
        .map(|(at, f)| format!("  fix: {at}: {f}"))
        .chain(warnings.iter().map(|w| format!("  warning: {w}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Post-renders a manifest stream. `kubeconfig` is the content of `--skypilot-kubeconfig`, if given.
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
        return Ok(Outcome { output: vec![Piece::Input(0..input.len())], ..Outcome::default() });
    }
    let mut m = Manifests::new(text, limits.clone(), settings.namespace.clone());
    if m.len() > limits.max_documents {
        return Err(InputError::TooManyDocuments { count: m.len(), limit: limits.max_documents }.into());
    }
    let api = ApiServer::locate(&m, settings.deployment.as_deref(), &settings.container)?;
    let checksum = kubeconfig.map(sha256_hex).or_else(|| contexts_file.map(|f| f.config_sha256.clone()));
    let (secret_name, secret_from) = settings.secret_name(contexts_file.map(|f| f.secret_name.as_str()))?;
    let mount = kubeconfig_mount::MountSettings {
        secret_name: &secret_name,
        secret_from,
        kubeconfig_sha256: checksum.as_deref(),
    };

    let mut rules = RuleOutput::default();
    // What the pod spec mounts, whoever mounts it: with --no-mount the chart may mount the
    // kubeconfig itself, and the pod then has one all the same.
    let chart_mount = kubeconfig_mount::mounted_secret(&m, &api)?;
    if settings.mount_kubeconfig {
        rules.extend(kubeconfig_mount::run(&m, &api, &mount)?);
    } else if let (Some(mounted), Some(from)) = (&chart_mount, secret_from)
        && mounted.secret != secret_name
    {
        return Err(RuleError::from(kubeconfig_mount::MountError::OtherSecret {
            at: mounted.at.clone(),
            path: mounted.path.clone(),
            mounted: mounted.secret.clone(),
            checked: secret_name,
            from: from.into(),
        })
        .into());
    }

    let loaded = match (&settings.kubeconfig, kubeconfig) {
        (Some(path), Some(bytes)) => Some(LoadedKubeconfig::parse(&path.display().to_string(), bytes)?),
        _ => contexts_file.map(LoadedKubeconfig::names_of),
    };
    let ctx = allowed_contexts::ContextSettings {
        kubeconfig: loaded.as_ref(),
        explicit: &settings.allowed_contexts,
        explicit_source: &settings.allowed_contexts_source,
        allow_unknown: settings.allow_unknown_contexts,
    };
    // The pod has a kubeconfig when skyhelm mounts it or the pod spec already does.
    let facts = allowed_contexts::facts(&m, &api, &ctx, settings.mount_kubeconfig || chart_mount.is_some())?;
    // The proof of a new config.yaml, as `prove_edited` runs it, while the rule holds the old
    // one's tree.
    let prove_config = |before: &Tree, after: &str, intents: &[Intent]| {
        verify::check_tree(before, after, intents, Reader::PyYaml, m.limits()).is_ok()
    };
    let (contexts_output, final_lists) = allowed_contexts::run(&m, &api, &ctx, &facts, &prove_config)?;
    rules.extend(contexts_output);
    // Doctor's checks of each context the final allowed lists use: those that cannot work in
    // the pod fail the render unless --allow-unusable-contexts.
    if let Some(k) = &loaded {
        let now = crate::kubeconfig::cert::unix_now();
        let of_kubeconfig = |ctx: &str| {
            doctor::context_findings(&k.config, ctx, &facts.in_cluster_name, Some(facts.shadows_by_name()), now)
        };
        let of_file = |ctx: &str| contexts_file.map(|f| f.findings(&[ctx.to_string()])).unwrap_or_default();
        let findings_of: &dyn Fn(&str) -> Vec<doctor::Finding> =
            if kubeconfig.is_some() { &of_kubeconfig } else { &of_file };
        let names = k.context_names();
        let checked = kubeconfig_checks::check(
            final_lists.as_ref(),
            &facts,
            &names,
            findings_of,
            settings.allow_unusable_contexts,
        )
        .map_err(RuleError::from)?;
        rules.notes.extend(checked);
    }
    rules.extend(rbac::run(&m, &api, &facts, settings.rbac)?);
    // The API server's keys that the rules read must be written once.
    m.check_duplicate_reads(api.doc)?;
    if settings.strict {
        strict(&m, &rules)?;
    }
    apply(&mut m, rules, &settings.limits)
}

/// `--strict`: every correction of an allowed list or a context_configs key, and every warning,
/// is an error. Mounting the kubeconfig and adding missing RBAC are the tool's job, not fixes.
fn strict(m: &Manifests, rules: &RuleOutput) -> Result<(), PostRenderError> {
    let fixes: Vec<(DocRef, String)> = rules
        .changes
        .iter()
        .filter(|c| c.rule == RuleId::AllowedContexts)
        .flat_map(|c| c.reasons.iter().map(move |r| (m.doc_ref(c.doc, None), r.to_string())))
        .collect();
    let warnings: Vec<String> = rules
        .notes
        .iter()
        .filter(|n| n.severity == Severity::Warning)
        .map(|n| format!("[{}] {}", n.rule, n.message))
        .collect();
    if fixes.is_empty() && warnings.is_empty() {
        return Ok(());
    }
    Err(PostRenderError::Strict { fixes, warnings })
}

/// Applies every rule's output the same way: edits are rendered into their documents, added
/// documents appended; each edited or added document is read again and must mean exactly the
/// original plus the declared changes ([`prove_edited`], [`prove_added`]).
fn apply(m: &mut Manifests, rules: RuleOutput, limits: &Limits) -> Result<Outcome, PostRenderError> {
    let RuleOutput { mut changes, added, notes } = rules;
    // Per edited document only (a stream of 60,000 documents with two edited ones keeps two);
    // moved, not copied (an edit may hold a whole new config.yaml): nothing reads a change's
    // edits once they are rendered; the outcome's changes keep their reasons, paths and intents.
    let mut edits: std::collections::BTreeMap<DocIndex, crate::yaml::Edits> = std::collections::BTreeMap::new();
    for c in changes.iter_mut().filter(|c| c.doc.index() < m.len()) {
        edits.entry(c.doc).or_default().append(&mut c.edits);
    }
    let edited = m.render(edits)?;
    let mut outcome = Outcome { notes, ..Outcome::default() };
    let by_doc = crate::rules::change::by_doc(&changes);
    // The output: runs of untouched documents as ranges of the input, edited documents' texts.
    let mut output = Vec::new();
    let mut next = 0;
    for (doc, after) in edited {
        let ours: &[&Change] = by_doc.get(&doc).map_or(&[], Vec::as_slice);
        let Some(resource) = ours.first().map(|c| c.resource.clone()) else { continue };
        prove_edited(m, doc, ours, &after, limits, &mut outcome.notes)?;
        let range = m.range(doc);
        if range.start > next {
            output.push(Piece::Input(next..range.start));
        }
        next = range.end;
        output.push(Piece::Document(outcome.documents.len()));
        outcome.documents.push(DocChange { doc, resource, action: Action::Changed, before: range, after });
    }
    drop(by_doc);
    // The proofs are done; the texts before go to the report now. A document with one such
    // field is not read again: its text is taken out of its tree (a 16 MB config.yaml is not
    // copied while the tree still holds it).
    let mut fields_in: std::collections::HashMap<DocIndex, usize> = std::collections::HashMap::new();
    for c in changes.iter().filter(|c| c.field.as_ref().is_some_and(|f| f.before_node.is_some())) {
        *fields_in.entry(c.doc).or_default() += 1;
    }
    for c in &mut changes {
        let doc = c.doc;
        if let Some(field) = c.field.as_deref_mut()
            && let Some(node) = field.before_node
        {
            let only = fields_in.get(&doc) == Some(&1);
            field.before = match only.then(|| m.take_tree(doc)).flatten() {
                Some(tree) => tree.into_str(node),
                None => field_before(m, doc, field)?.to_string(),
            };
            field.before_node = None;
        }
    }
    let end = m.docs().last().map_or(0, |d| m.range(d).end);
    if end > next {
        output.push(Piece::Input(next..end));
    }
    outcome.changes = changes;
    for (i, added) in added.into_iter().enumerate() {
        let doc = DocIndex::new(m.len() + i);
        prove_added(doc, &added, limits)?;
        if last_byte(m, &outcome, &output).is_some_and(|b| b != b'\n') {
            output.push(Piece::Newline);
        }
        output.push(Piece::Document(outcome.documents.len()));
        outcome.documents.push(DocChange {
            doc,
            resource: added.resource.clone(),
            action: Action::Added,
            before: 0..0,
            after: added.text,
        });
        outcome.changes.push(Change {
            doc,
            resource: added.resource,
            rule: added.rule,
            reasons: added.reasons,
            edits: crate::yaml::Edits::default(),
            paths: added.paths,
            field: None,
            intents: Vec::new(),
        });
    }
    outcome.output = output;
    Ok(outcome)
}

/// The last byte of the output so far (None while it is empty).
fn last_byte(m: &Manifests, outcome: &Outcome, output: &[Piece]) -> Option<u8> {
    output.iter().rev().find_map(|p| match p {
        Piece::Input(r) => m.input_bytes().get(r.clone()).and_then(|b| b.last().copied()),
        Piece::Document(i) => outcome.documents.get(*i).and_then(|d| d.after.as_bytes().last().copied()),
        Piece::Newline => Some(b'\n'),
    })
}

/// The proof of an edited document (`after`, with the changes `ours`): no document read twice,
/// no YAML 1.1 line break, and it means what the original means plus the declared intents, as
/// Kubernetes reads it (and, for an edited config.yaml field, as PyYAML reads that). A
/// document that expands past [`verify::MAX_DECODED_NODES`] only has to parse: a note says so.
fn prove_edited(
    m: &Manifests,
    doc: DocIndex,
    ours: &[&Change],
    after: &str,
    limits: &Limits,
    notes: &mut Vec<Note>,
) -> Result<(), PostRenderError> {
    let before = m.text(doc);
    if let Some((line, c)) =
        crate::yaml::scalar::yaml11_break(before).or_else(|| crate::yaml::scalar::yaml11_break(after))
    {
        return Err(ManifestError::Yaml11Break { at: m.doc_ref(doc, Some(line)), code: u32::from(c) }.into());
    }
    // Edits of list items only (tighten's narrowed rules): proven item by item, in memory that
    // does not grow with the list, without keeping the document's tree (the rule that made
    // them read it one item at a time and kept no tree whose reads could be duplicated).
    let declared: Vec<&Intent> = ours.iter().flat_map(|c| &c.intents).collect();
    if ours.iter().all(|c| c.field.is_none())
        && let Some(list) = verify::item_list(&declared)
        && verify::check_items(before, after, list, &declared, Reader::Kubernetes, limits) == verify::ItemCheck::Proven
    {
        return Ok(());
    }
    m.check_duplicate_reads(doc)?;
    // One change's intents as they are (an intent may hold a whole new config.yaml); several
    // changes' together.
    let intents: std::borrow::Cow<[Intent]> = match ours {
        [one] => std::borrow::Cow::Borrowed(&one.intents),
        _ => std::borrow::Cow::Owned(declared.into_iter().cloned().collect()),
    };
    let tree = m.tree(doc)?;
    let internal = |cause| PostRenderError::Internal { at: m.doc_ref(doc, None), cause };
    if tree.decoded_nodes() > verify::MAX_DECODED_NODES {
        // Only --allow-excessive-aliasing lets such a document through; expanding it to
        // compare meanings would cost what the limit exists to prevent. It must still parse.
        Tree::parse(after, limits).map_err(|e| internal(Mismatch::Parse(e)))?;
        notes.push(Note {
            severity: Severity::Warning,
            rule: ours.first().map_or(RuleId::KubeconfigMount, |c| c.rule),
            message: format!(
                "{}: not verified after editing: it expands to {} nodes through aliases (--allow-excessive-aliasing)",
                m.doc_ref(doc, None),
                tree.decoded_nodes()
            ),
        });
    } else {
        verify::check_tree(tree, after, &intents, Reader::Kubernetes, limits).map_err(internal)?;
    }
    for field in ours.iter().filter_map(|c| c.field.as_deref()).filter(|f| !f.proven || m.limits() != limits) {
        let before = Tree::parse(field_before(m, doc, field)?, limits).map_err(|e| internal(Mismatch::Parse(e)))?;
        verify::check_tree(&before, field.after(), &field.intents, Reader::PyYaml, limits).map_err(internal)?;
    }
    Ok(())
}

/// A field's text before: where the rule left it (a string node of the document's original
/// tree), or the text it wrote.
fn field_before<'m>(m: &'m Manifests, doc: DocIndex, field: &'m FieldDiff) -> Result<&'m str, PostRenderError> {
    match field.before_node {
        Some(node) => Ok(m.tree(doc)?.str(node).unwrap_or_default()),
        None => Ok(&field.before),
    }
}

/// The proof of an added document (at `doc`, after the stream's own): its text means its value,
/// and it holds no YAML 1.1 line break.
fn prove_added(doc: DocIndex, added: &AddedDoc, limits: &Limits) -> Result<(), PostRenderError> {
    let at = || DocRef { document: doc, resource: Some(added.resource.to_string()), line: None };
    verify::check_added(&added.value, &added.text, limits)
        .map_err(|cause| PostRenderError::Internal { at: at(), cause })?;
    if let Some((line, c)) = crate::yaml::scalar::yaml11_break(&added.text) {
        let at = DocRef { line: Some(line), ..at() };
        return Err(ManifestError::Yaml11Break { at, code: u32::from(c) }.into());
    }
    Ok(())
}

/// For `doctor --live --manifests`: what to say about the API server's ServiceAccount when the
/// manifests do not create it (it must exist; see `rbac::external_account`).
pub fn external_account(
    input: &[u8],
    deployment: Option<&str>,
    container: &str,
) -> Result<Option<String>, PostRenderError> {
    let text = stream::decode(input)?;
    let m = Manifests::new(text, Limits::default(), None);
    let api = ApiServer::locate(&m, deployment, container)?;
    Ok(rbac::external_account(&m, &api)?)
}

/// Reads what rendered manifests say about contexts (for `doctor --manifests`).
pub fn deployed_contexts(
    input: &[u8],
    deployment: Option<&str>,
    container: &str,
) -> Result<allowed_contexts::DeployedContexts, PostRenderError> {
    let text = stream::decode(input)?;
    let m = Manifests::new(text, Limits::default(), None);
    let api = ApiServer::locate(&m, deployment, container)?;
    Ok(allowed_contexts::deployed_contexts(&m, &api)?)
}
