//! Normalizes `kubernetes.allowed_contexts` (and each workspace's) in the SkyPilot config that
//! the API server mounts, following the rules in `crate::policy::contexts`.

use serde_json::{Map, Value, json};

use crate::kubeconfig::LoadedKubeconfig;
use crate::model::Severity;
use crate::policy::contexts::DB_ENV;
use crate::policy::contexts::{
    self, AllowedList, ContextEnv, ContextError, ContextFacts, EnvFlag, GivenList, InClusterOff, ItemOp, ListPlan,
    NameClass, Scope, UnsetMeans, shown,
};
use crate::rules::change::{Change, FieldDiff, Intent, Note, RuleId, RuleOutput, Seg, Text, keys};
use crate::stream::{DocIndex, DocRef, InNamespace, ManifestError, Manifests};
use crate::yaml::{Edit, Editor, NodeId, Reader, Scalar11, Tree, edit};

use super::{
    RuleError,
    api_server::ApiServer,
    container_env::{self, ContainerEnv, EnvValue},
};

pub const CONFIG_VOLUME: &str = "skypilot-config";
pub const CONFIG_KEY: &str = "config.yaml";
pub use contexts::IN_CLUSTER_NAME_ENV;
use contexts::{ALLOW_ALL_ENV as ALLOW_ALL, INCLUDES_IN_CLUSTER_ENV as INCLUDES};

#[derive(Debug, thiserror::Error)]
pub enum ContextsError {
    #[error("{at}: {}", list_errors(errors))]
    Rule { at: DocRef, errors: Vec<ContextError> },
    #[error(
        "{at}: `{}` appears twice in config.yaml (lines {first} and {second} of config.yaml): PyYAML takes the last one, so an edit of the first would not take effect; remove one",
        shown(key)
    )]
    DuplicateKey { at: DocRef, key: String, first: usize, second: usize },
    #[error(
        "{at}: config.yaml line {line} holds U+{code:04X}, a line break for YAML 1.1 readers (PyYAML, Kubernetes) but not for YAML 1.2 parsers, so they would read different configs; remove it"
    )]
    Yaml11Break { at: DocRef, line: usize, code: u32 },
    #[error("{at}: `data.{CONFIG_KEY}` is {found}; the SkyPilot config must be a string (or null for an empty config)")]
    ConfigNotString { at: DocRef, found: String },
    #[error("{at}: `data.{CONFIG_KEY}` carries the tag `{tag}`; skyhelm edits only untagged strings (remove the tag)")]
    ConfigTagged { at: DocRef, tag: String },
    #[error(
        "{at}: config.yaml line {line} has the tag `{tag}`, which PyYAML's safe loader (SkyPilot's reader) cannot construct; remove it"
    )]
    ConfigUnloadable { at: DocRef, line: usize, tag: String },
    #[error(
        "{at}: config.yaml line {line} has the tag `{tag}`: PyYAML (SkyPilot's reader) makes a Python set or ordered pairs of it, not the mapping or list skyhelm reads; remove it"
    )]
    ConfigTagUnread { at: DocRef, line: usize, tag: String },
    #[error("{at}: the SkyPilot config in `{CONFIG_KEY}` does not parse: {message} (line {line} of config.yaml)")]
    ConfigParse { at: DocRef, message: String, line: usize },
    #[error(
        "{at}: PyYAML (SkyPilot's reader) cannot load config.yaml, which has {tab}; SkyPilot would log a syntax error and run with an empty config. {TAB_FIX}"
    )]
    ConfigTab { at: DocRef, tab: crate::yaml::pyyaml::RefusedTab },
    #[error("{at}: editing config.yaml: {cause}")]
    ConfigEdit { at: DocRef, cause: crate::yaml::EditError },
}

/// How to fix a tab PyYAML refuses.
pub const TAB_FIX: &str = "Use spaces: PyYAML takes a tab only inside quotes, comments and block scalar text";

fn list_errors(errors: &[ContextError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => format!(
            "{} problems in the SkyPilot config:\n{}",
            many.len(),
            many.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n")
        ),
    }
}

pub struct ContextSettings<'a> {
    pub kubeconfig: Option<&'a LoadedKubeconfig>,
    /// `--allowed-context`: sets the global list.
    pub explicit: &'a GivenList,
    /// Where `explicit` came from, for messages (`--allowed-context`, `SKYHELM_ALLOWED_CONTEXTS`).
    pub explicit_source: &'a str,
    pub allow_unknown: bool,
}

fn note(severity: Severity, message: String) -> Note {
    Note { severity, rule: RuleId::AllowedContexts, message }
}

/// What the API server Deployment says about contexts: the token, and SkyPilot's settings in
/// the API container's environment ([`ContainerEnv`], as the kubelet resolves it).
pub fn facts(
    m: &Manifests,
    api: &ApiServer,
    s: &ContextSettings,
    kubeconfig_mounted: bool,
) -> Result<ContextFacts, ManifestError> {
    let env = ContainerEnv::read(m, api)?;
    let name = env.get(IN_CLUSTER_NAME_ENV)?.value;
    let flag = |var: &str, default: bool| -> Result<EnvFlag, ManifestError> {
        Ok(match env.get(var)?.value {
            EnvValue::Unset => EnvFlag::Is(default),
            EnvValue::Known(v) => EnvFlag::Is(contexts::env_flag(Some(&v), default)),
            EnvValue::Unknown { source, .. } => EnvFlag::Unknown(source),
        })
    };
    Ok(ContextFacts {
        in_cluster_name: name.non_empty().unwrap_or(contexts::DEFAULT_IN_CLUSTER).to_string(),
        in_cluster_exists: token_mounted(m, api)?,
        kubeconfig_mounted,
        kubeconfig_contexts: s.kubeconfig.map(LoadedKubeconfig::context_names),
        current_context: s.kubeconfig.and_then(|k| k.current_context().map(str::to_string)),
        allow_unknown: s.allow_unknown,
        env: ContextEnv {
            in_cluster_name_unknown: match name {
                EnvValue::Unknown { source, .. } => Some(source),
                _ => None,
            },
            allow_all: flag(contexts::ALLOW_ALL_ENV, false)?,
            includes_in_cluster: flag(contexts::INCLUDES_IN_CLUSTER_ENV, true)?,
        },
    })
}

/// Where SkyPilot keeps its config: in the external database when `SKYPILOT_DB_CONNECTION_URI`
/// is set to a non-empty value (SkyPilot: `if db_url:`). Some(source): a source not in the
/// stream may set it.
fn external_database(m: &Manifests, api: &ApiServer) -> Result<(bool, Option<String>), ManifestError> {
    Ok(match ContainerEnv::read(m, api)?.get(DB_ENV)?.value {
        EnvValue::Known(v) => (!v.is_empty(), None),
        EnvValue::Unset => (false, None),
        EnvValue::Unknown { certain: true, .. } => (true, None),
        EnvValue::Unknown { source, certain: false } => (false, Some(source)),
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
    if let Some(doc) = m.find("ServiceAccount", &sa, InNamespace::Exactly(api.resource.namespace.as_deref()))? {
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

pub fn find_config_map(m: &Manifests, api: &ApiServer, name: &str) -> Result<Option<DocIndex>, ManifestError> {
    m.find("ConfigMap", name, InNamespace::Exactly(api.resource.namespace.as_deref()))
}

/// The configured allowed lists, named: the global one first, then each workspace's that is set.
pub type Lists = Vec<(String, AllowedList)>;

/// The pipeline's proof of a new config.yaml (`post_render::verify`), handed to [`run`]: true
/// when the new text means the old one (its tree, as the rule read it) plus the declared
/// intents, as PyYAML reads both. The rule runs it while it holds that tree, and keeps the tree
/// for the pipeline's own proof only when it was not proven (a huge config.yaml's tree is not
/// held while the ConfigMap's new text is written and rendered).
pub type ProveConfig<'p> = &'p dyn Fn(&Tree, &str, &[Intent]) -> bool;

/// `facts` comes from [`facts`]; the caller computes it once for every rule that needs it.
/// Also returns the lists SkyPilot reads after this rule's edits, or None when the stream does
/// not hold them (an external database keeps the config, or the ConfigMap is missing).
pub fn run(
    m: &Manifests,
    api: &ApiServer,
    s: &ContextSettings,
    facts: &ContextFacts,
    prove: ProveConfig<'_>,
) -> Result<(RuleOutput, Option<Lists>), RuleError> {
    let mut out = RuleOutput::default();
    let Some(loaded) = config_to_check(m, api, facts, &mut out.notes)? else { return Ok((out, None)) };
    let ConfigPlan { edits, reasons, unknown, intents, notes, lists } = checked_plan(m, &loaded, s, facts)?;
    out.notes.extend(notes);
    if let Some((_, AllowedList::Unset)) = lists.first() {
        out.notes.extend(unset_note(facts));
    }
    for name in unknown {
        out.notes.push(note(Severity::Warning, format!("context `{}` is not in the kubeconfig; kept because of --allow-unknown-contexts (SkyPilot will skip it)", shown(&name))));
    }
    if edits.is_empty() {
        debug_assert_eq!(lists, self::lists(&loaded.tree));
        return Ok((out, Some(lists)));
    }
    // The pipeline reads the new text again and compares it with the plan (`verify`).
    let new_text = edit::apply(loaded.text, &edits)
        .map_err(|cause| ContextsError::ConfigEdit { at: m.doc_ref(loaded.cm, loaded.value_line), cause })?;
    debug_assert!(Tree::parse(&new_text, m.limits()).is_ok_and(|t| self::lists(&t) == lists));
    let proven = prove(&loaded.tree, &new_text, &intents);
    out.changes.push(config_map_change(m, loaded, proven, reasons, intents, new_text)?);
    out.notes.push(note(
        Severity::Info,
        "allowed_contexts changed: SkyPilot copies config.yaml to its state volume only on first start, so on an existing installation apply the same change through SkyPilot too (`sky api`, the dashboard, or the server's config)".into(),
    ));
    Ok((out, Some(lists)))
}

/// The config to check, or None (with a note) when the API server keeps its config in an
/// external database or its ConfigMap is not in the stream. Notes what SkyPilot's context
/// settings on the API container change ([`env_notes`]).
fn config_to_check<'m>(
    m: &'m Manifests,
    api: &ApiServer,
    facts: &ContextFacts,
    notes: &mut Vec<Note>,
) -> Result<Option<LoadedConfig<'m>>, RuleError> {
    let (external, maybe) = external_database(m, api)?;
    if external {
        notes.push(note(
            Severity::Info,
            format!("{DB_ENV} is set: the API server keeps its config in the external database and the chart requires the ConfigMap config to be null, so allowed_contexts was left alone; set it through SkyPilot (`sky api` / dashboard)"),
        ));
        return Ok(None);
    }
    if let Some(source) = maybe {
        notes.push(note(
            Severity::Warning,
            format!("{DB_ENV} may be set by {source}: if it is, the API server keeps its config in that database and the allowed_contexts checked here are not the ones it uses"),
        ));
    }
    let loaded = match load_config(m, api)? {
        ConfigSource::Found(l) => l,
        ConfigSource::NotInStream(cm_name, why) => {
            notes.push(note(
                Severity::Warning,
                format!(
                    "ConfigMap `{}` (volume `{CONFIG_VOLUME}`) is {why}; allowed_contexts was not checked",
                    shown(&cm_name)
                ),
            ));
            return Ok(None);
        }
    };
    notes.extend(env_notes(facts));
    Ok(Some(loaded))
}

/// Why a global list left unset was not written although both a kubeconfig and the in-cluster
/// context exist: SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS (the opt-out has its own note).
fn unset_note(f: &ContextFacts) -> Option<Note> {
    if !(f.in_cluster_exists && f.kubeconfig_mounted) {
        return None;
    }
    match f.unset_means() {
        UnsetMeans::All => Some(note(
            Severity::Info,
            format!(
                "{ALLOW_ALL} is true and {GLOBAL} is unset: SkyPilot uses every context, so the list was left unset"
            ),
        )),
        UnsetMeans::Unknown(source) => Some(note(
            Severity::Warning,
            format!(
                "{ALLOW_ALL} comes from {source}, which cannot be known at render time, and {GLOBAL} is unset: SkyPilot uses every context when it is true, only the current-context otherwise; the list was left unset (set it, or set the variable with `value:`)"
            ),
        )),
        UnsetMeans::CurrentContext => None,
    }
}

/// What SkyPilot's context settings on the API container mean for the in-cluster fix.
fn env_notes(f: &ContextFacts) -> Vec<Note> {
    let mut out = Vec::new();
    if let Some(source) = &f.env.in_cluster_name_unknown
        && f.in_cluster_exists
    {
        out.push(note(
            Severity::Warning,
            format!("{IN_CLUSTER_NAME_ENV} comes from {source}, which cannot be known at render time: skyhelm adds the in-cluster context to no list, and names that match no kubeconfig context are kept (one may be the in-cluster context); set it with `value:` to have it checked"),
        ));
    }
    if !(f.in_cluster_exists && f.kubeconfig_mounted) {
        return out;
    }
    match f.in_cluster_off() {
        Some(InClusterOff::OptedOut) => out.push(note(
            Severity::Info,
            format!("{INCLUDES} is false: the in-cluster context was opted out, so skyhelm adds `{}` to no list (SkyPilot leaves it out of `all`, of {ALLOW_ALL} and of an unset list, and uses an explicit list as written)", shown(&f.in_cluster_name)),
        )),
        Some(InClusterOff::OptOutUnknown(source)) => out.push(note(
            Severity::Warning,
            format!("{INCLUDES} comes from {source}, which cannot be known at render time (false opts the in-cluster context out): skyhelm adds the in-cluster context to no list"),
        )),
        Some(InClusterOff::NameUnknown(_)) | None => {}
    }
    out
}

/// The plan for config.yaml, refused when a key it read is written twice.
fn checked_plan(
    m: &Manifests,
    loaded: &LoadedConfig,
    s: &ContextSettings,
    facts: &ContextFacts,
) -> Result<ConfigPlan, RuleError> {
    let at = || m.doc_ref(loaded.cm, loaded.value_line);
    let config = &loaded.tree;
    let plan = plan_config(loaded.text, config, facts, s.explicit, s.explicit_source).map_err(|e| match e {
        PlanError::Rule(errors) => ContextsError::Rule { at: at(), errors },
        PlanError::Edit(cause) => ContextsError::ConfigEdit { at: at(), cause },
    })?;
    if let Some((first, second, key)) = config.duplicate_reads().into_iter().next() {
        return Err(ContextsError::DuplicateKey { at: at(), key, first, second }.into());
    }
    Ok(plan)
}

/// The ConfigMap's change: config.yaml's value replaced by `new_text` (written where there was
/// none), shown in the report as the decoded text before and after.
/// `proven`: by [`ProveConfig`]; the tree of the text before is then dropped before the new
/// text is written into the ConfigMap.
fn config_map_change(
    m: &Manifests,
    loaded: LoadedConfig,
    proven: bool,
    reasons: Vec<String>,
    intents: Vec<Intent>,
    new_text: String,
) -> Result<Change, RuleError> {
    // The tree of the text before goes now, before the new text is written into the ConfigMap.
    drop(loaded.tree);
    let cm = loaded.cm;
    let at = |line: Option<usize>| m.doc_ref(cm, line);
    let cm_tree = m.tree(cm)?;
    let cm_editor = Editor::new(m.text(cm), cm_tree);
    let manifest_edit = |cause| ManifestError::Edit { at: at(loaded.value_line), cause };
    let cm_edit = match (loaded.key, loaded.value) {
        (_, Some(v)) if cm_tree.str(v).is_some() => vec![cm_editor.replace_text(v, &new_text).map_err(manifest_edit)?],
        (Some(k), Some(v)) => {
            // A null config.yaml: Helm 4 sends strings double-quoted, Helm 3 as literal blocks.
            let helm4 = m.text(cm).contains(super::rbac::FILENAME_ANNOTATION);
            vec![cm_editor.replace_null_with_text(k, v, &new_text, !helm4).map_err(manifest_edit)?]
        }
        _ => {
            let root = cm_tree.root().ok_or(ManifestError::Empty { at: at(None) })?;
            cm_editor
                .merge(root, &Map::from_iter([("data".to_string(), json!({ CONFIG_KEY: new_text }))]))
                .map_err(|cause| ManifestError::Edit { at: at(None), cause })?
        }
    };
    let resource = m.resource(cm)?.ok_or(ManifestError::Unnamed { at: at(None) })?;
    // The new text once, for the intent and the diff.
    let after = std::sync::Arc::new(Value::String(new_text));
    Ok(Change {
        doc: cm,
        resource,
        rule: RuleId::AllowedContexts,
        reasons: reasons.into_iter().map(Text::from).collect(),
        edits: cm_edit.into(),
        paths: vec![format!("data.{CONFIG_KEY}").into()],
        intents: vec![Intent::Set { path: vec![Seg::key("data"), Seg::key(CONFIG_KEY)], value: after.clone() }],
        field: Some(Box::new(FieldDiff {
            path: format!("data.{CONFIG_KEY}"),
            before: String::new(),
            before_node: loaded.value.filter(|_| !loaded.text.is_empty()),
            after_value: after,
            intents,
            proven,
        })),
    })
}

/// The SkyPilot config as the API server mounts it.
pub struct LoadedConfig<'m> {
    pub cm: DocIndex,
    /// The `config.yaml` key and value in the ConfigMap's `data`, when present: nodes of the
    /// ConfigMap's tree (`m.tree(cm)`), not of `tree`.
    pub key: Option<NodeId>,
    pub value: Option<NodeId>,
    pub text: &'m str,
    pub tree: Box<Tree<'m>>,
    pub value_line: Option<usize>,
}

/// Where the config is.
pub enum ConfigSource<'m> {
    Found(LoadedConfig<'m>),
    /// The ConfigMap the API server mounts (named here) is not in the stream; why
    /// ([`container_env::absent_why`]).
    NotInStream(String, String),
}

/// Finds and parses config.yaml, refusing what two readers would read differently.
pub fn load_config<'m>(m: &'m Manifests, api: &ApiServer) -> Result<ConfigSource<'m>, RuleError> {
    let cm_name = config_map_name(m, api)?;
    let Some(cm) = find_config_map(m, api, &cm_name)? else {
        let why = container_env::absent_why(m, "ConfigMap", &cm_name, api.resource.namespace.as_deref())?;
        return Ok(ConfigSource::NotInStream(cm_name, why));
    };
    let cm_tree = m.tree(cm)?;
    let data = cm_tree.root().and_then(|r| cm_tree.get(r, "data"));
    let (key, value) = match data.map(|d| cm_tree.lookup(d, CONFIG_KEY)) {
        Some(crate::yaml::tree::Lookup::Found { key, value }) => (Some(key), Some(value)),
        _ => (None, None),
    };
    let value_line = value.map(|v| cm_tree.node(v).line());
    if let Some((first, second, key)) = cm_tree.duplicate_reads().into_iter().next() {
        return Err(ManifestError::DuplicateKey {
            at: m.doc_ref(cm, Some(second)),
            key,
            first: m.stream_line(cm, first),
            second: m.stream_line(cm, second),
        }
        .into());
    }
    let text = config_text(m, cm, value, value_line)?;
    let tree = parse_config(m, cm, text, value_line)?;
    Ok(ConfigSource::Found(LoadedConfig { cm, key, value, text, tree: Box::new(tree), value_line }))
}

/// config.yaml's text: the ConfigMap's value when it is a string (empty when absent or null);
/// a tag or a value Kubernetes does not read as a string is refused.
fn config_text<'m>(
    m: &'m Manifests,
    cm: DocIndex,
    value: Option<NodeId>,
    value_line: Option<usize>,
) -> Result<&'m str, RuleError> {
    let cm_tree = m.tree(cm)?;
    if let Some(tag) = value.and_then(|v| cm_tree.tag(v))
        && !matches!(tag, "!" | "tag:yaml.org,2002:str" | "tag:yaml.org,2002:null" | "!!str" | "!!null")
    {
        return Err(ContextsError::ConfigTagged { at: m.doc_ref(cm, value_line), tag: tag.to_string() }.into());
    }
    let text = match value {
        None => "",
        Some(v) if cm_tree.is_null(v) => "",
        Some(v) => match cm_tree.str(v) {
            Some(t) => t,
            None => {
                let found = match cm_tree.scalar(v) {
                    Some(Scalar11::Bool(_)) => "a boolean",
                    Some(Scalar11::Int(_) | Scalar11::Float(_)) => "a number",
                    Some(_) => "a scalar",
                    None if cm_tree.is_map(v) => "a mapping",
                    None => "a list",
                };
                return Err(
                    ContextsError::ConfigNotString { at: m.doc_ref(cm, value_line), found: found.into() }.into()
                );
            }
        },
    };
    Ok(text)
}

/// Parses config.yaml, refusing what PyYAML (SkyPilot) would read differently or not load.
fn parse_config<'t>(
    m: &Manifests,
    cm: DocIndex,
    text: &'t str,
    value_line: Option<usize>,
) -> Result<Tree<'t>, RuleError> {
    if let Some((line, c)) = crate::yaml::scalar::yaml11_break(text) {
        return Err(ContextsError::Yaml11Break { at: m.doc_ref(cm, value_line), line, code: u32::from(c) }.into());
    }
    let tree = Tree::parse(text, m.limits()).map_err(|e| {
        let at = m.doc_ref(cm, value_line);
        // Our parser refuses some tabs too, in its own words (and sometimes a line later): name
        // the tab as PyYAML would, a tab in indentation first.
        let lines: Vec<&str> = text.lines().take(e.line).collect();
        let indented =
            lines.iter().position(|l| l.trim_start_matches([' ', '\t']).len() < l.trim_start_matches(' ').len());
        match indented.or_else(|| lines.iter().rposition(|l| l.contains('\t'))) {
            Some(i) => ContextsError::ConfigParse {
                at,
                message: format!("{} (at line {}); line {} holds a tab. {TAB_FIX}", e.message, e.line, i + 1),
                line: i + 1,
            },
            None => ContextsError::ConfigParse { at, message: e.message, line: e.line },
        }
    })?;
    if let Some(tab) = crate::yaml::pyyaml::refused_tab(text, &tree) {
        return Err(ContextsError::ConfigTab { at: m.doc_ref(cm, value_line), tab }.into());
    }
    // PyYAML's safe loader constructs only the core tags, a collection's only on its kind (`!!map`
    // on a mapping, `!!seq` on a list); any other makes SkyPilot's load fail. It makes a Python
    // set of `!!set` and pairs of `!!omap` and `!!pairs`, which skyhelm does not read.
    const SAFE: &[&str] = &["str", "int", "float", "bool", "null", "binary", "timestamp", "merge"];
    let mut merged = None;
    for (id, tag) in tree.tagged() {
        let name = tag.strip_prefix("tag:yaml.org,2002:").or_else(|| tag.strip_prefix("!!"));
        let (map, seq) = (tree.is_map(id), tree.is_seq(id));
        let loads = tag == "!"
            || match name {
                Some("map") => map,
                Some("seq") => seq,
                Some(n) => !map && !seq && SAFE.contains(&n),
                None => false,
            };
        if loads {
            continue;
        }
        // PyYAML merges the mapping under `<<` (or each mapping of a list there) without
        // constructing it by its tag, unless an alias elsewhere makes it construct it.
        if (map || seq) && !tree.is_shared(id) && merged.get_or_insert_with(|| merge_values(&tree)).contains(&id) {
            continue;
        }
        // A block collection starts where its first child does: PyYAML names where its
        // properties are written.
        let line = if map || seq { tree.properties_line(id) } else { tree.node(id).line() };
        let (at, tag) = (m.doc_ref(cm, value_line), tag.to_string());
        return Err(match (name, map, seq) {
            (Some("set"), true, _) | (Some("omap" | "pairs"), _, true) => {
                ContextsError::ConfigTagUnread { at, line, tag }
            }
            _ => ContextsError::ConfigUnloadable { at, line, tag },
        }
        .into());
    }
    Ok(tree)
}

/// The nodes written as the value of a merge key `<<`, and the items of a list written there.
fn merge_values(tree: &Tree) -> std::collections::HashSet<NodeId> {
    let mut out = std::collections::HashSet::new();
    for id in tree.ids() {
        for &(_, v) in tree.entries(id).iter().filter(|&&(k, _)| tree.is_merge_key(k)) {
            out.insert(v);
            out.extend(tree.items(v).iter().copied());
        }
    }
    out
}

/// A list's items as PyYAML reads them: the names, and an error for each item that is not a string.
fn names(config: &Tree, seq: NodeId, list: &str) -> (Vec<String>, Vec<ContextError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, &item) in config.items(seq).iter().enumerate() {
        match config.py_str(item) {
            Some(n) => out.push(n.to_string()),
            None => match config.raw(item) {
                Some(text) => errors.push(ContextError::NotString {
                    list: list.into(),
                    index: i + 1,
                    text: text.to_string(),
                    reads_as: config.pyyaml(item).map_or_else(String::new, |p| p.describe(text)),
                }),
                None => errors.push(ContextError::NotAName {
                    list: list.into(),
                    index: i + 1,
                    found: if config.is_map(item) { "a mapping" } else { "a list" }.into(),
                }),
            },
        }
    }
    (out, errors)
}

/// Plans one set list: the non-string items' errors and the names' errors together.
fn plan_items(
    config: &Tree,
    seq: NodeId,
    list: &str,
    scope: Scope,
    f: &ContextFacts,
) -> Result<ListPlan, Vec<ContextError>> {
    let (items, mut errors) = names(config, seq, list);
    match contexts::plan_list(list, scope, &items, f) {
        Ok(plan) if errors.is_empty() => Ok(plan),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e);
            Err(errors)
        }
    }
}

/// Records keys of `map` that PyYAML reads as one (`a` and `"a"`, `yes` and `on`): the last wins
/// there, so an edit of the first would not take effect; the rule refuses them.
fn note_duplicate_entries(config: &Tree, map: NodeId) {
    let entries = config.entries(map);
    let names: Vec<String> = entries.iter().map(|&(k, _)| key_name(config, k)).collect();
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = names[i + 1..].iter().position(|m| m == n) {
            config.record_duplicate(entries[i].0, entries[i + 1 + j].0);
        }
    }
}

/// A mapping key as PyYAML reads it, as the key of the config's JSON meaning.
fn key_name(config: &Tree, key: NodeId) -> String {
    match config.to_json_as(key, Reader::PyYaml) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The configured lists: the global one first, then each workspace's that is set.
pub fn lists(config: &Tree) -> Lists {
    let read = |v: Option<NodeId>, list: &str| match v {
        None => AllowedList::Unset,
        Some(v) if config.is_null(v) => AllowedList::Unset,
        Some(v) if config.py_str(v) == Some(contexts::ALL) => AllowedList::All,
        Some(v) => AllowedList::Names(names(config, v, list).0),
    };
    let root = config.root().filter(|&r| config.is_map(r));
    let mut out = vec![(
        GLOBAL.to_string(),
        read(root.and_then(|r| config.path(r, &["kubernetes", "allowed_contexts"])), GLOBAL),
    )];
    for &(k, ws) in root.and_then(|r| config.get(r, "workspaces")).map(|w| config.entries(w)).unwrap_or_default() {
        if let Some(v) = config.path(ws, &["kubernetes", "allowed_contexts"]) {
            let list = format!("workspaces.{}.kubernetes.allowed_contexts", key_name(config, k));
            out.push((list.clone(), read(Some(v), &list)));
        }
    }
    out
}

/// What the manifests say about contexts, for `doctor --manifests`.
pub struct DeployedContexts {
    pub facts: ContextFacts,
    /// None when an external database holds the config, or no ConfigMap was found.
    pub lists: Option<Lists>,
    /// `SKYPILOT_DB_CONNECTION_URI` is set: the config lives in the external database.
    pub external_database: bool,
}

pub fn deployed_contexts(m: &Manifests, api: &ApiServer) -> Result<DeployedContexts, RuleError> {
    let s = ContextSettings { kubeconfig: None, explicit: &GivenList::None, explicit_source: "", allow_unknown: false };
    let facts = facts(m, api, &s, true)?;
    let external_database = external_database(m, api)?.0;
    let lists = if external_database {
        None
    } else {
        match load_config(m, api)? {
            ConfigSource::Found(l) => Some(lists(&l.tree)),
            ConfigSource::NotInStream(..) => None,
        }
    };
    Ok(DeployedContexts { facts, lists, external_database })
}

enum PlanError {
    Rule(Vec<ContextError>),
    Edit(crate::yaml::EditError),
}

impl From<crate::yaml::EditError> for PlanError {
    fn from(e: crate::yaml::EditError) -> Self {
        PlanError::Edit(e)
    }
}

const GLOBAL: &str = "kubernetes.allowed_contexts";

/// Edits to config.yaml's text, the reasons, what they mean, notes, the unknown names kept, and
/// the lists as they read after the edits (as [`lists`] reads them).
#[derive(Default)]
struct ConfigPlan {
    edits: Vec<Edit>,
    reasons: Vec<String>,
    unknown: Vec<String>,
    intents: Vec<Intent>,
    notes: Vec<Note>,
    lists: Lists,
}

/// Plans config.yaml's edits: the global list, each workspace's list, then the keys of
/// `context_configs` and the patterns of `remote_identity`.
fn plan_config(
    text: &str,
    config: &Tree,
    f: &ContextFacts,
    explicit: &GivenList,
    source: &str,
) -> Result<ConfigPlan, PlanError> {
    let mut planner = Planner {
        config,
        editor: Editor::new(text, config),
        f,
        root: config.root().filter(|&r| !config.is_null(r)),
        plan: ConfigPlan::default(),
        errors: Vec::new(),
    };
    let global = planner.root.and_then(|r| config.get(r, "kubernetes")).filter(|&k| config.is_map(k));
    let global_final = planner.global_list(global, explicit, source)?;
    let global_has_in_cluster = f.reaches_in_cluster(&global_final);
    planner.plan.lists.push((GLOBAL.to_string(), global_final));
    let workspaces = planner.root.and_then(|r| config.get(r, "workspaces"));
    planner.workspace_lists(workspaces, global_has_in_cluster)?;
    for (label, path, k) in &context_scopes(config, global, workspaces) {
        planner.context_keys(label, path, *k)?;
    }
    if !planner.errors.is_empty() {
        return Err(PlanError::Rule(planner.errors));
    }
    Ok(planner.plan)
}

/// config.yaml being planned, and what the plan has gathered so far.
struct Planner<'a> {
    config: &'a Tree<'a>,
    editor: Editor<'a>,
    f: &'a ContextFacts,
    /// The config's root, unless the config is empty or null.
    root: Option<NodeId>,
    plan: ConfigPlan,
    /// Every refusal, reported together at the end.
    errors: Vec<ContextError>,
}

impl Planner<'_> {
    /// The global list: `--allowed-context` when given (`all`, or names), else the written list
    /// checked, else (unset) what SkyPilot would otherwise use made explicit. Returns what the
    /// list ends up as.
    fn global_list(
        &mut self,
        global: Option<NodeId>,
        explicit: &GivenList,
        source: &str,
    ) -> Result<AllowedList, PlanError> {
        let global_list = global.and_then(|k| match self.config.lookup(k, "allowed_contexts") {
            crate::yaml::tree::Lookup::Found { key, value } => Some((key, value)),
            _ => None,
        });
        match explicit {
            GivenList::AllFlag if self.f.available().iter().any(|c| c == contexts::ALL) => {
                self.errors.push(ContextError::AmbiguousAll { given_by: source.into() });
                Ok(AllowedList::Unset)
            }
            GivenList::All | GivenList::AllFlag => self.explicit_all(global_list, source),
            GivenList::Names(names) => self.explicit_names(global_list, names, source),
            GivenList::None => self.written_global(global_list),
        }
    }

    /// `--allowed-context all`: every context, as SkyPilot reads `all`.
    fn explicit_all(&mut self, global_list: Option<(NodeId, NodeId)>, source: &str) -> Result<AllowedList, PlanError> {
        let (config, plan) = (self.config, &mut self.plan);
        let already = global_list.is_some_and(|(_, v)| config.py_str(v) == Some(contexts::ALL));
        if !already {
            match global_list {
                Some((key, value)) => plan.edits.push(self.editor.replace_value(key, value, &json!(contexts::ALL))?),
                None => plan.edits.extend(write_global(&self.editor, config, self.root, json!(contexts::ALL))?),
            }
            plan.reasons.push(format!("{GLOBAL} set to `all` from {source}"));
            plan.intents.push(Intent::Set { path: keys(GLOBAL), value: json!(contexts::ALL).into() });
        }
        Ok(AllowedList::All)
    }

    /// `--allowed-context NAME...`: the names, checked, replace the global list.
    fn explicit_names(
        &mut self,
        global_list: Option<(NodeId, NodeId)>,
        explicit: &[String],
        source: &str,
    ) -> Result<AllowedList, PlanError> {
        let (config, plan) = (self.config, &mut self.plan);
        let p = match contexts::plan_list(source, Scope::Global, explicit, self.f) {
            Err(e) => {
                self.errors.extend(e);
                return Ok(AllowedList::Unset);
            }
            Ok(p) => p,
        };
        let result = p.result.clone();
        let same = global_list.is_some_and(|(_, value)| {
            config.is_seq(value) && names(config, value, GLOBAL) == (result.clone(), Vec::new())
        });
        if !same {
            match global_list {
                Some((key, value)) => plan.edits.push(self.editor.replace_value(key, value, &json!(result))?),
                None => plan.edits.extend(write_unset(&self.editor, config, self.root, &result)?),
            }
            plan.reasons.push(format!("{GLOBAL} set to [{}] from {source}", shown_list(&result)));
            plan.intents.push(set_global(&result));
        }
        plan.reasons.extend(p.reasons);
        plan.unknown.extend(p.unknown_kept);
        Ok(AllowedList::Names(result))
    }

    /// The global list as written: a list is checked item by item, `all` kept, null or unset
    /// made explicit (SkyPilot would use only the current context), anything else refused.
    fn written_global(&mut self, global_list: Option<(NodeId, NodeId)>) -> Result<AllowedList, PlanError> {
        let (config, f, plan) = (self.config, self.f, &mut self.plan);
        match global_list {
            Some((key, value)) if config.is_seq(value) => match plan_items(config, value, GLOBAL, Scope::Global, f) {
                Err(e) => self.errors.extend(e),
                Ok(p) => {
                    if p.changes() {
                        plan.edits.extend(apply_plan(&self.editor, config, key, value, &p)?);
                        plan.intents.push(set_global(&p.result));
                    }
                    plan.reasons.extend(p.reasons.iter().map(|r| format!("{GLOBAL}: {r}")));
                    plan.unknown.extend(p.unknown_kept);
                    if p.result.is_empty() && !config.items(value).is_empty() {
                        plan.notes.push(note(Severity::Warning, format!("{GLOBAL} is now empty: none of its names is a context SkyPilot can use, so it will use no Kubernetes context")));
                    }
                    return Ok(AllowedList::Names(p.result));
                }
            },
            Some((_, value)) if config.py_str(value) == Some(contexts::ALL) => return Ok(AllowedList::All),
            Some((key, value)) if config.is_null(value) => match contexts::plan_unset(f) {
                Err(e) => self.errors.push(e),
                Ok(Some(list)) => {
                    plan.edits.push(self.editor.replace_value(key, value, &json!(list))?);
                    plan.reasons.push(unset_reason(&list));
                    plan.intents.push(set_global(&list));
                    return Ok(AllowedList::Names(list));
                }
                Ok(None) => {}
            },
            Some((_, value)) => {
                self.errors.push(ContextError::NotAList { list: GLOBAL.into(), found: found_text(config, value) })
            }
            None => match contexts::plan_unset(f) {
                Err(e) => self.errors.push(e),
                Ok(Some(list)) => {
                    plan.edits.extend(write_unset(&self.editor, config, self.root, &list)?);
                    plan.reasons.push(unset_reason(&list));
                    plan.intents.push(set_global(&list));
                    return Ok(AllowedList::Names(list));
                }
                Ok(None) => {}
            },
        }
        Ok(AllowedList::Unset)
    }

    /// Each workspace's own list, when set: only ever narrowed.
    fn workspace_lists(&mut self, workspaces: Option<NodeId>, global_has_in_cluster: bool) -> Result<(), PlanError> {
        let config = self.config;
        if let Some(w) = workspaces {
            note_duplicate_entries(config, w);
        }
        for &(ws_key, ws) in workspaces.map(|w| config.entries(w)).unwrap_or_default() {
            let name = key_name(config, ws_key);
            let Some(k) = config.get(ws, "kubernetes") else { continue };
            let crate::yaml::tree::Lookup::Found { key, value } = config.lookup(k, "allowed_contexts") else {
                continue;
            };
            self.workspace_list(&name, key, value, global_has_in_cluster)?;
        }
        Ok(())
    }

    /// One workspace's list: null and `all` are left alone; a list is checked item by item, and
    /// notes say when it is now empty or lacks the in-cluster context the global list has.
    fn workspace_list(
        &mut self,
        name: &str,
        key: NodeId,
        value: NodeId,
        global_has_in_cluster: bool,
    ) -> Result<(), PlanError> {
        let (config, f, plan) = (self.config, self.f, &mut self.plan);
        let list = format!("workspaces.{name}.kubernetes.allowed_contexts");
        if config.is_null(value) {
            plan.lists.push((list, AllowedList::Unset));
            return Ok(());
        }
        if config.py_str(value) == Some(contexts::ALL) {
            plan.lists.push((list, AllowedList::All));
            return Ok(());
        }
        if !config.is_seq(value) {
            self.errors.push(ContextError::NotAList { list, found: found_text(config, value) });
            return Ok(());
        }
        let p = match plan_items(config, value, &list, Scope::Workspace, f) {
            Err(e) => {
                self.errors.extend(e);
                return Ok(());
            }
            Ok(p) => p,
        };
        if p.changes() {
            plan.edits.extend(apply_plan(&self.editor, config, key, value, &p)?);
            let path = vec![
                Seg::key("workspaces"),
                Seg::Key(name.to_string()),
                Seg::key("kubernetes"),
                Seg::key("allowed_contexts"),
            ];
            plan.intents.push(Intent::Set { path, value: json!(p.result).into() });
        }
        let (shown_list, shown_name) = (shown(&list), shown(name));
        plan.reasons.extend(p.reasons.iter().map(|r| format!("{shown_list}: {r}")));
        plan.unknown.extend(p.unknown_kept.iter().cloned());
        if p.result.is_empty() && !config.items(value).is_empty() {
            plan.notes.push(note(Severity::Warning, format!("{shown_list} is now empty: none of its names is a context SkyPilot can use, so workspace `{shown_name}` will use no Kubernetes context")));
        }
        if global_has_in_cluster && !p.result.contains(&f.in_cluster_name) {
            plan.notes.push(note(
                Severity::Info,
                format!("{shown_list} does not name `{}`: workspace `{shown_name}` cannot use the API server's own cluster (the global list can); add it there if intended — skyhelm never widens a workspace list", shown(&f.in_cluster_name)),
            ));
        }
        plan.lists.push((list, AllowedList::Names(p.result)));
        Ok(())
    }

    /// The context names in one `kubernetes` mapping (`label`, at `path`): `context_configs`
    /// keys are exact context names; `remote_identity` keys are glob patterns.
    fn context_keys(&mut self, label: &str, path: &[Seg], k: NodeId) -> Result<(), PlanError> {
        let (config, f) = (self.config, self.f);
        if let Some(cc) = config.get(k, "context_configs").filter(|&c| config.is_map(c)) {
            note_duplicate_entries(config, cc);
            self.context_configs(&format!("{label}.context_configs"), path, cc)?;
        }
        if let (Some(ri), Some(_)) =
            (config.get(k, "remote_identity").filter(|&r| config.is_map(r)), &f.kubeconfig_contexts)
        {
            let available = f.available();
            note_duplicate_entries(config, ri);
            for &(pk, _) in config.entries(ri) {
                let Some(pattern) = config.py_str(pk) else { continue };
                if !available.iter().any(|c| fnmatch(pattern, c)) {
                    self.plan.notes.push(note(
                        Severity::Warning,
                        format!("{}.remote_identity: pattern `{}` matches no context (available: {}); it applies to nothing", shown(label), shown(pattern), shown_list(&available)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks the keys of one `context_configs` mapping against the contexts: a case slip is
    /// corrected (the key renamed), a name that matches nothing is an error.
    fn context_configs(&mut self, label: &str, path: &[Seg], cc: NodeId) -> Result<(), PlanError> {
        let (config, f, plan, errors) = (self.config, self.f, &mut self.plan, &mut self.errors);
        let written: Vec<String> =
            config.entries(cc).iter().filter_map(|&(k, _)| config.py_str(k).map(str::to_string)).collect();
        // The context each corrected key becomes, with the key: a second key that would
        // become the same context is refused (both renamed, PyYAML would keep only the last).
        let mut renamed: Vec<(String, String)> = Vec::new();
        for (i, &(k, _)) in config.entries(cc).iter().enumerate() {
            let Some(name) = config.py_str(k) else {
                let text = config.raw(k).unwrap_or("(a collection)").to_string();
                let reads_as = config.pyyaml(k).map_or_else(|| "a collection".into(), |p| p.describe(&text));
                errors.push(ContextError::NotString { list: label.into(), index: i + 1, text, reads_as });
                continue;
            };
            match contexts::classify(name, f) {
                NameClass::Ssh | NameClass::InCluster | NameClass::Exact | NameClass::MaybeInCluster => {}
                NameClass::CaseOf(one) if written.contains(&one) => errors.push(ContextError::KeyClash {
                    list: label.into(),
                    first: name.into(),
                    second: one.clone(),
                    context: one,
                }),
                NameClass::CaseOf(one) if renamed.iter().any(|(to, _)| *to == one) => {
                    let first = renamed.iter().find(|(to, _)| *to == one).map(|(_, from)| from.clone());
                    errors.push(ContextError::KeyClash {
                        list: label.into(),
                        first: first.unwrap_or_default(),
                        second: name.into(),
                        context: one,
                    })
                }
                NameClass::CaseOf(one) => {
                    renamed.push((one.clone(), name.to_string()));
                    plan.edits.push(self.editor.replace_scalar(k, &json!(one))?);
                    plan.reasons.push(format!(
                        "{}: key `{}` corrected to `{}` (context names match exactly, case included)",
                        shown(label),
                        shown(name),
                        shown(&one)
                    ));
                    let mut p = path.to_vec();
                    p.push(Seg::key("context_configs"));
                    plan.intents.push(Intent::RenameKey { path: p, from: name.into(), to: one });
                }
                NameClass::Unknown(_) if f.allow_unknown => plan.unknown.push(name.into()),
                NameClass::Unknown(suggestions) => errors.push(ContextError::unknown(label, name, suggestions, f)),
                NameClass::AmbiguousCase(candidates) => {
                    errors.push(ContextError::AmbiguousCase { list: label.into(), name: name.into(), candidates })
                }
            }
        }
        Ok(())
    }
}

/// The intent of setting the global list to `list`.
fn set_global(list: &[String]) -> Intent {
    Intent::Set { path: keys(GLOBAL), value: json!(list).into() }
}

/// The `kubernetes` mappings whose context names are checked, global first, with their labels
/// and paths.
fn context_scopes(
    config: &Tree,
    global: Option<NodeId>,
    workspaces: Option<NodeId>,
) -> Vec<(String, Vec<Seg>, NodeId)> {
    let mut scopes: Vec<(String, Vec<Seg>, NodeId)> = Vec::new();
    if let Some(g) = global {
        scopes.push(("kubernetes".into(), keys("kubernetes"), g));
    }
    for &(ws_key, ws) in workspaces.map(|w| config.entries(w)).unwrap_or_default() {
        let name = key_name(config, ws_key);
        if let Some(k) = config.get(ws, "kubernetes").filter(|&k| config.is_map(k)) {
            scopes.push((
                format!("workspaces.{name}.kubernetes"),
                vec![Seg::key("workspaces"), Seg::Key(name), Seg::key("kubernetes")],
                k,
            ));
        }
    }
    scopes
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking on the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class_match(&p, pi, n[ni]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                None => (n[ni] == '[').then_some(pi + 1),
            },
            Some(&c) => (c == n[ni]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[at] == '['`: (matched, index after `]`), or None
/// when the class is not closed (then `[` is a literal, as in fnmatch).
fn class_match(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut matched = false;
    while let Some(&pc) = p.get(i) {
        if pc == ']' && i > start {
            return Some((matched != negate, i + 1));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            if (pc..=p[i + 2]).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if pc == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

fn found_text(config: &Tree, v: NodeId) -> String {
    if config.is_map(v) {
        return "a mapping".into();
    }
    let text = config.raw(v).unwrap_or("").to_string();
    format!("`{text}` ({})", config.pyyaml(v).map_or_else(|| "a value".into(), |p| p.describe(&text)))
}

fn unset_reason(list: &[String]) -> String {
    format!(
        "kubernetes.allowed_contexts set to [{}]: it was unset, and with both a kubeconfig and the in-cluster context SkyPilot would use only the current-context `{}`",
        shown_list(list),
        shown(list.first().map_or("", String::as_str))
    )
}

/// Names from outside, as a message lists them ([`shown`]).
fn shown_list(names: &[String]) -> String {
    names.iter().map(|n| shown(n)).collect::<Vec<_>>().join(", ")
}

/// Writes a global list where there was none (or the config was empty).
fn write_unset(editor: &Editor, config: &Tree, root: Option<NodeId>, list: &[String]) -> Result<Vec<Edit>, PlanError> {
    write_global(editor, config, root, json!(list))
}

/// Writes the global list's value where there was none (or the config was empty).
fn write_global(editor: &Editor, config: &Tree, root: Option<NodeId>, value: Value) -> Result<Vec<Edit>, PlanError> {
    let patch = Map::from_iter([("kubernetes".to_string(), json!({ "allowed_contexts": value }))]);
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

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn fnmatch_as_python() {
        assert!(fnmatch("prod-*", "prod-eu"));
        assert!(fnmatch("*", "x"));
        assert!(fnmatch("p?od", "prod"));
        assert!(fnmatch("[pq]rod", "prod"));
        assert!(fnmatch("[!q]rod", "prod"));
        assert!(!fnmatch("Prod-*", "prod-eu"));
        assert!(!fnmatch("prod-?", "prod-eu"));
        assert!(fnmatch("a*b*c", "aXbYc"));
        assert!(!fnmatch("a*b*c", "aXbY"));
        assert!(fnmatch("[a-c]x", "bx"));
    }
}
