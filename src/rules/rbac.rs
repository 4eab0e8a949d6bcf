//! RBAC for the API server's service account: add what the minimal set lacks, audit what the
//! stream grants, or tighten wildcard rules bound only to that account (data in `crate::rbac`).

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::change::{AddedDoc, Change, Intent, Note, RuleId, Seg, Severity};
use crate::contexts::ContextFacts;
use crate::rbac::{self, ALL_VERBS, FEATURES, Grant, MINIMAL_CLUSTER, MINIMAL_NAMESPACED, Perm, RbacObjects};
use crate::stream::{ManifestError, Manifests, ResourceId};
use crate::yaml::emit::{self, Layout};
use crate::yaml::{Edit, Editor};

use super::{
    RuleError,
    api_server::{ApiServer, env_value},
};

pub const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";
pub const ADDED_FILENAME: &str = "skyhelm/rbac.yaml";
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "skyhelm");
pub const IN_CLUSTER_NAMESPACE_ENV: &str = "SKYPILOT_IN_CLUSTER_NAMESPACE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RbacMode {
    #[default]
    Add,
    Audit,
    Tighten,
    Off,
}

/// What the RBAC rule returns: the one shape every rule returns.
pub type RbacOutcome = crate::change::RuleOutput;

fn note(severity: Severity, message: String) -> Note {
    Note { severity, rule: RuleId::Rbac, message }
}

/// The service account and namespaces that matter.
struct Account {
    name: String,
    namespace: String,
    /// Where the in-cluster context works (SKYPILOT_IN_CLUSTER_NAMESPACE, else the pod's).
    in_cluster_ns: String,
}

fn account(m: &Manifests, api: &ApiServer) -> Result<Account, ManifestError> {
    let tree = m.tree(api.doc)?;
    let name = tree
        .get_str(api.pod_spec, "serviceAccountName")
        .or_else(|| tree.get_str(api.pod_spec, "serviceAccount"))
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    let namespace = api.resource.namespace.clone().unwrap_or_else(|| "default".into());
    let in_cluster_ns = env_value(tree, api.container, IN_CLUSTER_NAMESPACE_ENV)
        .and_then(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .map_or_else(|| namespace.clone(), str::to_string);
    Ok(Account { name, namespace, in_cluster_ns })
}

/// Reads every Role, ClusterRole, RoleBinding and ClusterRoleBinding of the stream.
pub fn read_objects(m: &Manifests, notes: &mut Vec<Note>) -> Result<RbacObjects, ManifestError> {
    let mut objs = RbacObjects::default();
    for doc in m.containing("Role") {
        let Some(r) = m.resource(doc)? else { continue };
        let tree = m.tree(doc)?;
        let Some(root) = tree.root() else { continue };
        let v = tree.to_json(root);
        let bad =
            |e: serde_json::Error| note(Severity::Warning, format!("{r} is not a valid {}: {e}; ignored", r.kind));
        match r.kind.as_str() {
            "Role" => match serde_json::from_value::<Role>(v) {
                Ok(x) => objs.roles.push((doc, x)),
                Err(e) => notes.push(bad(e)),
            },
            "ClusterRole" => match serde_json::from_value::<ClusterRole>(v) {
                Ok(x) => objs.cluster_roles.push((doc, x)),
                Err(e) => notes.push(bad(e)),
            },
            "RoleBinding" => match serde_json::from_value::<RoleBinding>(v) {
                Ok(x) => objs.role_bindings.push((doc, x)),
                Err(e) => notes.push(bad(e)),
            },
            "ClusterRoleBinding" => match serde_json::from_value::<ClusterRoleBinding>(v) {
                Ok(x) => objs.cluster_role_bindings.push((doc, x)),
                Err(e) => notes.push(bad(e)),
            },
            _ => {}
        }
    }
    Ok(objs)
}

/// The minimal permissions, in the in-cluster namespace and cluster-wide.
fn minimal(acc: &Account) -> Vec<Perm> {
    let mut p = rbac::perms(MINIMAL_NAMESPACED, Some(&acc.in_cluster_ns));
    p.extend(rbac::perms(MINIMAL_CLUSTER, None));
    p
}

fn describe(perms: &[Perm]) -> String {
    rbac::to_rules(perms)
        .iter()
        .map(|r| {
            let group = r
                .api_groups
                .as_ref()
                .and_then(|g| g.first())
                .filter(|g| !g.is_empty())
                .map(|g| format!("{g}/"))
                .unwrap_or_default();
            format!("{} {}{}", r.verbs.join("/"), group, r.resources.clone().unwrap_or_default().join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How new documents are written: in the stream's style.
struct Style {
    helm4: bool,
    layout: Layout,
}

fn metadata(name: &str, namespace: Option<&str>, style: &Style) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_string),
        labels: Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into()),
        annotations: style.helm4.then(|| [(FILENAME_ANNOTATION.to_string(), ADDED_FILENAME.to_string())].into()),
        ..Default::default()
    }
}

/// A new document: what it means (the value the pipeline checks it against) and its text.
fn document<T: serde::Serialize>(obj: &T, api_version: &str, kind: &str, style: &Style) -> (Value, String) {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    let nl = style.layout.nl;
    let mut s = format!("---{nl}");
    if !style.helm4 {
        s.push_str(&format!("# Source: {ADDED_FILENAME}{nl}"));
    }
    let v = emit::keys_first(v, &["apiVersion", "kind", "metadata"]);
    s.push_str(&emit::document(&v, style.layout));
    (v, s)
}

fn id(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ResourceId {
    ResourceId {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
        name: name.into(),
    }
}

const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";

pub fn run(m: &Manifests, api: &ApiServer, facts: &ContextFacts, mode: RbacMode) -> Result<RbacOutcome, RuleError> {
    let mut out = RbacOutcome::default();
    if mode == RbacMode::Off {
        return Ok(out);
    }
    let acc = account(m, api)?;
    let objs = read_objects(m, &mut out.notes)?;
    let grants = objs.grants(&acc.namespace, &acc.name);
    match mode {
        RbacMode::Add => add(m, api, facts, &acc, &grants, &mut out)?,
        RbacMode::Audit => audit(facts, &acc, &grants, &mut out),
        RbacMode::Tighten => tighten(m, &acc, &objs, &grants, &mut out)?,
        RbacMode::Off => {}
    }
    Ok(out)
}

fn add(
    m: &Manifests,
    api: &ApiServer,
    facts: &ContextFacts,
    acc: &Account,
    grants: &[Grant],
    out: &mut RbacOutcome,
) -> Result<(), RuleError> {
    if !facts.in_cluster_exists {
        return Ok(());
    }
    let tree = m.tree(api.doc)?;
    // Only worked out when something is added: it scans the whole stream.
    let style = std::cell::LazyCell::new(|| Style {
        helm4: !m.containing(FILENAME_ANNOTATION).is_empty(),
        layout: Editor::new(m.text(api.doc), tree).layout(),
    });
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: acc.name.clone(),
        namespace: Some(acc.namespace.clone()),
        ..Default::default()
    };
    if acc.name != "default" && m.find("ServiceAccount", &acc.name, Some(Some(&acc.namespace)))?.is_none() {
        let sa = ServiceAccount { metadata: metadata(&acc.name, Some(&acc.namespace), &style), ..Default::default() };
        let (value, text) = document(&sa, "v1", "ServiceAccount", &style);
        out.added.push(AddedDoc {
            rule: RuleId::Rbac,
            resource: id("v1", "ServiceAccount", Some(&acc.namespace), &acc.name),
            value,
            text,
            reasons: vec![format!(
                "ServiceAccount `{}` added: the Deployment runs as it and nothing in the stream creates it",
                acc.name
            )],
            paths: vec!["metadata".into()],
        });
    }
    let name = format!("{}-skyhelm", api.resource.name);
    let missing_ns = rbac::missing(grants, &rbac::perms(MINIMAL_NAMESPACED, Some(&acc.in_cluster_ns)));
    let missing_cl = rbac::missing(grants, &rbac::perms(MINIMAL_CLUSTER, None));
    for (perms, cluster) in [(missing_ns, false), (missing_cl, true)] {
        if perms.is_empty() {
            continue;
        }
        let (kind, bkind, ns) = if cluster {
            ("ClusterRole", "ClusterRoleBinding", None)
        } else {
            ("Role", "RoleBinding", Some(acc.in_cluster_ns.as_str()))
        };
        if m.find(kind, &name, ns.map(Some))?.is_some() || m.find(bkind, &name, ns.map(Some))?.is_some() {
            out.notes.push(note(
                Severity::Warning,
                format!(
                    "{kind} `{name}` is already in the stream but the account still lacks: {}; not adding a second one",
                    describe(&perms)
                ),
            ));
            continue;
        }
        let rules = rbac::to_rules(&perms);
        let why = format!("grants what the minimal set needs and nothing in the stream grants: {}", describe(&perms));
        let role_ref = RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.clone() };
        let ((role_value, role_text), (binding_value, binding_text)) = if cluster {
            let role =
                ClusterRole { metadata: metadata(&name, None, &style), rules: Some(rules), ..Default::default() };
            let binding = ClusterRoleBinding {
                metadata: metadata(&name, None, &style),
                role_ref,
                subjects: Some(vec![subject.clone()]),
            };
            (document(&role, RBAC_V1, kind, &style), document(&binding, RBAC_V1, bkind, &style))
        } else {
            let role = Role { metadata: metadata(&name, ns, &style), rules: Some(rules) };
            let binding =
                RoleBinding { metadata: metadata(&name, ns, &style), role_ref, subjects: Some(vec![subject.clone()]) };
            (document(&role, RBAC_V1, kind, &style), document(&binding, RBAC_V1, bkind, &style))
        };
        out.added.push(AddedDoc {
            rule: RuleId::Rbac,
            resource: id(RBAC_V1, kind, ns, &name),
            value: role_value,
            text: role_text,
            reasons: vec![format!("{kind} added: {why}")],
            paths: vec!["rules".into()],
        });
        out.added.push(AddedDoc {
            rule: RuleId::Rbac,
            resource: id(RBAC_V1, bkind, ns, &name),
            value: binding_value,
            text: binding_text,
            reasons: vec![format!(
                "{bkind} added: binds {kind} `{name}` to ServiceAccount {}/{}",
                acc.namespace, acc.name
            )],
            paths: vec!["subjects".into(), "roleRef".into()],
        });
    }
    Ok(())
}

const DANGEROUS_VERBS: &[&str] = &["escalate", "bind", "impersonate"];
const RBAC_RESOURCES: &[&str] = &["roles", "rolebindings", "clusterroles", "clusterrolebindings"];

fn audit(facts: &ContextFacts, acc: &Account, grants: &[Grant], out: &mut RbacOutcome) {
    let account = format!("ServiceAccount {}/{}", acc.namespace, acc.name);
    if !facts.in_cluster_exists {
        let mut seen: Vec<&rbac::Source> = Vec::new();
        for g in grants {
            if seen.contains(&&g.source) {
                continue;
            }
            seen.push(&g.source);
            out.notes.push(note(
                Severity::Warning,
                format!(
                    "{account}: {} (via {}) is unused: the pod gets no service-account token, so the API server never uses its own cluster",
                    g.source.role, g.source.binding
                ),
            ));
        }
        return;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut warn = |msg: String| {
        if !seen.contains(&msg) {
            seen.push(msg.clone());
            out.notes.push(note(Severity::Warning, msg));
        }
    };
    for g in grants {
        let via = format!("{} (via {})", g.source.role, g.source.binding);
        let groups = g.rule.api_groups.clone().unwrap_or_default();
        let resources = g.rule.resources.clone().unwrap_or_default();
        let scope = g.namespace.as_deref().map_or_else(|| "cluster-wide".to_string(), |n| format!("in namespace {n}"));
        if g.rule.verbs.iter().any(|v| v == "*") {
            warn(format!("{account}: {via} grants every verb (`*`) on {} {scope}", resources.join(", ")));
        }
        if resources.iter().any(|r| r == "*") || groups.iter().any(|r| r == "*") {
            warn(format!("{account}: {via} grants a wildcard resource or API group {scope}"));
        }
        let probe = |res: &str, verb: &str| Perm {
            group: String::new(),
            resource: res.into(),
            verb: verb.into(),
            namespace: None,
        };
        if g.namespace.is_none() && (g.allows(&probe("secrets", "get")) || g.allows(&probe("secrets", "list"))) {
            warn(format!("{account}: {via} can read Secrets in every namespace"));
        }
        for v in g.rule.verbs.iter().filter(|v| DANGEROUS_VERBS.contains(&v.as_str())) {
            warn(format!("{account}: {via} grants `{v}` ({scope}), which allows privilege escalation"));
        }
        let rbac_res: Vec<&String> = resources.iter().filter(|r| RBAC_RESOURCES.contains(&r.as_str())).collect();
        if !rbac_res.is_empty()
            && g.rule.verbs.iter().any(|v| ["*", "create", "update", "patch", "delete"].contains(&v.as_str()))
        {
            warn(format!(
                "{account}: {via} may manage RBAC ({}) {scope}; needed only for SkyPilot's RBAC management (chart: rbac.manageRbacPolicies)",
                rbac_res.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let missing = rbac::missing(grants, &minimal(acc));
    if missing.is_empty() {
        out.notes.push(note(Severity::Info, format!("{account}: has every permission of the minimal set")));
    } else {
        out.notes
            .push(note(Severity::Warning, format!("{account}: lacks part of the minimal set: {}", describe(&missing))));
    }
}

/// Features whose resources the account's grants name explicitly (the chart rendered them).
fn features_in_use(grants: &[Grant]) -> Vec<&'static rbac::Feature> {
    FEATURES
        .iter()
        .filter(|f| {
            f.rules.iter().any(|spec| {
                spec.resources.iter().any(|res| {
                    grants.iter().any(|g| {
                        g.namespace.is_none() == f.cluster
                            && g.rule.resources.iter().flatten().any(|r| r == res)
                            && g.rule.api_groups.iter().flatten().any(|x| x == spec.group)
                    })
                })
            })
        })
        .collect()
}

/// Verbs the documented needs give `group/resource` in a scope; None when undocumented.
fn needed_verbs(group: &str, resource: &str, cluster: bool, features: &[&rbac::Feature]) -> Option<Vec<String>> {
    let base: &[rbac::RuleSpec] = if cluster { MINIMAL_CLUSTER } else { MINIMAL_NAMESPACED };
    let specs = base.iter().chain(features.iter().filter(|f| f.cluster == cluster).flat_map(|f| f.rules.iter()));
    let mut verbs: Vec<String> = Vec::new();
    for s in specs.filter(|s| s.group == group && s.resources.contains(&resource)) {
        for v in s.verbs {
            if !verbs.iter().any(|x| x == v) {
                verbs.push((*v).to_string());
            }
        }
    }
    (!verbs.is_empty()).then_some(verbs)
}

fn tighten(
    m: &Manifests,
    acc: &Account,
    objs: &RbacObjects,
    grants: &[Grant],
    out: &mut RbacOutcome,
) -> Result<(), RuleError> {
    let features = features_in_use(grants);
    let only_ours = |subjects: &Option<Vec<Subject>>, ns: Option<&str>| {
        subjects.iter().flatten().all(|s| {
            s.kind == "ServiceAccount"
                && s.name == acc.name
                && s.namespace.as_deref().or(ns) == Some(acc.namespace.as_str())
        })
    };
    // (doc, cluster-scoped role, role name): roles whose every binding binds only our account.
    let mut targets: Vec<(usize, bool)> = Vec::new();
    for (doc, role) in &objs.roles {
        let (name, ns) = (role.metadata.name.as_deref(), role.metadata.namespace.as_deref());
        let bindings: Vec<_> = objs
            .role_bindings
            .iter()
            .filter(|(_, b)| {
                b.role_ref.kind == "Role"
                    && Some(b.role_ref.name.as_str()) == name
                    && b.metadata.namespace.as_deref() == ns
            })
            .collect();
        if !bindings.is_empty() && bindings.iter().all(|(_, b)| only_ours(&b.subjects, b.metadata.namespace.as_deref()))
        {
            targets.push((*doc, false));
        }
    }
    for (doc, role) in &objs.cluster_roles {
        let name = role.metadata.name.as_deref();
        let rbs: Vec<_> = objs
            .role_bindings
            .iter()
            .filter(|(_, b)| b.role_ref.kind == "ClusterRole" && Some(b.role_ref.name.as_str()) == name)
            .map(|(_, b)| (&b.subjects, b.metadata.namespace.as_deref()))
            .collect();
        let crbs: Vec<_> = objs
            .cluster_role_bindings
            .iter()
            .filter(|(_, b)| Some(b.role_ref.name.as_str()) == name)
            .map(|(_, b)| (&b.subjects, None))
            .collect();
        let all: Vec<_> = rbs.into_iter().chain(crbs).collect();
        if !all.is_empty() && all.iter().all(|(s, ns)| only_ours(s, *ns)) {
            // A ClusterRole used through RoleBindings only grants in namespaces.
            let cluster = objs.cluster_role_bindings.iter().any(|(_, b)| Some(b.role_ref.name.as_str()) == name);
            targets.push((*doc, cluster));
        }
    }
    for (doc, cluster) in targets {
        let tree = m.tree(doc)?;
        let Some(root) = tree.root() else { continue };
        let Some(rules) = tree.get(root, "rules") else { continue };
        let editor = Editor::new(m.text(doc), tree);
        let resource = m.resource(doc)?.ok_or_else(|| ManifestError::Edit {
            at: m.doc_ref(doc, None),
            source: crate::yaml::EditError::Layout { line: 1, what: "role without a name".into() },
        })?;
        let mut edits: Vec<Edit> = Vec::new();
        let mut reasons = Vec::new();
        let mut intents = Vec::new();
        for (i, &rule_node) in tree.items(rules).iter().enumerate() {
            let rule: PolicyRule = match serde_json::from_value(tree.to_json(rule_node)) {
                Ok(r) => r,
                Err(_) => continue,
            };
            let groups = rule.api_groups.clone().unwrap_or_default();
            let resources = rule.resources.clone().unwrap_or_default();
            let [group] = groups.as_slice() else { continue };
            if group == "*" || resources.iter().any(|r| r == "*") {
                out.notes.push(note(Severity::Warning, format!("{resource} rule {}: wildcard resources or API groups left as they are (no documented list to replace them with)", i + 1)));
                continue;
            }
            if !rule.verbs.iter().any(|v| v == "*") {
                continue;
            }
            let mut verbs: Vec<String> = Vec::new();
            for res in &resources {
                let need = needed_verbs(group, res, cluster, &features)
                    .unwrap_or_else(|| ALL_VERBS.iter().map(|v| v.to_string()).collect());
                for v in need {
                    if !verbs.contains(&v) {
                        verbs.push(v);
                    }
                }
            }
            let crate::yaml::tree::Lookup::Found { key, value } = tree.lookup(rule_node, "verbs") else { continue };
            edits.push(
                editor.replace_value(key, value, &json!(verbs)).map_err(|source| ManifestError::Edit {
                    at: m.doc_ref(doc, Some(tree.node(value).line)),
                    source,
                })?,
            );
            reasons.push(format!("rule {} ({}): verbs `*` → [{}]", i + 1, resources.join(", "), verbs.join(", ")));
            intents.push(Intent::Set { path: vec![Seg::key("rules"), Seg::Index(i), Seg::key("verbs")], value: json!(verbs) });
        }
        if !edits.is_empty() {
            out.changes.push(Change {
                doc,
                resource,
                rule: RuleId::Rbac,
                reasons,
                edits,
                paths: vec!["rules".into()],
                field: None,
                intents,
            });
        }
    }
    Ok(())
}
