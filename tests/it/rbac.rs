//! RBAC for the API server's account on upstream-shaped input (rendered by real Helm, both
//! forms): added objects are valid k8s-openapi objects, bind the right subject in the right
//! namespace, have no wildcard and cover the minimal set; audit is snapshot-tested; tighten
//! keeps every permission the rendered features need. Coverage is computed here, test-side,
//! from the typed objects, not with skyhelm's own evaluator.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde_json::Value;

use crate::helm::{Form, added_by_skyhelm, render};
use crate::util::{docs, k8s_json, kubeconfig_file, skyhelm};

const CONFIG: &str = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";
const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];

fn post_render(input: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--kubeconfig={}", kubeconfig_file(dir.path()).display());
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

#[test]
fn rbac_create_false_gets_account_and_minimal_roles() {
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, &format!("rbac:\n  create: false\n{CONFIG}"));
        let text = post_render(&input, &[]);
        let out = k8s_json(&text);
        let new = added(&out);
        let kinds: Vec<&str> = new.iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"], "{form:?}");
        let sa: ServiceAccount = serde_json::from_value(new[0].clone()).expect("ServiceAccount");
        assert_eq!(
            (sa.metadata.name.as_deref(), sa.metadata.namespace.as_deref()),
            (Some("sky-api-sa"), Some("skypilot"))
        );
        let role: Role = serde_json::from_value(new[1].clone()).expect("Role");
        assert_eq!(role.metadata.namespace.as_deref(), Some("skypilot"));
        no_wildcards(&new);
        assert_covers(&out, "skypilot", "sky-api-sa", &minimal("skypilot"));
        if matches!(form, Form::Helm4) {
            let added_docs: Vec<String> =
                docs(&text).into_iter().filter(|d| d.contains("managed-by: skyhelm")).collect();
            assert!(
                added_docs.iter().all(|d| d.contains("postrenderer.helm.sh/postrender-filename: skyhelm/rbac.yaml"))
            );
        } else {
            assert!(text.contains("# Source: skyhelm/rbac.yaml"));
        }
    }
}

#[test]
fn custom_account_and_in_cluster_namespace() {
    let values = format!(
        "rbac:\n  create: false\n  serviceAccountName: runner\nkubernetesCredentials:\n  inclusterNamespace: compute\n{CONFIG}"
    );
    let out = k8s_json(&post_render(&render(Form::Helm3, &values), &[]));
    let new = added(&out);
    assert_eq!(new[0]["metadata"]["name"], "runner");
    let rb: RoleBinding = serde_json::from_value(new[2].clone()).expect("RoleBinding");
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
    let kc = format!("--kubeconfig={}", kubeconfig_file(dir.path()).display());
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
