//! `skyhelm generate`: one ready chart per environment, rendered from tera templates, validated
//! with the same context rules as post-render. Pure: the caller reads and writes files.

pub mod gitops;
pub mod owned;
pub mod pyyaml_config;
pub mod values;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::kubeconfig::contexts_file::ContextsFile;
use crate::kubeconfig::doctor::{self, DoctorInput, Finding};
use crate::kubeconfig::{LoadedKubeconfig, is_dns1123_label};
use crate::model::RbacMode;
use crate::policy::contexts::{self, ContextError, ContextFacts};
use crate::yaml::emit::{self, Layout};

pub const DEFAULT_REPOSITORY: &str = "https://helm.skypilot.co";
pub const DEFAULT_IMAGE: &str = "berkeleyskypilot/skypilot:0.9.2";

/// The templates embedded in the binary (the repository's top-level templates/).
pub const EMBEDDED: &[(&str, &str)] = &[
    ("Chart.yaml.tera", include_str!("../../templates/chart/Chart.yaml.tera")),
    ("values.yaml.tera", include_str!("../../templates/chart/values.yaml.tera")),
    ("values.schema.json.tera", include_str!("../../templates/chart/values.schema.json.tera")),
    ("skyhelm.yaml.tera", include_str!("../../templates/chart/skyhelm.yaml.tera")),
    ("templates/NOTES.txt.tera", include_str!("../../templates/chart/templates/NOTES.txt.tera")),
];

/// Settings an environment may set; `defaults` gives them to every environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvSettings {
    pub release: Option<String>,
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub kubeconfig_secret_name: Option<String>,
    /// Give the API server pod its service-account token (the in-cluster context).
    pub in_cluster: Option<bool>,
    /// Mount the kubeconfig Secret (default true).
    pub mount_kubeconfig: Option<bool>,
    /// In failover order.
    pub allowed_contexts: Option<Vec<String>>,
    /// A local copy of the kubeconfig, for validation only (relative to the environments file).
    pub kubeconfig: Option<String>,
    /// A contexts file (`skyhelm kubeconfig pack --contexts-file`), instead of `kubeconfig`.
    pub contexts: Option<String>,
    pub rbac: Option<String>,
    /// Extra SkyPilot config, merged under the generated `kubernetes.allowed_contexts`.
    pub config: Option<Map<String, Value>>,
    /// Values of the upstream chart, merged over skyhelm's (keys skyhelm writes are refused).
    pub values: Option<Map<String, Value>>,
    pub chart_version: Option<String>,
    pub repository: Option<String>,
    /// `--format argocd`: the Application's project, destination and sync policy.
    pub argocd: Option<gitops::ArgoCdSettings>,
    /// `--format flux`: the HelmRelease's interval, namespace and valuesFrom.
    pub flux: Option<gitops::FluxSettings>,
    /// `--format helmfile`: the helmfile environments that install the release.
    pub helmfile: Option<gitops::HelmfileSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentEntry {
    pub name: String,
    #[serde(flatten)]
    pub settings: EnvSettings,
}

/// The environments file (schema: schemas/environments.schema.json).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentsFile {
    /// Charts are named `<name>-<environment>`.
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default)]
    pub defaults: EnvSettings,
    pub environments: Vec<EnvironmentEntry>,
}

fn default_name() -> String {
    "skypilot".into()
}

/// One environment with defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    pub release: String,
    pub namespace: String,
    pub image: String,
    pub secret_name: String,
    /// `kubeconfigSecretName` is set (by the environment or the defaults).
    #[serde(skip)]
    pub secret_name_set: bool,
    pub in_cluster: bool,
    pub mount_kubeconfig: bool,
    /// None: unset; `Some([])` is an explicit empty list.
    pub allowed_contexts: Option<Vec<String>>,
    pub kubeconfig: Option<String>,
    pub contexts: Option<String>,
    pub rbac: RbacMode,
    pub config: Map<String, Value>,
    /// The defaults' `values:` with the environment's merged over them.
    pub values: Map<String, Value>,
    pub chart_version: String,
    pub repository: String,
    /// The GitOps engines' settings.
    pub engines: gitops::EngineSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("environments file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment `{env}`: {message}")]
    Invalid { env: String, message: String },
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
    #[error(
        "environments `{first}` and `{second}` both {what} to the same cluster ({target}): the chart's cluster-scoped objects (its ClusterRole, ClusterRoleBinding and system namespace objects, named after the release or values.fullnameOverride) would belong to both, and each sync would overwrite or prune the other's; give one of them another `release` (and no fullnameOverride), or {fix}"
    )]
    Collision { first: String, second: String, what: String, target: String, fix: &'static str },
    #[error(
        "environments `{first}` and `{second}` both render the chart's Namespace skypilot-system (rbac.manageSystemComponents, on by default) to the same cluster ({target}): Argo CD renders the chart without a cluster to look the Namespace up in, so both Applications would own it and deleting either would delete the other's system components; set values.rbac.manageSystemComponents: false in one of them (no object-store mounting there), or give it another argocd.destination"
    )]
    SystemNamespace { first: String, second: String, target: String },
}

/// A generated chart: its folder name and files (relative paths).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeneratedChart {
    pub dir: String,
    pub files: BTreeMap<String, String>,
    /// Corrections made to the lists (for the user).
    pub notes: Vec<String>,
    /// Kubeconfig findings for the allowed contexts, with the environment named.
    pub warnings: Vec<String>,
}

impl EnvironmentsFile {
    /// Reads an environments file (`path` names it in errors), refusing every `config:` scalar
    /// or key that this reader and PyYAML (SkyPilot's) read differently
    /// ([`pyyaml_config::disagreements`]).
    pub fn parse(path: &str, text: &str) -> Result<EnvironmentsFile, Vec<GenerateError>> {
        let file: EnvironmentsFile = serde_saphyr::from_str(text).map_err(|e| {
            vec![GenerateError::Parse {
                path: path.into(),
                message: crate::messages::too_deep(&e).unwrap_or_else(|| {
                    crate::messages::without_library_hints(e.to_string().lines().next().unwrap_or_default())
                }),
            }]
        })?;
        let mut errors = pyyaml_config::disagreements(text, &file);
        errors.extend(values::disagreements(text, &file));
        if errors.is_empty() { Ok(file) } else { Err(errors) }
    }
}

/// The RBAC mode an environment names (its own, else the defaults'), as written.
fn rbac_name<'f>(file: &'f EnvironmentsFile, e: &'f EnvironmentEntry) -> Option<&'f str> {
    e.settings.rbac.as_deref().or(file.defaults.rbac.as_deref())
}

/// `over` merged into `base` as SkyPilot merges config (and as `values:` are merged): maps key
/// by key, any other value (a list included) replaced whole. An environment's `config.kubernetes` thus keeps the
/// defaults' `allowed_contexts` and workspaces unless it sets its own.
fn merge_config(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_config(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The entry with the file's defaults, then skyhelm's, filled in, and what is wrong with its
/// engine settings.
fn with_defaults(file: &EnvironmentsFile, e: &EnvironmentEntry) -> (Environment, Vec<String>) {
    let d = &file.defaults;
    let s = &e.settings;
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    let mut config = d.config.clone().unwrap_or_default();
    merge_config(&mut config, s.config.as_ref().unwrap_or(&Map::new()));
    let mut chart_values = d.values.clone().unwrap_or_default();
    merge_config(&mut chart_values, s.values.as_ref().unwrap_or(&Map::new()));
    let namespace = pick(&s.namespace, &d.namespace).unwrap_or_else(|| format!("{}-{}", file.name, e.name));
    let (engines, engine_errors) = gitops::EngineSettings::resolve(
        (s.argocd.as_ref(), s.flux.as_ref(), s.helmfile.as_ref()),
        (d.argocd.as_ref(), d.flux.as_ref(), d.helmfile.as_ref()),
        &namespace,
    );
    let env = Environment {
        name: e.name.clone(),
        release: pick(&s.release, &d.release).unwrap_or_else(|| file.name.clone()),
        namespace,
        image: pick(&s.image, &d.image).unwrap_or_else(|| DEFAULT_IMAGE.into()),
        secret_name: pick(&s.kubeconfig_secret_name, &d.kubeconfig_secret_name)
            .unwrap_or_else(|| crate::model::DEFAULT_SECRET_NAME.into()),
        secret_name_set: s.kubeconfig_secret_name.is_some() || d.kubeconfig_secret_name.is_some(),
        in_cluster: s.in_cluster.or(d.in_cluster).unwrap_or(true),
        mount_kubeconfig: s.mount_kubeconfig.or(d.mount_kubeconfig).unwrap_or(true),
        allowed_contexts: s.allowed_contexts.clone().or_else(|| d.allowed_contexts.clone()),
        kubeconfig: pick(&s.kubeconfig, &d.kubeconfig),
        contexts: pick(&s.contexts, &d.contexts),
        rbac: rbac_name(file, e).and_then(RbacMode::from_name).unwrap_or_default(),
        config,
        values: chart_values,
        chart_version: pick(&s.chart_version, &d.chart_version).unwrap_or_else(|| "0.0.0".into()),
        repository: pick(&s.repository, &d.repository).unwrap_or_else(|| DEFAULT_REPOSITORY.into()),
        engines,
    };
    (env, engine_errors)
}

/// The environments with defaults applied, their kubeconfig paths (to read), or every error.
pub fn environments(file: &EnvironmentsFile) -> Result<Vec<Environment>, Vec<GenerateError>> {
    let (out, errors) = environments_and_errors(file);
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Every environment with defaults applied, and the errors of their fields: `generate` checks
/// the contexts of each environment too, so that one run reports every problem of the file.
pub fn environments_and_errors(file: &EnvironmentsFile) -> (Vec<Environment>, Vec<GenerateError>) {
    let mut errors = Vec::new();
    let mut out: Vec<Environment> = Vec::new();
    for e in &file.environments {
        let (env, engine_errors) = with_defaults(file, e);
        let bad = |message: String| GenerateError::Invalid { env: env.name.clone(), message };
        errors.extend(engine_errors.into_iter().map(bad));
        if out.iter().any(|o| o.name == env.name) {
            errors.push(bad("defined twice".into()));
        }
        for (what, value, max) in [
            ("environment name", &env.name, 63),
            ("release", &env.release, 53),
            ("namespace", &env.namespace, 63),
            ("chart name", &chart_name(file, &env), 63),
        ] {
            if !is_dns1123_label(value, max) {
                errors.push(bad(format!(
                    "{what} `{value}` is not a DNS-1123 label (lowercase letters, digits and `-`, at most {max})"
                )));
            }
        }
        if let Some(problem) = crate::kubeconfig::secret_name_problem(&env.secret_name) {
            errors.push(bad(format!("kubeconfigSecretName {problem}")));
        }
        if let Some(k) = env.config.get("kubernetes").filter(|k| !k.is_null() && !k.is_object()) {
            errors.push(bad(format!("config.kubernetes is {}, not a map", emit::scalar(k))));
        }
        if env.allowed_contexts.is_some() && global_config_list(&env.config).is_some() {
            errors.push(bad(format!(
                "both allowedContexts and {CONFIG_GLOBAL} are set; keep one (they would disagree silently)"
            )));
        }
        if env.kubeconfig.is_some() && env.contexts.is_some() {
            errors.push(bad("both kubeconfig and contexts are set; keep one".into()));
        }
        if let Some(name) = rbac_name(file, e).filter(|n| RbacMode::from_name(n).is_none()) {
            errors.push(bad(format!("rbac `{name}` is not one of {}", RbacMode::names())));
        }
        errors.extend(values::refused_keys(&env).into_iter().map(bad));
        out.push(env);
    }
    (out, errors)
}

/// Where an environment's context names come from: a local copy of the kubeconfig, or the
/// contexts file `kubeconfig pack --contexts-file` wrote.
#[derive(Debug, Clone)]
pub enum ContextSource {
    Kubeconfig { loaded: LoadedKubeconfig, text: Vec<u8> },
    ContextsFile { file: ContextsFile, settings_path: String },
}

impl ContextSource {
    fn names(&self) -> Vec<String> {
        match self {
            ContextSource::Kubeconfig { loaded, .. } => loaded.context_names(),
            ContextSource::ContextsFile { file, .. } => file.context_names(),
        }
    }

    fn current(&self) -> Option<String> {
        match self {
            ContextSource::Kubeconfig { loaded, .. } => loaded.current_context().map(str::to_string),
            ContextSource::ContextsFile { file, .. } => file.current_context.clone(),
        }
    }

    /// Findings that matter in the pod (exec plugins, file references, loopback servers) for
    /// the clusters and users of the `used` contexts.
    fn findings(&self, used: &[String]) -> Vec<Finding> {
        match self {
            ContextSource::ContextsFile { file, .. } => file.findings(used),
            ContextSource::Kubeconfig { loaded, text } => {
                // doctor names each finding of a context's cluster or user by the context,
                // as it writes a subject (made safe to show), so a name with control
                // characters still matches its findings.
                let subjects: Vec<String> =
                    used.iter().map(|c| doctor::finding_subject(&format!("context {c}"))).collect();
                let input = DoctorInput {
                    path: &loaded.path,
                    text,
                    allowed: None,
                    in_cluster_name: contexts::DEFAULT_IN_CLUSTER.into(),
                    in_cluster_exists: None,
                    external_database: false,
                    now: 0,
                    env: contexts::ContextEnv::default(),
                };
                doctor::doctor(&input)
                    .into_iter()
                    .filter(|f| {
                        ["exec-plugin", "auth-provider", "file-reference", "loopback-server"].contains(&f.check)
                            && subjects.contains(&f.subject)
                    })
                    .collect()
            }
        }
    }
}

/// The global allowed list as an environment's `config` holds it (messages name it so).
const CONFIG_GLOBAL: &str = "config.kubernetes.allowed_contexts";

/// `config.kubernetes.allowed_contexts`, when set.
fn global_config_list(config: &Map<String, Value>) -> Option<&Value> {
    config.get("kubernetes").and_then(|k| k.get("allowed_contexts")).filter(|v| !v.is_null())
}

/// A context error in the words of the environments file (generate has no flags for lists).
/// `source` is what the names were checked against: `kubeconfig` or `contexts file`.
fn context_message(e: ContextError, source: &str) -> String {
    match e {
        ContextError::Unknown { list, name, suggestions, available, .. } => {
            let hint = crate::messages::did_you_mean(&suggestions);
            format!(
                "{list}: context `{name}` is not in the {source}{hint}; available contexts: {}. SkyPilot would skip it; fix the name or the {source}",
                available.join(", ")
            )
        }
        ContextError::UnsetNeedsKubeconfig { in_cluster } => format!(
            "allowedContexts is unset while both a kubeconfig and the in-cluster context are available: SkyPilot would use only the kubeconfig's current-context and drop `{in_cluster}`. Set allowedContexts, or give `kubeconfig: PATH` or `contexts: FILE` (skyhelm then writes [<current-context>, {in_cluster}])"
        ),
        ContextError::NoCurrentContext => {
            format!("allowedContexts is unset and the {source} has no current-context; set allowedContexts")
        }
        ContextError::CurrentContextMissing { name } => format!(
            "allowedContexts is unset and the {source}'s current-context `{name}` names no context in it; set allowedContexts"
        ),
        other => other.to_string(),
    }
}

/// The lists an environment writes: the global one and each workspace's.
struct ContextPlan {
    /// None: leave unset.
    global: Option<Value>,
    /// Workspace name → its normalized list.
    workspaces: Vec<(String, Vec<String>)>,
    notes: Vec<String>,
    /// The kubeconfig contexts the lists use (for the kubeconfig's findings).
    used: Vec<String>,
}

fn string_list(what: &str, v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or_else(|| format!("{what} is neither a list of names nor `all`"))?;
    items
        .iter()
        .map(|i| i.as_str().map(str::to_string).ok_or_else(|| format!("{what}: `{i}` is not a string")))
        .collect()
}

/// `message` as the environment's error.
fn invalid(env: &Environment, message: String) -> Vec<GenerateError> {
    vec![GenerateError::Invalid { env: env.name.clone(), message }]
}

/// The context rules' errors as the environment's (`source`: see [`context_message`]).
fn invalid_contexts(env: &Environment, errors: Vec<ContextError>, source: &str) -> Vec<GenerateError> {
    errors
        .into_iter()
        .map(|e| GenerateError::Invalid { env: env.name.clone(), message: context_message(e, source) })
        .collect()
}

/// What an environment's context names are checked against, in messages.
fn source_kind(source: Option<&ContextSource>) -> &'static str {
    match source {
        Some(ContextSource::ContextsFile { .. }) => "contexts file",
        _ => "kubeconfig",
    }
}

/// Applies the context rules (the same module as post-render) to one environment. Only the
/// global list gets the in-cluster name appended; a workspace list is an allowlist and is never
/// widened; an explicit `[]` stays `[]`.
fn contexts_for(env: &Environment, source: Option<&ContextSource>) -> Result<ContextPlan, Vec<GenerateError>> {
    let bad = |message| invalid(env, message);
    let kind = source_kind(source);
    let many = |errors| invalid_contexts(env, errors, kind);
    let facts = ContextFacts {
        in_cluster_name: contexts::DEFAULT_IN_CLUSTER.into(),
        in_cluster_exists: env.in_cluster,
        kubeconfig_mounted: env.mount_kubeconfig,
        kubeconfig_contexts: source.map(ContextSource::names),
        current_context: source.and_then(ContextSource::current),
        allow_unknown: false,
        env: contexts::ContextEnv::default(),
    };
    let mut plan = ContextPlan { global: None, workspaces: Vec::new(), notes: Vec::new(), used: Vec::new() };
    let (label, global) = match (&env.allowed_contexts, global_config_list(&env.config)) {
        (Some(list), _) => ("allowedContexts", Some(list.clone())),
        (None, Some(Value::String(s))) if s == contexts::ALL => {
            plan.global = Some(Value::String(s.clone()));
            plan.used = facts.kubeconfig_contexts.clone().unwrap_or_default();
            (CONFIG_GLOBAL, None)
        }
        (None, Some(v)) => (CONFIG_GLOBAL, Some(string_list(CONFIG_GLOBAL, v).map_err(bad)?)),
        (None, None) => ("allowedContexts", None),
    };
    match global {
        Some(list) if list.is_empty() => {
            plan.global = Some(json!([]));
            plan.notes.push(format!("{label} is []: SkyPilot will use no Kubernetes context"));
        }
        Some(list) => {
            let p = contexts::plan_list(label, contexts::Scope::Global, &list, &facts).map_err(&many)?;
            plan.notes.extend(p.reasons.iter().map(|r| format!("{label}: {r}")));
            plan.used.extend(p.result.iter().cloned());
            plan.global = Some(json!(p.result));
        }
        None if plan.global.is_some() => {}
        None => match contexts::plan_unset(&facts) {
            Ok(Some(list)) => {
                plan.notes.push(format!("allowedContexts unset: wrote [{}] so in-cluster is kept", list.join(", ")));
                plan.used.extend(list.iter().cloned());
                plan.global = Some(json!(list));
            }
            Ok(None) => plan.used.extend(facts.current_context.iter().cloned()),
            Err(e) => return Err(bad(context_message(e, kind))),
        },
    }
    if !env.mount_kubeconfig {
        for name in plan.used.iter().filter(|n| n.as_str() != facts.in_cluster_name) {
            plan.notes.push(format!(
                "`{name}` is listed, but mountKubeconfig is false: the pod has no kubeconfig, so SkyPilot will skip it"
            ));
        }
    }
    workspace_lists(env, &facts, &mut plan, kind)?;
    Ok(plan)
}

/// The workspace lists of `config`: checked and case-corrected, never widened (no name
/// appended); what they use goes to `plan.used`.
fn workspace_lists(
    env: &Environment,
    facts: &ContextFacts,
    plan: &mut ContextPlan,
    kind: &str,
) -> Result<(), Vec<GenerateError>> {
    let Some(Value::Object(ws)) = env.config.get("workspaces") else { return Ok(()) };
    for (name, w) in ws {
        let Some(v) = w.get("kubernetes").and_then(|k| k.get("allowed_contexts")).filter(|v| !v.is_null()) else {
            continue;
        };
        let label = format!("config.workspaces.{name}.kubernetes.allowed_contexts");
        if v.as_str() == Some(contexts::ALL) {
            plan.used.extend(facts.kubeconfig_contexts.clone().unwrap_or_default());
            continue;
        }
        let list = string_list(&label, v).map_err(|m| invalid(env, m))?;
        let p = contexts::plan_list(&label, contexts::Scope::Workspace, &list, facts)
            .map_err(|e| invalid_contexts(env, e, kind))?;
        plan.notes.extend(p.reasons.iter().map(|r| format!("{label}: {r}")));
        plan.used.extend(p.result.iter().cloned());
        plan.workspaces.push((name.clone(), p.result));
    }
    Ok(())
}

/// The SkyPilot config.yaml text: the extra config with the normalized lists set.
/// Also checks that PyYAML (SkyPilot's reader) reads the text as exactly that config.
fn config_yaml(env: &Environment, plan: &ContextPlan) -> Result<String, Vec<GenerateError>> {
    let mut config = env.config.clone();
    if let Some(global) = &plan.global {
        let k = config.entry("kubernetes").or_insert_with(|| json!({}));
        if k.is_null() {
            // `kubernetes:` with nothing under it (children commented out, say) is no map yet.
            *k = json!({});
        }
        if let Value::Object(m) = k {
            m.insert("allowed_contexts".into(), global.clone());
        }
    }
    for (name, list) in &plan.workspaces {
        if let Some(Value::Object(k)) =
            config.get_mut("workspaces").and_then(|w| w.get_mut(name)).and_then(|w| w.get_mut("kubernetes"))
        {
            k.insert("allowed_contexts".into(), json!(list));
        }
    }
    if config.is_empty() {
        return Ok("{}\n".into());
    }
    let mut s = String::new();
    emit::block_map(&config, 0, Layout { seq_offset: 0, nl: "\n" }, &mut s);
    let read = crate::yaml::Tree::parse(&s, &crate::yaml::Limits::default())
        .ok()
        .and_then(|t| t.root().map(|r| t.to_json_as(r, crate::yaml::Reader::PyYaml)));
    match read {
        Some(v) if pyyaml_config::same(&v, &Value::Object(config.clone())) => Ok(s),
        _ => Err(invalid(
            env,
            "config: a value SkyPilot's YAML reader (PyYAML) would not read back as written (a number out of range?); write it as a quoted string".into(),
        )),
    }
}

/// Pairs of environments that deploy the same release to the same cluster under `format`
/// (the chart's cluster-scoped objects are named after the release or values.fullnameOverride): Argo CD, the same
/// destination; Flux, the same `flux.cluster` (unset: one cluster); helmfile, a helmfile
/// environment in common (unset: every one). The wrapper charts say nothing of clusters.
pub fn collisions(envs: &[Environment], format: crate::model::Format) -> Vec<GenerateError> {
    use crate::model::Format;
    let mut out = Vec::new();
    for (i, a) in envs.iter().enumerate() {
        if format == Format::ArgoCd && values::renders_system_namespace(a) {
            let cluster = a.engines.argocd_destination.cluster();
            if let Some(b) = envs[i + 1..].iter().find(|b| {
                objects_name(b) != objects_name(a)
                    && b.engines.argocd_destination.cluster() == cluster
                    && values::renders_system_namespace(b)
            }) {
                out.push(GenerateError::SystemNamespace {
                    first: a.name.clone(),
                    second: b.name.clone(),
                    target: a.engines.argocd_destination.describe(),
                });
            }
        }
        for b in envs[i + 1..].iter().filter(|b| objects_name(b) == objects_name(a)) {
            let (ea, eb) = (&a.engines, &b.engines);
            let shared = match format {
                Format::Chart => None,
                Format::ArgoCd => (ea.argocd_destination.cluster() == eb.argocd_destination.cluster())
                    .then(|| (ea.argocd_destination.describe(), "give it another argocd.destination")),
                Format::Flux => (ea.flux_cluster == eb.flux_cluster).then(|| {
                    let c = ea
                        .flux_cluster
                        .as_deref()
                        .map_or("no flux.cluster set".into(), |c| format!("flux.cluster {c}"));
                    (c, "set another flux.cluster if Flux applies it in another cluster")
                }),
                Format::Helmfile => {
                    let (ha, hb) = (&ea.helmfile_environments, &eb.helmfile_environments);
                    let common = if ha.is_empty() {
                        hb.first().cloned().unwrap_or_else(|| "default".into())
                    } else {
                        ha.iter().find(|e| hb.is_empty() || hb.contains(e)).cloned().unwrap_or_default()
                    };
                    (!common.is_empty()).then(|| {
                        (format!("helmfile environment {common}"), "limit them to different helmfile.environments")
                    })
                }
            };
            if let Some((target, fix)) = shared {
                let name = objects_name(a);
                let what = if a.release == name && b.release == name {
                    format!("deploy release `{name}`")
                } else {
                    format!(
                        "deploy chart objects named `{name}` (releases `{}` and `{}`, values.fullnameOverride)",
                        a.release, b.release
                    )
                };
                out.push(GenerateError::Collision { first: a.name.clone(), second: b.name.clone(), what, target, fix });
            }
        }
    }
    out
}

/// The name the upstream chart gives its objects (`skypilot.fullname`): the values'
/// `fullnameOverride` when it is a non-empty string, else the release, cut to 63 characters
/// and one trailing `-`, as the chart's helper does.
fn objects_name(env: &Environment) -> String {
    let base = match env.values.get("fullnameOverride") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => env.release.as_str(),
    };
    let cut: String = base.chars().take(63).collect();
    cut.strip_suffix('-').map_or_else(|| cut.clone(), str::to_string)
}

/// The folder (and chart name) of an environment's chart: `<name>-<environment>`.
pub fn chart_name(file: &EnvironmentsFile, env: &Environment) -> String {
    format!("{}-{}", file.name, env.name)
}

/// Renders every environment's chart. `kubeconfigs` holds each environment's kubeconfig (by
/// environment name) when it names one; `templates` maps template paths to sources.
///
/// The steps: compile the templates (`template_engine`); render each environment's chart
/// (`Generator::environment`), collecting every environment's errors; for the GitOps formats,
/// add the folder of objects the environments share (`Generator::shared`).
pub fn generate(
    file: &EnvironmentsFile,
    source: &str,
    kubeconfigs: &BTreeMap<String, Result<ContextSource, String>>,
    templates: &[(String, String)],
    format: crate::model::Format,
) -> Result<Vec<GeneratedChart>, Vec<GenerateError>> {
    let (envs, mut errors) = environments_and_errors(file);
    let mut generator = Generator {
        source,
        name: &file.name,
        templates,
        tera: template_engine(templates)?,
        format,
        repositories: Vec::new(),
        releases: Vec::new(),
        helmfile_environments: Vec::new(),
    };
    let mut charts = Vec::new();
    for env in &envs {
        match generator.environment(file, env, kubeconfigs.get(&env.name)) {
            Ok(chart) => charts.push(chart),
            Err(e) => errors.extend(e),
        }
    }
    errors.extend(collisions(&envs, format));
    if !errors.is_empty() {
        return Err(errors);
    }
    charts.extend(generator.shared());
    Ok(charts)
}

/// A tera engine with skyhelm's filters and every template compiled; all templates' errors.
fn template_engine(templates: &[(String, String)]) -> Result<tera::Tera, Vec<GenerateError>> {
    let mut tera = tera::Tera::default();
    tera.register_filter("yaml", yaml_filter);
    tera.register_filter("sh", sh_filter);
    tera.register_filter("gotpl", gotpl_filter);
    let mut errors = Vec::new();
    for (name, text) in templates {
        if let Err(e) = tera.add_raw_template(name, text) {
            errors.push(GenerateError::Template { file: name.clone(), message: tera_message(&e) });
        }
    }
    if errors.is_empty() { Ok(tera) } else { Err(errors) }
}

/// The environment with the contexts file's Secret: the Secret the chart mounts and
/// post-render checks must be the one whose contexts the file records. A `kubeconfigSecretName`
/// that names another is an error naming both.
fn contexts_file_secret(env: &Environment, file: &ContextsFile, path: &str) -> Result<Environment, Vec<GenerateError>> {
    let shown = |n: &str| emit::scalar(&Value::String(n.to_string()));
    if env.secret_name_set && env.secret_name != file.secret_name {
        return Err(invalid(
            env,
            format!(
                "kubeconfigSecretName is {}, but the contexts file {path} records the contexts of Secret {}: the Secret mounted must be the one whose contexts were checked; drop kubeconfigSecretName (the contexts file's is used) or pack that Secret again with `skyhelm kubeconfig pack --secret-name {} --contexts-file …`",
                shown(&env.secret_name),
                shown(&file.secret_name),
                shown(&env.secret_name),
            ),
        ));
    }
    if let Some(problem) = crate::kubeconfig::secret_name_problem(&file.secret_name) {
        return Err(invalid(env, format!("the contexts file {path}: secretName {problem}")));
    }
    Ok(Environment { secret_name: file.secret_name.clone(), ..env.clone() })
}

/// What every environment's chart is rendered with, and what the GitOps formats collect
/// across environments.
struct Generator<'a> {
    source: &'a str,
    /// The environments file's `name:` (recorded in each folder's list of generated files).
    name: &'a str,
    templates: &'a [(String, String)],
    tera: tera::Tera,
    format: crate::model::Format,
    /// The repositories (name, URL) the GitOps objects fetch the upstream chart from, named in
    /// the order the environments first use them.
    repositories: Vec<(String, String)>,
    /// helmfile's releases, one per environment.
    releases: Vec<gitops::HelmfileRelease>,
    /// Each release's chart name and the helmfile environments it is limited to.
    helmfile_environments: Vec<(String, Vec<String>)>,
}

impl Generator<'_> {
    /// One environment's chart (folder [`chart_name`]): its allowed lists checked
    /// against its kubeconfig, the templates rendered, and for a GitOps format its object.
    fn environment(
        &mut self,
        file: &EnvironmentsFile,
        env: &Environment,
        kubeconfig: Option<&Result<ContextSource, String>>,
    ) -> Result<GeneratedChart, Vec<GenerateError>> {
        use crate::model::Format;
        let format_name = self.format.name();
        // Every problem of the environment at once: the repository's and the Secret's with
        // the contexts' (only a kubeconfig that cannot be read stops the checks).
        let mut problems = Vec::new();
        if self.format != Format::Chart && !gitops::fetchable(&env.repository) {
            problems.extend(invalid(
                env,
                format!(
                    "repository {} is not one {format_name} can fetch charts from (https://, http:// or oci://)",
                    emit::scalar(&Value::String(env.repository.clone()))
                ),
            ));
        }
        let kubeconfig = match kubeconfig {
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                problems.extend(invalid(env, e.clone()));
                return Err(problems);
            }
            None => None,
        };
        let with_secret;
        let env = match kubeconfig {
            Some(ContextSource::ContextsFile { file: contexts, settings_path }) => {
                match contexts_file_secret(env, contexts, settings_path) {
                    Ok(e) => with_secret = e,
                    Err(e) => {
                        problems.extend(e);
                        with_secret = env.clone();
                    }
                }
                &with_secret
            }
            _ => env,
        };
        let plan = match contexts_for(env, kubeconfig) {
            Ok(plan) if problems.is_empty() => plan,
            Ok(_) => return Err(problems),
            Err(e) => {
                problems.extend(e);
                return Err(problems);
            }
        };
        let chart_name = chart_name(file, env);
        let mut kube_contexts: Vec<String> = Vec::new();
        for c in &plan.used {
            if c != contexts::DEFAULT_IN_CLUSTER && !kube_contexts.contains(c) {
                kube_contexts.push(c.clone());
            }
        }
        let warnings = kubeconfig
            .map(|k| k.findings(&kube_contexts))
            .unwrap_or_default()
            .into_iter()
            .map(|f| format!("environment `{}`: {}: {}: {}", env.name, f.subject, f.check, f.message))
            .collect();
        let config_text = config_yaml(env, &plan)?;
        let ctx = self.template_context(env, &chart_name, &plan, &kube_contexts, kubeconfig, &config_text);
        let mut notes = plan.notes;
        let chart_values = match self.format {
            Format::Chart => Value::Null,
            _ => {
                let checksum = match kubeconfig {
                    Some(ContextSource::ContextsFile { file, .. }) => Some(file.config_sha256.as_str()),
                    _ => None,
                };
                notes.extend(values::add_note(env));
                values::gitops_values(env, gitops::values(env, &config_text), checksum, format_name)
                    .map_err(|m| invalid(env, m))?
            }
        };
        let mut files = self.gitops_files(env, &chart_name, chart_values);
        let mut errors = Vec::new();
        let wanted = |name: &str| self.format == Format::Chart || name == "skyhelm.yaml.tera";
        for (name, _) in self.templates.iter().filter(|(n, _)| wanted(n)) {
            match self.tera.render(name, &ctx) {
                Ok(text) => {
                    files.insert(name.trim_end_matches(".tera").to_string(), text);
                }
                Err(e) => errors.push(GenerateError::Template { file: name.clone(), message: tera_message(&e) }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        files.insert(owned::OWNED_FILE.to_string(), owned::render(self.source, self.name, &files));
        Ok(GeneratedChart {
            dir: chart_name,
            files,
            notes: notes.into_iter().map(|n| format!("{}: {n}", env.name)).collect(),
            warnings,
        })
    }

    /// The variables the templates see for one environment.
    fn template_context(
        &self,
        env: &Environment,
        chart_name: &str,
        plan: &ContextPlan,
        kube_contexts: &[String],
        kubeconfig: Option<&ContextSource>,
        config_text: &str,
    ) -> tera::Context {
        let allowed: Option<Vec<String>> =
            plan.global.as_ref().and_then(|g| serde_json::from_value::<Vec<String>>(g.clone()).ok());
        let contexts_file = match kubeconfig {
            Some(ContextSource::ContextsFile { settings_path, .. }) => Some(settings_path.clone()),
            _ => None,
        };
        let mut ctx = tera::Context::new();
        ctx.insert("env", env);
        ctx.insert("source", self.source);
        ctx.insert("chart_name", chart_name);
        ctx.insert("description", &format!("SkyPilot API server, environment {} (generated by skyhelm)", env.name));
        ctx.insert("allowed_contexts", &allowed.clone().unwrap_or_default());
        ctx.insert("allowed_contexts_set", &allowed.is_some());
        // `all` (config.kubernetes.allowed_contexts: all) is set, but not a list of names.
        ctx.insert("allowed_contexts_all", &(plan.global.as_ref().and_then(Value::as_str) == Some(contexts::ALL)));
        ctx.insert("kube_contexts", kube_contexts);
        ctx.insert("contexts_file", &contexts_file);
        ctx.insert("config_yaml", config_text);
        ctx.insert("format", self.format.name());
        // The chart keeps its own RBAC; skyhelm's mode (`rbac` in skyhelm.yaml) works on top of it.
        ctx.insert("rbac_create", &values::chart_rbac_create(env));
        // The admin's `values:`, as block text where the values.yaml template writes each part.
        let (other, rbac, api_service) = values::chart_parts(env);
        ctx.insert("values_other_yaml", &other);
        ctx.insert("values_rbac_yaml", &rbac);
        ctx.insert("values_api_service_yaml", &api_service);
        ctx
    }

    /// For a GitOps format, the environment's object (Flux's HelmRelease, Argo CD's
    /// Application) as a file of its folder; helmfile's release is kept for `helmfile.yaml`.
    fn gitops_files(&mut self, env: &Environment, chart_name: &str, values: Value) -> BTreeMap<String, String> {
        use crate::model::Format;
        let mut files = BTreeMap::new();
        if self.format == Format::Chart {
            return files;
        }
        let format_name = self.format.name();
        let source_label = format!("{} (environment {})", self.source, env.name);
        let mut add = |name: String, v: &Value| {
            files.insert(name, gitops::document(&source_label, format_name, v));
        };
        let deploy = gitops::DEPLOY_DIR;
        match self.format {
            Format::Flux => {
                // The environment's own HelmRepository (named after it): two environments'
                // folders applied to one cluster never own the same object.
                let repository = format!("helmrepository-{chart_name}.yaml");
                let release = format!("helmrelease-{chart_name}.yaml");
                let ns = &env.engines.flux_namespace;
                add(format!("{deploy}/{repository}"), &gitops::helm_repository(chart_name, ns, &env.repository));
                add(format!("{deploy}/{release}"), &gitops::helm_release(chart_name, chart_name, env, values));
                add(format!("{deploy}/kustomization.yaml"), &gitops::kustomization(&[repository, release]));
            }
            Format::ArgoCd => {
                add(format!("{deploy}/application-{chart_name}.yaml"), &gitops::application(chart_name, env, values));
                add("cmp-plugin.yaml".into(), &gitops::cmp_plugin(chart_name, env));
            }
            Format::Helmfile => {
                let repo_name = self.repository_name(&env.repository);
                self.releases.push(gitops::helmfile_release(chart_name, &repo_name, env, values));
                self.helmfile_environments.push((chart_name.to_string(), env.engines.helmfile_environments.clone()));
            }
            Format::Chart => {}
        }
        files
    }

    /// The name of the repository at `url`: `REPOSITORY_NAME` for the first one, then
    /// `REPOSITORY_NAME-2`, `-3`, ….
    fn repository_name(&mut self, url: &str) -> String {
        match self.repositories.iter().position(|(_, u)| u == url) {
            Some(i) => self.repositories[i].0.clone(),
            None => {
                let n = match self.repositories.len() {
                    0 => gitops::REPOSITORY_NAME.to_string(),
                    k => format!("{}-{}", gitops::REPOSITORY_NAME, k + 1),
                };
                self.repositories.push((n.clone(), url.to_string()));
                n
            }
        }
    }

    /// For helmfile, the folder (`dir` empty: the output folder itself) of what the
    /// environments share: `helmfile.yaml`. (Flux and Argo CD folders share nothing.)
    fn shared(self) -> Option<GeneratedChart> {
        if self.format != crate::model::Format::Helmfile {
            return None;
        }
        let (source, format_name) = (self.source, self.format.name());
        let helmfile = gitops::helmfile(&self.repositories, self.releases, &self.helmfile_environments);
        let mut files =
            BTreeMap::from([("helmfile.yaml".to_string(), gitops::document(source, format_name, &helmfile))]);
        files.insert(owned::OWNED_FILE.to_string(), owned::render(source, self.name, &files));
        Some(GeneratedChart { dir: String::new(), files, notes: Vec::new(), warnings: Vec::new() })
    }
}

/// `{{ v | yaml }}`: the one way templates write a value into YAML ([`emit::scalar`]: strings
/// a YAML 1.1 reader could take for anything else, such as `yes`, `0123` or `1e3`, are
/// double-quoted).
fn yaml_filter(v: &Value, _: &std::collections::HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(emit::scalar(v)))
}

/// `{{ v | sh }}`: a value as one shell word (single-quoted unless it is plainly safe).
fn sh_filter(v: &Value, _: &std::collections::HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(shell_quote(&filter_text(v))))
}

/// `{{ v | gotpl }}`: text in a file Helm renders as a Go template (templates/NOTES.txt, which
/// Helm prints on a terminal), with `{{` written so that Helm prints it instead of running it,
/// and control characters (escape sequences, line breaks) and invisible direction marks
/// written as `\u{..}` (the characters `messages::sanitize` hides).
fn gotpl_filter(v: &Value, _: &std::collections::HashMap<String, Value>) -> tera::Result<Value> {
    let mut out = String::new();
    for c in filter_text(v).chars() {
        if crate::messages::hides_text(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Ok(Value::String(out.replace("{{", "{{ \"{{\" }}")))
}

/// A filter's input as text: a string as it is, anything else as JSON.
fn filter_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b'@' | b'=' | b'+' | b',')
        });
    if safe { s.to_string() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

/// A tera error with its causes (which carry the line and column).
fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields serde accepts for `T` (from its unknown-field message: serde is the one
    /// place that knows them).
    fn serde_fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let Err(e) = serde_json::from_value::<T>(json!({"\u{1}": 0})) else { panic!("accepted an unknown field") };
        let msg = e.to_string();
        let list = msg
            .split("expected one of ")
            .nth(1)
            .or_else(|| msg.split("expected ").nth(1))
            .expect("serde lists the fields");
        list.split(", ").map(|f| f.trim_matches(|c: char| c == '`' || c.is_whitespace()).to_string()).collect()
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    }

    /// schemas/environments.schema.json (for editors) is checked against the types that read
    /// the file: the same fields, each property's type accepted and a wrong type refused, the
    /// RBAC modes, the defaults.
    #[test]
    fn environments_schema_matches_the_types() {
        let schema: Value = serde_json::from_str(include_str!("../../schemas/environments.schema.json")).unwrap();
        let mut top = serde_fields::<EnvironmentsFile>();
        top.sort();
        assert_eq!(keys(&schema["properties"]), top);
        assert_eq!(schema["required"], json!(["environments"]));
        assert!(serde_json::from_value::<EnvironmentsFile>(json!({})).is_err());
        assert_eq!(schema["properties"]["name"]["default"], default_name());

        let props = &schema["definitions"]["settings"]["properties"];
        let mut fields = serde_fields::<EnvSettings>();
        fields.push("name".into()); // EnvironmentEntry's own field, next to the flattened settings
        fields.sort();
        assert_eq!(keys(props), fields);
        for (name, p) in props.as_object().unwrap().iter().filter(|(n, _)| *n != "name") {
            let (good, bad) = match (p["type"].as_str(), p.get("enum")) {
                (Some("string"), _) => (json!("x"), json!(1)),
                (Some("boolean"), _) => (json!(true), json!("x")),
                (Some("array"), _) => {
                    assert_eq!(p["items"]["type"], "string", "{name}");
                    (json!(["a"]), json!("a"))
                }
                // The engine settings: their fields are checked below.
                (Some("object"), _) if p.get("properties").is_some() => (json!({}), json!("x")),
                (Some("object"), _) => (json!({"a": 1}), json!("x")),
                (None, Some(values)) => {
                    let values: Vec<&str> = values.as_array().unwrap().iter().filter_map(Value::as_str).collect();
                    assert_eq!(values.join(", "), RbacMode::names(), "{name}");
                    (json!(values[0]), json!(1))
                }
                other => panic!("{name}: no check for {other:?}"),
            };
            assert!(serde_json::from_value::<EnvSettings>(json!({ name.as_str(): good })).is_ok(), "{name}: {good}");
            assert!(serde_json::from_value::<EnvSettings>(json!({ name.as_str(): bad })).is_err(), "{name}: {bad}");
        }
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(keys(&props["argocd"]["properties"]), sorted(serde_fields::<gitops::ArgoCdSettings>()));
        let dest = &props["argocd"]["properties"]["destination"]["properties"];
        assert_eq!(keys(dest), sorted(serde_fields::<gitops::DestinationSettings>()));
        assert_eq!(keys(&props["flux"]["properties"]), sorted(serde_fields::<gitops::FluxSettings>()));
        let from = &props["flux"]["properties"]["valuesFrom"]["items"]["properties"];
        assert_eq!(keys(from), sorted(serde_fields::<gitops::ValuesReference>()));
        assert_eq!(keys(&props["helmfile"]["properties"]), sorted(serde_fields::<gitops::HelmfileSettings>()));
        let flux = &props["flux"]["properties"];
        assert_eq!(flux["interval"]["default"], gitops::FLUX_INTERVAL);
        assert_eq!(flux["namespace"]["default"], gitops::FLUX_NAMESPACE);
        assert_eq!(props["argocd"]["properties"]["project"]["default"], gitops::ARGOCD_PROJECT);
        let secret = props["kubeconfigSecretName"]["description"].as_str().unwrap();
        assert!(secret.contains(&format!("(default {})", crate::model::DEFAULT_SECRET_NAME)), "{secret}");
    }

    /// Every value a built-in template writes into a YAML file goes through `| yaml` (the one
    /// YAML 1.1-safe quoting function), except the config text and the admin's `values:`, which
    /// `emit` wrote.
    #[test]
    fn yaml_templates_quote_every_value_through_one_function() {
        for (name, text) in EMBEDDED.iter().filter(|(n, _)| n.ends_with(".yaml.tera")) {
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                let mut rest = line;
                while let Some(i) = rest.find("{{") {
                    let end = rest[i..].find("}}").map_or(rest.len(), |e| i + e + 2);
                    let expr = &rest[i..end];
                    assert!(
                        expr.ends_with("| yaml }}")
                            || expr.starts_with("{{ config_yaml | indent(")
                            || ["{{ values_other_yaml }}", "{{ values_rbac_yaml }}", "{{ values_api_service_yaml }}"]
                                .contains(&expr),
                        "{name}: `{expr}` is not written through `| yaml`"
                    );
                    rest = &rest[end..];
                }
            }
        }
        let q = |s: &str| yaml_filter(&Value::String(s.into()), &Default::default()).unwrap();
        for s in ["yes", "0123", "1e3", "on", "~", "null", "a: b"] {
            assert_eq!(q(s), Value::String(serde_json::to_string(s).unwrap()), "{s}");
        }
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("prod-eu"), "prod-eu");
    }
}
