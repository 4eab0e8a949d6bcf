//! RBAC for the API server's service account: add what the minimal set lacks, audit what the
//! stream grants, or tighten wildcard rules bound only to that account (data in `crate::policy`).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Value, json};

use crate::model::RbacMode;
use crate::model::Severity;
use crate::policy::contexts::ContextFacts;
use crate::policy::grants::{self, Binding, BoundRole, RbacObjects, RoleDoc, RoleKey, RoleSummary, Sample};
use crate::policy::minimal_rbac::{self, ALL_VERBS, FEATURES, MINIMAL_CLUSTER, MINIMAL_NAMESPACED, Perm};
use crate::rules::change::{AddedDoc, Change, Intent, Note, RuleId, RuleOutput, Seg, Text};
use crate::stream::{DocIndex, DocRef, InNamespace, ManifestError, Manifests, ResourceId};
use crate::yaml::emit::{self, Layout};
use crate::yaml::{Edit, Editor, Edits, NodeId, TextFacts, Tree};

use super::{
    RuleError,
    api_server::ApiServer,
    container_env::{ContainerEnv, EnvValue},
};

pub const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";
pub const ADDED_FILENAME: &str = "skyhelm/rbac.yaml";
/// The label on every object skyhelm adds. Not `app.kubernetes.io/managed-by`: Helm rewrites
/// that one to `Helm` at install (FACTS.md §2).
pub const ADDED_LABEL: (&str, &str) = ("skyhelm.io/added-by", "rbac");
pub const IN_CLUSTER_NAMESPACE_ENV: &str = "SKYPILOT_IN_CLUSTER_NAMESPACE";

/// Why RBAC refuses to write anything.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    #[error(
        "{at}: the API server runs as the `default` ServiceAccount of namespace {namespace} (the pod template names no serviceAccountName); --rbac {mode} would bind SkyPilot's permissions (read and write Secrets, exec into pods) to it, and so to every pod in that namespace. Give the API server its own account (upstream chart: rbac.serviceAccountName, or leave it empty so the chart uses <fullname>-api-sa) or manage RBAC yourself with --rbac off (or --rbac audit)"
    )]
    DefaultServiceAccount { at: DocRef, namespace: String, mode: &'static str },
    #[error(
        "{at}: neither the documents nor --release-namespace say which namespace the API server runs in, so --rbac {mode} cannot name its ServiceAccount in a binding (it will not guess `default`). Pass the release namespace with --release-namespace NS (with Helm: --post-renderer-args=--release-namespace=NS, or SKYHELM_NAMESPACE), or use --rbac off"
    )]
    NoNamespace { at: DocRef, mode: &'static str },
}

fn note(severity: Severity, message: String) -> Note {
    Note { severity, rule: RuleId::Rbac, message }
}

/// The service account and namespaces that matter.
struct Account {
    name: String,
    /// The API server's namespace (the Deployment's, else `--release-namespace`).
    namespace: String,
    /// Where the in-cluster context works (SKYPILOT_IN_CLUSTER_NAMESPACE, else the pod's).
    in_cluster_ns: String,
}

impl Account {
    fn label(&self) -> String {
        format!("ServiceAccount {}/{}", self.namespace, self.name)
    }
}

/// The account, or None when no namespace is known.
fn account(m: &Manifests, api: &ApiServer, notes: &mut Vec<Note>) -> Result<Option<Account>, ManifestError> {
    let tree = m.tree(api.doc)?;
    let name = tree
        .get_str(api.pod_spec, "serviceAccountName")
        .or_else(|| tree.get_str(api.pod_spec, "serviceAccount"))
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    let Some(namespace) = api.resource.namespace.clone().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    // SkyPilot: `if env_namespace: return env_namespace`, else the pod's namespace.
    let in_cluster_ns = match ContainerEnv::read(m, api)?.get(IN_CLUSTER_NAMESPACE_ENV)?.value {
        EnvValue::Known(v) if !v.is_empty() => v,
        EnvValue::Known(_) | EnvValue::Unset => namespace.clone(),
        EnvValue::Unknown { source, .. } => {
            notes.push(note(
                Severity::Warning,
                format!("{IN_CLUSTER_NAMESPACE_ENV} comes from {source}, which cannot be known at render time: RBAC was judged for the in-cluster context working in the pod's namespace `{namespace}`"),
            ));
            namespace.clone()
        }
    };
    Ok(Some(Account { name, namespace, in_cluster_ns }))
}

/// Reads what the stream grants the account, one document at a time: each candidate document
/// is parsed, reduced to what evaluation needs and dropped (no tree is kept per Role). First
/// the bindings (documents that contain `Binding`), then only the roles they refer to
/// (documents that contain one of those names, found in one pass over the stream): a stream of
/// many Roles that bind nothing to the account costs a substring search, not a parse each.
/// Each role is summarized once (`RoleSummary`), however many bindings refer to it. With
/// `narrowing` (tighten), the roles tighten rewrites are listed (see `Narrowable`).
fn read_objects(
    m: &Manifests,
    acc: &Account,
    narrowing: bool,
    notes: &mut Vec<Note>,
) -> Result<(RbacObjects, Narrowable), ManifestError> {
    let mut objs = RbacObjects::default();
    let universe = grants::evaluated();
    let bindings = read_bindings(m, acc, &mut objs, notes)?;
    // The roles wanted, each once, sorted: borrowed from the account's bindings (set aside
    // meanwhile), not copied.
    let account = std::mem::take(&mut objs.bindings);
    let mut wanted: Vec<&RoleKey> = account.iter().map(|b| &b.role).collect();
    wanted.sort_unstable();
    wanted.dedup();
    objs.shared.retain(|k, _| wanted.binary_search(&k).is_ok());
    let narrowable = read_roles(m, &wanted, &bindings, narrowing, &universe, &mut objs, notes)?;
    drop(wanted);
    objs.bindings = account;
    Ok((objs, narrowable))
}

/// The documents of the roles tighten narrows (`*` verbs, bound to no one but the account), in
/// stream order: found by `read_roles`, parsed again (one at a time) and edited by `narrow`,
/// with what an editor read from the whole document (its layout).
/// Each names its role by its place in `RbacObjects::roles` (not a copy of its key).
type Narrowable = Vec<(DocIndex, usize, TextFacts)>;

/// A warning for an object that does not deserialize as its kind.
fn bad(r: &ResourceId, e: serde_json::Error) -> Note {
    note(Severity::Warning, format!("{r} is not a valid {}: {e}; ignored", r.kind))
}

/// The bindings of the account (into `objs.bindings`), and the other subjects of each role
/// they bind (into `objs.shared`). Returns every binding document read, in stream order.
fn read_bindings(
    m: &Manifests,
    acc: &Account,
    objs: &mut RbacObjects,
    notes: &mut Vec<Note>,
) -> Result<Vec<DocIndex>, ManifestError> {
    let mut read = Vec::new();
    for doc in m.containing("Binding") {
        let tree = m.parse_once(doc)?;
        let (Some(r), Some(root)) = (m.resource_in(&tree), tree.root()) else { continue };
        if !matches!(r.kind.as_str(), "RoleBinding" | "ClusterRoleBinding") {
            continue;
        }
        read.push(doc);
        let (binding, subjects) = if r.kind == "RoleBinding" {
            match serde_json::from_value::<RoleBinding>(tree.to_json(root)) {
                Ok(rb) => (Binding::from_role_binding(doc, &rb, r.namespace.as_deref()), rb.subjects),
                Err(e) => {
                    notes.push(bad(&r, e));
                    continue;
                }
            }
        } else {
            match serde_json::from_value::<ClusterRoleBinding>(tree.to_json(root)) {
                Ok(crb) => (Binding::from_cluster_role_binding(doc, &crb), crb.subjects),
                Err(e) => {
                    notes.push(bad(&r, e));
                    continue;
                }
            }
        };
        let sm = grants::match_subjects(
            subjects.as_deref().unwrap_or_default(),
            &acc.namespace,
            &acc.name,
            binding.namespace.as_deref(),
        );
        if !sm.others.is_empty() {
            let shared = objs.shared.entry(binding.role.clone()).or_default();
            for other in sm.others {
                shared.push_distinct(other);
            }
        }
        if sm.binds_account {
            objs.bindings.push(binding);
        }
    }
    // Kept to the end of the run: without the room its growth left.
    objs.bindings.shrink_to_fit();
    read.shrink_to_fit();
    Ok(read)
}

/// The roles in `wanted` (into `objs.roles`), reading only the documents that contain one of
/// their names: one pass over the stream whatever the number of names. `bindings` (documents
/// already read as bindings, sorted) are not read again: they name the roles they bind.
fn read_roles(
    m: &Manifests,
    wanted: &[&RoleKey],
    bindings: &[DocIndex],
    narrowing: bool,
    universe: &[Perm],
    objs: &mut RbacObjects,
    notes: &mut Vec<Note>,
) -> Result<Narrowable, ManifestError> {
    let mut narrowable = Narrowable::new();
    // At most one entry per wanted role: sized once, not doubled as it grows (a stream may
    // hold many thousand roles, issue 21 §1).
    objs.roles.reserve_exact(wanted.len());
    // Where each wanted role is in `objs.roles` (a second document of one role is merged).
    let mut index: Vec<Option<usize>> = vec![None; wanted.len()];
    // An empty roleRef name matches no role (and as a needle it would match every document).
    let names: Vec<&str> = wanted.iter().map(|k| &*k.name).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Ok(narrowable);
    }
    for doc in m.maybe_naming(&names) {
        if bindings.binary_search(&doc).is_ok() {
            continue;
        }
        // The rules are summarized one at a time as the parser completes them and never kept
        // together (a Role of a million rules costs its text, not a tree of it).
        let mut summary = RoleSummary::of(&[], universe);
        let mut bad_rule: Option<serde_json::Error> = None;
        let mut on_rule = |t: &crate::yaml::Tree, id: crate::yaml::NodeId| match serde_json::from_value::<PolicyRule>(
            t.to_json(id),
        ) {
            Ok(rule) => summary.add(&rule, universe),
            Err(e) => {
                bad_rule.get_or_insert(e);
            }
        };
        let pruned = m.parse_pruning(doc, "rules", &mut on_rule)?;
        let tree = match pruned {
            Some(tree) => tree,
            // Anchors or aliases: the whole tree, rules included.
            None => {
                summary = RoleSummary::of(&[], universe);
                bad_rule = None;
                m.parse_once(doc)?
            }
        };
        let (Some(r), Some(root)) = (m.resource_in(&tree), tree.root()) else { continue };
        let cluster = match r.kind.as_str() {
            "Role" => false,
            "ClusterRole" => true,
            _ => continue,
        };
        let namespace = if cluster { None } else { r.namespace.as_deref() };
        let Ok(slot) = wanted.binary_search_by(|k| k.cmp_to(cluster, namespace, &r.name)) else { continue };
        // The key the bindings hold (its texts shared, not copied).
        let Some(key) = wanted.get(slot).map(|k| (*k).clone()) else { continue };
        if let Some(e) = bad_rule {
            notes.push(bad(&r, e));
            continue;
        }
        let read = if cluster {
            serde_json::from_value::<ClusterRole>(tree.to_json(root)).map(|c| {
                let aggregated = c.aggregation_rule.map(|a| {
                    Box::new(grants::Aggregation {
                        selectors: a.cluster_role_selectors.unwrap_or_default(),
                        from: Vec::new(),
                    })
                });
                (c.rules, aggregated)
            })
        } else {
            serde_json::from_value::<Role>(tree.to_json(root)).map(|c| (c.rules, None))
        };
        match read {
            Ok((rules, aggregated)) => {
                // Rules still in the tree (it was parsed whole) are summarized here.
                for rule in rules.iter().flatten() {
                    summary.add(rule, universe);
                }
                // The written rules of an aggregated ClusterRole mean nothing (see
                // `resolve_aggregation`) and are never edited.
                let summary = if aggregated.is_some() { RoleSummary::of(&[], universe) } else { summary };
                let narrow = narrowing
                    && aggregated.is_none()
                    && summary.star_verbs.count > 0
                    && !objs.shared.contains_key(&key);
                let at = match index.get(slot).copied().flatten() {
                    Some(i) => {
                        if let Some(first) = objs.roles.get_mut(i) {
                            first.summary.merge(&summary);
                            first.aggregated = first.aggregated.take().or(aggregated);
                        }
                        i
                    }
                    None => {
                        let i = objs.roles.len();
                        if let Some(at) = index.get_mut(slot) {
                            *at = Some(i);
                        }
                        objs.roles.push(RoleDoc { doc, key, summary, aggregated });
                        i
                    }
                };
                if narrow {
                    narrowable.push((doc, at, Editor::new(m.text(doc), &tree).facts()));
                }
            }
            Err(e) => notes.push(bad(&r, e)),
        }
    }
    resolve_aggregation(m, objs, universe, notes)?;
    // A ClusterRole some aggregated ClusterRole of the stream gathers (bound to the account, to
    // someone else or to no one) is judged as written: narrowing it would change the aggregated
    // role too. Looked for only when a ClusterRole is to be narrowed.
    if narrowable.iter().any(|&(_, at, _)| objs.roles.get(at).is_some_and(|r| r.key.cluster)) {
        let selectors = stream_aggregation_selectors(m)?;
        if !selectors.is_empty() {
            let mut kept = Narrowable::with_capacity(narrowable.len());
            for entry in narrowable {
                let cluster = objs.roles.get(entry.1).is_some_and(|r| r.key.cluster);
                if !(cluster && matched_by_any(m, entry.0, &selectors)?) {
                    kept.push(entry);
                }
            }
            narrowable = kept;
        }
    }
    narrowable.shrink_to_fit();
    Ok(narrowable)
}

/// Document `doc` parsed without its `rules` (whole when anchors or aliases need it).
fn without_rules<'m>(m: &Manifests<'m>, doc: DocIndex) -> Result<crate::yaml::Tree<'m>, ManifestError> {
    match m.parse_pruning(doc, "rules", &mut |_, _| {})? {
        Some(tree) => Ok(tree),
        None => m.parse_once(doc),
    }
}

/// The selectors of every aggregated ClusterRole in the stream, bound to anyone or no one.
fn stream_aggregation_selectors(m: &Manifests) -> Result<Vec<LabelSelector>, ManifestError> {
    let mut selectors: Vec<LabelSelector> = Vec::new();
    for doc in m.containing("aggregationRule") {
        let tree = without_rules(m, doc)?;
        let (Some(r), Some(root)) = (m.resource_in(&tree), tree.root()) else { continue };
        if r.kind != "ClusterRole" {
            continue;
        }
        let Ok(c) = serde_json::from_value::<ClusterRole>(tree.to_json(root)) else { continue };
        for s in c.aggregation_rule.and_then(|a| a.cluster_role_selectors).into_iter().flatten() {
            if !selectors.contains(&s) {
                selectors.push(s);
            }
        }
    }
    Ok(selectors)
}

/// Whether the labels of the ClusterRole in `doc` match one of `selectors`.
fn matched_by_any(m: &Manifests, doc: DocIndex, selectors: &[LabelSelector]) -> Result<bool, ManifestError> {
    let tree = without_rules(m, doc)?;
    let Some(root) = tree.root() else { return Ok(false) };
    let labels = serde_json::from_value::<ClusterRole>(tree.to_json(root))
        .ok()
        .and_then(|c| c.metadata.labels)
        .unwrap_or_default();
    Ok(selectors.iter().any(|s| grants::selector_matches(s, &labels)))
}

/// Gives each aggregated ClusterRole in `objs.roles` the rules Kubernetes gives it: the union of
/// the ClusterRoles in the stream its selectors match (nested aggregation included), never its
/// written rules. One pass over the stream's ClusterRoles keeps only those some selector
/// matches; another pass only when a kept one is aggregated by selectors not yet seen.
fn resolve_aggregation(
    m: &Manifests,
    objs: &mut RbacObjects,
    universe: &[Perm],
    notes: &mut Vec<Note>,
) -> Result<(), ManifestError> {
    let mut selectors: Vec<LabelSelector> = Vec::new();
    for a in objs.roles.iter().filter_map(|r| r.aggregated.as_ref()) {
        for s in &a.selectors {
            if !selectors.contains(s) {
                selectors.push(s.clone());
            }
        }
    }
    if objs.roles.iter().all(|r| r.aggregated.is_none()) {
        return Ok(());
    }
    let mut kept: Vec<grants::ClusterRoleFacts> = Vec::new();
    let mut scanned = 0;
    while scanned < selectors.len() {
        scanned = selectors.len();
        kept.clear();
        for doc in m.containing("ClusterRole") {
            let tree = m.parse_once(doc)?;
            let (Some(r), Some(root)) = (m.resource_in(&tree), tree.root()) else { continue };
            if r.kind != "ClusterRole" {
                continue;
            }
            let c = match serde_json::from_value::<ClusterRole>(tree.to_json(root)) {
                Ok(c) => c,
                Err(e) => {
                    notes.push(bad(&r, e));
                    continue;
                }
            };
            let labels = c.metadata.labels.unwrap_or_default();
            if !selectors.iter().any(|s| grants::selector_matches(s, &labels)) {
                continue;
            }
            let own = c.aggregation_rule.map(|a| a.cluster_role_selectors.unwrap_or_default());
            for s in own.iter().flatten() {
                if !selectors.contains(s) {
                    selectors.push(s.clone());
                }
            }
            kept.push(grants::ClusterRoleFacts {
                name: r.name,
                labels,
                rules: c.rules.unwrap_or_default(),
                selectors: own,
            });
        }
    }
    for role in &mut objs.roles {
        if let Some(a) = &mut role.aggregated {
            let (rules, from) = grants::aggregate(&role.key.name, &a.selectors, &kept);
            role.summary = RoleSummary::of(&rules, universe);
            a.from = from;
        }
    }
    Ok(())
}

/// The minimal permissions, in the in-cluster namespace and cluster-wide.
fn minimal(acc: &Account) -> Vec<Perm> {
    let mut p = minimal_rbac::perms(MINIMAL_NAMESPACED, Some(&acc.in_cluster_ns));
    p.extend(minimal_rbac::perms(MINIMAL_CLUSTER, None));
    p
}

fn describe(perms: &[Perm]) -> String {
    minimal_rbac::to_rules(perms)
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
        labels: Some([(ADDED_LABEL.0.to_string(), ADDED_LABEL.1.to_string())].into()),
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

/// Kubernetes object names are at most 253 characters.
const MAX_NAME: usize = 253;

/// The name of an added object that is shared beyond the API server's namespace (the
/// cluster-scoped ClusterRole and ClusterRoleBinding; the Role and RoleBinding when they live
/// in another namespace): `skyhelm:<namespace>:<deployment>`, in the style of Kubernetes' own
/// `system:` roles. Namespace and Deployment names cannot contain `:` (DNS labels and
/// subdomains), so the first `:` after the prefix ends the namespace and the name is injective:
/// `a-b`/`c` and `a`/`b-c` no longer share one. A name that would be longer than 253
/// characters, or a part that contains `:` (no valid object has one), becomes
/// `skyhelm:<readable start>::<hash>` (three colons, which the first form never has; the hash
/// is 128 bits of SHA-256 over both parts).
pub fn shared_name(namespace: &str, deployment: &str) -> String {
    let name = format!("skyhelm:{namespace}:{deployment}");
    if name.len() <= MAX_NAME && !namespace.contains(':') && !deployment.contains(':') {
        return name;
    }
    let hash = crate::text::sha256_hex(format!("{}:{namespace}:{deployment}", namespace.len()).as_bytes());
    let readable: String = format!("{namespace}-{deployment}").chars().filter(|c| *c != ':').collect();
    // "skyhelm:" + start + "::" + 32 hex characters.
    let mut cut = MAX_NAME - 8 - 2 - 32;
    cut = cut.min(readable.len());
    while !readable.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("skyhelm:{}::{}", &readable[..cut], &hash[..32])
}

/// Names of what `add` writes: the Role and RoleBinding are `<deployment>-skyhelm` in the
/// API server's own namespace (names of Deployments are unique there), else `shared_name`;
/// the ClusterRole and ClusterRoleBinding are `shared_name`, so two API servers in one cluster
/// never share one.
fn added_names(api: &ApiServer, acc: &Account) -> (String, String) {
    let shared = shared_name(&acc.namespace, &api.resource.name);
    let base = format!("{}-skyhelm", api.resource.name);
    let namespaced = if acc.in_cluster_ns == acc.namespace && base.len() <= MAX_NAME { base } else { shared.clone() };
    (namespaced, shared)
}

pub fn run(m: &Manifests, api: &ApiServer, facts: &ContextFacts, mode: RbacMode) -> Result<RuleOutput, RuleError> {
    let mut out = RuleOutput::default();
    if mode == RbacMode::Off {
        return Ok(out);
    }
    let Some(acc) = account(m, api, &mut out.notes)? else {
        if mode == RbacMode::Audit {
            out.notes.push(note(
                Severity::Warning,
                "RBAC not audited: neither the documents nor --release-namespace say which namespace the API server runs in"
                    .into(),
            ));
            return Ok(out);
        }
        if mode == RbacMode::Add && !facts.in_cluster_exists {
            return Ok(out);
        }
        return Err(RbacError::NoNamespace { at: m.doc_ref(api.doc, None), mode: mode.name() }.into());
    };
    if let Some(missing) = account_must_exist(m, &acc)? {
        out.notes.push(note(Severity::Info, missing));
    }
    let (objs, narrowable) = read_objects(m, &acc, mode == RbacMode::Tighten, &mut out.notes)?;
    let universe = grants::evaluated();
    let bound = objs.bound_roles();
    let binds = !objs.bindings.is_empty();
    let aggregated: Vec<String> =
        objs.roles.iter().filter(|r| r.aggregated.is_some()).map(|r| r.key.describe()).collect();
    for role in &objs.roles {
        if let Some(a) = &role.aggregated {
            out.notes.push(note(Severity::Info, aggregation_note(&role.key, a)));
        }
    }
    match mode {
        RbacMode::Add => add(m, api, facts, &acc, (&bound, &universe), binds, mode, &mut out)?,
        RbacMode::Audit => audit(facts, &acc, (&bound, &universe), None, &aggregated, &mut out),
        RbacMode::Tighten => {
            add(m, api, facts, &acc, (&bound, &universe), binds, mode, &mut out)?;
            tighten(m, facts, &acc, &objs, narrowable, (&bound, &universe), &mut out)?;
        }
        RbacMode::Off => {}
    }
    Ok(out)
}

/// Adds what the minimal set needs and the stream does not grant the account: a Role and
/// RoleBinding for the namespaced part and a ClusterRole and ClusterRoleBinding for the
/// cluster-wide part. Never a ServiceAccount (see `account_must_exist`). `binds_account`: some
/// binding in the stream binds the account; when none does, the chart expects RBAC to be
/// managed elsewhere, and a warning says so.
#[allow(clippy::too_many_arguments)]
fn add(
    m: &Manifests,
    api: &ApiServer,
    facts: &ContextFacts,
    acc: &Account,
    (bound, universe): Held,
    binds_account: bool,
    mode: RbacMode,
    out: &mut RuleOutput,
) -> Result<(), RuleError> {
    if !facts.in_cluster_exists {
        return Ok(());
    }
    let missing_ns =
        grants::missing(bound, &minimal_rbac::perms(MINIMAL_NAMESPACED, Some(&acc.in_cluster_ns)), universe);
    let missing_cl = grants::missing(bound, &minimal_rbac::perms(MINIMAL_CLUSTER, None), universe);
    let complete = missing_ns.is_empty() && missing_cl.is_empty();
    if acc.name == "default" {
        return default_account(m, api, acc, complete, mode, out);
    }
    let tree = m.tree(api.doc)?;
    // Only worked out when something is added: it scans the whole stream.
    let style: LazyStyle = std::cell::LazyCell::new(Box::new(|| Style {
        helm4: !m.containing(FILENAME_ANNOTATION).is_empty(),
        layout: Editor::new(m.text(api.doc), tree).layout(),
    }));
    if !binds_account {
        out.notes.push(note(Severity::Warning, rbac_elsewhere(acc)));
    }
    if complete {
        return Ok(());
    }
    for (perms, cluster) in [(missing_ns, false), (missing_cl, true)] {
        if !perms.is_empty() {
            add_role(m, api, acc, &perms, cluster, &style, out)?;
        }
    }
    Ok(())
}

/// The account is the namespace's `default`: a warning when the stream already grants it the
/// minimal set (every pod of the namespace has it), else an error (skyhelm will not grant more
/// to every pod of the namespace).
fn default_account(
    m: &Manifests,
    api: &ApiServer,
    acc: &Account,
    complete: bool,
    mode: RbacMode,
    out: &mut RuleOutput,
) -> Result<(), RuleError> {
    if complete {
        out.notes.push(note(
            Severity::Warning,
            format!(
                "{}: the API server runs as the namespace's `default` ServiceAccount, which the stream grants SkyPilot's permissions: every pod in namespace {} gets them; give the API server its own account (rbac.serviceAccountName)",
                acc.label(),
                acc.namespace
            ),
        ));
        return Ok(());
    }
    let tree = m.tree(api.doc)?;
    let line = tree.node(api.pod_spec).line();
    Err(RbacError::DefaultServiceAccount {
        at: m.doc_ref(api.doc, Some(line)),
        namespace: acc.namespace.clone(),
        mode: mode.name(),
    }
    .into())
}

/// What to say when nothing in the stream creates the account the Deployment runs as: it must
/// exist before the pod can start. skyhelm never creates it: under Helm 3 a chart hook that
/// creates it is not in the stream (Helm 3 passes no hook objects to a post-renderer; Helm 4
/// does, and a hook object counts), and an account made by Terraform or for IRSA / Workload
/// Identity must not become Helm's. None for `default` (every namespace has it).
fn account_must_exist(m: &Manifests, acc: &Account) -> Result<Option<String>, ManifestError> {
    if acc.name == "default"
        || m.find("ServiceAccount", &acc.name, InNamespace::Exactly(Some(&acc.namespace)))?.is_some()
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} must exist: the API server runs as it and nothing in the stream creates it (upstream chart: rbac.create: false expects an external account; a chart hook that creates it is not shown to post-renderers by Helm 3). skyhelm never creates a ServiceAccount",
        acc.label()
    )))
}

/// For `doctor --manifests`: what `account_must_exist` says about the API server's account
/// (None when the stream creates it, it is `default`, or no namespace is known).
pub fn external_account(m: &Manifests, api: &ApiServer) -> Result<Option<String>, ManifestError> {
    // The in-cluster namespace's warning is post-render's to give; doctor asks only this.
    match account(m, api, &mut Vec::new())? {
        Some(acc) => account_must_exist(m, &acc),
        None => Ok(None),
    }
}

/// `a, b, c` or `a, b, c, d, e and 7 more`.
fn first_few(names: &[String]) -> String {
    let mut s = Sample::default();
    for n in names {
        s.push(|| n.clone());
    }
    s.describe(", ")
}

/// What an aggregated ClusterRole the account is bound to grants, as far as the stream shows.
fn aggregation_note(key: &RoleKey, a: &grants::Aggregation) -> String {
    let matched = if a.from.is_empty() {
        "none of the stream's ClusterRoles match them".to_string()
    } else {
        format!("the stream's ClusterRoles that match them ({}) grant", first_few(&a.from))
    };
    format!(
        "{} has an aggregationRule: Kubernetes replaces its rules with those of the ClusterRoles its selectors match, so skyhelm never edits them and counts instead what {matched}; ClusterRoles outside the stream may add more, so it grants at least that",
        key.describe()
    )
}

/// The warning when no binding in the stream binds the account (the chart's `rbac.create:
/// false`): RBAC is expected to be managed elsewhere.
fn rbac_elsewhere(acc: &Account) -> String {
    format!(
        "{}: nothing in the stream binds it a role, so the chart expects its RBAC to be managed elsewhere (upstream chart: rbac.create: false) or makes it in hooks, which Helm 3 does not pass to post-renderers; skyhelm adds the minimal set. Where RBAC is managed elsewhere, use --rbac audit to check it instead (--strict makes this an error)",
        acc.label()
    )
}

/// What the account's bindings give it: each bound role once, and the permissions their
/// summaries are evaluated over (`grants::evaluated`).
type Held<'a, 'b> = (&'a [BoundRole<'b>], &'a [Perm]);

/// The style of added documents, worked out on first use.
type LazyStyle<'m> = std::cell::LazyCell<Style, Box<dyn FnOnce() -> Style + 'm>>;

/// Adds a role granting `perms` (a ClusterRole when `cluster`) and its binding to the account,
/// unless a role or binding of that name is already in the stream (then a warning).
fn add_role(
    m: &Manifests,
    api: &ApiServer,
    acc: &Account,
    perms: &[Perm],
    cluster: bool,
    style: &LazyStyle,
    out: &mut RuleOutput,
) -> Result<(), RuleError> {
    let (ns_name, cluster_name) = added_names(api, acc);
    let (kind, bkind, ns, name) = if cluster {
        ("ClusterRole", "ClusterRoleBinding", None, &cluster_name)
    } else {
        ("Role", "RoleBinding", Some(acc.in_cluster_ns.as_str()), &ns_name)
    };
    let within = ns.map_or(InNamespace::Any, |ns| InNamespace::Exactly(Some(ns)));
    if m.find(kind, name, within)?.is_some() || m.find(bkind, name, within)?.is_some() {
        out.notes.push(note(
            Severity::Warning,
            format!(
                "{kind} `{name}` is already in the stream but the account still lacks: {}; not adding a second one",
                describe(perms)
            ),
        ));
        return Ok(());
    }
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: acc.name.clone(),
        namespace: Some(acc.namespace.clone()),
        ..Default::default()
    };
    let rules = minimal_rbac::to_rules(perms);
    let why = format!("grants what the minimal set needs and nothing in the stream grants: {}", describe(perms));
    let role_ref = RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.clone() };
    let ((role_value, role_text), (binding_value, binding_text)) = if cluster {
        let role = ClusterRole { metadata: metadata(name, None, style), rules: Some(rules), ..Default::default() };
        let binding =
            ClusterRoleBinding { metadata: metadata(name, None, style), role_ref, subjects: Some(vec![subject]) };
        (document(&role, RBAC_V1, kind, style), document(&binding, RBAC_V1, bkind, style))
    } else {
        let role = Role { metadata: metadata(name, ns, style), rules: Some(rules) };
        let binding = RoleBinding { metadata: metadata(name, ns, style), role_ref, subjects: Some(vec![subject]) };
        (document(&role, RBAC_V1, kind, style), document(&binding, RBAC_V1, bkind, style))
    };
    out.added.push(AddedDoc {
        rule: RuleId::Rbac,
        resource: id(RBAC_V1, kind, ns, name),
        value: role_value,
        text: role_text,
        reasons: vec![format!("{kind} added: {why}").into()],
        paths: vec!["rules".into()],
    });
    out.added.push(AddedDoc {
        rule: RuleId::Rbac,
        resource: id(RBAC_V1, bkind, ns, name),
        value: binding_value,
        text: binding_text,
        reasons: vec![format!("{bkind} added: binds {kind} `{name}` to {}", acc.label()).into()],
        paths: vec!["subjects".into(), "roleRef".into()],
    });
    Ok(())
}

/// Audit findings, one set per role (however many rules and bindings it has). `tightened`:
/// under tighten, the roles it narrowed in this run (their `*` verbs are not reported again,
/// and tighten reports the minimal set itself). `aggregated`: the aggregated ClusterRoles the
/// account is bound to (what they grant is a lower bound).
fn audit(
    facts: &ContextFacts,
    acc: &Account,
    (bound, universe): Held,
    tightened: Option<&Roles>,
    aggregated: &[String],
    out: &mut RuleOutput,
) {
    if !facts.in_cluster_exists {
        warn_unused(acc, bound, out);
        return;
    }
    let none = Roles::new();
    let rewritten = tightened.unwrap_or(&none);
    let account = acc.label();
    let mut more = MoreRoles::default();
    for (n, r) in bound.iter().enumerate() {
        for (kind, msg) in role_warnings(&account, r, rewritten, universe) {
            more.add(n, kind, r, msg, out);
        }
    }
    more.report(&account, out);
    if tightened.is_some() {
        return;
    }
    let missing = grants::missing(bound, &minimal(acc), universe);
    if missing.is_empty() {
        out.notes.push(note(Severity::Info, format!("{account}: has every permission of the minimal set")));
    } else if aggregated.is_empty() {
        out.notes
            .push(note(Severity::Warning, format!("{account}: lacks part of the minimal set: {}", describe(&missing))));
    } else {
        out.notes.push(note(
            Severity::Warning,
            format!(
                "{account}: lacks part of the minimal set as far as the stream shows (the aggregated {} may get more from ClusterRoles outside the stream): {}",
                first_few(aggregated),
                describe(&missing)
            ),
        ));
    }
}

/// Without a service-account token every grant is unused: one warning per role.
fn warn_unused(acc: &Account, bound: &[BoundRole], out: &mut RuleOutput) {
    let account = acc.label();
    let mut more = MoreRoles::default();
    for (n, r) in bound.iter().enumerate() {
        let msg = format!(
            "{account}: {} (via {}) is unused: the pod gets no service-account token, so the API server never uses its own cluster",
            r.key.describe(),
            r.via()
        );
        more.add(n, "are unused: the pod gets no service-account token".into(), r, msg, out);
    }
    more.report(&account, out);
}

/// Roles whose warnings are given one by one; each kind of warning about the other roles is
/// one message with their count and the first few, so that the report stays bounded however
/// many roles the account is bound to.
const ROLE_MESSAGES: usize = 10;

/// The warnings about roles beyond the first `ROLE_MESSAGES`: (kind, the roles).
#[derive(Default)]
struct MoreRoles(Vec<(String, Sample)>);

impl MoreRoles {
    /// The warning `msg` of kind `kind` about the `n`th bound role `r`.
    fn add(&mut self, n: usize, kind: String, r: &BoundRole, msg: String, out: &mut RuleOutput) {
        if n < ROLE_MESSAGES {
            out.notes.push(note(Severity::Warning, msg));
            return;
        }
        let at = match self.0.iter().position(|(k, _)| *k == kind) {
            Some(at) => at,
            None => {
                self.0.push((kind, Sample::default()));
                self.0.len() - 1
            }
        };
        if let Some((_, roles)) = self.0.get_mut(at) {
            roles.push(|| r.key.describe());
        }
    }

    fn report(self, account: &str, out: &mut RuleOutput) {
        for (kind, roles) in self.0 {
            let (n, noun) = (roles.count, if roles.count == 1 { "role" } else { "roles" });
            out.notes.push(note(
                Severity::Warning,
                format!("{account}: {n} more bound {noun} {kind} ({})", roles.describe(", ")),
            ));
        }
    }
}

/// What is risky in one role the account is bound to: `*` verbs (unless tighten `rewritten`
/// it), wildcard resources, reading Secrets everywhere, escalation verbs, managing RBAC. At
/// most one message of each kind, with counts and the first few rules.
fn role_warnings(account: &str, r: &BoundRole, rewritten: &Roles, universe: &[Perm]) -> Vec<(String, String)> {
    let mut warnings = Vec::new();
    let role = r.key.describe();
    let via = format!("{role} (via {})", r.via());
    let scope = r.scope();
    let s = &r.summary;
    let in_rules = |sample: &Sample| match sample.count {
        1 => format!("on {}", sample.describe("; ")),
        n => format!("in {n} rules (on {})", sample.describe("; ")),
    };
    if s.star_verbs.count > 0 && !rewritten.contains(r.key) {
        warnings.push((
            "grant every verb (`*`)".into(),
            format!("{account}: {via} grants every verb (`*`) {} {scope}", in_rules(&s.star_verbs)),
        ));
    }
    if s.rare().wildcards.count > 0 {
        warnings.push((
            "grant a wildcard resource or API group".into(),
            format!("{account}: {via} grants a wildcard resource or API group {scope}"),
        ));
    }
    let probe =
        |verb: &str| Perm { group: String::new(), resource: "secrets".into(), verb: verb.into(), namespace: None };
    if r.cluster_wide() && (s.allows(&probe("get"), universe) || s.allows(&probe("list"), universe)) {
        warnings.push((
            "can read Secrets in every namespace".into(),
            format!("{account}: {via} can read Secrets in every namespace"),
        ));
    }
    for v in &s.rare().dangerous {
        warnings.push((
            format!("grant `{v}`, which allows privilege escalation"),
            format!("{account}: {via} grants `{v}` ({scope}), which allows privilege escalation"),
        ));
    }
    if !s.rare().rbac_managed.is_empty() {
        warnings.push((
            "may manage RBAC; needed only for SkyPilot's RBAC management (chart: rbac.manageRbacPolicies)".into(),
            format!(
                "{account}: {via} may manage RBAC ({}) {scope}; needed only for SkyPilot's RBAC management (chart: rbac.manageRbacPolicies)",
                s.rare().rbac_managed.join(", ")
            ),
        ));
    }
    warnings
}

/// Features whose resources the account's roles name explicitly (the chart rendered them): a
/// cluster-wide feature through a cluster-wide binding, a namespaced one through any binding
/// (a cluster-wide grant holds in every namespace).
fn features_in_use(bound: &[BoundRole]) -> Vec<&'static minimal_rbac::Feature> {
    FEATURES
        .iter()
        .filter(|f| {
            f.rules.iter().any(|spec| {
                spec.resources.iter().any(|res| {
                    bound.iter().any(|r| (!f.cluster || r.cluster_wide()) && r.summary.names(spec.group, res))
                })
            })
        })
        .collect()
}

/// Verbs the documented needs give `group/resource` in a scope; None when undocumented. A
/// cluster-wide grant also grants in the API server's namespace, so it keeps the namespaced
/// needs too (narrowing it to the cluster-wide ones alone would take away the minimal set).
fn needed_verbs(
    group: &str,
    resource: &str,
    cluster: bool,
    features: &[&minimal_rbac::Feature],
) -> Option<Vec<String>> {
    let base: &[minimal_rbac::RuleSpec] = if cluster { MINIMAL_CLUSTER } else { &[] };
    let specs = MINIMAL_NAMESPACED
        .iter()
        .chain(base)
        .chain(features.iter().filter(|f| cluster || !f.cluster).flat_map(|f| f.rules.iter()));
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

/// Rewrites `*` verbs in the roles bound only to the account (after `add` gave it what the
/// minimal set lacks), and reports what it leaves. `narrowable` is dropped once narrowed.
fn tighten(
    m: &Manifests,
    facts: &ContextFacts,
    acc: &Account,
    objs: &RbacObjects,
    narrowable: Narrowable,
    held: Held,
    out: &mut RuleOutput,
) -> Result<(), RuleError> {
    let features = features_in_use(held.0);
    let done = narrow_roles(m, objs, narrowable, &features, out)?;
    audit(facts, acc, held, Some(&done.rewritten), &[], out);
    out.notes.push(note(Severity::Info, tighten_summary(facts, acc, &features, &done.named, &done.left)));
    Ok(())
}

/// Roles, each once (by key: not their descriptions, which a stream of many roles would hold
/// once more each).
type Roles<'a> = std::collections::BTreeSet<&'a RoleKey>;

/// What tighten did to the account's roles.
struct Tightened<'a> {
    /// The roles it rewrote.
    rewritten: Roles<'a>,
    /// The same, as the summary names them: the first few and how many.
    named: Sample,
    /// The roles that keep `*` verbs: the first few and how many.
    left: Sample,
}

/// Narrows the `*` verbs of each role the account is bound to, except roles also bound to
/// someone else and aggregated ClusterRoles (a warning each). Returns the roles rewritten and
/// the roles that keep `*` verbs.
fn narrow_roles<'o>(
    m: &Manifests,
    objs: &'o RbacObjects,
    narrowable: Narrowable,
    features: &[&minimal_rbac::Feature],
    out: &mut RuleOutput,
) -> Result<Tightened<'o>, RuleError> {
    let mut named = Sample::default();
    let mut left = Sample::default();
    for role in &objs.roles {
        let wildcard = role.summary.star_verbs.count > 0;
        if role.aggregated.is_some() {
            if wildcard {
                out.notes.push(note(
                    Severity::Warning,
                    format!(
                        "{} is aggregated: the `*` verbs it gets from the ClusterRoles it gathers are judged as written (tighten edits neither an aggregated ClusterRole nor what it gathers)",
                        role.key.describe()
                    ),
                ));
                left.push(|| role.key.describe());
            }
            continue;
        }
        if let Some(others) = objs.shared.get(&role.key) {
            if wildcard {
                out.notes.push(note(
                    Severity::Warning,
                    format!(
                        "{} has `*` verbs but is also bound to {}: left as it is (narrowing it would change what they may do)",
                        role.key.describe(),
                        others.describe(", ")
                    ),
                ));
                left.push(|| role.key.describe());
            }
            continue;
        }
    }
    // Every other role with `*` verbs is narrowable (listed by read_roles). A ClusterRole used
    // through RoleBindings only grants in namespaces.
    let cluster_bound: std::collections::BTreeSet<&RoleKey> =
        objs.bindings.iter().filter(|b| b.cluster_binding).map(|b| &b.role).collect();
    // A role the stream holds twice is named once.
    let (mut rewritten, mut named_left) = (Roles::new(), Roles::new());
    let mut written = Written::default();
    out.changes.reserve_exact(narrowable.len());
    for (doc, at, facts) in narrowable {
        let Some(key) = objs.roles.get(at).map(|r| &r.key) else { continue };
        let cluster = key.cluster && cluster_bound.contains(key);
        let (changed, kept) = narrow(m, (doc, key, facts), cluster, features, &mut written, out)?;
        if changed && rewritten.insert(key) {
            named.push(|| key.describe());
        }
        if kept && named_left.insert(key) {
            left.push(|| key.describe());
        }
    }
    Ok(Tightened { rewritten, named, left })
}

/// What the account holds after tighten: the minimal set, the features in use, the roles
/// rewritten and the roles left with `*` verbs (the first few of each).
fn tighten_summary(
    facts: &ContextFacts,
    acc: &Account,
    features: &[&minimal_rbac::Feature],
    rewritten: &Sample,
    left: &Sample,
) -> String {
    let mut names: Vec<&str> = features.iter().map(|f| f.name).collect();
    names.dedup();
    let minimal = if facts.in_cluster_exists {
        "the minimal set"
    } else {
        "no added permission (the pod gets no service-account token, so the minimal set is not needed)"
    };
    format!(
        "tighten: {} now holds {minimal}{}{}{}",
        acc.label(),
        if names.is_empty() {
            String::new()
        } else {
            format!(", what the features in use need ({})", names.join(", "))
        },
        if rewritten.count == 0 {
            String::new()
        } else {
            format!("; `*` verbs rewritten in {}", rewritten.describe(", "))
        },
        if left.count == 0 {
            String::new()
        } else {
            format!("; `*` verbs left (see the warnings) in {}", left.describe(", "))
        }
    )
}

/// `rule 3` or `rules 1, 2, 3, 4, 5 and 9 more`.
fn rule_numbers(numbers: &Sample) -> String {
    match numbers.count {
        1 => format!("rule {}", numbers.describe(", ")),
        _ => format!("rules {}", numbers.describe(", ")),
    }
}

/// The rules of one role narrowed to the same verbs: one reason and one intent for all of them.
struct Rewrites {
    verbs: Vec<String>,
    /// The rules' indices (0-based), ascending.
    items: Vec<usize>,
    numbers: Sample,
    resources: Sample,
    undocumented: Sample,
}

/// What narrowing one role found, rule by rule, kept small whatever the number of rules:
/// the edits, the rewritten rules grouped by the verbs written, the rules left by why.
#[derive(Default)]
struct RoleNarrowing {
    /// Rules seen so far (the next rule's index).
    seen: usize,
    edits: Edits,
    groups: Vec<Rewrites>,
    /// Rules left, by why: (why, rule numbers).
    left: Vec<(String, Sample)>,
}

/// The texts tighten has written so far, the lists of verbs its intents declare and the reasons
/// it gives, each kept once (most rules of most roles get one of a few lists of verbs, and most
/// roles of a stream of many one of a few reasons); and the path and key every intent names.
struct Written {
    texts: Vec<crate::yaml::edit::Insert>,
    values: Vec<std::sync::Arc<Value>>,
    reasons: Vec<Text>,
    /// `rules`, the list every intent edits.
    path: std::sync::Arc<[Seg]>,
    /// `verbs`, the key every intent sets.
    key: std::sync::Arc<str>,
}

impl Default for Written {
    fn default() -> Self {
        Written {
            texts: Vec::new(),
            values: Vec::new(),
            reasons: Vec::new(),
            path: vec![Seg::key("rules")].into(),
            key: "verbs".into(),
        }
    }
}

impl Written {
    /// `reason` as a change's reason, shared with the roles narrowed before for the same reason.
    fn reason(&mut self, reason: String) -> Text {
        if let Some(r) = self.reasons.iter().find(|r| ***r == *reason) {
            return r.clone();
        }
        let reason = Text::from(reason);
        if self.reasons.len() < SHARED_TEXTS {
            self.reasons.push(reason.clone());
        }
        reason
    }

    /// `verbs` as an intent's value, shared with the roles narrowed before to the same verbs.
    fn value(&mut self, verbs: &[String]) -> std::sync::Arc<Value> {
        let same = |w: &Value| matches!(w, Value::Array(a) if a.len() == verbs.len() && a.iter().zip(verbs).all(|(x, v)| x.as_str() == Some(v)));
        if let Some(w) = self.values.iter().find(|w| same(w)) {
            return w.clone();
        }
        let value = std::sync::Arc::new(json!(verbs));
        if self.values.len() < SHARED_TEXTS {
            self.values.push(value.clone());
        }
        value
    }
}

/// How many distinct written texts, lists of verbs and reasons tighten shares (beyond them, each
/// edit, intent or change keeps its own).
const SHARED_TEXTS: usize = 16;

impl RoleNarrowing {
    fn record(&mut self, narrowed: Narrowed, written: &mut Written) {
        let i = self.seen;
        self.seen += 1;
        match narrowed {
            Narrowed::NoWildcard => {}
            Narrowed::Left(why) => {
                let at = match self.left.iter().position(|(w, _)| *w == why) {
                    Some(at) => at,
                    None => {
                        self.left.push((why, Sample::default()));
                        self.left.len() - 1
                    }
                };
                if let Some((_, numbers)) = self.left.get_mut(at) {
                    numbers.push(|| (i + 1).to_string());
                }
            }
            Narrowed::Rewritten { mut edit, verbs, resources, undocumented } => {
                match written.texts.iter().find(|w| w[..] == edit.insert[..]) {
                    Some(w) => edit.insert = w.clone(),
                    None if written.texts.len() < SHARED_TEXTS => written.texts.push(edit.insert.clone()),
                    None => {}
                }
                self.edits.push(edit);
                let at = match self.groups.iter().position(|g| g.verbs == verbs) {
                    Some(at) => at,
                    None => {
                        self.groups.push(Rewrites {
                            verbs,
                            items: Vec::new(),
                            numbers: Sample::default(),
                            resources: Sample::default(),
                            undocumented: Sample::default(),
                        });
                        self.groups.len() - 1
                    }
                };
                if let Some(g) = self.groups.get_mut(at) {
                    g.items.push(i);
                    g.numbers.push(|| (i + 1).to_string());
                    g.resources.push(|| resources.join(", "));
                    for u in undocumented {
                        g.undocumented.push_distinct(u);
                    }
                }
            }
        }
    }
}

/// Narrows one role's `*` verbs: (changed something, left some `*` verbs). Its document is
/// parsed again here one rule at a time (`parse_pruning`: each rule is narrowed as the parser
/// completes it, then dropped), so a role of a million rules costs its edits, not a tree of it.
/// What it rewrites and leaves is reported per role: one reason (and one declared intent) per
/// list of verbs written, one warning per reason for leaving rules, each with counts and the
/// first few rules.
fn narrow(
    m: &Manifests,
    role: (DocIndex, &RoleKey, TextFacts),
    cluster: bool,
    features: &[&minimal_rbac::Feature],
    written: &mut Written,
    out: &mut RuleOutput,
) -> Result<(bool, bool), RuleError> {
    let (doc, key, facts) = role;
    let text = m.text(doc);
    let mut found = RoleNarrowing::default();
    let mut on_rule = |t: &Tree, id: NodeId| {
        let rules = RoleRules { m, doc, tree: t, editor: Editor::for_item(text, t, facts), cluster, features };
        let narrowed = rules.narrow_rule(id);
        found.record(narrowed, written);
    };
    let pruned = m.parse_pruning(doc, "rules", &mut on_rule)?;
    let resource = match pruned {
        // One `rules` key: its rules were handed over in order.
        Some(tree) if tree.root().is_none_or(|root| count_key(&tree, root, "rules") <= 1) => m.resource_in(&tree),
        // Anchors or aliases (pruning stopped), or `rules` written twice (a reader keeps the
        // last): the whole tree, narrowed as written.
        _ => {
            found = RoleNarrowing::default();
            let whole = m.parse_once(doc)?;
            let rules = RoleRules { m, doc, tree: &whole, editor: Editor::new(text, &whole), cluster, features };
            if let Some(list) = whole.root().and_then(|root| whole.get(root, "rules")) {
                for &rule in whole.items(list) {
                    found.record(rules.narrow_rule(rule), written);
                }
            }
            m.resource_in(&whole)
        }
    };
    let Some(resource) = resource else { return Ok((false, true)) };
    let label = key.describe();
    for (why, numbers) in &found.left {
        out.notes.push(note(Severity::Warning, format!("{label} {}: {why}", rule_numbers(numbers))));
    }
    if found.edits.is_empty() {
        return Ok((false, !found.left.is_empty()));
    }
    // Built item by item, not collected from `groups` (whose larger buffer it would keep).
    let mut intents = Vec::with_capacity(found.groups.len());
    for g in &mut found.groups {
        let items = std::mem::take(&mut g.items);
        intents.push(Intent::SetEach {
            path: written.path.clone(),
            items,
            key: written.key.clone(),
            value: written.value(&g.verbs),
        });
    }
    found.edits.shrink_to_fit();
    let mut reasons = Vec::with_capacity(found.groups.len());
    for g in &found.groups {
        reasons.push(written.reason(narrowing_reason(g)));
    }
    out.changes.push(Change {
        doc,
        resource,
        rule: RuleId::Rbac,
        reasons,
        edits: found.edits,
        paths: vec!["rules".into()],
        field: None,
        intents,
    });
    Ok((true, !found.left.is_empty()))
}

/// How many times a mapping writes `key`.
fn count_key(tree: &Tree, map: NodeId, key: &str) -> usize {
    tree.entries(map).iter().filter(|(k, _)| tree.raw(*k) == Some(key)).count()
}

/// What narrowing did to one rule of a role.
enum Narrowed {
    /// The rule has no `*` verb.
    NoWildcard,
    /// Its `*` verbs stay, for this reason.
    Left(String),
    /// Its `*` verbs are replaced by the documented ones.
    Rewritten { edit: Edit, verbs: Vec<String>, resources: Vec<String>, undocumented: Vec<String> },
}

/// One role being narrowed: its document, and what decides the verbs its rules need.
struct RoleRules<'a> {
    m: &'a Manifests<'a>,
    doc: DocIndex,
    tree: &'a crate::yaml::Tree<'a>,
    editor: Editor<'a>,
    /// It grants cluster-wide (bound by a ClusterRoleBinding).
    cluster: bool,
    features: &'a [&'a minimal_rbac::Feature],
}

impl RoleRules<'_> {
    /// Replaces the `*` verbs of a rule by what SkyPilot's documented needs give its
    /// resources (all standard verbs for a resource they do not name), or says why it cannot.
    fn narrow_rule(&self, rule_node: NodeId) -> Narrowed {
        let tree = self.tree;
        let rule: PolicyRule = match serde_json::from_value(tree.to_json(rule_node)) {
            Ok(r) => r,
            Err(e) => return Narrowed::Left(format!("not a valid rule ({e}): left as it is")),
        };
        if !rule.verbs.iter().any(|v| v == "*") {
            return Narrowed::NoWildcard;
        }
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        if resources.is_empty() {
            return Narrowed::Left("`*` verbs on non-resource URLs left as they are (no documented list)".to_string());
        }
        if groups.iter().any(|g| g == "*")
            || resources.iter().any(|r| r == "*" || r.starts_with("*/") || r.ends_with("/*"))
        {
            return Narrowed::Left("`*` verbs on wildcard resources or API groups left as they are (no documented list to replace them with)".to_string());
        }
        let (verbs, undocumented) = self.needed(&groups, &resources);
        let crate::yaml::tree::Lookup::Found { key, value } = tree.lookup(rule_node, "verbs") else {
            return Narrowed::Left("`*` verbs come through a merge key; left as they are".to_string());
        };
        // Narrowing is never required: a rule skyhelm cannot edit safely (verbs shared through
        // an anchor, say) is left as written, with the reason.
        match self.editor.replace_value(key, value, &json!(verbs)) {
            Ok(edit) => Narrowed::Rewritten { edit, verbs, resources, undocumented },
            Err(e) => Narrowed::Left(format!(
                "`*` verbs left as they are: {}",
                ManifestError::Edit { at: self.m.doc_ref(self.doc, Some(tree.node(value).line())), cause: e }
            )),
        }
    }

    /// The verbs the documented needs give each group/resource pair (all standard verbs for a
    /// pair they do not name), and those undocumented pairs.
    fn needed(&self, groups: &[String], resources: &[String]) -> (Vec<String>, Vec<String>) {
        let mut verbs: Vec<String> = Vec::new();
        let mut undocumented: Vec<String> = Vec::new();
        for group in groups {
            for res in resources {
                let need = needed_verbs(group, res, self.cluster, self.features).unwrap_or_else(|| {
                    undocumented.push(if group.is_empty() { res.clone() } else { format!("{group}/{res}") });
                    ALL_VERBS.iter().map(|v| v.to_string()).collect()
                });
                for v in need {
                    if !verbs.contains(&v) {
                        verbs.push(v);
                    }
                }
            }
        }
        (verbs, undocumented)
    }
}

/// Why the verbs of a group of rules became `verbs`.
fn narrowing_reason(g: &Rewrites) -> String {
    let mut reason =
        format!("{} ({}): verbs `*` → [{}]", rule_numbers(&g.numbers), g.resources.describe("; "), g.verbs.join(", "));
    if g.undocumented.count > 0 {
        reason.push_str(&format!(
            "; all standard verbs for {} (not in SkyPilot's documented needs, so nothing is dropped)",
            g.undocumented.describe(", ")
        ));
    }
    if g.verbs.iter().any(|v| v == "escalate" || v == "bind") {
        reason.push_str(
            "; `escalate` and `bind` kept: SkyPilot creates and binds Roles and ClusterRoles for its workloads (all verbs on all resources of its namespace, a ClusterRole that creates namespaces), which Kubernetes allows only to an account holding `escalate` and `bind` on roles/clusterroles (or every permission it grants)",
        );
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shared_names_of_the_colliding_pair_differ() {
        assert_eq!(shared_name("a-b", "c"), "skyhelm:a-b:c");
        assert_eq!(shared_name("a", "b-c"), "skyhelm:a:b-c");
        let long = shared_name(&"n".repeat(63), &"d".repeat(253));
        assert_eq!(long.len(), 253);
        assert!(long.starts_with("skyhelm:nnn") && long.contains("::"), "{long}");
    }

    /// Names Kubernetes accepts for namespaces (DNS labels) and Deployments (DNS subdomains),
    /// short and long, plus parts no valid object has (`:`, non-ASCII).
    fn part(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::string::string_regex(&format!("[a-z0-9]([-a-z0-9.]{{0,{}}}[a-z0-9])?", max - 2)).unwrap(),
            2 => proptest::string::string_regex("[ab-]{1,6}").unwrap(),
            1 => proptest::string::string_regex("[a:é-]{1,300}").unwrap(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Distinct (namespace, deployment) pairs never share a name, and every name is a
        /// valid RBAC object name (at most 253 characters, no `/` or `%`, not `.` or `..`).
        #[test]
        fn shared_names_are_injective_and_valid(a in (part(63), part(253)), b in (part(63), part(253))) {
            let (na, nb) = (shared_name(&a.0, &a.1), shared_name(&b.0, &b.1));
            prop_assert_eq!(na == nb, a == b, "{:?} {:?} → {} {}", a, b, na, nb);
            for n in [&na, &nb] {
                prop_assert!(n.len() <= 253 && !n.contains(['/', '%']), "{}", n);
            }
            // And every other split of `a`'s characters at a `-`, `.` or `:`.
            let joined = format!("{}-{}", a.0, a.1);
            for (i, _) in joined.match_indices(['-', '.', ':']) {
                let other = (joined[..i].to_string(), joined[i + 1..].to_string());
                prop_assert_eq!(shared_name(&other.0, &other.1) == na, other == a, "{:?} {:?}", other, a);
            }
        }
    }
}
