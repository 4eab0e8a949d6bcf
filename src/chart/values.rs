//! An environment's chart values beyond the wrapper chart's: the admin's own `values:` and,
//! for the GitOps formats (no post-renderer runs there), what post-render would otherwise add.
//!
//! ```yaml
//! # environments file                      # Flux spec.values / Argo CD valuesObject / helmfile
//! - name: prod                             apiService:
//!   contexts: prod.contexts.yaml             replicas: 2
//!   rbac: tighten                            annotations:
//!   values:                                    skyhelm.io/kubeconfig-sha256: <configSha256>
//!     apiService: {replicas: 2}            rbac:
//!     rbac: {manageSystemComponents: false}  manageSystemComponents: false
//!                                            manageRbacPolicies: false
//!                                            namespaceRules: [...explicit verbs...]
//!                                            clusterRules: [...]
//! ```
//!
//! - The rollout annotation: with a contexts file, `apiService.annotations` (the upstream chart
//!   writes them on the pod template) carries `skyhelm.io/kubeconfig-sha256: <configSha256>`, as
//!   post-render would set it.
//! - `rbac: add|tighten`: `rbac.namespaceRules` / `rbac.clusterRules` hold the minimal set
//!   ([`minimal_rbac`]) and the chart's optional features with explicit verbs, so the chart
//!   renders them without `*`. tighten also turns the chart's RBAC-management rules (`*` on
//!   roles, rolebindings, serviceaccounts, clusterroles, clusterrolebindings) into explicit ones
//!   (`rbac.manageRbacPolicies: false` plus rules with `escalate` and `bind`), and refuses
//!   `rbac.manageSystemComponents` (a `skypilot-system` Role with `*` on daemonsets that no value
//!   narrows): never wildcard RBAC deployed silently.
//! - `values:` keys skyhelm writes itself are refused, naming the setting to use instead.

use serde_json::{Map, Value, json};

use super::{Environment, merge_config};
use crate::model::RbacMode;
use crate::policy::minimal_rbac::{self, FEATURES, MINIMAL_CLUSTER, MINIMAL_NAMESPACED, RuleSpec};
use crate::rules::kubeconfig_mount::CHECKSUM_ANNOTATION;

/// The chart's cluster-wide `services` list/get ("accessing ingress service"), which no
/// documented feature covers; kept so that the values grant what tighten leaves of the chart.
const CHART_CLUSTER_EXTRA: &[RuleSpec] = &[RuleSpec { group: "", resources: &["services"], verbs: &["list", "get"] }];

const RBAC_MANAGEMENT: &str = "RBAC management";

/// The `values:` keys skyhelm writes, and the setting that writes each.
const MANAGED: &[(&[&str], &str)] = &[
    (&["kubernetesCredentials"], "inCluster, mountKubeconfig, kubeconfigSecretName or contexts"),
    (&["apiService", "config"], "config (SkyPilot config; skyhelm adds the checked allowed_contexts)"),
    (&["apiService", "image"], "image"),
    (
        &["apiService", "annotations", CHECKSUM_ANNOTATION],
        "contexts (skyhelm sets it to the contexts file's configSha256)",
    ),
];

/// The RBAC rule values skyhelm writes for `rbac: add|tighten`.
const MANAGED_RBAC: &[&str] = &["namespaceRules", "clusterRules"];

/// `path` of `v`, when every step is a map key.
fn lookup<'v>(v: &'v Map<String, Value>, path: &[&str]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    let here = v.get(*first)?;
    if rest.is_empty() {
        return Some(here);
    }
    here.as_object().and_then(|m| lookup(m, rest))
}

/// Every `values:` key of `env` that skyhelm manages, as a message naming the setting to use.
pub fn refused_keys(env: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["kubernetesCredentials", "apiService", "rbac"] {
        if env.values.get(key).is_some_and(|v| !v.is_object()) {
            out.push(format!("values.{key} is not a map"));
        }
    }
    for (path, instead) in MANAGED {
        if lookup(&env.values, path).is_some() {
            out.push(format!("values.{} is written by skyhelm; set {instead} instead", path.join(".")));
        }
    }
    // Flux merges a valuesFrom value at its targetPath (dot notation, `\.` a literal dot): one
    // at or above a key skyhelm writes would replace what skyhelm checked.
    let rbac_managed = matches!(env.rbac, RbacMode::Add | RbacMode::Tighten);
    for reference in &env.engines.flux_values_from {
        let Some(target) = reference.target_path.as_deref() else { continue };
        let target = dot_path(target);
        let overlaps = |path: &[&str]| path.iter().zip(&target).all(|(a, b)| *a == b.as_str());
        let managed = MANAGED.iter().map(|(path, instead)| (path.to_vec(), *instead)).chain(
            MANAGED_RBAC
                .iter()
                .filter(|_| rbac_managed)
                .map(|key| (vec!["rbac", *key], "rbac: audit or off (then the rules are yours)")),
        );
        for (path, instead) in managed {
            if overlaps(&path) {
                out.push(format!(
                    "flux.valuesFrom {:?} {}: targetPath `{}` would replace values.{}, which skyhelm writes; set {instead} instead",
                    reference.kind,
                    reference.name,
                    target.join("."),
                    path.join(".")
                ));
            }
        }
    }
    if rbac_managed {
        for key in MANAGED_RBAC {
            if lookup(&env.values, &["rbac", key]).is_some() {
                out.push(format!(
                    "values.rbac.{key} is written by skyhelm for rbac: {} (the minimal set and the chart's features, explicit verbs); set rbac: audit or off to write your own rules",
                    env.rbac.name()
                ));
            }
        }
    }
    out
}

/// A Flux/Helm dot-notation path (`a.b\.c` is `a`, `b.c`) as its keys.
fn dot_path(path: &str) -> Vec<String> {
    let mut keys = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => keys.last_mut().into_iter().for_each(|k| k.extend(chars.next())),
            '.' => keys.push(String::new()),
            c => keys.last_mut().into_iter().for_each(|k| k.push(c)),
        }
    }
    keys
}

/// A bool at `path` of the user's values (None: unset or not a bool).
fn user_bool(env: &Environment, path: &[&str]) -> Option<bool> {
    lookup(&env.values, path).and_then(Value::as_bool)
}

/// The rules of `specs` with explicit verbs, as the chart's `rules:` items.
fn rules(specs: &[RuleSpec]) -> Vec<Value> {
    let perms = minimal_rbac::perms(specs, None);
    minimal_rbac::to_rules(&perms)
        .into_iter()
        .map(|r| json!({"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs}))
        .collect()
}

/// What `rbac: add|tighten` writes into `rbac:` for a GitOps format, or why the mode cannot be
/// expressed in values. `format` names the format in messages. None: nothing to write.
fn rbac_values(env: &Environment, format: &str) -> Result<Option<Map<String, Value>>, String> {
    if !matches!(env.rbac, RbacMode::Add | RbacMode::Tighten) {
        return Ok(None);
    }
    let mode = env.rbac.name();
    if user_bool(env, &["rbac", "create"]) == Some(false) {
        if env.in_cluster {
            return Err(format!(
                "rbac: {mode} cannot be expressed in values with values.rbac.create: false (the chart renders no RBAC, and no post-renderer runs under {format} to add the minimal Roles); set rbac: audit or off, or drop rbac.create"
            ));
        }
        return Ok(None);
    }
    let tighten = env.rbac == RbacMode::Tighten;
    // RBAC management: the chart's `*` rules stay under add (as post-render's add leaves them);
    // tighten writes them out, unless the admin turned the feature off.
    let manage = tighten && user_bool(env, &["rbac", "manageRbacPolicies"]) != Some(false);
    if tighten && user_bool(env, &["rbac", "manageSystemComponents"]) != Some(false) {
        return Err(format!(
            "rbac: tighten cannot be expressed in values while rbac.manageSystemComponents is on (the chart's default): the chart then renders a Role in skypilot-system with verbs [\"*\"] on daemonsets (and, with manageRbacPolicies, on roles, rolebindings and serviceaccounts) that no value narrows, and no post-renderer runs under {format} to rewrite them; set values.rbac.manageSystemComponents: false (no object-store mounting), use rbac: add, or --format chart (post-render tightens them)"
        ));
    }
    let mut ns: Vec<RuleSpec> = MINIMAL_NAMESPACED.to_vec();
    let mut cluster: Vec<RuleSpec> = MINIMAL_CLUSTER.to_vec();
    for f in FEATURES.iter().filter(|f| f.name != RBAC_MANAGEMENT || manage) {
        if f.cluster { cluster.extend(f.rules) } else { ns.extend(f.rules) }
    }
    cluster.extend(CHART_CLUSTER_EXTRA);
    let mut m = Map::new();
    if manage {
        m.insert("manageRbacPolicies".into(), Value::Bool(false));
    }
    m.insert("namespaceRules".into(), Value::Array(rules(&ns)));
    m.insert("clusterRules".into(), Value::Array(rules(&cluster)));
    Ok(Some(m))
}

/// A GitOps format's values for `env`: skyhelm's `base` (what the wrapper chart's values say),
/// the admin's `values:` merged over it, the rollout annotation (`checksum`: the contexts file's
/// configSha256) and the RBAC rules of its mode. Err: the mode cannot be expressed in values.
pub fn gitops_values(env: &Environment, base: Value, checksum: Option<&str>, format: &str) -> Result<Value, String> {
    // The admin's values over skyhelm's base (only `rbac.create` of it may be set there: the
    // other keys are refused), then what post-render would add.
    let Value::Object(mut out) = base else { return Ok(base) };
    merge_config(&mut out, &env.values);
    let mut ours = Map::new();
    if let Some(sum) = checksum {
        ours.insert("apiService".into(), json!({"annotations": {CHECKSUM_ANNOTATION: sum}}));
    }
    if let Some(rbac) = rbac_values(env, format)? {
        ours.insert("rbac".into(), Value::Object(rbac));
    }
    merge_config(&mut out, &ours);
    Ok(Value::Object(out))
}

/// Whether the chart renders its `skypilot-system` Namespace with these values (`rbac.create`
/// and `rbac.manageSystemComponents`, both on unless the values set them false). Rendered
/// without a cluster to look it up in (Argo CD's `helm template`), it is in every such
/// environment's objects.
pub fn renders_system_namespace(env: &Environment) -> bool {
    user_bool(env, &["rbac", "create"]) != Some(false)
        && user_bool(env, &["rbac", "manageSystemComponents"]) != Some(false)
}

/// A note for `rbac: add` in a GitOps format: the chart's own RBAC-management and system rules
/// keep their `*` verbs (as post-render's add leaves them).
pub fn add_note(env: &Environment) -> Option<String> {
    let on = |key: &str| user_bool(env, &["rbac", key]) != Some(false);
    (env.rbac == RbacMode::Add
        && user_bool(env, &["rbac", "create"]) != Some(false)
        && (on("manageRbacPolicies") || on("manageSystemComponents")))
    .then(|| {
        "rbac: add keeps the chart's RBAC-management and skypilot-system rules, which use verbs [\"*\"] (as post-render's add does); rbac: tighten writes them out".to_string()
    })
}

/// The admin's values for `--format chart`, split where the wrapper chart's values.yaml
/// template writes its own keys: (other top-level keys, other `rbac` keys, other `apiService`
/// keys), each as YAML block text at its depth under `skypilot:` (empty: none).
pub fn chart_parts(env: &Environment) -> (String, String, String) {
    use crate::yaml::emit::{Layout, block_map};
    let l = Layout { seq_offset: 0, nl: "\n" };
    let text = |m: &Map<String, Value>, indent: usize| {
        let mut s = String::new();
        block_map(m, indent, l, &mut s);
        s.trim_end_matches('\n').to_string()
    };
    let mut top = env.values.clone();
    let sub = |top: &mut Map<String, Value>, key: &str| match top.shift_remove(key) {
        Some(Value::Object(m)) => m,
        // Not a map: refused before (`refused_keys`).
        _ => Map::new(),
    };
    let mut rbac = sub(&mut top, "rbac");
    rbac.shift_remove("create");
    let api = sub(&mut top, "apiService");
    (text(&top, 2), text(&rbac, 4), text(&api, 4))
}

/// `rbac.create` for the wrapper chart: the admin's value, else true.
pub fn chart_rbac_create(env: &Environment) -> bool {
    user_bool(env, &["rbac", "create"]).unwrap_or(true)
}

/// Every place where the environments file reader's reading of a `values:` (the defaults' and
/// each environment's) differs from Helm's (the Kubernetes YAML reader, YAML 1.1): `0600` is
/// 600 for the one and 384 for Helm, so generate would write a value the admin did not mean.
/// One error each, with the environment, the key path and both readings. `text` is the
/// environments file `file` was read from.
pub fn disagreements(text: &str, file: &super::EnvironmentsFile) -> Vec<super::GenerateError> {
    use crate::yaml::{Limits, Reader, Tree};
    let Ok(tree) = Tree::parse(text, &Limits::default()) else { return Vec::new() };
    let Some(root) = tree.root() else { return Vec::new() };
    let mut out = Vec::new();
    let mut check = |label: &str, node, serde: Option<&Map<String, Value>>| {
        if let (Some(node), Some(serde)) = (node, serde) {
            let mut found = Vec::new();
            differences(
                &tree.to_json_as(node, Reader::Kubernetes),
                &Value::Object(serde.clone()),
                "values",
                &mut found,
            );
            out.extend(found.into_iter().map(|message| super::GenerateError::Invalid { env: label.into(), message }));
        }
    };
    check("defaults", tree.path(root, &["defaults", "values"]), file.defaults.values.as_ref());
    let items = tree.get(root, "environments").map(|e| tree.items(e).to_vec()).unwrap_or_default();
    for (item, entry) in items.into_iter().zip(&file.environments) {
        check(&entry.name, tree.get(item, "values"), entry.settings.values.as_ref());
    }
    out
}

/// Where `helm` (Helm's reading) and `serde` (the environments file reader's) differ.
fn differences(helm: &Value, serde: &Value, path: &str, out: &mut Vec<String>) {
    use crate::messages::sanitize;
    match (helm, serde) {
        (Value::Object(h), Value::Object(s)) => {
            for k in h.keys().filter(|k| !s.contains_key(*k)).chain(s.keys().filter(|k| !h.contains_key(*k))) {
                out.push(format!(
                    "{path}: the key `{}` reads differently for Helm (YAML 1.1) and the environments file reader; quote it",
                    sanitize(k, &[])
                ));
            }
            for (k, hv) in h {
                if let Some(sv) = s.get(k) {
                    differences(hv, sv, &format!("{path}.{}", sanitize(k, &[])), out);
                }
            }
        }
        (Value::Array(h), Value::Array(s)) if h.len() == s.len() => {
            for (i, (hv, sv)) in h.iter().zip(s).enumerate() {
                differences(hv, sv, &format!("{path}[{i}]"), out);
            }
        }
        _ if super::pyyaml_config::same(helm, serde) => {}
        _ => out.push(format!(
            "{path}: Helm (YAML 1.1) reads {} here, the environments file reader {}; quote it for the string, or write the value Helm reads",
            sanitize(&helm.to_string(), &[]),
            sanitize(&serde.to_string(), &[]),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(rbac: RbacMode, in_cluster: bool, values: Value) -> Environment {
        Environment {
            name: "e".into(),
            release: "r".into(),
            namespace: "n".into(),
            image: "i".into(),
            secret_name: "s".into(),
            secret_name_set: false,
            in_cluster,
            mount_kubeconfig: true,
            allowed_contexts: None,
            kubeconfig: None,
            contexts: None,
            rbac,
            config: Map::new(),
            values: values.as_object().cloned().unwrap_or_default(),
            chart_version: "0".into(),
            repository: "https://x".into(),
            engines: crate::chart::gitops::EngineSettings::resolve((None, None, None), (None, None, None), "n").0,
        }
    }

    /// (group, resource, verb) of written rules.
    fn granted(rules: &Value) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for r in rules.as_array().into_iter().flatten() {
            let s = |k: &str| r[k].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from);
            for g in s("apiGroups") {
                for res in s("resources") {
                    out.extend(s("verbs").map(|v| (g.clone(), res.clone(), v)));
                }
            }
        }
        out
    }

    fn holds(rules: &Value, specs: &[RuleSpec]) -> bool {
        let g = granted(rules);
        minimal_rbac::perms(specs, None)
            .iter()
            .all(|p| g.contains(&(p.group.clone(), p.resource.clone(), p.verb.clone())))
    }

    /// Each mode and the values that change it: what `rbac:` gets, or the refusal.
    #[test]
    fn rbac_values_by_mode() {
        let mgmt: Vec<RuleSpec> =
            FEATURES.iter().filter(|f| f.name == RBAC_MANAGEMENT).flat_map(|f| f.rules.iter().copied()).collect();
        let off = json!({"rbac": {"manageSystemComponents": false}});
        // (mode, in-cluster, values, Ok(manageRbacPolicies written, RBAC management rules) or Err(part of the message))
        type Want = Result<Option<(bool, bool)>, &'static str>;
        let cases: Vec<(RbacMode, bool, Value, Want)> = vec![
            (RbacMode::Add, true, json!({}), Ok(Some((false, false)))),
            (RbacMode::Tighten, true, off.clone(), Ok(Some((true, true)))),
            (RbacMode::Tighten, false, off, Ok(Some((true, true)))),
            (
                RbacMode::Tighten,
                true,
                json!({"rbac": {"manageSystemComponents": false, "manageRbacPolicies": false}}),
                Ok(Some((false, false))),
            ),
            (RbacMode::Tighten, true, json!({}), Err("while rbac.manageSystemComponents is on")),
            (RbacMode::Add, true, json!({"rbac": {"create": false}}), Err("values.rbac.create: false")),
            (RbacMode::Tighten, true, json!({"rbac": {"create": false}}), Err("values.rbac.create: false")),
            (RbacMode::Add, false, json!({"rbac": {"create": false}}), Ok(None)),
            (RbacMode::Audit, true, json!({}), Ok(None)),
            (RbacMode::Off, true, json!({}), Ok(None)),
        ];
        for (mode, in_cluster, values, want) in cases {
            let e = env(mode, in_cluster, values.clone());
            let label = format!("{} {in_cluster} {values}", mode.name());
            match (rbac_values(&e, "flux"), want) {
                (Ok(None), Ok(None)) => {}
                (Ok(Some(m)), Ok(Some((manage_key, mgmt_rules)))) => {
                    assert_eq!(m.get("manageRbacPolicies") == Some(&Value::Bool(false)), manage_key, "{label}");
                    let ns = &m["namespaceRules"];
                    let cl = &m["clusterRules"];
                    assert!(holds(ns, MINIMAL_NAMESPACED) && holds(cl, MINIMAL_CLUSTER), "{label}");
                    let all = Value::Array(ns.as_array().into_iter().chain(cl.as_array()).flatten().cloned().collect());
                    assert!(granted(&all).iter().all(|(g, r, v)| g != "*" && r != "*" && v != "*"), "{label}");
                    let ns_mgmt: Vec<RuleSpec> = mgmt
                        .iter()
                        .filter(|r| r.resources[0] != "clusterroles" && r.resources[0] != "clusterrolebindings")
                        .copied()
                        .collect();
                    assert_eq!(holds(ns, &ns_mgmt), mgmt_rules, "{label}");
                    assert_eq!(
                        granted(cl).iter().any(|(_, r, v)| r == "clusterroles" && v == "escalate"),
                        mgmt_rules,
                        "{label}"
                    );
                }
                (Err(msg), Err(part)) => {
                    assert!(msg.contains(part) && msg.contains("under flux"), "{label}: {msg}");
                }
                (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn refused_keys_name_the_setting() {
        let e = env(
            RbacMode::Tighten,
            true,
            json!({"kubernetesCredentials": {}, "apiService": {"config": "", "image": "x", "annotations": {CHECKSUM_ANNOTATION: "x", "other": "y"}}, "rbac": {"namespaceRules": [], "create": false}}),
        );
        let got = refused_keys(&e);
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with("values.kubernetesCredentials is written by skyhelm; set inCluster"));
        assert!(got[4].starts_with("values.rbac.namespaceRules is written by skyhelm for rbac: tighten"));
        assert!(refused_keys(&env(RbacMode::Audit, true, json!({"rbac": {"namespaceRules": []}}))).is_empty());
    }

    /// The admin's values over skyhelm's base (only rbac.create of it), then the annotation and rules.
    #[test]
    fn gitops_values_layering() {
        let e =
            env(RbacMode::Audit, true, json!({"rbac": {"create": false}, "apiService": {"annotations": {"a": "b"}}}));
        let base = json!({"rbac": {"create": true}, "apiService": {"image": "i"}});
        let v = gitops_values(&e, base, Some("abc"), "flux").unwrap_or_default();
        assert_eq!(
            v,
            json!({"rbac": {"create": false}, "apiService": {"image": "i", "annotations": {"a": "b", CHECKSUM_ANNOTATION: "abc"}}})
        );
    }
}
