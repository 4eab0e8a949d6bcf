//! RBAC for the API server's account on upstream-shaped input (rendered by real Helm, both
//! forms): added objects are valid k8s-openapi objects, bind the right subject in the right
//! namespace, have no wildcard and cover the minimal set; audit is snapshot-tested; tighten
//! keeps every permission the rendered features need. Coverage is computed here, test-side,
//! from the typed objects, not with skyhelm's own evaluator.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde_json::Value;

use crate::helm::{Form, Helm, added_by_skyhelm, render, render_chart, render_chart_in, upstream_chart};
use crate::util::{API_DEPLOYMENT, copy_dir, docs, k8s_json, kubeconfig_file, root, run_with_stdin, skyhelm};

const CONFIG: &str = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";
const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

fn post_render(input: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let mut args = vec!["post-render", kc.as_str()];
    args.extend_from_slice(extra);
    let out = skyhelm(&args, input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let again = skyhelm(&args, text.as_bytes());
    assert_eq!(String::from_utf8_lossy(&again.stdout), text, "a second run changed the output");
    text
}

/// (group, resource, verb, namespace or None for cluster-wide)
type Need = (&'static str, String, &'static str, Option<String>);

fn minimal(ns: &str) -> Vec<Need> {
    let mut v = Vec::new();
    for res in ["pods", "pods/status", "pods/exec", "pods/portforward", "services", "secrets"] {
        for verb in VERBS {
            v.push(("", res.to_string(), *verb, Some(ns.to_string())));
        }
    }
    for verb in ["get", "list", "watch"] {
        v.push(("", "events".into(), verb, Some(ns.to_string())));
        v.push(("", "nodes".into(), verb, None));
        v.push(("node.k8s.io", "runtimeclasses".into(), verb, None));
        v.push(("storage.k8s.io", "storageclasses".into(), verb, None));
    }
    v
}

/// The rules bound to `sa` in the output: (rule, namespace or None).
fn bound_rules(out: &[Value], sa_ns: &str, sa: &str) -> Vec<(PolicyRule, Option<String>)> {
    fn of<'a>(out: &'a [Value], kind: &'a str) -> impl Iterator<Item = Value> + 'a {
        out.iter().filter(move |d| d["kind"] == kind).cloned()
    }
    let roles: Vec<Role> = of(out, "Role").map(|d| serde_json::from_value(d).expect("Role")).collect();
    let croles: Vec<ClusterRole> =
        of(out, "ClusterRole").map(|d| serde_json::from_value(d).expect("ClusterRole")).collect();
    let binds = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects
            .iter()
            .flatten()
            .any(|s| s.kind == "ServiceAccount" && s.name == sa && s.namespace.as_deref() == Some(sa_ns))
    };
    let mut rules = Vec::new();
    for rb in of(out, "RoleBinding").map(|d| serde_json::from_value::<RoleBinding>(d).expect("RoleBinding")) {
        if !binds(&rb.subjects) {
            continue;
        }
        let ns = rb.metadata.namespace.clone();
        for r in roles
            .iter()
            .filter(|r| r.metadata.name.as_deref() == Some(rb.role_ref.name.as_str()) && r.metadata.namespace == ns)
        {
            rules.extend(r.rules.iter().flatten().map(|x| (x.clone(), ns.clone())));
        }
    }
    for crb in of(out, "ClusterRoleBinding")
        .map(|d| serde_json::from_value::<ClusterRoleBinding>(d).expect("ClusterRoleBinding"))
    {
        if !binds(&crb.subjects) {
            continue;
        }
        for c in croles.iter().filter(|c| c.metadata.name.as_deref() == Some(crb.role_ref.name.as_str())) {
            rules.extend(c.rules.iter().flatten().map(|x| (x.clone(), None)));
        }
    }
    rules
}

fn covered(rules: &[(PolicyRule, Option<String>)], need: &Need) -> bool {
    let has = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
    rules.iter().any(|(r, ns)| {
        (ns.is_none() || *ns == need.3)
            && r.resource_names.as_ref().is_none_or(Vec::is_empty)
            && has(r.api_groups.as_deref().unwrap_or_default(), need.0)
            && has(r.resources.as_deref().unwrap_or_default(), &need.1)
            && has(&r.verbs, need.2)
    })
}

fn assert_covers(out: &[Value], sa_ns: &str, sa: &str, needs: &[Need]) {
    let rules = bound_rules(out, sa_ns, sa);
    for n in needs {
        assert!(covered(&rules, n), "{sa_ns}/{sa} lacks {n:?}");
    }
}

fn added(out: &[Value]) -> Vec<&Value> {
    out.iter().filter(|d| added_by_skyhelm(d)).collect()
}

fn no_wildcards(docs: &[&Value]) {
    for d in docs {
        assert!(!d.to_string().contains("\"*\""), "wildcard in {d}");
    }
}

/// Runs post-render and returns (exit code, stdout, stderr).
fn run(input: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let mut all = vec!["post-render", kc.as_str()];
    all.extend_from_slice(args);
    let out = skyhelm(&all, input.as_bytes());
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

const MUST_EXIST: &str =
    "ServiceAccount skypilot/sky-api-sa must exist: the API server runs as it and nothing in the stream creates it";
const ELSEWHERE: &str = "ServiceAccount skypilot/sky-api-sa: nothing in the stream binds it a role, so the chart expects its RBAC to be managed elsewhere (upstream chart: rbac.create: false) or makes it in hooks";

/// The upstream chart with rbac.create=false ("an external service account is expected"),
/// both forms: add writes the minimal Role/ClusterRole and their bindings, never the
/// ServiceAccount; it says the account must exist and that RBAC is expected elsewhere
/// (suggesting --rbac audit); --strict makes that an error; audit says only the first.
#[test]
fn rbac_create_false_gets_bindings_never_the_account() {
    let chart = upstream_chart();
    for form in [Form::Helm3, Form::Helm4] {
        let input = render_chart(form, chart.to_str().expect("path"), &format!("rbac:\n  create: false\n{CONFIG}"));
        let text = post_render(&input, &[]);
        let out = k8s_json(&text);
        let new = added(&out);
        let kinds: Vec<&str> = new.iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"], "{form:?}");
        assert!(!out.iter().any(|d| d["kind"] == "ServiceAccount"), "{form:?}: a ServiceAccount was written");
        let role: Role = serde_json::from_value(new[0].clone()).expect("Role");
        assert_eq!(role.metadata.namespace.as_deref(), Some("skypilot"));
        no_wildcards(&new);
        assert_covers(&out, "skypilot", "sky-api-sa", &minimal("skypilot"));
        if matches!(form, Form::Helm4) {
            let added_docs: Vec<String> =
                docs(&text).into_iter().filter(|d| d.contains("skyhelm.io/added-by: rbac")).collect();
            assert_eq!(added_docs.len(), 4);
            assert!(
                added_docs.iter().all(|d| d.contains("postrenderer.helm.sh/postrender-filename: skyhelm/rbac.yaml"))
            );
        } else {
            assert!(text.contains("# Source: skyhelm/rbac.yaml"));
        }
        let (code, _, err) = run(&input, &[]);
        assert_eq!(code, 0);
        assert!(err.contains(&format!("note [rbac]: {MUST_EXIST}")), "{err}");
        assert!(err.contains(&format!("warning [rbac]: {ELSEWHERE}")), "{err}");
        assert!(err.contains("use --rbac audit to check it instead"), "{err}");
        let (code, stdout, err) = run(&input, &["--strict"]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{err}");
        assert!(err.contains(ELSEWHERE), "{err}");
        let (code, stdout, err) = run(&input, &["--rbac", "audit"]);
        assert_eq!(code, 0);
        assert!(err.contains(MUST_EXIST) && !err.contains("managed elsewhere"), "{err}");
        assert!(!k8s_json(&stdout).iter().any(|d| d["kind"] == "ServiceAccount"));
        // The chart's default (rbac.create=true) creates the account and binds it: neither.
        let input = render_chart(form, chart.to_str().expect("path"), CONFIG);
        let (code, _, err) = run(&input, &["--strict"]);
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("must exist") && !err.contains("managed elsewhere"), "{err}");
    }
}

/// An aggregated ClusterRole bound to the API server's account (written rules `*` on
/// everything, which the aggregation controller overwrites) and the two ClusterRoles its
/// selector gathers (cluster-wide reads, one with `*` verbs), added to the upstream chart.
const AGGREGATED: &str = r#"{{- if .Values.aggregatedRbac }}
{{- $fullName := include "skypilot.fullname" . }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $fullName }}-aggregated
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      skypilot.co/aggregate-to-api: "true"
  - matchExpressions:
    - {key: skypilot.co/tier, operator: In, values: [storage]}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $fullName }}-reads
  labels:
    skypilot.co/aggregate-to-api: "true"
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
- apiGroups: [node.k8s.io]
  resources: [runtimeclasses]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $fullName }}-storage
  labels:
    skypilot.co/tier: storage
rules:
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $fullName }}-not-gathered
  labels:
    skypilot.co/tier: compute
rules:
- apiGroups: [""]
  resources: [pods, pods/status, pods/exec, pods/portforward, services, secrets, events]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $fullName }}-aggregated
subjects:
- kind: ServiceAccount
  name: {{ include "skypilot.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
roleRef:
  kind: ClusterRole
  name: {{ $fullName }}-aggregated
  apiGroup: rbac.authorization.k8s.io
{{- end }}
"#;

/// The document of `kind` named `name` in a stream, as text.
fn doc_text(text: &str, kind: &str, name: &str) -> String {
    docs(text)
        .into_iter()
        .find(|d| d.contains(&format!("kind: {kind}\n")) && d.contains(&format!("name: {name}\n")))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The upstream chart with an aggregated ClusterRole (rbac.create=false, so it is the only RBAC
/// for the account), both forms. Its written rules (`*` on everything) are never counted or
/// edited: add sees only what the gathered ClusterRoles grant (cluster-wide reads), so it adds
/// the namespaced Role and binding and no ClusterRole; audit says what the aggregation gathers
/// and "as far as the stream shows"; tighten leaves the aggregated ClusterRole and what it
/// gathers byte for byte (the gathered `*` verbs judged as written).
#[test]
fn aggregated_cluster_roles_are_evaluated_as_the_controller_does_and_never_edited() {
    let dir = tempfile::tempdir().expect("tmp");
    let chart = dir.path().join("skypilot");
    copy_dir(&upstream_chart(), &chart);
    std::fs::write(chart.join("templates/aggregated.yaml"), AGGREGATED).expect("write");
    let values = format!("aggregatedRbac: true\nrbac:\n  create: false\n{CONFIG}");
    let mut files = Vec::new();
    for form in [Form::Helm3, Form::Helm4] {
        let input = render_chart(form, chart.to_str().expect("path"), &values);
        for mode in ["add", "audit", "tighten"] {
            let tag = format!("{form:?} --rbac {mode}");
            let (code, text, err) = run(&input, &["--rbac", mode]);
            assert_eq!(code, 0, "{tag}: {err}");
            let path = dir.path().join(format!("{}-{mode}.yaml", form as u8));
            std::fs::write(&path, &text).expect("write");
            files.push(path);
            assert!(
                err.contains("note [rbac]: ClusterRole sky-aggregated has an aggregationRule: Kubernetes replaces its rules with those of the ClusterRoles its selectors match, so skyhelm never edits them and counts instead what the stream's ClusterRoles that match them (sky-reads, sky-storage) grant; ClusterRoles outside the stream may add more, so it grants at least that"),
                "{tag}: {err}"
            );
            for name in ["sky-aggregated", "sky-reads", "sky-storage", "sky-not-gathered"] {
                assert_eq!(
                    doc_text(&text, "ClusterRole", name),
                    doc_text(&input, "ClusterRole", name),
                    "{tag}: {name}"
                );
            }
            let out = k8s_json(&text);
            let kinds: Vec<&str> = added(&out).iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
            match mode {
                "audit" => {
                    assert!(kinds.is_empty());
                    assert!(err.contains("warning [rbac]: ServiceAccount skypilot/sky-api-sa: lacks part of the minimal set as far as the stream shows (the aggregated ClusterRole sky-aggregated may get more from ClusterRoles outside the stream): get/list/watch/create/update/patch/delete/deletecollection pods,pods/status,pods/exec,pods/portforward,services,secrets; get/list/watch events"), "{tag}: {err}");
                    assert!(err.contains("ClusterRole sky-aggregated (via ClusterRoleBinding sky-aggregated) grants every verb (`*`) on storageclasses cluster-wide"), "{tag}: {err}");
                    assert!(!err.contains("wildcard resource"), "{tag}: the written rules were counted: {err}");
                }
                _ => {
                    assert_eq!(kinds, ["Role", "RoleBinding"], "{tag}: {err}");
                    no_wildcards(&added(&out));
                    // What the account holds once the controller has run: the gathered rules
                    // (test-side: the aggregated role's rules replaced by sky-reads' and
                    // sky-storage's) plus what skyhelm added.
                    let mut settled = out.clone();
                    let gathered: Vec<Value> = ["sky-reads", "sky-storage"]
                        .iter()
                        .flat_map(|n| {
                            let d = out.iter().find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == *n);
                            d.expect("gathered")["rules"].as_array().expect("rules").clone()
                        })
                        .collect();
                    for d in settled
                        .iter_mut()
                        .filter(|d| d["metadata"]["name"] == "sky-aggregated" && d["kind"] == "ClusterRole")
                    {
                        d["rules"] = Value::Array(gathered.clone());
                    }
                    assert_covers(&settled, "skypilot", "sky-api-sa", &minimal("skypilot"));
                    if mode == "tighten" {
                        assert!(err.contains("warning [rbac]: ClusterRole sky-aggregated is aggregated: the `*` verbs it gets from the ClusterRoles it gathers are judged as written"), "{tag}: {err}");
                    }
                }
            }
        }
    }
    validate_strict(&files);
}

/// What Helm 3 hands a post-renderer (`helm template` prints hooks, but the post-renderer
/// never sees them): a script that keeps its stdin is the post-renderer.
fn helm3_post_renderer_input(chart: &std::path::Path, values: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let (script, kept, vf) = (dir.path().join("keep.sh"), dir.path().join("input.yaml"), dir.path().join("v.yaml"));
    std::fs::write(&script, format!("#!/bin/sh\ntee '{}'\n", kept.display())).expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(&vf, values).expect("values");
    let [chart, script, vf] = [chart, &script, &vf].map(|p| p.to_str().expect("path").to_string());
    let printed =
        Helm::new("helm3").ok(&["template", "sky", &chart, "-n", "skypilot", "-f", &vf, "--post-renderer", &script]);
    assert!(printed.contains("helm.sh/hook"), "helm template prints the hooks");
    std::fs::read_to_string(&kept).expect("the post-renderer's input")
}

/// The upstream chart with its ServiceAccount and RBAC made by hooks (a chart that creates
/// them `pre-install`, as some do for Workload Identity): Helm 4 passes the hooks in the
/// stream, so they count (the account is created, the hook roles grant the minimal set:
/// nothing added, nothing said); Helm 3 passes none, so skyhelm adds only the bindings, never
/// a second ServiceAccount of the hook's name, and says the account must exist.
#[test]
fn hook_account_and_rbac_count_under_helm4_and_are_never_duplicated_under_helm3() {
    let dir = tempfile::tempdir().expect("tmp");
    let chart = dir.path().join("skypilot");
    copy_dir(&upstream_chart(), &chart);
    let rbac = std::fs::read_to_string(chart.join("templates/rbac.yaml")).expect("rbac.yaml");
    let hooks = rbac
        .replace("{{- if .Values.rbac.create }}", "{{- if .Values.hookRbac }}")
        .replace("\nmetadata:\n", "\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n");
    assert_eq!(hooks.matches("helm.sh/hook:").count(), 5);
    std::fs::write(chart.join("templates/hook-rbac.yaml"), hooks).expect("write");
    let values = format!("hookRbac: true\nrbac:\n  create: false\n{CONFIG}");
    let mut files = Vec::new();
    for form in [Form::Helm3, Form::Helm4] {
        let input = match form {
            Form::Helm3 => helm3_post_renderer_input(&chart, &values),
            Form::Helm4 => render_chart(form, chart.to_str().expect("path"), &values),
        };
        let before = k8s_json(&input);
        let hook_objects = before.iter().filter(|d| !d["metadata"]["annotations"]["helm.sh/hook"].is_null()).count();
        let text = post_render(&input, &[]);
        let path = dir.path().join(format!("{}.yaml", form as u8));
        std::fs::write(&path, &text).expect("write");
        files.push(path);
        let out = k8s_json(&text);
        let kinds: Vec<&str> = added(&out).iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
        let accounts = out.iter().filter(|d| d["kind"] == "ServiceAccount").count();
        let (_, _, err) = run(&input, &[]);
        let (strict, _, strict_err) = run(&input, &["--strict"]);
        match form {
            Form::Helm4 => {
                assert_eq!(hook_objects, 5, "Helm 4 passes hooks");
                assert!(kinds.is_empty(), "{kinds:?}");
                assert_eq!(accounts, 1);
                assert!(!err.contains("must exist") && !err.contains("managed elsewhere"), "{err}");
                assert_eq!(strict, 0, "{strict_err}");
                assert_covers(&out, "skypilot", "sky-api-sa", &minimal("skypilot"));
                // Hook roles are judged like the others: tighten narrows their `*` verbs.
                let tightened = post_render(&input, &["--rbac", "tighten"]);
                assert!(!tightened.contains("\"*\"") && !tightened.contains("'*'"), "{tightened}");
                assert!(tightened.matches("helm.sh/hook: pre-install,pre-upgrade").count() == 5);
            }
            Form::Helm3 => {
                assert_eq!(hook_objects, 0, "Helm 3 passes no hooks");
                assert_eq!(kinds, ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);
                assert_eq!(accounts, 0, "a ServiceAccount would duplicate the hook's");
                assert!(err.contains(MUST_EXIST), "{err}");
                // The hooks' RBAC is invisible here: "managed elsewhere", an error with --strict.
                assert!(err.contains(ELSEWHERE) && strict == 1 && strict_err.contains(ELSEWHERE), "{strict_err}");
            }
        }
    }
    validate_strict(&files);
}

#[test]
fn custom_account_and_in_cluster_namespace() {
    let values = format!(
        "rbac:\n  create: false\n  serviceAccountName: runner\nkubernetesCredentials:\n  inclusterNamespace: compute\n{CONFIG}"
    );
    let out = k8s_json(&post_render(&render(Form::Helm3, &values), &[]));
    let new = added(&out);
    assert!(new.iter().all(|d| d["kind"] != "ServiceAccount"));
    let rb: RoleBinding = serde_json::from_value(new[1].clone()).expect("RoleBinding");
    assert_eq!(rb.metadata.namespace.as_deref(), Some("compute"));
    let s = &rb.subjects.expect("subjects")[0];
    assert_eq!((s.name.as_str(), s.namespace.as_deref()), ("runner", Some("skypilot")));
    assert_covers(&out, "skypilot", "runner", &minimal("compute"));
}

#[test]
fn chart_rbac_with_or_without_rbac_management_is_complete() {
    for values in [CONFIG.to_string(), format!("rbac:\n  manageRbacPolicies: false\n{CONFIG}")] {
        let out = k8s_json(&post_render(&render(Form::Helm4, &values), &[]));
        assert!(added(&out).is_empty());
        assert_covers(&out, "skypilot", "sky-api-sa", &minimal("skypilot"));
    }
}

/// Older upstream charts (mid-2025) grant no storageclasses in their ClusterRole: skyhelm adds
/// exactly that, in a ClusterRole of its own.
#[test]
fn older_chart_lacking_storageclasses_gets_only_that() {
    let input = render(Form::Helm3, CONFIG);
    let old = input.replace("  - apiGroups:\n    - storage.k8s.io\n    resources:\n    - storageclasses\n    verbs:\n    - get\n    - list\n    - watch\n", "");
    assert_ne!(old, input, "the rendered ClusterRole had storageclasses to remove");
    let out = k8s_json(&post_render(&old, &[]));
    let new = added(&out);
    let kinds: Vec<&str> = new.iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["ClusterRole", "ClusterRoleBinding"]);
    assert_eq!(
        new[0]["rules"],
        serde_json::json!([{"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list", "watch"]}])
    );
    let crb: ClusterRoleBinding = serde_json::from_value(new[1].clone()).expect("ClusterRoleBinding");
    assert_eq!(crb.role_ref.name, new[0]["metadata"]["name"].as_str().unwrap_or(""));
    assert_covers(&out, "skypilot", "sky-api-sa", &minimal("skypilot"));
}

#[test]
fn no_in_cluster_context_needs_no_permissions() {
    let values = "rbac:\n  create: false\nkubernetesCredentials:\n  useApiServerCluster: false\n";
    let out = k8s_json(&post_render(&render(Form::Helm3, values), &[]));
    assert!(added(&out).is_empty());
}

fn audit_report(values: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let out = skyhelm(&["diff", &kc, "--rbac", "audit", "--color", "never"], render(Form::Helm3, values).as_bytes());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!text.contains("has been added"), "audit adds nothing");
    text.lines()
        .filter(|l| l.starts_with("warning (rbac)") || l.starts_with("note (rbac)"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn audit_snapshots() {
    insta::assert_snapshot!("audit-chart-defaults", audit_report(CONFIG));
    insta::assert_snapshot!(
        "audit-no-rbac-management",
        audit_report(&format!("rbac:\n  manageRbacPolicies: false\n  manageSystemComponents: false\n{CONFIG}"))
    );
    insta::assert_snapshot!(
        "audit-in-cluster-off",
        audit_report("kubernetesCredentials:\n  useApiServerCluster: false\n")
    );
}

#[test]
fn tighten_keeps_every_needed_permission_and_drops_wildcard_verbs() {
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, CONFIG);
        let before = k8s_json(&input);
        let text = post_render(&input, &["--rbac", "tighten"]);
        let out = k8s_json(&text);
        // Needed: the minimal set and every feature the chart rendered.
        let mut needs = minimal("skypilot");
        for verb in VERBS {
            for (group, res) in [
                ("apps", "deployments"),
                ("apps", "deployments/status"),
                ("", "persistentvolumeclaims"),
                ("rbac.authorization.k8s.io", "roles"),
                ("rbac.authorization.k8s.io", "rolebindings"),
                ("", "serviceaccounts"),
            ] {
                needs.push((group, res.into(), verb, Some("skypilot".into())));
            }
            for res in ["clusterroles", "clusterrolebindings"] {
                needs.push(("rbac.authorization.k8s.io", res.into(), verb, None));
            }
            needs.push(("apps", "daemonsets".into(), verb, Some("skypilot-system".into())));
        }
        for verb in ["get", "patch"] {
            needs.push(("", "configmaps".into(), verb, Some("skypilot".into())));
        }
        assert_covers(&before, "skypilot", "sky-api-sa", &needs);
        assert_covers(&out, "skypilot", "sky-api-sa", &needs);
        let rules = bound_rules(&out, "skypilot", "sky-api-sa");
        assert!(rules.iter().all(|(r, _)| !r.verbs.iter().any(|v| v == "*")), "{form:?}: a wildcard verb is left");
        assert!(added(&out).is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Every RBAC mode on both upstream chart shapes (tests/fixtures/rbac-shapes), both input forms.

const STANDARD: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const RBAC_KINDS: &[&str] = &["ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Y2025,
    Y2026,
}

/// charts/skypilot with the RBAC templates of one upstream shape, rendered by real Helm.
fn render_shape(shape: Shape, form: Form, values: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let chart = dir.path().join("skypilot");
    copy_dir(&root().join("charts/skypilot"), &chart);
    let year = if shape == Shape::Y2025 { "2025" } else { "2026" };
    std::fs::copy(
        root().join("tests/fixtures/rbac-shapes").join(year).join("rbac.yaml"),
        chart.join("templates/rbac.yaml"),
    )
    .expect("copy templates");
    render_chart(form, chart.to_str().expect("path"), values)
}

/// (name, values, service account, namespace of the in-cluster Role, RBAC management rendered,
/// chart renders RBAC)
const CASES: &[(&str, &str, &str, &str, bool, bool)] = &[
    ("defaults", "", "sky-api-sa", "skypilot", true, true),
    ("no-rbac-management", "rbac:\n  manageRbacPolicies: false\n", "sky-api-sa", "skypilot", false, true),
    ("rbac-create-false", "rbac:\n  create: false\n", "sky-api-sa", "skypilot", false, false),
    (
        "in-cluster-namespace",
        "kubernetesCredentials:\n  inclusterNamespace: compute\n",
        "sky-api-sa",
        "compute",
        true,
        true,
    ),
    ("fullname-override", "fullnameOverride: prod\n", "prod-api-sa", "skypilot", true, true),
];

/// Expands rules into single permissions (`*` verbs into the standard ones); rules with
/// resourceNames or wildcard resources are left out (they are kept as written).
fn expand(rules: &[(PolicyRule, Option<String>)]) -> Vec<Need> {
    let mut out = Vec::new();
    for (r, ns) in rules {
        if r.resource_names.as_ref().is_some_and(|n| !n.is_empty()) {
            continue;
        }
        let verbs: Vec<&str> = if r.verbs.iter().any(|v| v == "*") {
            STANDARD.to_vec()
        } else {
            r.verbs.iter().map(String::as_str).collect()
        };
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                for v in &verbs {
                    let g: &'static str = Box::leak(g.clone().into_boxed_str());
                    let v: &'static str = Box::leak(v.to_string().into_boxed_str());
                    out.push((g, res.clone(), v, ns.clone()));
                }
            }
        }
    }
    out
}

fn escalate_bind(ns: &str, cluster: bool) -> Vec<Need> {
    let mut v = Vec::new();
    for verb in ["escalate", "bind"] {
        if cluster {
            v.push(("rbac.authorization.k8s.io", "clusterroles".to_string(), verb, None));
        } else {
            v.push(("rbac.authorization.k8s.io", "roles".to_string(), verb, Some(ns.to_string())));
        }
    }
    v
}

/// The RBAC objects of a stream: every one deserializes into its k8s-openapi type.
fn typed_rbac(out: &[Value]) -> usize {
    let mut n = 0;
    for d in out.iter().filter(|d| RBAC_KINDS.contains(&d["kind"].as_str().unwrap_or(""))) {
        let ok = match d["kind"].as_str().unwrap_or("") {
            "ServiceAccount" => serde_json::from_value::<ServiceAccount>(d.clone()).is_ok(),
            "Role" => serde_json::from_value::<Role>(d.clone()).is_ok(),
            "ClusterRole" => serde_json::from_value::<ClusterRole>(d.clone()).is_ok(),
            "RoleBinding" => serde_json::from_value::<RoleBinding>(d.clone()).is_ok(),
            _ => serde_json::from_value::<ClusterRoleBinding>(d.clone()).is_ok(),
        };
        assert!(ok, "not a valid k8s-openapi object: {d}");
        n += 1;
    }
    n
}

fn rbac_docs(out: &[Value]) -> Vec<Value> {
    out.iter()
        .filter(|d| RBAC_KINDS.contains(&d["kind"].as_str().unwrap_or("")) && !added_by_skyhelm(d))
        .cloned()
        .collect()
}

/// Runs kubernetes-validate (Kubernetes 1.34 schemas, strict: unknown fields are errors) on
/// every file; returns how many resources passed.
fn validate_strict(files: &[std::path::PathBuf]) -> usize {
    let mut cmd = std::process::Command::new(crate::util::python());
    cmd.args(["-m", "kubernetes_validate", "-k", "1.34.0", "--strict"]).args(files);
    let out = run_with_stdin(&mut cmd, b"");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kubernetes-validate failed (pip install kubernetes-validate==1.37.0):\n{text}");
    assert!(!text.contains("ERROR") && !text.contains("WARN"), "{text}");
    text.lines().filter(|l| l.contains("passed for resource") && l.contains("against version 1.34")).count()
}

#[test]
fn every_mode_on_both_chart_shapes_and_forms() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    let mut rbac_objects = 0;
    for shape in [Shape::Y2025, Shape::Y2026] {
        for form in [Form::Helm3, Form::Helm4] {
            for (case, values, sa, role_ns, management, create) in CASES {
                let tag = format!("{shape:?} {form:?} {case}");
                let input = render_shape(shape, form, &format!("{values}{CONFIG}"));
                let before = k8s_json(&input);
                let before_rules = bound_rules(&before, "skypilot", sa);
                for mode in ["off", "audit", "add", "tighten"] {
                    let tag = format!("{tag} --rbac {mode}");
                    // post_render also runs skyhelm again on its output: a second run changes
                    // and adds nothing.
                    let text = post_render(&input, &["--rbac", mode]);
                    let path = dir.path().join(format!("{}-{}-{case}-{mode}.yaml", shape as u8, form as u8));
                    std::fs::write(&path, &text).expect("write");
                    files.push(path);
                    let out = k8s_json(&text);
                    rbac_objects += typed_rbac(&out);
                    let new = added(&out);
                    for d in &new {
                        assert_eq!(d["metadata"]["labels"]["skyhelm.io/added-by"], "rbac", "{tag}");
                        assert!(d["metadata"]["labels"].get("app.kubernetes.io/managed-by").is_none(), "{tag}");
                        if ["ClusterRole", "ClusterRoleBinding"].contains(&d["kind"].as_str().unwrap_or("")) {
                            assert!(d["metadata"]["name"].as_str().unwrap_or("").contains("skypilot"), "{tag}: {d}");
                        }
                    }
                    no_wildcards(&new);
                    let rules = bound_rules(&out, "skypilot", sa);
                    match mode {
                        "off" | "audit" => {
                            assert!(new.is_empty(), "{tag}");
                            assert_eq!(rbac_docs(&before), rbac_docs(&out), "{tag}: RBAC changed");
                        }
                        "add" => {
                            assert_covers(&out, "skypilot", sa, &minimal(role_ns));
                            assert_eq!(rbac_docs(&before), rbac_docs(&out), "{tag}: the chart's RBAC changed");
                            // Only what was missing is added.
                            let lacking = minimal(role_ns).into_iter().filter(|n| !covered(&before_rules, n)).count();
                            assert_eq!(new.is_empty(), lacking == 0, "{tag}");
                        }
                        _ => {
                            assert_covers(&out, "skypilot", sa, &minimal(role_ns));
                            // Every permission the chart granted is kept (`*` as the standard verbs).
                            for n in expand(&before_rules) {
                                assert!(covered(&rules, &n), "{tag}: tighten dropped {n:?}");
                            }
                            // Nothing is granted that the chart or the minimal set did not.
                            let min = minimal(role_ns);
                            for n in expand(&rules) {
                                let eb = n.2 == "escalate" || n.2 == "bind";
                                let was = covered(&before_rules, &n);
                                assert!(was || min.contains(&n), "{tag}: tighten granted {n:?}");
                                if eb {
                                    assert!(management, "{tag}: escalate/bind without RBAC management");
                                }
                            }
                            if *management {
                                for n in escalate_bind(role_ns, false)
                                    .into_iter()
                                    .chain(escalate_bind("skypilot-system", false))
                                    .chain(escalate_bind("", true))
                                {
                                    assert!(covered(&rules, &n), "{tag}: escalate/bind not kept: {n:?}");
                                }
                            }
                            assert!(
                                rules.iter().all(|(r, _)| !r.verbs.iter().any(|v| v == "*")),
                                "{tag}: a wildcard verb is left"
                            );
                            if !create {
                                // rbac.create=false: exactly the minimal set.
                                let mut got = expand(&rules);
                                got.sort();
                                got.dedup();
                                let mut want = minimal(role_ns);
                                want.sort();
                                assert_eq!(got, want, "{tag}");
                            }
                        }
                    }
                }
            }
        }
    }
    // 2 shapes × 2 forms × 5 cases × 4 modes.
    assert_eq!(files.len(), 80);
    assert!(rbac_objects > 400, "{rbac_objects}");
    let passed = validate_strict(&files);
    assert!(passed >= rbac_objects, "{passed} resources passed, {rbac_objects} RBAC objects written");
}

/// The validator used above does reject what the API server would: a negative control.
#[test]
fn strict_validation_rejects_an_unknown_field() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: x\n  namespace: y\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n  resourceName: [z]\n").expect("write");
    let out = run_with_stdin(
        std::process::Command::new(crate::util::python())
            .args(["-m", "kubernetes_validate", "-k", "1.34.0", "--strict"])
            .arg(&p),
        b"",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("'resourceName' was unexpected"));
}

#[test]
fn tighten_reports_every_rewrite_and_what_it_leaves() {
    for form in [Form::Helm3, Form::Helm4] {
        let input = render_shape(Shape::Y2025, form, CONFIG);
        let dir = tempfile::tempdir().expect("tmp");
        let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
        let out = skyhelm(&["diff", &kc, "--rbac", "tighten", "--color", "never"], input.as_bytes());
        let text = String::from_utf8(out.stdout).expect("utf-8");
        // The 2025 ClusterRole lacks storageclasses: added first, with its reason.
        assert!(text.contains("ClusterRole added: grants what the minimal set needs and nothing in the stream grants: get/list/watch storage.k8s.io/storageclasses"), "{text}");
        assert!(text.contains("rule 8 (roles, rolebindings): verbs `*` → [get, list, watch, create, update, patch, delete, deletecollection, escalate, bind]; `escalate` and `bind` kept"), "{text}");
        assert!(text.contains("(clusterroles, clusterrolebindings): verbs `*` → [get, list, watch, create, update, patch, delete, deletecollection, escalate, bind]"), "{text}");
        assert!(text.contains("all standard verbs for apps/daemonsets (not in SkyPilot's documented needs"), "{text}");
        assert!(
            text.contains("note (rbac): tighten: ServiceAccount skypilot/sky-api-sa now holds the minimal set"),
            "{text}"
        );
        // Every changed or added RBAC resource has a reason line.
        for block in text.split("\n\n").filter(|b| b.contains("(rbac.authorization.k8s.io) has")) {
            assert!(block.contains("\n  rbac: "), "{block}");
        }
    }
}

#[test]
fn tighten_leaves_shared_and_wildcard_resource_roles_with_a_warning() {
    let input = format!(
        "{API_DEPLOYMENT}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: shared\n  namespace: sky\nrules:\n- apiGroups: [\"\"]\n  resources: [pods, pods/status, pods/exec, pods/portforward, services, secrets, events]\n  verbs: [\"*\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: shared\n  namespace: sky\nsubjects:\n- kind: ServiceAccount\n  name: sky-api\n- kind: ServiceAccount\n  name: other\nroleRef:\n  kind: Role\n  name: shared\n  apiGroup: rbac.authorization.k8s.io\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: wide\nrules:\n- apiGroups: [\"*\"]\n  resources: [\"*\"]\n  verbs: [\"*\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: wide\nsubjects:\n- kind: ServiceAccount\n  name: sky-api\n  namespace: sky\nroleRef:\n  kind: ClusterRole\n  name: wide\n  apiGroup: rbac.authorization.k8s.io\n"
    );
    let out = skyhelm(&["post-render", "--rbac", "tighten"], input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Role sky/shared has `*` verbs but is also bound to ServiceAccount sky/other: left as it is"),
        "{err}"
    );
    assert!(
        err.contains("ClusterRole wide rule 1: `*` verbs on wildcard resources or API groups left as they are"),
        "{err}"
    );
    assert!(err.contains("can read Secrets in every namespace"), "{err}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // Nothing rewritten (both roles are left), nothing added (the roles already grant the
    // minimal set; the account is never added).
    let out = k8s_json(&text);
    assert!(added(&out).is_empty());
    let docs_in: Vec<String> = docs(&input);
    let docs_out: Vec<String> = docs(&text);
    assert_eq!(docs_in[1..], docs_out[1..docs_in.len()], "the RBAC documents are byte for byte as they were");
}

/// A cluster-wide `*` grant also holds in the API server's namespace: narrowing it keeps the
/// namespaced needs (pods: every verb), not only the cluster-wide ones (pods: get, list).
#[test]
fn tighten_keeps_namespaced_needs_of_a_cluster_wide_grant() {
    let input = format!(
        "{API_DEPLOYMENT}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sky-api, namespace: sky}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: wide}}\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [\"*\"]\n- apiGroups: [\"\"]\n  resources: [pods/status, pods/exec, pods/portforward, services, secrets, events, nodes]\n  verbs: [\"*\"]\n- apiGroups: [node.k8s.io, storage.k8s.io]\n  resources: [runtimeclasses, storageclasses]\n  verbs: [get, list, watch]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: wide}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wide}}\nsubjects: [{{kind: ServiceAccount, name: sky-api, namespace: sky}}]\n"
    );
    let text = post_render(&input, &["--rbac", "tighten"]);
    let out = k8s_json(&text);
    assert!(added(&out).is_empty(), "the stream grants the minimal set: nothing to add");
    assert!(!text.contains("\"*\""), "{text}");
    assert_covers(&out, "sky", "sky-api", &minimal("sky"));
}

/// Names in the stream reach stderr in warnings (a binding, its other subjects): terminal
/// escapes and direction marks in them are shown escaped, never sent to the terminal.
#[test]
fn names_from_the_stream_reach_stderr_escaped() {
    let input = format!(
        "{API_DEPLOYMENT}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: shared, namespace: sky}}\nrules: [{{apiGroups: [\"\"], resources: [pods], verbs: [\"*\"]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: \"b\\e]0;title\\a\", namespace: sky}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: shared}}\nsubjects: [{{kind: ServiceAccount, name: sky-api}}, {{kind: User, name: \"u\\e[2J\\u202E\"}}]\n"
    );
    let out = skyhelm(&["post-render", "--rbac", "tighten"], input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(!err.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{err:?}");
    assert!(err.contains("is also bound to User u\\u{1b}[2J\\u{202e}: left as it is"), "{err}");
    assert!(err.contains("(via RoleBinding sky/b\\u{1b}]0;title\\u{7})"), "{err}");
    // The diff report's notes too.
    let out = skyhelm(&["diff", "--rbac", "tighten", "--color", "never"], input.as_bytes());
    let report = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!report.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{report:?}");
    assert!(report.contains("is also bound to User u\\u{1b}[2J\\u{202e}: left as it is"), "{report}");
}

fn refusal(input: &str, args: &[&str]) -> String {
    let out = skyhelm(args, input.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout must be empty on error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The upstream chart with rbac.serviceAccountName=default, and a Deployment with no
/// serviceAccountName at all: add and tighten refuse to bind anything to `default`.
#[test]
fn default_service_account_is_refused_with_the_fix() {
    for form in [Form::Helm3, Form::Helm4] {
        let input = render_shape(
            Shape::Y2026,
            form,
            &format!("rbac:\n  create: false\n  serviceAccountName: default\n{CONFIG}"),
        );
        let dir = tempfile::tempdir().expect("tmp");
        let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
        for mode in ["add", "tighten"] {
            let err = refusal(&input, &["post-render", &kc, "--rbac", mode]);
            assert!(err.contains("Deployment skypilot/sky-api-server"), "{err}");
            assert!(err.contains("`default` ServiceAccount of namespace skypilot"), "{err}");
            assert!(err.contains("rbac.serviceAccountName") && err.contains("--rbac off"), "{err}");
        }
        for mode in ["audit", "off"] {
            let out = skyhelm(&["post-render", &kc, "--rbac", mode], input.as_bytes());
            assert!(out.status.success(), "{mode}");
        }
    }
    let bare = API_DEPLOYMENT.replace("      serviceAccountName: sky-api\n", "");
    assert_ne!(bare, API_DEPLOYMENT);
    let err = refusal(&bare, &["post-render"]);
    assert!(err.contains("document 1 (Deployment sky/sky-api-server), line "), "{err}");
    assert!(err.contains("`default` ServiceAccount"), "{err}");
}

#[test]
fn unknown_namespace_is_refused_not_guessed() {
    let no_ns = API_DEPLOYMENT.replace("  namespace: sky\n", "");
    assert_ne!(no_ns, API_DEPLOYMENT);
    for mode in ["add", "tighten"] {
        let err = refusal(&no_ns, &["post-render", "--rbac", mode]);
        assert!(err.contains("neither the documents nor --release-namespace say which namespace"), "{err}");
        assert!(err.contains("--release-namespace NS"), "{err}");
    }
    let text = String::from_utf8(skyhelm(&["post-render", "--release-namespace", "team-a"], no_ns.as_bytes()).stdout)
        .expect("utf-8");
    let out = k8s_json(&text);
    let rb = out.iter().find(|d| d["kind"] == "RoleBinding").expect("a RoleBinding");
    assert_eq!(rb["subjects"][0]["namespace"], "team-a");
    assert!(!text.contains("namespace: default"));
    // No in-cluster context: nothing to bind, nothing refused.
    let no_token = no_ns.replace(
        "    spec:\n      containers:",
        "    spec:\n      automountServiceAccountToken: false\n      containers:",
    );
    let out = skyhelm(&["post-render"], no_token.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn cluster_scoped_names_differ_between_namespaces() {
    let names = |ns: &str| -> Vec<String> {
        let input = API_DEPLOYMENT.replace("namespace: sky", &format!("namespace: {ns}"));
        let out = k8s_json(&String::from_utf8(skyhelm(&["post-render"], input.as_bytes()).stdout).expect("utf-8"));
        out.iter()
            .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding")
            .map(|d| d["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (dev, prod) = (names("dev"), names("prod"));
    assert_eq!(dev, ["skyhelm:dev:sky-api-server", "skyhelm:dev:sky-api-server"]);
    assert_eq!(prod, ["skyhelm:prod:sky-api-server", "skyhelm:prod:sky-api-server"]);
    // A namespace YAML 1.1 would read as a boolean stays a string in what skyhelm writes.
    let input = API_DEPLOYMENT.replace("namespace: sky", "namespace: \"yes\"");
    let out = k8s_json(&String::from_utf8(skyhelm(&["post-render"], input.as_bytes()).stdout).expect("utf-8"));
    let crb = out.iter().find(|d| d["kind"] == "ClusterRoleBinding").expect("a ClusterRoleBinding");
    assert_eq!(crb["metadata"]["name"], "skyhelm:yes:sky-api-server");
    assert_eq!(crb["subjects"][0]["namespace"], "yes");
}

/// The upstream chart released as `c` in namespace `a-b` and as `b-c` in namespace `a` (both
/// Helm forms, rbac.create=false so skyhelm adds the roles): the two releases' added
/// ClusterRoles, ClusterRoleBindings, and Roles in a shared in-cluster namespace, have
/// different names (they were both `a-b-c-api-server-skyhelm`), each binds its own account,
/// and the output passes kubernetes-validate --strict.
#[test]
fn added_names_of_two_releases_never_collide() {
    let chart = upstream_chart();
    let chart = chart.to_str().expect("path");
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    for form in [Form::Helm3, Form::Helm4] {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (ns, release) in [("a-b", "c"), ("a", "b-c")] {
            let values = format!(
                "fullnameOverride: {release}\nrbac:\n  create: false\nkubernetesCredentials:\n  inclusterNamespace: compute\n{CONFIG}"
            );
            let input = render_chart_in(form, chart, &values, ns);
            let text = post_render(&input, &[]);
            let path = dir.path().join(format!("{}-{ns}.yaml", form as u8));
            std::fs::write(&path, &text).expect("write");
            files.push(path);
            let out = k8s_json(&text);
            let new: Vec<&Value> = added(&out).into_iter().filter(|d| d["kind"] != "ServiceAccount").collect();
            let kinds: Vec<&str> = new.iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
            assert_eq!(kinds, ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"], "{form:?} {ns}");
            for d in &new {
                let name = d["metadata"]["name"].as_str().unwrap_or("").to_string();
                assert_eq!(name, format!("skyhelm:{ns}:{release}-api-server"), "{form:?}");
                let key = (d["kind"].as_str().unwrap_or("").to_string(), name);
                assert!(!seen.contains(&key), "{form:?}: {key:?} written by both releases");
                seen.push(key);
            }
            assert_covers(&out, ns, &format!("{release}-api-sa"), &minimal("compute"));
        }
    }
    validate_strict(&files);
}

/// The RBAC shapes of issue 21 §1, generated by scripts/gen_stream.py (the SkyPilot chart and
/// the shape, bound to its account skypilot/skypilot-api-sa): in every mode, peak memory stays
/// within 3 × the input + 20 MB (MB: 10^6 bytes; GNU time measures the process, in KiB) and
/// stderr stays bounded (messages per role with counts and the first few rules, the first 10
/// roles one by one, 20 changes per rule listed). Tighten rewrites every `*` rule of huge-role
/// and bindings-x-rules and half the roles of many-roles. The 20 MB include the process itself,
/// which the release binary holds to 9 MiB on the chart alone; a debug binary (`cargo test`) is
/// larger, so what it takes on the chart alone beyond 9 MiB is allowed on top.
#[test]
fn many_roles_stay_within_memory_budget() {
    let dir = tempfile::tempdir().expect("tmp");
    let time = std::path::Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time is missing: run scripts/install-tools.sh");
    let kc = kubeconfig_file(dir.path());
    let peak_kb = |input: &std::path::Path, mode: &str| -> (u64, usize) {
        let (rss, err, out) = (dir.path().join("rss"), dir.path().join("err"), dir.path().join("out"));
        let status = crate::util::clean(&mut std::process::Command::new(time))
            .args(["-f", "%M", "-o"])
            .arg(&rss)
            .arg(crate::util::bin())
            .args(["post-render", "--allow-unknown-contexts", "--rbac", mode, "--skypilot-kubeconfig"])
            .arg(&kc)
            .stdin(std::fs::File::open(input).expect("open"))
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"))
            .status()
            .expect("run");
        assert!(status.success(), "{} --rbac {mode}", input.display());
        let kb: u64 = std::fs::read_to_string(&rss).expect("rss").trim().parse().expect("kB");
        (kb, std::fs::read_to_string(&err).expect("stderr").lines().count())
    };
    let (alone, _) = peak_kb(&root().join("examples/helm3-rendered.yaml"), "add");
    let binary = alone.saturating_sub(9 * 1024);
    // (shape, N, smallest size)
    let shapes: &[(&str, usize, u64)] = &[
        ("bindings-x-rules", 40_000, 5_000_000),
        ("huge-role", 100_000, 5_000_000),
        ("many-roles", 20_000, 8_000_000),
        ("other-accounts", 40_000, 10_000_000),
        ("unbound-roles", 100_000, 15_000_000),
    ];
    for (shape, n, least) in shapes {
        let path = dir.path().join(format!("{shape}.yaml"));
        let generated = std::process::Command::new(crate::util::python())
            .arg(root().join("scripts/gen_stream.py"))
            .args(["--rbac", shape, &n.to_string()])
            .arg(&path)
            .status()
            .expect("gen_stream.py");
        assert!(generated.success());
        let size = std::fs::metadata(&path).expect("size").len();
        assert!(size > *least, "{shape}: {size}");
        for mode in ["add", "audit", "tighten"] {
            let (kb, lines) = peak_kb(&path, mode);
            let budget = (3 * size + 20_000_000) / 1024 + binary;
            assert!(kb <= budget, "{shape} --rbac {mode}: peak {kb} kB > {budget} kB");
            assert!(lines <= 40, "{shape} --rbac {mode}: {lines} stderr lines");
        }
    }
}

/// `*` verbs shared through an anchor cannot be edited in place: tighten leaves that rule (with
/// a warning), still narrows the rule that only names the alias, and does not claim the role is
/// free of `*`.
#[test]
fn tighten_leaves_anchored_verbs_with_a_warning() {
    let input = format!(
        "{API_DEPLOYMENT}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n  namespace: sky\nrules:\n- apiGroups: [\"\"]\n  resources: [pods, pods/status, pods/exec, pods/portforward, services, secrets, events]\n  verbs: &all [\"*\"]\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: *all\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: r\n  namespace: sky\nsubjects:\n- kind: ServiceAccount\n  name: sky-api\nroleRef:\n  kind: Role\n  name: r\n  apiGroup: rbac.authorization.k8s.io\n"
    );
    let out = skyhelm(&["post-render", "--rbac", "tighten"], input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Role sky/r rule 1: `*` verbs left as they are"), "{err}");
    assert!(err.contains("shared through an anchor"), "{err}");
    assert!(err.contains("`*` verbs left (see the warnings) in Role sky/r"), "{err}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let role =
        k8s_json(&text).into_iter().find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "r").expect("Role r");
    assert_eq!(role["rules"][0]["verbs"], serde_json::json!(["*"]));
    assert_eq!(
        role["rules"][1]["verbs"],
        serde_json::json!(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"])
    );
}

/// A ClusterRole that an aggregated ClusterRole gathers is never narrowed, even when the
/// aggregated one is bound to someone else or to no one (found by review: only aggregated
/// roles bound to the account were looked at, so tighten rewrote `piece`'s `*`, which also
/// narrows what `agg` gives other-sa). A ClusterRole no selector matches is still narrowed.
#[test]
fn a_cluster_role_gathered_by_an_aggregated_one_bound_elsewhere_is_left_as_written() {
    let chart = std::fs::read_to_string(root().join("examples/helm3-rendered.yaml")).expect("example");
    let role = |name: &str, label: &str| {
        format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\n  labels:\n    x: \"{label}\"\nrules:\n- apiGroups: [\"example.com\"]\n  resources: [\"widgets\"]\n  verbs: [\"*\"]\n"
        )
    };
    let binding = |name: &str, sa: &str, role: &str| {
        format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\nsubjects:\n- kind: ServiceAccount\n  name: {sa}\n  namespace: skypilot\nroleRef:\n  kind: ClusterRole\n  name: {role}\n  apiGroup: rbac.authorization.k8s.io\n"
        )
    };
    let agg = "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: agg\naggregationRule:\n  clusterRoleSelectors:\n  - matchLabels:\n      x: \"y\"\nrules: []\n";
    for (case, agg_binding) in
        [("bound to other-sa", binding("b-agg", "other-sa", "agg")), ("bound to no one", String::new())]
    {
        let input = format!(
            "{}{}{agg}{}{}{}{agg_binding}",
            chart.trim_end_matches('\n').to_string() + "\n",
            role("piece", "y"),
            binding("b-piece", "skypilot-api-sa", "piece"),
            role("loose", "n"),
            binding("b-loose", "skypilot-api-sa", "loose"),
        );
        let (code, text, err) = run(&input, &["--allow-unknown-contexts", "--rbac", "tighten"]);
        assert_eq!(code, 0, "{case}: {err}");
        assert_eq!(doc_text(&text, "ClusterRole", "piece"), doc_text(&input, "ClusterRole", "piece"), "{case}: {err}");
        assert!(
            err.contains("ClusterRole piece (via ClusterRoleBinding b-piece) grants every verb (`*`)"),
            "{case}: {err}"
        );
        assert!(!doc_text(&text, "ClusterRole", "loose").contains("\"*\""), "{case}: loose is narrowed: {err}");
        assert!(err.contains("ClusterRole loose") && !err.contains("rewritten in ClusterRole piece"), "{case}: {err}");
    }
}
