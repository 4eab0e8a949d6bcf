//! What the SkyPilot API server's service account needs (FACTS.md §3 "RBAC", from SkyPilot's
//! cloud-permissions/kubernetes page and the chart), as data; and how Kubernetes evaluates the
//! grants in a stream (Role/ClusterRole rules reached through RoleBinding/ClusterRoleBinding).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};

/// "All verbs", written out: skyhelm never writes wildcards.
pub const ALL_VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
pub const READ: &[&str] = &["get", "list", "watch"];

/// One documented rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSpec {
    pub group: &'static str,
    pub resources: &'static [&'static str],
    pub verbs: &'static [&'static str],
}

const fn r(group: &'static str, resources: &'static [&'static str], verbs: &'static [&'static str]) -> RuleSpec {
    RuleSpec { group, resources, verbs }
}

/// Minimum, namespaced (a Role in the SkyPilot namespace).
pub const MINIMAL_NAMESPACED: &[RuleSpec] = &[
    r("", &["pods", "pods/status", "pods/exec", "pods/portforward", "services", "secrets"], ALL_VERBS),
    r("", &["events"], READ),
];

/// Minimum, cluster-wide reads (a ClusterRole).
pub const MINIMAL_CLUSTER: &[RuleSpec] = &[
    r("", &["nodes"], READ),
    r("node.k8s.io", &["runtimeclasses"], READ),
    r("storage.k8s.io", &["storageclasses"], READ),
];

/// Optional features and the rules they need, namespaced unless `cluster`.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    pub name: &'static str,
    pub cluster: bool,
    pub rules: &'static [RuleSpec],
}

pub const FEATURES: &[Feature] = &[
    Feature { name: "free-GPU display (sky show-gpus)", cluster: true, rules: &[r("", &["pods"], &["get", "list"])] },
    Feature { name: "ingress", cluster: true, rules: &[r("networking.k8s.io", &["ingressclasses"], READ)] },
    Feature { name: "workspace config sync", cluster: false, rules: &[r("", &["configmaps"], &["get", "patch"])] },
    Feature {
        name: "HA controller",
        cluster: false,
        rules: &[
            r("apps", &["deployments", "deployments/status"], ALL_VERBS),
            r("", &["persistentvolumeclaims"], ALL_VERBS),
        ],
    },
    Feature {
        name: "RBAC management",
        cluster: false,
        rules: &[
            r("rbac.authorization.k8s.io", &["roles", "rolebindings"], ALL_VERBS),
            r("", &["serviceaccounts"], ALL_VERBS),
        ],
    },
    Feature {
        name: "RBAC management",
        cluster: true,
        rules: &[r("rbac.authorization.k8s.io", &["clusterroles", "clusterrolebindings"], ALL_VERBS)],
    },
];

/// One permission: verb on group/resource, in a namespace or cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Perm {
    pub group: String,
    pub resource: String,
    pub verb: String,
    /// None: cluster-wide.
    pub namespace: Option<String>,
}

/// Expands rule specs into permissions.
pub fn perms(rules: &[RuleSpec], namespace: Option<&str>) -> Vec<Perm> {
    let mut out = Vec::new();
    for rule in rules {
        for res in rule.resources {
            for verb in rule.verbs {
                out.push(Perm {
                    group: rule.group.into(),
                    resource: (*res).into(),
                    verb: (*verb).into(),
                    namespace: namespace.map(str::to_string),
                });
            }
        }
    }
    out
}

/// Where a rule came from, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The RBAC objects of a stream.
#[derive(Debug, Default)]
pub struct RbacObjects {
    pub roles: Vec<(usize, Role)>,
    pub cluster_roles: Vec<(usize, ClusterRole)>,
    pub role_bindings: Vec<(usize, RoleBinding)>,
    pub cluster_role_bindings: Vec<(usize, ClusterRoleBinding)>,
}

fn subject_is(s: &Subject, sa_ns: &str, sa_name: &str, binding_ns: Option<&str>) -> bool {
    match s.kind.as_str() {
        "ServiceAccount" => s.name == sa_name && s.namespace.as_deref().or(binding_ns) == Some(sa_ns),
        "Group" => {
            s.name == "system:serviceaccounts"
                || s.name == format!("system:serviceaccounts:{sa_ns}")
                || s.name == "system:authenticated"
        }
        "User" => s.name == format!("system:serviceaccount:{sa_ns}:{sa_name}"),
        _ => false,
    }
}

impl RbacObjects {
    /// Every rule that applies to the service account `sa_ns/sa_name`.
    pub fn grants(&self, sa_ns: &str, sa_name: &str) -> Vec<Grant> {
        let mut out = Vec::new();
        let cluster_role =
            |name: &str| self.cluster_roles.iter().find(|(_, c)| c.metadata.name.as_deref() == Some(name));
        for (_, rb) in &self.role_bindings {
            let ns = rb.metadata.namespace.as_deref();
            if !rb.subjects.iter().flatten().any(|s| subject_is(s, sa_ns, sa_name, ns)) {
                continue;
            }
            let binding = format!("RoleBinding {}/{}", ns.unwrap_or(""), rb.metadata.name.as_deref().unwrap_or(""));
            let rules: Vec<(PolicyRule, String)> = match rb.role_ref.kind.as_str() {
                "Role" => self
                    .roles
                    .iter()
                    .filter(|(_, r)| {
                        r.metadata.name.as_deref() == Some(rb.role_ref.name.as_str())
                            && r.metadata.namespace.as_deref() == ns
                    })
                    .flat_map(|(_, r)| {
                        r.rules
                            .iter()
                            .flatten()
                            .map(|x| (x.clone(), format!("Role {}/{}", ns.unwrap_or(""), rb.role_ref.name)))
                    })
                    .collect(),
                _ => cluster_role(&rb.role_ref.name)
                    .into_iter()
                    .flat_map(|(_, c)| {
                        c.rules.iter().flatten().map(|x| (x.clone(), format!("ClusterRole {}", rb.role_ref.name)))
                    })
                    .collect(),
            };
            for (rule, role) in rules {
                out.push(Grant {
                    rule,
                    namespace: ns.map(str::to_string),
                    source: Source { role, binding: binding.clone() },
                });
            }
        }
        for (_, crb) in &self.cluster_role_bindings {
            if !crb.subjects.iter().flatten().any(|s| subject_is(s, sa_ns, sa_name, None)) {
                continue;
            }
            let binding = format!("ClusterRoleBinding {}", crb.metadata.name.as_deref().unwrap_or(""));
            if let Some((_, c)) = cluster_role(&crb.role_ref.name) {
                for rule in c.rules.iter().flatten() {
                    out.push(Grant {
                        rule: rule.clone(),
                        namespace: None,
                        source: Source { role: format!("ClusterRole {}", crb.role_ref.name), binding: binding.clone() },
                    });
                }
            }
        }
        out
    }
}

/// The permissions of `wanted` that no grant allows.
pub fn missing(grants: &[Grant], wanted: &[Perm]) -> Vec<Perm> {
    wanted.iter().filter(|p| !grants.iter().any(|g| g.allows(p))).cloned().collect()
}

/// Groups permissions back into rules: one rule per (group, verb set), resources sorted as
/// first seen.
pub fn to_rules(perms: &[Perm]) -> Vec<PolicyRule> {
    let mut by_resource: Vec<((String, String), Vec<String>)> = Vec::new();
    for p in perms {
        let key = (p.group.clone(), p.resource.clone());
        match by_resource.iter_mut().find(|(k, _)| *k == key) {
            Some((_, verbs)) => {
                if !verbs.contains(&p.verb) {
                    verbs.push(p.verb.clone());
                }
            }
            None => by_resource.push((key, vec![p.verb.clone()])),
        }
    }
    let mut rules: Vec<PolicyRule> = Vec::new();
    for ((group, resource), verbs) in by_resource {
        match rules
            .iter_mut()
            .find(|r| r.api_groups.as_deref() == Some(std::slice::from_ref(&group)) && r.verbs == verbs)
        {
            Some(r) => r.resources.get_or_insert_with(Vec::new).push(resource),
            None => rules.push(PolicyRule {
                api_groups: Some(vec![group]),
                resources: Some(vec![resource]),
                verbs,
                ..Default::default()
            }),
        }
    }
    rules
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

    #[test]
    fn rules_group_by_verbs() {
        let ps = perms(MINIMAL_NAMESPACED, Some("sky"));
        let rules = to_rules(&ps);
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].resources.as_ref().map(Vec::len), Some(6));
        assert!(rules.iter().all(|r| !r.verbs.contains(&"*".to_string())));
    }
}
