//! How Kubernetes evaluates the grants in a stream: Role/ClusterRole rules reached through
//! RoleBinding/ClusterRoleBinding subjects, and which wanted permissions no grant allows.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, PolicyRule, RoleBinding, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::minimal_rbac::Perm;
use crate::stream::DocIndex;

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

/// Whether `rule` allows `verb` on `group/resource` the way the RBAC authorizer decides it,
/// scope aside (a rule with resourceNames never allows an unnamed request).
pub fn rule_allows(rule: &PolicyRule, group: &str, resource: &str, verb: &str) -> bool {
    rule.resource_names.as_ref().is_none_or(Vec::is_empty)
        && matches(rule.api_groups.as_deref().unwrap_or_default(), group)
        && resource_matches(rule.resources.as_deref().unwrap_or_default(), resource)
        && matches(&rule.verbs, verb)
}

/// How many messages list of what they count: the first few, then "and N more".
pub const FIRST_FEW: usize = 5;

/// A count and its first few examples, so that a report stays bounded whatever the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub count: usize,
    pub first: Vec<String>,
}

impl Sample {
    pub fn push(&mut self, item: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < FIRST_FEW {
            // Most samples of a role hold one item: no room for more until a second comes.
            self.first.reserve_exact(1);
            self.first.push(item());
        }
    }

    /// Adds `item` unless it is among the first few already (a later duplicate still counts).
    pub fn push_distinct(&mut self, item: String) {
        if !self.first.contains(&item) {
            self.push(|| item);
        }
    }

    /// `a, b, c` or `a, b, c, d, e and 7 more` (with `sep` between items).
    pub fn describe(&self, sep: &str) -> String {
        let shown = self.first.join(sep);
        match self.count.saturating_sub(self.first.len()) {
            0 => shown,
            more => format!("{shown} and {more} more"),
        }
    }
}

/// What one role's rules allow and contain, worked out once however many bindings refer to it
/// (a binding refers to its role; it does not copy it). Small whatever the number of rules.
#[derive(Debug, Clone, Default)]
pub struct RoleSummary {
    /// Bit i: some rule allows permission i of `evaluated` (scope aside).
    pub allows: u128,
    pub rules: usize,
    /// Rules with `*` verbs: what each names (resources, else non-resource URLs).
    pub star_verbs: Sample,
    /// Bit i: a rule names the i-th (group, resource) pair of [`feature_resources`] explicitly
    /// (what the optional features use): a set of positions, not a list of copied names.
    named: u128,
    /// What most roles do not have, apart so that a role without any costs one pointer (a
    /// stream may hold many thousand roles): see [`RoleSummary::rare`].
    rare: Option<Box<Rare>>,
}

/// The parts of a [`RoleSummary`] most roles do not have.
#[derive(Debug, Clone, Default)]
pub struct Rare {
    /// Rules with a wildcard resource or API group.
    pub wildcards: Sample,
    /// The escalation verbs the rules name (escalate, bind, impersonate).
    pub dangerous: Vec<String>,
    /// RBAC resources the rules may change.
    pub rbac_managed: Vec<String>,
}

/// The (group, resource) pairs the optional features' minimal rules name, in order: the
/// positions of [`RoleSummary`]'s set of named pairs (at most 128, checked by a test).
pub fn feature_resources() -> impl Iterator<Item = (&'static str, &'static str)> {
    super::minimal_rbac::FEATURES
        .iter()
        .flat_map(|f| f.rules)
        .flat_map(|spec| spec.resources.iter().map(move |res| (spec.group, *res)))
}

static NO_RARE: Rare =
    Rare { wildcards: Sample { count: 0, first: Vec::new() }, dangerous: Vec::new(), rbac_managed: Vec::new() };

const DANGEROUS_VERBS: &[&str] = &["escalate", "bind", "impersonate"];
const RBAC_RESOURCES: &[&str] = &["roles", "rolebindings", "clusterroles", "clusterrolebindings"];

/// The permissions whose grant is evaluated (scope aside): the minimal set's, namespaced and
/// cluster-wide, at most 128 (one bit each in `RoleSummary::allows`; a unit test checks the
/// count). `Perm::namespace` is None in every one.
pub fn evaluated() -> Vec<Perm> {
    let mut out: Vec<Perm> = Vec::new();
    for p in super::minimal_rbac::perms(super::minimal_rbac::MINIMAL_NAMESPACED, None)
        .into_iter()
        .chain(super::minimal_rbac::perms(super::minimal_rbac::MINIMAL_CLUSTER, None))
    {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The bit of `p` (scope aside) in `RoleSummary::allows`.
fn bit(p: &Perm, universe: &[Perm]) -> Option<usize> {
    universe.iter().take(128).position(|u| u.group == p.group && u.resource == p.resource && u.verb == p.verb)
}

impl RoleSummary {
    /// Its wildcards, escalation verbs, RBAC resources and named feature resources (all empty
    /// for most roles).
    pub fn rare(&self) -> &Rare {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Reads `rules` once. `universe` is `evaluated()`.
    pub fn of<'a>(rules: impl IntoIterator<Item = &'a PolicyRule>, universe: &[Perm]) -> RoleSummary {
        let mut s = RoleSummary::default();
        for rule in rules {
            s.add(rule, universe);
        }
        s
    }

    /// Adds one rule.
    pub fn add(&mut self, rule: &PolicyRule, universe: &[Perm]) {
        self.rules += 1;
        for (i, p) in universe.iter().enumerate().take(128) {
            if self.allows & (1 << i) == 0 && rule_allows(rule, &p.group, &p.resource, &p.verb) {
                self.allows |= 1 << i;
            }
        }
        let groups = rule.api_groups.as_deref().unwrap_or_default();
        let resources = rule.resources.as_deref().unwrap_or_default();
        if rule.verbs.iter().any(|v| v == "*") {
            self.star_verbs.push(|| {
                if resources.is_empty() {
                    rule.non_resource_urls.as_deref().unwrap_or_default().join(", ")
                } else {
                    resources.join(", ")
                }
            });
        }
        if resources.iter().any(|r| r == "*") || groups.iter().any(|g| g == "*") {
            self.rare_mut().wildcards.push(|| resources.join(", "));
        }
        for v in rule.verbs.iter().filter(|v| DANGEROUS_VERBS.contains(&v.as_str())) {
            if !self.rare().dangerous.contains(v) {
                self.rare_mut().dangerous.push(v.clone());
            }
        }
        if rule.verbs.iter().any(|v| ["*", "create", "update", "patch", "delete"].contains(&v.as_str())) {
            for r in resources.iter().filter(|r| RBAC_RESOURCES.contains(&r.as_str())) {
                if !self.rare().rbac_managed.contains(r) {
                    self.rare_mut().rbac_managed.push(r.clone());
                }
            }
        }
        for (i, (group, res)) in feature_resources().enumerate() {
            if resources.iter().any(|r| r == res) && groups.iter().any(|g| g == group) {
                self.named |= 1u128.checked_shl(i as u32).unwrap_or(0);
            }
        }
    }

    /// Whether a rule names `resource` of `group` explicitly (one of [`feature_resources`]).
    pub fn names(&self, group: &str, resource: &str) -> bool {
        feature_resources()
            .enumerate()
            .any(|(i, pair)| pair == (group, resource) && self.named & 1u128.checked_shl(i as u32).unwrap_or(0) != 0)
    }

    /// Whether some rule allows `p` (scope aside); false for a permission not evaluated.
    pub fn allows(&self, p: &Perm, universe: &[Perm]) -> bool {
        bit(p, universe).is_some_and(|i| self.allows & (1 << i) != 0)
    }

    /// Merges another document of the same role (a stream may hold one twice).
    pub fn merge(&mut self, other: &RoleSummary) {
        self.allows |= other.allows;
        self.rules += other.rules;
        for x in &other.star_verbs.first {
            self.star_verbs.push(|| x.clone());
        }
        self.star_verbs.count += other.star_verbs.count.saturating_sub(other.star_verbs.first.len());
        self.named |= other.named;
        let Some(other) = other.rare.as_deref() else { return };
        let rare = self.rare_mut();
        for x in &other.wildcards.first {
            rare.wildcards.push(|| x.clone());
        }
        rare.wildcards.count += other.wildcards.count.saturating_sub(other.wildcards.first.len());
        for v in &other.dangerous {
            if !rare.dangerous.contains(v) {
                rare.dangerous.push(v.clone());
            }
        }
        for v in &other.rbac_managed {
            if !rare.rbac_managed.contains(v) {
                rare.rbac_managed.push(v.clone());
            }
        }
    }
}

/// A role as a binding names it: (ClusterRole?, namespace of a Role, name). Its texts are
/// shared (`Arc`): the role's document, the bindings that refer to it and the binding's own
/// namespace hold them once (a stream may bind the account thousands of roles).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleKey {
    pub cluster: bool,
    /// The Role's namespace; None for a ClusterRole.
    pub namespace: Option<Arc<str>>,
    pub name: Arc<str>,
}

impl RoleKey {
    /// How `RoleKey`'s order compares it with (ClusterRole?, namespace, name), without making
    /// a key of those.
    pub fn cmp_to(&self, cluster: bool, namespace: Option<&str>, name: &str) -> std::cmp::Ordering {
        (self.cluster, self.namespace.as_deref(), &*self.name).cmp(&(cluster, namespace, name))
    }

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
    /// The binding's own name (`label` says which kind).
    pub name: String,
    /// The namespace a RoleBinding grants in; None for a ClusterRoleBinding (the text of a
    /// Role's key, shared).
    pub namespace: Option<Arc<str>>,
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
    /// `RoleBinding ns/name` or `ClusterRoleBinding name` (worked out when shown, not kept:
    /// a stream may bind the account many times).
    pub fn label(&self) -> String {
        match (self.cluster_binding, &self.namespace) {
            (true, _) => format!("ClusterRoleBinding {}", self.name),
            (false, ns) => format!("RoleBinding {}/{}", ns.as_deref().unwrap_or(""), self.name),
        }
    }

    pub fn from_role_binding(doc: DocIndex, rb: &RoleBinding, namespace: Option<&str>) -> Binding {
        let cluster = rb.role_ref.kind != "Role";
        let namespace: Option<Arc<str>> = namespace.map(Arc::from);
        Binding {
            doc,
            name: rb.metadata.name.clone().unwrap_or_default(),
            role: RoleKey {
                cluster,
                namespace: if cluster { None } else { namespace.clone() },
                name: rb.role_ref.name.as_str().into(),
            },
            namespace,
            cluster_binding: false,
        }
    }

    pub fn from_cluster_role_binding(doc: DocIndex, crb: &ClusterRoleBinding) -> Binding {
        Binding {
            doc,
            name: crb.metadata.name.clone().unwrap_or_default(),
            namespace: None,
            cluster_binding: true,
            role: RoleKey { cluster: true, namespace: None, name: crb.role_ref.name.as_str().into() },
        }
    }
}

/// A Role or ClusterRole some binding of the account refers to (once per role: a second
/// document of the same role is merged into the first's summary).
#[derive(Debug, Clone)]
pub struct RoleDoc {
    pub doc: DocIndex,
    pub key: RoleKey,
    /// What the rules Kubernetes applies allow: as written, or for an aggregated ClusterRole
    /// the union of the ClusterRoles in the stream its selectors match (see `Aggregation`).
    pub summary: RoleSummary,
    /// Set for a ClusterRole with an `aggregationRule` (boxed: most roles have none).
    pub aggregated: Option<Box<Aggregation>>,
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

/// What the stream grants one account: the bindings that bind it, the roles they refer to
/// (each summarized once), and the roles also bound to someone else. Built from one document
/// at a time; roles no binding of the account refers to are never kept, so memory follows what
/// the account is granted, not the size of the stream.
#[derive(Debug, Default)]
pub struct RbacObjects {
    pub bindings: Vec<Binding>,
    pub roles: Vec<RoleDoc>,
    /// Roles that some binding gives to subjects other than the account: (role, subjects).
    pub shared: BTreeMap<RoleKey, Sample>,
}

/// A role and the account's bindings that refer to it.
pub struct BoundRole<'a> {
    pub key: &'a RoleKey,
    pub summary: &'a RoleSummary,
    /// The first binding that refers to it, and the others (most roles have one binding, and
    /// then no list).
    pub first: &'a Binding,
    pub more: Vec<&'a Binding>,
    pub aggregated: bool,
}

impl<'a> BoundRole<'a> {
    /// The account's bindings that refer to it, in order.
    pub fn bindings(&self) -> impl Iterator<Item = &'a Binding> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }

    /// Whether some binding grants the role cluster-wide.
    pub fn cluster_wide(&self) -> bool {
        self.bindings().any(|b| b.namespace.is_none())
    }

    /// `RoleBinding a/b, ClusterRoleBinding c` (the first few).
    pub fn via(&self) -> String {
        let mut s = Sample::default();
        for b in self.bindings() {
            s.push_distinct(b.label());
        }
        s.describe(", ")
    }

    /// `in namespace a`, `cluster-wide`, or both.
    pub fn scope(&self) -> String {
        let mut s = Sample::default();
        for b in self.bindings() {
            s.push_distinct(
                b.namespace.as_deref().map_or_else(|| "cluster-wide".to_string(), |n| format!("in namespace {n}")),
            );
        }
        s.describe(" and ")
    }
}

impl RbacObjects {
    /// The roles of the account's bindings, each once with its summary (documents of one key
    /// merged) and the bindings that refer to it: RoleBindings' roles first, then
    /// ClusterRoleBindings', each in stream order.
    pub fn bound_roles(&self) -> Vec<BoundRole<'_>> {
        let by_key: BTreeMap<&RoleKey, &RoleDoc> = self.roles.iter().map(|r| (&r.key, r)).collect();
        let mut out: Vec<BoundRole<'_>> = Vec::with_capacity(self.roles.len());
        let mut index: BTreeMap<&RoleKey, usize> = BTreeMap::new();
        let ordered = self
            .bindings
            .iter()
            .filter(|b| !b.cluster_binding)
            .chain(self.bindings.iter().filter(|b| b.cluster_binding));
        for b in ordered {
            let Some(doc) = by_key.get(&b.role) else { continue };
            match index.entry(&b.role) {
                std::collections::btree_map::Entry::Vacant(at) => {
                    at.insert(out.len());
                    let aggregated = doc.aggregated.is_some();
                    out.push(BoundRole { key: &b.role, summary: &doc.summary, first: b, more: Vec::new(), aggregated });
                }
                std::collections::btree_map::Entry::Occupied(at) => {
                    if let Some(r) = out.get_mut(*at.get()) {
                        r.more.push(b);
                    }
                }
            }
        }
        out
    }
}

/// The permissions of `wanted` that no bound role allows in their scope: each role's summary
/// is combined per binding (a cluster-wide binding holds in every namespace).
pub fn missing(bound: &[BoundRole<'_>], wanted: &[Perm], universe: &[Perm]) -> Vec<Perm> {
    let in_scope = |b: &Binding, p: &Perm| match (&b.namespace, &p.namespace) {
        (None, _) => true,
        (Some(g), Some(n)) => **g == **n,
        (Some(_), None) => false,
    };
    wanted
        .iter()
        .filter(|p| {
            let Some(i) = bit(p, universe) else { return true };
            !bound.iter().any(|r| r.summary.allows & (1 << i) != 0 && r.bindings().any(|b| in_scope(b, p)))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn every_feature_resource_has_a_place_in_the_set_and_merges_keep_it() {
        let universe = evaluated();
        assert!(feature_resources().count() <= 128, "RoleSummary::named holds 128 pairs");
        let (last_group, last_res) = feature_resources().last().expect("features name resources");
        let mut s = RoleSummary::of(&[rule(&[last_group], &[last_res], &["get"])], &universe);
        assert!(s.names(last_group, last_res));
        assert!(!s.names("", "pods") || (last_group, last_res) == ("", "pods"));
        // A rule naming the resource in another group names nothing a feature uses.
        assert!(
            !RoleSummary::of(&[rule(&["elsewhere.example"], &[last_res], &["get"])], &universe)
                .names(last_group, last_res)
        );
        s.merge(&RoleSummary::of(&[rule(&[""], &["pods"], &["get"])], &universe));
        assert!(s.names("", "pods") && s.names(last_group, last_res));
        // Named, not granted through a wildcard.
        assert!(!RoleSummary::of(&[rule(&["*"], &["*"], &["get"])], &universe).names("", "pods"));
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
        let rule = |res: &str| rule(&[""], &[res], &["get"]);
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
    fn wildcards_and_resource_names() {
        let g = rule(&[""], &["pods", "pods/*"], &["*"]);
        assert!(rule_allows(&g, "", "pods", "delete"));
        assert!(rule_allows(&g, "", "pods/exec", "create"));
        assert!(!rule_allows(&g, "apps", "pods", "get"));
        assert!(rule_allows(&rule(&["*"], &["*"], &["get"]), "", "secrets", "get"));
        let mut named = rule(&[""], &["secrets"], &["get"]);
        named.resource_names = Some(vec!["one".into()]);
        assert!(!rule_allows(&named, "", "secrets", "get"));
    }

    /// A role read once, bound many times: its summary is combined per binding scope.
    #[test]
    fn missing_combines_each_role_per_binding() {
        let universe = evaluated();
        let pods = RoleSummary::of(&[rule(&[""], &["pods"], &["*"])], &universe);
        let key = RoleKey { cluster: false, namespace: Some("a".into()), name: "r".into() };
        let b = |ns: Option<&str>| Binding {
            doc: DocIndex::new(0),
            name: String::new(),
            namespace: ns.map(Arc::from),
            cluster_binding: ns.is_none(),
            role: key.clone(),
        };
        let (in_a, wide) = (b(Some("a")), b(None));
        let p = |ns: Option<&str>| Perm {
            group: String::new(),
            resource: "pods".into(),
            verb: "get".into(),
            namespace: ns.map(str::to_string),
        };
        assert!(universe.len() <= 128, "{} evaluated permissions: more than RoleSummary's bits", universe.len());
        let bound = [BoundRole { key: &key, summary: &pods, first: &in_a, more: Vec::new(), aggregated: false }];
        assert_eq!(missing(&bound, &[p(Some("a")), p(Some("b")), p(None)], &universe), [p(Some("b")), p(None)]);
        let bound = [BoundRole { key: &key, summary: &pods, first: &in_a, more: vec![&wide], aggregated: false }];
        assert!(missing(&bound, &[p(Some("b")), p(None)], &universe).is_empty());
    }
}
