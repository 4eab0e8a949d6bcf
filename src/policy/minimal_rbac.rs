//! What the SkyPilot API server's service account needs (FACTS.md §3 "RBAC", from SkyPilot's
//! cloud-permissions/kubernetes page and the chart), as data, and the permissions it expands to.

use k8s_openapi::api::rbac::v1::PolicyRule;

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

/// What RBAC management needs on roles and clusterroles: the standard verbs plus `escalate`
/// and `bind`. SkyPilot creates, for its workloads, a Role with every verb on every resource
/// of its namespace and a ClusterRole that creates namespaces, and binds them. Kubernetes
/// allows that only to an account that already holds every permission granted, or that holds
/// `escalate` (create/update a role) and `bind` (bind it) on roles/clusterroles (FACTS.md §3).
/// The chart's `*` verbs include both; the standard verbs alone do not.
pub const RBAC_MANAGEMENT_VERBS: &[&str] =
    &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "escalate", "bind"];

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
            r("rbac.authorization.k8s.io", &["roles"], RBAC_MANAGEMENT_VERBS),
            r("rbac.authorization.k8s.io", &["rolebindings"], ALL_VERBS),
            r("", &["serviceaccounts"], ALL_VERBS),
        ],
    },
    Feature {
        name: "RBAC management",
        cluster: true,
        rules: &[
            r("rbac.authorization.k8s.io", &["clusterroles"], RBAC_MANAGEMENT_VERBS),
            r("rbac.authorization.k8s.io", &["clusterrolebindings"], ALL_VERBS),
        ],
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

    #[test]
    fn rules_group_by_verbs() {
        let ps = perms(MINIMAL_NAMESPACED, Some("sky"));
        let rules = to_rules(&ps);
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].resources.as_ref().map(Vec::len), Some(6));
        assert!(rules.iter().all(|r| !r.verbs.contains(&"*".to_string())));
    }
}
