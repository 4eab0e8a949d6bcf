//! How Kubernetes evaluates the grants in a stream: Role/ClusterRole rules reached through
//! RoleBinding/ClusterRoleBinding subjects, and which wanted permissions no grant allows.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, PolicyRule, RoleBinding, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::minimal_rbac::Perm;
use crate::stream::DocIndex;

/// Where a rule came from, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    /// `Role ns/name` or `ClusterRole name`.
    pub role: String,
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub binding: String,
}

/// A rule that applies to the subject, in a namespace or cluster-wide.
#[derive(Debug, Clone)]
pub struct Grant {
    pub rule: PolicyRule,
    pub namespace: Option<String>,
    pub source: Source,
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

fn resource_matches(list: &[String], resource: &str) -> bool {
    list.iter().any(|x| {
        x == "*"
            || x == resource
            || match (x.split_once('/'), resource.split_once('/')) {
                (Some(("*", sub)), Some((_, rsub))) => sub == rsub,
                (Some((base, "*")), Some((rbase, _))) => base == rbase,
                _ => false,
            }
    })
}

impl Grant {
    /// Whether this grant allows `p` the way the RBAC authorizer decides it (a rule with
    /// resourceNames never allows an unnamed request).
    pub fn allows(&self, p: &Perm) -> bool {
        let scope_ok = match (&self.namespace, &p.namespace) {
            (None, _) => true,
            (Some(g), Some(n)) => g == n,
            (Some(_), None) => false,
        };
        scope_ok
            && self.rule.resource_names.as_ref().is_none_or(Vec::is_empty)
            && matches(self.rule.api_groups.as_deref().unwrap_or_default(), &p.group)
            && resource_matches(self.rule.resources.as_deref().unwrap_or_default(), &p.resource)
            && matches(&self.rule.verbs, &p.verb)
    }
}

/// A role as a binding names it: (ClusterRole?, namespace of a Role, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleKey {
    pub cluster: bool,
    /// The Role's namespace; None for a ClusterRole.
    pub namespace: Option<String>,
    pub name: String,
}

impl RoleKey {
    pub fn describe(&self) -> String {
        match (&self.namespace, self.cluster) {
            (_, true) => format!("ClusterRole {}", self.name),
            (Some(ns), false) => format!("Role {ns}/{}", self.name),
            (None, false) => format!("Role {}", self.name),
        }
    }
}

/// A RoleBinding or ClusterRoleBinding that binds the account, reduced to what evaluation needs.
#[derive(Debug, Clone)]
pub struct Binding {
    pub doc: DocIndex,
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub label: String,
    /// The namespace a RoleBinding grants in; None for a ClusterRoleBinding.
    pub namespace: Option<String>,
    pub cluster_binding: bool,
    pub role: RoleKey,
}

/// What a binding means for the account `sa_ns/sa_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectMatch {
    /// The binding gives the account its role.
    pub binds_account: bool,
    /// Subjects other than the account itself (groups that contain it count as others).
    pub others: Vec<String>,
}

/// The subject grants to the account: the account itself, or a group it is in.
fn subject_is(s: &Subject, sa_ns: &str, sa_name: &str, binding_ns: Option<&str>) -> bool {
    exactly_account(s, sa_ns, sa_name, binding_ns)
        || (s.kind == "Group"
            && (s.name == "system:serviceaccounts"
                || s.name == format!("system:serviceaccounts:{sa_ns}")
                || s.name == "system:authenticated"))
}

/// The subject is the account itself (as a ServiceAccount or as its user name).
fn exactly_account(s: &Subject, sa_ns: &str, sa_name: &str, binding_ns: Option<&str>) -> bool {
    match s.kind.as_str() {
        "ServiceAccount" => s.name == sa_name && s.namespace.as_deref().or(binding_ns) == Some(sa_ns),
        "User" => s.name == format!("system:serviceaccount:{sa_ns}:{sa_name}"),
        _ => false,
    }
}

/// How the subjects of a binding (in `binding_ns`, None for a ClusterRoleBinding) relate to the
/// account.
pub fn match_subjects(subjects: &[Subject], sa_ns: &str, sa_name: &str, binding_ns: Option<&str>) -> SubjectMatch {
    SubjectMatch {
        binds_account: subjects.iter().any(|s| subject_is(s, sa_ns, sa_name, binding_ns)),
        others: subjects
            .iter()
            .filter(|s| !exactly_account(s, sa_ns, sa_name, binding_ns))
            .map(|s| match s.namespace.as_deref().or(if s.kind == "ServiceAccount" { binding_ns } else { None }) {
                Some(ns) => format!("{} {ns}/{}", s.kind, s.name),
                None => format!("{} {}", s.kind, s.name),
            })
            .collect(),
    }
}

impl Binding {
    pub fn from_role_binding(doc: DocIndex, rb: &RoleBinding, namespace: Option<String>) -> Binding {
        let cluster = rb.role_ref.kind != "Role";
        Binding {
            doc,
            label: format!(
                "RoleBinding {}/{}",
                namespace.as_deref().unwrap_or(""),
                rb.metadata.name.as_deref().unwrap_or("")
            ),
            role: RoleKey {
                cluster,
                namespace: if cluster { None } else { namespace.clone() },
                name: rb.role_ref.name.clone(),
            },
            namespace,
            cluster_binding: false,
        }
    }

    pub fn from_cluster_role_binding(doc: DocIndex, crb: &ClusterRoleBinding) -> Binding {
        Binding {
            doc,
            label: format!("ClusterRoleBinding {}", crb.metadata.name.as_deref().unwrap_or("")),
            namespace: None,
            cluster_binding: true,
            role: RoleKey { cluster: true, namespace: None, name: crb.role_ref.name.clone() },
        }
    }
}

/// A Role or ClusterRole some binding of the account refers to.
#[derive(Debug, Clone)]
pub struct RoleDoc {
    pub doc: DocIndex,
    pub key: RoleKey,
    /// The rules Kubernetes applies: as written, or for an aggregated ClusterRole the union of
    /// the ClusterRoles in the stream its selectors match (see `Aggregation`).
    pub rules: Vec<PolicyRule>,
    /// Set for a ClusterRole with an `aggregationRule`.
    pub aggregated: Option<Aggregation>,
}

/// An aggregated ClusterRole: the aggregation controller overwrites its `rules` with the union
/// of the rules of the ClusterRoles its `clusterRoleSelectors` match, so its written rules
/// mean nothing and its grant is at least the union of the matching ClusterRoles in the
/// stream (ClusterRoles elsewhere in the cluster may add more).
#[derive(Debug, Clone, Default)]
pub struct Aggregation {
    pub selectors: Vec<LabelSelector>,
    /// The ClusterRoles of the stream it aggregates, by name.
    pub from: Vec<String>,
}

/// Whether a label selector matches `labels`, as Kubernetes decides it: every matchLabels pair
/// and every matchExpression holds (an empty selector matches everything; an unknown operator
/// makes the selector invalid, which matches nothing).
pub fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    pairs
        && sel.match_expressions.iter().flatten().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// A ClusterRole of the stream, as aggregation sees it.
#[derive(Debug, Clone)]
pub struct ClusterRoleFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<PolicyRule>,
    /// Its own selectors when it is aggregated too.
    pub selectors: Option<Vec<LabelSelector>>,
}

/// The rules the aggregation controller gives the ClusterRole `name` with `selectors`, once
/// every ClusterRole has settled: the union, in name order, of the rules of every other
/// ClusterRole in `all` that a selector matches (an aggregated one contributes its own union;
/// a cycle contributes nothing more). Returns the rules and the names aggregated.
pub fn aggregate(name: &str, selectors: &[LabelSelector], all: &[ClusterRoleFacts]) -> (Vec<PolicyRule>, Vec<String>) {
    let mut visiting = vec![name.to_string()];
    let mut from = Vec::new();
    let rules = aggregate_in(selectors, all, &mut visiting, &mut from);
    (rules, from)
}

fn aggregate_in(
    selectors: &[LabelSelector],
    all: &[ClusterRoleFacts],
    visiting: &mut Vec<String>,
    from: &mut Vec<String>,
) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    let mut sorted: Vec<&ClusterRoleFacts> = all.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for sel in selectors {
        for c in sorted.iter().filter(|c| selector_matches(sel, &c.labels)) {
            if visiting.contains(&c.name) {
                continue;
            }
            if !from.contains(&c.name) {
                from.push(c.name.clone());
            }
            let theirs = match &c.selectors {
                Some(inner) => {
                    visiting.push(c.name.clone());
                    let r = aggregate_in(inner, all, visiting, from);
                    visiting.pop();
                    r
                }
                None => c.rules.clone(),
            };
            for r in theirs {
                if !rules.contains(&r) {
                    rules.push(r);
                }
            }
        }
    }
    rules
}

/// What the stream grants one account: the bindings that bind it, the roles they refer to, and
/// the roles also bound to someone else. Built from one document at a time; roles no binding
/// of the account refers to are never kept, so memory follows what the account is granted,
/// not the size of the stream.
#[derive(Debug, Default)]
pub struct RbacObjects {
    pub bindings: Vec<Binding>,
    pub roles: Vec<RoleDoc>,
    /// Roles that some binding gives to subjects other than the account: (role, subject).
    pub shared: std::collections::BTreeMap<RoleKey, Vec<String>>,
}

impl RbacObjects {
    /// Every rule that applies to the account.
    pub fn grants(&self) -> Vec<Grant> {
        let mut out = Vec::new();
        // The roles of each key, in stream order (looked up once per binding).
        let mut by_key: std::collections::BTreeMap<&RoleKey, Vec<&RoleDoc>> = std::collections::BTreeMap::new();
        for r in &self.roles {
            by_key.entry(&r.key).or_default().push(r);
        }
        // RoleBindings first, then ClusterRoleBindings, each in stream order.
        let ordered = self
            .bindings
            .iter()
            .filter(|b| !b.cluster_binding)
            .chain(self.bindings.iter().filter(|b| b.cluster_binding));
        for b in ordered {
            for r in by_key.get(&b.role).into_iter().flatten() {
                for rule in &r.rules {
                    out.push(Grant {
                        rule: rule.clone(),
                        namespace: b.namespace.clone(),
                        source: Source { role: r.key.describe(), binding: b.label.clone() },
                    });
                }
            }
        }
        out
    }

    /// The roles the account's bindings refer to.
    pub fn wanted_roles(&self) -> std::collections::BTreeSet<RoleKey> {
        self.bindings.iter().map(|b| b.role.clone()).collect()
    }
}

/// The permissions of `wanted` that no grant allows.
pub fn missing(grants: &[Grant], wanted: &[Perm]) -> Vec<Perm> {
    wanted.iter().filter(|p| !grants.iter().any(|g| g.allows(p))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(groups: &[&str], resources: &[&str], verbs: &[&str], ns: Option<&str>) -> Grant {
        Grant {
            rule: PolicyRule {
                api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
                resources: Some(resources.iter().map(|s| s.to_string()).collect()),
                verbs: verbs.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            namespace: ns.map(str::to_string),
            source: Source { role: String::new(), binding: String::new() },
        }
    }

    #[test]
    fn selectors_and_nested_aggregation() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let by = |k: &str, v: &str| LabelSelector { match_labels: Some(labels(&[(k, v)])), ..Default::default() };
        let expr = |k: &str, op: &str, vs: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: k.into(),
                operator: op.into(),
                values: Some(vs.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        };
        let l = labels(&[("a", "1")]);
        assert!(selector_matches(&LabelSelector::default(), &l));
        assert!(selector_matches(&by("a", "1"), &l) && !selector_matches(&by("a", "2"), &l));
        assert!(selector_matches(&expr("a", "In", &["1", "2"]), &l));
        assert!(
            selector_matches(&expr("b", "NotIn", &["1"]), &l) && !selector_matches(&expr("a", "NotIn", &["1"]), &l)
        );
        assert!(
            selector_matches(&expr("a", "Exists", &[]), &l) && selector_matches(&expr("b", "DoesNotExist", &[]), &l)
        );
        assert!(!selector_matches(&expr("a", "Gt", &["0"]), &l));
        let rule = |res: &str| grant(&[""], &[res], &["get"], None).rule;
        let role = |name: &str, l: &[(&str, &str)], res: &str, sel: Option<Vec<LabelSelector>>| ClusterRoleFacts {
            name: name.into(),
            labels: labels(l),
            rules: vec![rule(res)],
            selectors: sel,
        };
        // top aggregates `mid` (itself aggregating `leaf`) and `direct`; `mid`'s written rule
        // (configmaps) does not count; `top` does not aggregate itself.
        let all = vec![
            role("top", &[("to-top", "y")], "secrets", Some(vec![by("to-top", "y")])),
            role("mid", &[("to-top", "y")], "configmaps", Some(vec![by("to-mid", "y")])),
            role("leaf", &[("to-mid", "y")], "pods", None),
            role("direct", &[("to-top", "y")], "nodes", None),
            role("other", &[], "services", None),
        ];
        let (rules, from) = aggregate("top", &[by("to-top", "y")], &all);
        assert_eq!(rules, vec![rule("nodes"), rule("pods")]);
        assert_eq!(from, ["direct", "mid", "leaf"]);
    }

    #[test]
    fn wildcards_scopes_and_resource_names() {
        let p = |res: &str, verb: &str, ns: Option<&str>| Perm {
            group: String::new(),
            resource: res.into(),
            verb: verb.into(),
            namespace: ns.map(str::to_string),
        };
        let g = grant(&[""], &["pods", "pods/*"], &["*"], Some("sky"));
        assert!(g.allows(&p("pods", "delete", Some("sky"))));
        assert!(g.allows(&p("pods/exec", "create", Some("sky"))));
        assert!(!g.allows(&p("pods", "get", Some("other"))));
        assert!(!g.allows(&p("pods", "get", None)));
        assert!(grant(&["*"], &["*"], &["get"], None).allows(&p("secrets", "get", Some("x"))));
        let mut named = grant(&[""], &["secrets"], &["get"], None);
        named.rule.resource_names = Some(vec!["one".into()]);
        assert!(!named.allows(&p("secrets", "get", Some("x"))));
    }
}
