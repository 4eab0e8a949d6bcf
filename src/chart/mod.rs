//! `skyhelm generate`: one ready chart per environment, rendered from tera templates, validated
//! with the same context rules as post-render. Pure: the caller reads and writes files.

pub mod owned;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::contexts::{self, ContextFacts};
use crate::kubeconfig::LoadedKubeconfig;
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
    pub rbac: Option<String>,
    /// Extra SkyPilot config, merged under the generated `kubernetes.allowed_contexts`.
    pub config: Option<Map<String, Value>>,
    pub chart_version: Option<String>,
    pub repository: Option<String>,
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
    pub in_cluster: bool,
    pub mount_kubeconfig: bool,
    pub allowed_contexts: Vec<String>,
    pub kubeconfig: Option<String>,
    pub rbac: String,
    pub config: Map<String, Value>,
    pub chart_version: String,
    pub repository: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("environments file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment `{env}`: {message}")]
    Invalid { env: String, message: String },
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
}

/// A generated chart: its folder name and files (relative paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedChart {
    pub dir: String,
    pub files: BTreeMap<String, String>,
    /// Corrections made to the lists (for the user).
    pub notes: Vec<String>,
}

pub fn parse(path: &str, text: &str) -> Result<EnvironmentsFile, GenerateError> {
    serde_saphyr::from_str(text).map_err(|e| GenerateError::Parse {
        path: path.into(),
        message: e.to_string().lines().next().unwrap_or_default().to_string(),
    })
}

/// DNS-1123 label: lowercase alphanumerics and `-`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn resolve(file: &EnvironmentsFile, e: &EnvironmentEntry) -> Environment {
    let d = &file.defaults;
    let s = &e.settings;
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    let mut config = d.config.clone().unwrap_or_default();
    config.extend(s.config.clone().unwrap_or_default());
    Environment {
        name: e.name.clone(),
        release: pick(&s.release, &d.release).unwrap_or_else(|| file.name.clone()),
        namespace: pick(&s.namespace, &d.namespace).unwrap_or_else(|| format!("{}-{}", file.name, e.name)),
        image: pick(&s.image, &d.image).unwrap_or_else(|| DEFAULT_IMAGE.into()),
        secret_name: pick(&s.kubeconfig_secret_name, &d.kubeconfig_secret_name)
            .unwrap_or_else(|| "kube-credentials".into()),
        in_cluster: s.in_cluster.or(d.in_cluster).unwrap_or(true),
        mount_kubeconfig: s.mount_kubeconfig.or(d.mount_kubeconfig).unwrap_or(true),
        allowed_contexts: s.allowed_contexts.clone().or_else(|| d.allowed_contexts.clone()).unwrap_or_default(),
        kubeconfig: pick(&s.kubeconfig, &d.kubeconfig),
        rbac: pick(&s.rbac, &d.rbac).unwrap_or_else(|| "add".into()),
        config,
        chart_version: pick(&s.chart_version, &d.chart_version).unwrap_or_else(|| "0.0.0".into()),
        repository: pick(&s.repository, &d.repository).unwrap_or_else(|| DEFAULT_REPOSITORY.into()),
    }
}

/// The environments with defaults applied, their kubeconfig paths (to read), or every error.
pub fn environments(file: &EnvironmentsFile) -> Result<Vec<Environment>, Vec<GenerateError>> {
    let mut errors = Vec::new();
    let mut out: Vec<Environment> = Vec::new();
    for e in &file.environments {
        let env = resolve(file, e);
        let bad = |message: String| GenerateError::Invalid { env: env.name.clone(), message };
        if out.iter().any(|o| o.name == env.name) {
            errors.push(bad("defined twice".into()));
        }
        for (what, value, max) in [
            ("environment name", &env.name, 63),
            ("release", &env.release, 53),
            ("namespace", &env.namespace, 63),
            ("chart name", &format!("{}-{}", file.name, env.name), 63),
        ] {
            if !is_dns1123_label(value, max) {
                errors.push(bad(format!(
                    "{what} `{value}` is not a DNS-1123 label (lowercase letters, digits and `-`, at most {max})"
                )));
            }
        }
        if !is_dns1123_label(&env.secret_name, 253) && !env.secret_name.contains('.') {
            errors.push(bad(format!("kubeconfigSecretName `{}` is not a valid Secret name", env.secret_name)));
        }
        if !["add", "audit", "tighten", "off"].contains(&env.rbac.as_str()) {
            errors.push(bad(format!("rbac `{}` is not one of add, audit, tighten, off", env.rbac)));
        }
        out.push(env);
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Applies the context rules to one environment; returns the list to write and notes.
fn contexts_for(
    env: &Environment,
    kubeconfig: Option<&LoadedKubeconfig>,
) -> Result<(Vec<String>, Vec<String>), Vec<GenerateError>> {
    let bad = |message: String| GenerateError::Invalid { env: env.name.clone(), message };
    let facts = ContextFacts {
        in_cluster_name: contexts::DEFAULT_IN_CLUSTER.into(),
        in_cluster_exists: env.in_cluster,
        kubeconfig_mounted: env.mount_kubeconfig,
        kubeconfig_contexts: kubeconfig.map(LoadedKubeconfig::context_names),
        current_context: kubeconfig.and_then(|k| k.current_context().map(str::to_string)),
        allow_unknown: false,
    };
    if env.allowed_contexts.is_empty() {
        return match contexts::plan_unset(&facts) {
            Ok(Some(list)) => Ok((
                list.clone(),
                vec![format!("allowedContexts unset: wrote [{}] so in-cluster is kept", list.join(", "))],
            )),
            Ok(None) => Ok((Vec::new(), Vec::new())),
            Err(e) => {
                Err(vec![bad(format!("{e} (set allowedContexts, or kubeconfig: PATH in the environments file)"))])
            }
        };
    }
    match contexts::plan_list("allowedContexts", &env.allowed_contexts, &facts) {
        Ok(plan) => Ok((plan.result, plan.reasons)),
        Err(e) => Err(vec![bad(e.to_string())]),
    }
}

/// The SkyPilot config.yaml text: the extra config with the allowed list set.
fn config_yaml(env: &Environment, allowed: &[String]) -> String {
    let mut config = env.config.clone();
    if !allowed.is_empty() {
        let k = config.entry("kubernetes").or_insert_with(|| json!({}));
        if let Value::Object(m) = k {
            m.insert("allowed_contexts".into(), json!(allowed));
        }
    }
    if config.is_empty() {
        return "{}\n".into();
    }
    let mut s = String::new();
    emit::block_map(&config, 0, Layout { seq_offset: 0, nl: "\n" }, &mut s);
    s
}

/// Renders every environment's chart. `kubeconfigs` holds each environment's kubeconfig (by
/// environment name) when it names one; `templates` maps template paths to sources.
pub fn generate(
    file: &EnvironmentsFile,
    source: &str,
    kubeconfigs: &BTreeMap<String, Result<LoadedKubeconfig, String>>,
    templates: &[(String, String)],
) -> Result<Vec<GeneratedChart>, Vec<GenerateError>> {
    let envs = environments(file)?;
    let mut tera = tera::Tera::default();
    let mut errors = Vec::new();
    for (name, text) in templates {
        if let Err(e) = tera.add_raw_template(name, text) {
            errors.push(GenerateError::Template { file: name.clone(), message: tera_message(&e) });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut charts = Vec::new();
    for env in &envs {
        let kubeconfig = match kubeconfigs.get(&env.name) {
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                errors.push(GenerateError::Invalid { env: env.name.clone(), message: e.clone() });
                continue;
            }
            None => None,
        };
        let (allowed, notes) = match contexts_for(env, kubeconfig) {
            Ok(x) => x,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let chart_name = format!("{}-{}", file.name, env.name);
        let kube_contexts: Vec<&String> =
            allowed.iter().filter(|c| c.as_str() != contexts::DEFAULT_IN_CLUSTER).collect();
        let mut ctx = tera::Context::new();
        ctx.insert("env", env);
        ctx.insert("source", source);
        ctx.insert("chart_name", &chart_name);
        ctx.insert("description", &format!("SkyPilot API server, environment {} (generated by skyhelm)", env.name));
        ctx.insert("allowed_contexts", &allowed);
        ctx.insert("kube_contexts", &kube_contexts);
        ctx.insert("config_yaml", &config_yaml(env, &allowed));
        // The chart keeps its own RBAC; skyhelm's mode (`rbac` in skyhelm.yaml) works on top of it.
        ctx.insert("rbac_create", &true);
        let mut files = BTreeMap::new();
        for (name, _) in templates {
            match tera.render(name, &ctx) {
                Ok(text) => {
                    files.insert(name.trim_end_matches(".tera").to_string(), text);
                }
                Err(e) => errors.push(GenerateError::Template { file: name.clone(), message: tera_message(&e) }),
            }
        }
        files.insert(owned::OWNED_FILE.to_string(), owned::render(source, &files));
        charts.push(GeneratedChart {
            dir: chart_name,
            files,
            notes: notes.into_iter().map(|n| format!("{}: {n}", env.name)).collect(),
        });
    }
    if errors.is_empty() { Ok(charts) } else { Err(errors) }
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
