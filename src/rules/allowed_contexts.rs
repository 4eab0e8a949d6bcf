//! Normalizes `kubernetes.allowed_contexts` (and each workspace's) in the SkyPilot config that
//! the API server mounts, following the rules in `crate::contexts`.

use serde_json::{Map, Value, json};

use crate::change::{Change, FieldDiff, Note, RuleId, Severity};
use crate::contexts::{self, AllowedList, ContextError, ContextFacts, ItemOp, ListPlan};
use crate::kubeconfig::LoadedKubeconfig;
use crate::stream::{DocRef, ManifestError, Manifests};
use crate::yaml::{Edit, Editor, Limits, NodeId, Scalar11, Tree, edit};

use super::{
    RuleError,
    api_server::{ApiServer, env_value},
};

pub const CONFIG_VOLUME: &str = "skypilot-config";
pub const CONFIG_KEY: &str = "config.yaml";
pub const DB_ENV: &str = "SKYPILOT_DB_CONNECTION_URI";
pub const IN_CLUSTER_NAME_ENV: &str = "SKYPILOT_IN_CLUSTER_CONTEXT_NAME";

#[derive(Debug, thiserror::Error)]
pub enum ContextsError {
    #[error("{at}: {source}")]
    Rule { at: DocRef, source: ContextError },
    #[error("{at}: the SkyPilot config in `{CONFIG_KEY}` does not parse: {message} (line {line} of config.yaml)")]
    ConfigParse { at: DocRef, message: String, line: usize },
    #[error("{at}: editing config.yaml: {source}")]
    ConfigEdit { at: DocRef, source: crate::yaml::EditError },
}

pub struct ContextSettings<'a> {
    pub kubeconfig: Option<&'a LoadedKubeconfig>,
    /// `--allowed-context`: sets the global list.
    pub explicit: &'a [String],
    /// Where `explicit` came from, for messages (`--allowed-context`, `SKYHELM_ALLOWED_CONTEXTS`).
    pub explicit_source: &'a str,
    pub allow_unknown: bool,
}

#[derive(Debug, Default)]
pub struct ContextsOutcome {
    pub change: Option<Change>,
    pub notes: Vec<Note>,
}

fn note(severity: Severity, message: String) -> Note {
    Note { severity, rule: RuleId::AllowedContexts, message }
}

/// What the API server Deployment says about contexts.
pub fn facts(
    m: &Manifests,
    api: &ApiServer,
    s: &ContextSettings,
    kubeconfig_mounted: bool,
) -> Result<ContextFacts, ManifestError> {
    let tree = m.tree(api.doc)?;
    let in_cluster_name = env_value(tree, api.container, IN_CLUSTER_NAME_ENV)
        .and_then(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .unwrap_or(contexts::DEFAULT_IN_CLUSTER)
        .to_string();
    Ok(ContextFacts {
        in_cluster_name,
        in_cluster_exists: token_mounted(m, api)?,
        kubeconfig_mounted,
        kubeconfig_contexts: s.kubeconfig.map(LoadedKubeconfig::context_names),
        current_context: s.kubeconfig.and_then(|k| k.current_context().map(str::to_string)),
        allow_unknown: s.allow_unknown,
    })
}

/// The pod gets a service-account token unless the pod, or else its ServiceAccount in the
/// stream, sets `automountServiceAccountToken: false`.
fn token_mounted(m: &Manifests, api: &ApiServer) -> Result<bool, ManifestError> {
    let tree = m.tree(api.doc)?;
    if let Some(v) = tree.get(api.pod_spec, "automountServiceAccountToken") {
        return Ok(tree.scalar(v) != Some(Scalar11::Bool(false)));
    }
    let sa = tree.get_str(api.pod_spec, "serviceAccountName").unwrap_or("default").to_string();
    if let Some(doc) = m.find("ServiceAccount", &sa, Some(api.resource.namespace.as_deref()))? {
        let t = m.tree(doc)?;
        let v = t.root().and_then(|root| t.get(root, "automountServiceAccountToken"));
        return Ok(v.is_none_or(|v| t.scalar(v) != Some(Scalar11::Bool(false))));
    }
    Ok(true)
}

/// The ConfigMap the API server mounts as `skypilot-config` (else `<fullname>-config`).
pub fn config_map_name(m: &Manifests, api: &ApiServer) -> Result<String, ManifestError> {
    let tree = m.tree(api.doc)?;
    let from_volume = tree.get(api.pod_spec, "volumes").and_then(|vs| {
        tree.items(vs)
            .iter()
            .find(|&&v| tree.get_str(v, "name") == Some(CONFIG_VOLUME))
            .and_then(|&v| tree.get(v, "configMap"))
            .and_then(|c| tree.get_str(c, "name"))
            .map(str::to_string)
    });
    Ok(from_volume.unwrap_or_else(|| format!("{}-config", api.fullname)))
}

pub fn find_config_map(m: &Manifests, api: &ApiServer, name: &str) -> Result<Option<usize>, ManifestError> {
    m.find("ConfigMap", name, Some(api.resource.namespace.as_deref()))
}

/// `facts` comes from [`facts`]; the caller computes it once for every rule that needs it.
pub fn run(
    m: &Manifests,
    api: &ApiServer,
    s: &ContextSettings,
    facts: &ContextFacts,
) -> Result<ContextsOutcome, RuleError> {
    let mut out = ContextsOutcome::default();
    let tree = m.tree(api.doc)?;
    if env_value(tree, api.container, DB_ENV).is_some() {
        out.notes.push(note(
            Severity::Info,
            format!("{DB_ENV} is set: the API server keeps its config in the external database and the chart requires the ConfigMap config to be null, so allowed_contexts was left alone; set it through SkyPilot (`sky api` / dashboard)"),
        ));
        return Ok(out);
    }
    let loaded = match load_config(m, api)? {
        Ok(l) => l,
        Err(cm_name) => {
            out.notes.push(note(
                Severity::Warning,
                format!("ConfigMap `{cm_name}` (volume `{CONFIG_VOLUME}`) is not in the stream; allowed_contexts was not checked"),
            ));
            return Ok(out);
        }
    };
    let LoadedConfig { cm, value, text: config_text, tree: config, value_line } = loaded;
    let cm_tree = m.tree(cm)?;
    let at = |line: Option<usize>| m.doc_ref(cm, line);
    let rule_err = |source| ContextsError::Rule { at: at(value_line), source };
    let edit_err = |source| ContextsError::ConfigEdit { at: at(value_line), source };

    let ConfigPlan { edits, reasons, unknown } =
        plan_config(config_text, &config, facts, s.explicit, s.explicit_source).map_err(|e| match e {
            PlanError::Rule(r) => rule_err(r),
            PlanError::Edit(x) => edit_err(x),
        })?;
    for name in unknown {
        out.notes.push(note(Severity::Warning, format!("context `{name}` is not in the kubeconfig; kept because of --allow-unknown-contexts (SkyPilot will skip it)")));
    }
    if edits.is_empty() {
        return Ok(out);
    }
    let new_text = edit::apply(config_text, &edits).map_err(edit_err)?;
    Tree::parse(&new_text, &Limits::default()).map_err(|e| ContextsError::ConfigParse {
        at: at(value_line),
        message: format!("internal error, edited config does not parse: {}", e.message),
        line: e.line,
    })?;

    let cm_editor = Editor::new(m.text(cm), cm_tree);
    let cm_edit = match value {
        Some(v) if cm_tree.str(v).is_some() => vec![
            cm_editor
                .replace_text(v, &new_text)
                .map_err(|source| ManifestError::Edit { at: at(value_line), source })?,
        ],
        _ => {
            let root = cm_tree.root().ok_or_else(|| ManifestError::Edit {
                at: at(None),
                source: crate::yaml::EditError::Layout { line: 1, what: "empty ConfigMap".into() },
            })?;
            cm_editor
                .merge(root, &Map::from_iter([("data".to_string(), json!({ CONFIG_KEY: new_text }))]))
                .map_err(|source| ManifestError::Edit { at: at(None), source })?
        }
    };
    let resource = m.resource(cm)?.ok_or_else(|| ManifestError::Edit {
        at: at(None),
        source: crate::yaml::EditError::Layout { line: 1, what: "ConfigMap without a name".into() },
    })?;
    out.change = Some(Change {
        doc: cm,
        resource,
        rule: RuleId::AllowedContexts,
        reasons,
        edits: cm_edit,
        paths: vec![format!("data.{CONFIG_KEY}")],
        field: Some(FieldDiff { path: format!("data.{CONFIG_KEY}"), before: config_text.to_string(), after: new_text }),
    });
    out.notes.push(note(
        Severity::Info,
        "allowed_contexts changed: SkyPilot copies config.yaml to its state volume only on first start, so on an existing installation apply the same change through SkyPilot too (`sky api`, the dashboard, or the server's config)".into(),
    ));
    Ok(out)
}

/// The SkyPilot config as the API server mounts it.
pub struct LoadedConfig<'m> {
    pub cm: usize,
    pub value: Option<NodeId>,
    pub text: &'m str,
    pub tree: Tree,
    pub value_line: Option<usize>,
}

/// Finds and parses config.yaml; `Err(name)` when the ConfigMap is not in the stream.
pub fn load_config<'m>(m: &'m Manifests, api: &ApiServer) -> Result<Result<LoadedConfig<'m>, String>, RuleError> {
    let cm_name = config_map_name(m, api)?;
    let Some(cm) = find_config_map(m, api, &cm_name)? else { return Ok(Err(cm_name)) };
    let cm_tree = m.tree(cm)?;
    let value = cm_tree.root().and_then(|r| cm_tree.path(r, &["data", CONFIG_KEY]));
    let text = value.and_then(|v| cm_tree.str(v)).unwrap_or("");
    let value_line = value.map(|v| cm_tree.node(v).line);
    let tree = Tree::parse(text, &Limits::default()).map_err(|e| ContextsError::ConfigParse {
        at: m.doc_ref(cm, value_line),
        message: e.message,
        line: e.line,
    })?;
    Ok(Ok(LoadedConfig { cm, value, text, tree, value_line }))
}

/// The configured lists: the global one first, then each workspace's that is set.
pub fn lists(config: &Tree) -> Vec<(String, AllowedList)> {
    let read = |v: Option<NodeId>| match v {
        None => AllowedList::Unset,
        Some(v) if config.is_null(v) => AllowedList::Unset,
        Some(v) if config.str(v) == Some(contexts::ALL) => AllowedList::All,
        Some(v) => AllowedList::Names(strings(config, v)),
    };
    let root = config.root().filter(|&r| config.is_map(r));
    let mut out = vec![(
        "kubernetes.allowed_contexts".to_string(),
        read(root.and_then(|r| config.path(r, &["kubernetes", "allowed_contexts"]))),
    )];
    for &(k, ws) in root.and_then(|r| config.get(r, "workspaces")).map(|w| config.entries(w)).unwrap_or_default() {
        if let Some(v) = config.path(ws, &["kubernetes", "allowed_contexts"]) {
            out.push((
                format!("workspaces.{}.kubernetes.allowed_contexts", config.str(k).unwrap_or("?")),
                read(Some(v)),
            ));
        }
    }
    out
}

/// The allowed lists SkyPilot reads after post-render: config.yaml as `config_after` (the
/// text this rule wrote, when it changed it) or as the stream has it. None when the stream does
/// not hold them (an external database keeps the config, or the ConfigMap is missing).
pub fn final_lists(
    m: &Manifests,
    api: &ApiServer,
    config_after: Option<&str>,
) -> Result<Option<Vec<(String, AllowedList)>>, RuleError> {
    if env_value(m.tree(api.doc)?, api.container, DB_ENV).is_some() {
        return Ok(None);
    }
    let Ok(loaded) = load_config(m, api)? else { return Ok(None) };
    let Some(text) = config_after else { return Ok(Some(lists(&loaded.tree))) };
    let tree = Tree::parse(text, &Limits::default()).map_err(|e| ContextsError::ConfigParse {
        at: m.doc_ref(loaded.cm, loaded.value_line),
        message: e.message,
        line: e.line,
    })?;
    Ok(Some(lists(&tree)))
}

/// What the manifests say about contexts, for `doctor --manifests`.
pub struct Inspected {
    pub facts: ContextFacts,
    /// None when an external database holds the config, or no ConfigMap was found.
    pub lists: Option<Vec<(String, AllowedList)>>,
    /// `SKYPILOT_DB_CONNECTION_URI` is set: the config lives in the external database.
    pub external_database: bool,
}

pub fn inspect(m: &Manifests, api: &ApiServer) -> Result<Inspected, RuleError> {
    let s = ContextSettings { kubeconfig: None, explicit: &[], explicit_source: "", allow_unknown: false };
    let facts = facts(m, api, &s, true)?;
    let tree = m.tree(api.doc)?;
    let external_database = env_value(tree, api.container, DB_ENV).is_some();
    let lists = if external_database { None } else { load_config(m, api)?.ok().map(|l| lists(&l.tree)) };
    Ok(Inspected { facts, lists, external_database })
}

enum PlanError {
    Rule(ContextError),
    Edit(crate::yaml::EditError),
}

impl From<ContextError> for PlanError {
    fn from(e: ContextError) -> Self {
        PlanError::Rule(e)
    }
}
impl From<crate::yaml::EditError> for PlanError {
    fn from(e: crate::yaml::EditError) -> Self {
        PlanError::Edit(e)
    }
}

fn strings(tree: &Tree, seq: NodeId) -> Vec<String> {
    tree.items(seq).iter().map(|&i| tree.str(i).map_or_else(|| String::from("?"), str::to_string)).collect()
}

/// Edits to config.yaml's text, the reasons, and the unknown names kept.
#[derive(Default)]
struct ConfigPlan {
    edits: Vec<Edit>,
    reasons: Vec<String>,
    unknown: Vec<String>,
}

fn plan_config(
    text: &str,
    config: &Tree,
    f: &ContextFacts,
    explicit: &[String],
    source: &str,
) -> Result<ConfigPlan, PlanError> {
    let editor = Editor::new(text, config);
    let mut edits = Vec::new();
    let mut reasons = Vec::new();
    let mut unknown = Vec::new();
    let root = config.root().filter(|&r| !config.is_null(r));
    let global = root.and_then(|r| config.get(r, "kubernetes")).filter(|&k| config.is_map(k));
    let global_list = global.and_then(|k| match config.lookup(k, "allowed_contexts") {
        crate::yaml::tree::Lookup::Found { key, value } => Some((key, value)),
        _ => None,
    });
    const GLOBAL: &str = "kubernetes.allowed_contexts";

    // The global list: explicit, set, `all`, or unset.
    let wanted: Option<(Vec<String>, ListPlan)> = if !explicit.is_empty() {
        let plan = contexts::plan_list(source, explicit, f)?;
        Some((plan.result.clone(), plan))
    } else {
        None
    };
    match (wanted, global_list) {
        (Some((result, plan)), Some((key, value))) => {
            if strings(config, value) != result || !config.is_seq(value) {
                edits.push(editor.replace_value(key, value, &json!(result))?);
                reasons.push(format!("{GLOBAL} set to [{}] from {source}", result.join(", ")));
            }
            reasons.extend(plan.reasons);
            unknown.extend(plan.unknown_kept);
        }
        (Some((result, plan)), None) => {
            edits.extend(write_unset(&editor, config, root, &result)?);
            reasons.push(format!("{GLOBAL} set to [{}] from {source}", result.join(", ")));
            reasons.extend(plan.reasons);
            unknown.extend(plan.unknown_kept);
        }
        (None, Some((key, value))) if config.is_seq(value) => {
            let plan = contexts::plan_list(GLOBAL, &strings(config, value), f)?;
            edits.extend(apply_plan(&editor, config, key, value, &plan)?);
            reasons.extend(plan.reasons.iter().map(|r| format!("{GLOBAL}: {r}")));
            unknown.extend(plan.unknown_kept);
        }
        (None, Some((_, value))) if config.str(value) == Some(contexts::ALL) => {}
        (None, Some((key, value))) if config.is_null(value) => {
            if let Some(list) = contexts::plan_unset(f)? {
                edits.push(editor.replace_value(key, value, &json!(list))?);
                reasons.push(unset_reason(&list));
            }
        }
        (None, Some(_)) => {}
        (None, None) => {
            if let Some(list) = contexts::plan_unset(f)? {
                edits.extend(write_unset(&editor, config, root, &list)?);
                reasons.push(unset_reason(&list));
            }
        }
    }

    // Each workspace's own list, when set.
    let workspaces = root.and_then(|r| config.get(r, "workspaces"));
    for &(ws_key, ws) in workspaces.map(|w| config.entries(w)).unwrap_or_default() {
        let name = config.str(ws_key).unwrap_or("?");
        let Some(k) = config.get(ws, "kubernetes") else { continue };
        let crate::yaml::tree::Lookup::Found { key, value } = config.lookup(k, "allowed_contexts") else { continue };
        if !config.is_seq(value) {
            continue;
        }
        let list = format!("workspaces.{name}.kubernetes.allowed_contexts");
        let plan = contexts::plan_list(&list, &strings(config, value), f)?;
        edits.extend(apply_plan(&editor, config, key, value, &plan)?);
        reasons.extend(plan.reasons.iter().map(|r| format!("{list}: {r}")));
        unknown.extend(plan.unknown_kept);
    }
    Ok(ConfigPlan { edits, reasons, unknown })
}

fn unset_reason(list: &[String]) -> String {
    format!(
        "kubernetes.allowed_contexts set to [{}]: it was unset, and with both a kubeconfig and the in-cluster context SkyPilot would use only the current-context `{}`",
        list.join(", "),
        list[0]
    )
}

/// Writes a global list where there was none (or the config was empty).
fn write_unset(editor: &Editor, config: &Tree, root: Option<NodeId>, list: &[String]) -> Result<Vec<Edit>, PlanError> {
    let patch = Map::from_iter([("kubernetes".to_string(), json!({ "allowed_contexts": list }))]);
    match root {
        Some(r) if config.is_map(r) && !config.entries(r).is_empty() => Ok(editor.merge(r, &patch)?),
        _ => Ok(vec![editor.replace_document(&Value::Object(patch))]),
    }
}

/// Item-level edits (keeping comments and style) where possible, else the whole list.
fn apply_plan(
    editor: &Editor,
    config: &Tree,
    key: NodeId,
    seq: NodeId,
    plan: &ListPlan,
) -> Result<Vec<Edit>, PlanError> {
    if !plan.changes() {
        return Ok(Vec::new());
    }
    let removes = plan.ops.iter().filter(|o| **o == ItemOp::Remove).count();
    let items = config.items(seq);
    if plan.result.is_empty() || (removes > 0 && (config.is_flow(seq) || items.len() - removes == 0)) {
        return Ok(vec![editor.replace_value(key, seq, &json!(plan.result))?]);
    }
    let mut edits = Vec::new();
    for (i, op) in plan.ops.iter().enumerate() {
        match op {
            ItemOp::Keep => {}
            ItemOp::Rename(n) => edits.push(editor.replace_scalar(items[i], &json!(n))?),
            ItemOp::Remove => edits.push(editor.remove_item(seq, i)?),
        }
    }
    for name in &plan.append {
        edits.push(editor.append_item(seq, &json!(name))?);
    }
    Ok(edits)
}
