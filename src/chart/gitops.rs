//! `generate --format flux|argocd|helmfile`: the upstream chart with values that are already
//! right (what the wrapper chart's values say), for engines that run no post-renderer. Typed
//! structs give the objects their shape; `emit` writes them (one YAML 1.1-safe quoting).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Environment;
use crate::yaml::emit::{self, Layout};

pub const UPSTREAM_CHART: &str = "skypilot";
pub const REPOSITORY_NAME: &str = "skypilot";
pub const FLUX_NAMESPACE: &str = "flux-system";
pub const ARGOCD_NAMESPACE: &str = "argocd";
pub const ARGOCD_PROJECT: &str = "default";
/// Argo CD's own cluster, by server and by the name Argo CD gives it.
pub const ARGOCD_IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
pub const ARGOCD_IN_CLUSTER_NAME: &str = "in-cluster";
pub const FLUX_INTERVAL: &str = "10m";
/// The folder of an environment's output that an engine applies: Kubernetes objects only.
pub const DEPLOY_DIR: &str = "deploy";

/// `argocd:` in the environments file (an environment's own fields win over the defaults').
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdSettings {
    pub project: Option<String>,
    pub destination: Option<DestinationSettings>,
    /// The Application's `spec.syncPolicy`, as it is (replaces the default whole).
    pub sync_policy: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSettings {
    pub server: Option<String>,
    pub name: Option<String>,
    /// Must be the environment's namespace (set `namespace` to change it).
    pub namespace: Option<String>,
}

/// `flux:` in the environments file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxSettings {
    /// The HelmRelease's `spec.interval` (a duration: `10m`, `1h30m`).
    pub interval: Option<String>,
    /// Where the HelmRelease and its HelmRepository live (not where the chart installs).
    pub namespace: Option<String>,
    /// The HelmRelease's `spec.valuesFrom` (merged under `spec.values`, which Flux applies last).
    pub values_from: Option<Vec<ValuesReference>>,
    /// The cluster whose Flux applies this environment's deploy folder: environments with the
    /// same `cluster` (or none) share one (for the collision check only).
    pub cluster: Option<String>,
}

/// One item of a HelmRelease's `spec.valuesFrom`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValuesReference {
    pub kind: ValuesKind,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum ValuesKind {
    ConfigMap,
    Secret,
}

/// `helmfile:` in the environments file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmfileSettings {
    /// The helmfile environments (`helmfile -e NAME`) that install this release; unset: all.
    pub environments: Option<Vec<String>>,
}

/// Where an Argo CD Application deploys: a server URL or a cluster name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Destination {
    Server(String),
    Name(String),
}

impl Destination {
    /// The same cluster under one spelling (Argo CD names its own cluster `in-cluster`).
    pub fn cluster(&self) -> &str {
        match self {
            Destination::Name(n) if n == ARGOCD_IN_CLUSTER_NAME => ARGOCD_IN_CLUSTER_SERVER,
            Destination::Server(s) | Destination::Name(s) => s,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Destination::Server(s) => format!("Argo CD destination server {s}"),
            Destination::Name(n) => format!("Argo CD destination name {n}"),
        }
    }
}

/// An environment's engine settings with the defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct EngineSettings {
    pub argocd_project: String,
    pub argocd_destination: Destination,
    pub argocd_sync_policy: Value,
    pub flux_interval: String,
    pub flux_namespace: String,
    pub flux_values_from: Vec<ValuesReference>,
    pub flux_cluster: Option<String>,
    pub helmfile_environments: Vec<String>,
}

impl EngineSettings {
    /// `env`'s settings over `defaults`', then skyhelm's, and what is wrong with them.
    pub fn resolve(
        env: (Option<&ArgoCdSettings>, Option<&FluxSettings>, Option<&HelmfileSettings>),
        defaults: (Option<&ArgoCdSettings>, Option<&FluxSettings>, Option<&HelmfileSettings>),
        namespace: &str,
    ) -> (EngineSettings, Vec<String>) {
        let mut errors = Vec::new();
        let (ea, ef, eh) = env;
        let (da, df, dh) = defaults;
        let (ed, dd) = (ea.and_then(|a| a.destination.as_ref()), da.and_then(|a| a.destination.as_ref()));
        // server or name: the environment's pair if it sets either, else the defaults'.
        let has_target = |d: &&DestinationSettings| d.server.is_some() || d.name.is_some();
        let target = ed.filter(has_target).or_else(|| dd.filter(has_target));
        let destination = match target.map(|d| (d.server.as_ref(), d.name.as_ref())) {
            Some((Some(_), Some(_))) => {
                errors.push("argocd.destination: set server or name, not both".to_string());
                Destination::Server(ARGOCD_IN_CLUSTER_SERVER.into())
            }
            Some((Some(s), None)) => Destination::Server(s.clone()),
            Some((None, Some(n))) => Destination::Name(n.clone()),
            _ => Destination::Server(ARGOCD_IN_CLUSTER_SERVER.into()),
        };
        if let Some(ns) = ed.and_then(|d| d.namespace.as_ref()).or_else(|| dd.and_then(|d| d.namespace.as_ref()))
            && ns != namespace
        {
            errors.push(format!(
                "argocd.destination.namespace `{ns}` is not the environment's namespace `{namespace}`; set `namespace: {ns}` instead (skyhelm.yaml and the values use it too)"
            ));
        }
        let project = ea
            .and_then(|a| a.project.clone())
            .or_else(|| da.and_then(|a| a.project.clone()))
            .unwrap_or_else(|| ARGOCD_PROJECT.into());
        if project.is_empty() {
            errors.push("argocd.project is empty".into());
        }
        let sync_policy = ea
            .and_then(|a| a.sync_policy.clone())
            .or_else(|| da.and_then(|a| a.sync_policy.clone()))
            .map_or_else(|| json!({"syncOptions": ["CreateNamespace=true"]}), Value::Object);
        let flux_interval = ef
            .and_then(|f| f.interval.clone())
            .or_else(|| df.and_then(|f| f.interval.clone()))
            .unwrap_or_else(|| FLUX_INTERVAL.into());
        if !is_go_duration(&flux_interval) {
            errors.push(format!("flux.interval `{flux_interval}` is not a duration such as 10m, 1h or 30s"));
        }
        let flux_namespace = ef
            .and_then(|f| f.namespace.clone())
            .or_else(|| df.and_then(|f| f.namespace.clone()))
            .unwrap_or_else(|| FLUX_NAMESPACE.into());
        if !crate::kubeconfig::is_dns1123_label(&flux_namespace, 63) {
            errors.push(format!("flux.namespace `{flux_namespace}` is not a DNS-1123 label"));
        }
        let flux_values_from = ef
            .and_then(|f| f.values_from.clone())
            .or_else(|| df.and_then(|f| f.values_from.clone()))
            .unwrap_or_default();
        if let Some(r) = flux_values_from.iter().find(|r| r.name.is_empty()) {
            errors.push(format!("flux.valuesFrom: a {:?} without a name", r.kind));
        }
        let flux_cluster = ef.and_then(|f| f.cluster.clone()).or_else(|| df.and_then(|f| f.cluster.clone()));
        let helmfile_environments = eh
            .and_then(|h| h.environments.clone())
            .or_else(|| dh.and_then(|h| h.environments.clone()))
            .unwrap_or_default();
        for e in &helmfile_environments {
            if !crate::kubeconfig::is_dns1123_label(e, 63) {
                errors.push(format!(
                    "helmfile.environments: `{e}` is not a DNS-1123 label (lowercase letters, digits and `-`)"
                ));
            }
        }
        let settings = EngineSettings {
            argocd_project: project,
            argocd_destination: destination,
            argocd_sync_policy: sync_policy,
            flux_interval,
            flux_namespace,
            flux_values_from,
            flux_cluster,
            helmfile_environments,
        };
        (settings, errors)
    }
}

/// A duration as Flux's CRDs accept `interval` (`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`: `1h30m`,
/// `10m`, `30s`, `1.5h`).
fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..digits];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, "1"));
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !all_digits(fraction) {
            return false;
        }
        rest = &rest[digits..];
        // `ms` is tried before `m`.
        let Some(unit) = ["ms", "s", "m", "h"].iter().find(|u| rest.starts_with(**u)) else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
}

/// A Kubernetes object: Flux's HelmRepository ([`HelmRepositorySpec`]) and HelmRelease
/// ([`HelmReleaseSpec`]), Argo CD's Application ([`ApplicationSpec`]).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<Spec> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: Spec,
}

/// source.toolkit.fluxcd.io/v1 HelmRepository's spec.
#[derive(Debug, Serialize)]
pub struct HelmRepositorySpec {
    /// `oci` for an OCI registry (Flux needs it), else absent.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub interval: &'static str,
    pub url: String,
}

/// helm.toolkit.fluxcd.io/v2 HelmRelease's spec.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    pub interval: String,
    pub release_name: String,
    pub target_namespace: String,
    pub install: Value,
    pub chart: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,
    pub values: Value,
}

/// argoproj.io/v1alpha1 Application's spec.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    pub source: ApplicationSource,
    pub destination: Value,
    pub sync_policy: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub chart: &'static str,
    pub target_revision: String,
    pub helm: Value,
}

/// One helmfile release.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmfileRelease {
    pub name: String,
    pub namespace: String,
    pub chart: String,
    pub version: String,
    /// Installed only in the helmfile environments whose values enable it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub values: Vec<Value>,
    pub post_renderer: &'static str,
    pub post_renderer_args: Vec<String>,
}

/// The upstream chart's values for an environment: what the wrapper chart puts under
/// `skypilot:` (its values.yaml), so both deploy the same thing.
pub fn values(env: &Environment, config_yaml: &str) -> Value {
    json!({
        "kubernetesCredentials": {
            "useApiServerCluster": env.in_cluster,
            "useKubeconfig": env.mount_kubeconfig,
            "kubeconfigSecretName": env.secret_name,
        },
        "rbac": {"create": true},
        "apiService": {"image": env.image, "config": config_yaml},
    })
}

/// A repository Flux, Argo CD and helmfile can fetch charts from (http, https, oci).
pub fn fetchable(repository: &str) -> bool {
    ["https://", "http://", "oci://"].iter().any(|p| repository.starts_with(p))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

const HEADER: &str = "# Generated by skyhelm from {source}. Do not edit by hand: change the environments file and\n# run `skyhelm generate --format {format}`.\n";

/// A generated file: the header, then the value, its multi-line strings (`apiService.config`)
/// as literal block scalars.
pub fn document(source: &str, format: &str, value: &Value) -> String {
    let mut s = HEADER.replace("{source}", source).replace("{format}", format);
    s.push_str(&emit::document_with_literals(value, Layout { seq_offset: 0, nl: "\n" }));
    s
}

/// The kustomization.yaml of a Flux deploy folder: the objects it applies.
pub fn kustomization(resources: &[String]) -> Value {
    json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    })
}

pub fn helm_repository(name: &str, namespace: &str, url: &str) -> Value {
    to_value(&Object {
        api_version: "source.toolkit.fluxcd.io/v1",
        kind: "HelmRepository",
        metadata: Metadata { name: name.into(), namespace: namespace.into() },
        spec: HelmRepositorySpec { kind: url.starts_with("oci://").then_some("oci"), interval: "1h", url: url.into() },
    })
}

pub fn helm_release(chart_name: &str, repo_name: &str, env: &Environment, values: Value) -> Value {
    let e = &env.engines;
    to_value(&Object {
        api_version: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: Metadata { name: chart_name.into(), namespace: e.flux_namespace.clone() },
        spec: HelmReleaseSpec {
            interval: e.flux_interval.clone(),
            release_name: env.release.clone(),
            target_namespace: env.namespace.clone(),
            install: json!({"createNamespace": true}),
            chart: json!({"spec": {
                "chart": UPSTREAM_CHART,
                "version": env.chart_version,
                "sourceRef": {"kind": "HelmRepository", "name": repo_name, "namespace": e.flux_namespace},
            }}),
            values_from: e.flux_values_from.clone(),
            values,
        },
    })
}

pub fn application(chart_name: &str, env: &Environment, values: Value) -> Value {
    let e = &env.engines;
    let mut destination = Map::new();
    match &e.argocd_destination {
        Destination::Server(s) => destination.insert("server".into(), json!(s)),
        Destination::Name(n) => destination.insert("name".into(), json!(n)),
    };
    destination.insert("namespace".into(), json!(env.namespace));
    to_value(&Object {
        api_version: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: Metadata { name: chart_name.into(), namespace: ARGOCD_NAMESPACE.into() },
        spec: ApplicationSpec {
            project: e.argocd_project.clone(),
            source: ApplicationSource {
                repo_url: env.repository.clone(),
                chart: UPSTREAM_CHART,
                target_revision: env.chart_version.clone(),
                helm: json!({"releaseName": env.release, "valuesObject": values}),
            },
            destination: Value::Object(destination),
            sync_policy: e.argocd_sync_policy.clone(),
        },
    })
}

/// The optional Argo CD config management plugin (`skyhelm-<chart>`) that runs the
/// post-renderer at sync time, for a git source holding the environment's wrapper chart from
/// `generate --format chart`. It renders with the environment's release name and namespace
/// (never the Application's name, which would rename the objects).
pub fn cmp_plugin(chart_name: &str, env: &Environment) -> Value {
    let script = format!(
        "set -e; f=$(mktemp); helm template {} . --namespace {} > \"$f\"; skyhelm post-render --config skyhelm.yaml < \"$f\"; rm -f \"$f\"",
        super::shell_quote(&env.release),
        super::shell_quote(&env.namespace)
    );
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ConfigManagementPlugin",
        "metadata": {"name": format!("skyhelm-{chart_name}")},
        "spec": {
            "init": {"command": ["helm", "dependency", "build", "."]},
            "generate": {
                "command": ["sh", "-c"],
                // Through a file, not a pipe: a failing `helm template` must fail the sync, not
                // hand the post-renderer an empty stream (which Argo CD would prune to).
                "args": [script],
            },
        },
    })
}

/// helmfile.yaml: the repositories, the environments some releases are limited to (each
/// setting every limited release's `<chart>.enabled`, which its `condition` reads; `default`
/// always exists), and the releases.
pub fn helmfile(
    repositories: &[(String, String)],
    releases: Vec<HelmfileRelease>,
    envs: &[(String, Vec<String>)],
) -> Value {
    // helmfile takes an OCI registry without its scheme, with `oci: true`.
    let repos: Vec<Value> = repositories
        .iter()
        .map(|(n, u)| match u.strip_prefix("oci://") {
            Some(bare) => json!({"name": n, "url": bare, "oci": true}),
            None => json!({"name": n, "url": u}),
        })
        .collect();
    let mut m = Map::new();
    m.insert("repositories".into(), Value::Array(repos));
    if envs.iter().any(|(_, e)| !e.is_empty()) {
        // Every environment names every conditioned release, enabled or not: helmfile refuses
        // a condition whose key its environment's values lack.
        let mut names: std::collections::BTreeSet<&str> =
            envs.iter().flat_map(|(_, e)| e.iter().map(String::as_str)).collect();
        names.insert("default");
        let environments: Map<String, Value> = names
            .into_iter()
            .map(|name| {
                let charts: Map<String, Value> = envs
                    .iter()
                    .filter(|(_, e)| !e.is_empty())
                    .map(|(chart, e)| (chart.clone(), json!({"enabled": e.iter().any(|x| x == name)})))
                    .collect();
                (name.to_string(), json!({"values": [charts]}))
            })
            .collect();
        m.insert("environments".into(), Value::Object(environments));
    }
    m.insert("releases".into(), Value::Array(releases.iter().map(to_value).collect()));
    Value::Object(m)
}

pub fn helmfile_release(chart_name: &str, repo_name: &str, env: &Environment, values: Value) -> HelmfileRelease {
    HelmfileRelease {
        name: env.release.clone(),
        namespace: env.namespace.clone(),
        chart: format!("{repo_name}/{UPSTREAM_CHART}"),
        version: env.chart_version.clone(),
        condition: (!env.engines.helmfile_environments.is_empty()).then(|| format!("{chart_name}.enabled")),
        values: vec![values],
        post_renderer: "skyhelm",
        post_renderer_args: vec![format!("--config={chart_name}/skyhelm.yaml")],
    }
}

#[cfg(test)]
mod tests {
    use super::is_go_duration;

    #[test]
    fn intervals_are_what_fluxs_crds_accept() {
        for ok in ["10m", "1h30m", "1.5h", "30s", "500ms"] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "10", "m", "1.h", ".5h", "1..5h", "10us", "1d", "10m ", "-1m"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }
}
