//! SkyPilot's rules for Kubernetes contexts (FACTS.md §3), in one place: post-render, doctor
//! and the chart generator all call these.
//!
//! - Available contexts: every kubeconfig context, plus the in-cluster context when the pod
//!   gets a service-account token. Names starting with `ssh-` belong to SSH node pools.
//! - Matching is exact and case-sensitive; the list order is the failover order.
//! - An unset list means "the kubeconfig's current-context only" (in-cluster only when there is
//!   no current-context), so a mounted kubeconfig silently drops in-cluster.

pub const DEFAULT_IN_CLUSTER: &str = "in-cluster";
pub const SSH_PREFIX: &str = "ssh-";
pub const ALL: &str = "all";
/// Renames the in-cluster context (SkyPilot: `os.environ.get(NAME) or 'in-cluster'`).
pub const IN_CLUSTER_NAME_ENV: &str = "SKYPILOT_IN_CLUSTER_CONTEXT_NAME";
/// True: a list unset everywhere (the workspace's and the global one) means every context.
pub const ALLOW_ALL_ENV: &str = "SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS";
/// False: the in-cluster context is left out of every list SkyPilot derives (`all`, the
/// allow-all variable, an unset list); an explicit list is used as written.
/// SkyPilot keeps its config (allowed_contexts included) in this database when set.
pub const DB_ENV: &str = "SKYPILOT_DB_CONNECTION_URI";
pub const INCLUDES_IN_CLUSTER_ENV: &str = "SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER";

/// A boolean option as SkyPilot reads it (`env_options.Options.get`: `os.getenv(name,
/// str(default)).lower() in ('true', '1')`): only `true` and `1`, any case, are true; an empty
/// value is false; unset is the default.
pub fn env_flag(value: Option<&str>, default: bool) -> bool {
    value.map_or(default, |v| matches!(v.to_lowercase().as_str(), "true" | "1"))
}

/// A boolean option of the API container, or where it comes from when its value is not known at
/// render time (the text is safe to show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFlag {
    Is(bool),
    Unknown(String),
}

/// What the API container's environment says about contexts, besides the in-cluster name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEnv {
    /// `SKYPILOT_IN_CLUSTER_CONTEXT_NAME` is set to a value not known at render time: from
    /// where (safe to show). [`ContextFacts::in_cluster_name`] is then only a placeholder.
    pub in_cluster_name_unknown: Option<String>,
    /// [`ALLOW_ALL_ENV`].
    pub allow_all: EnvFlag,
    /// [`INCLUDES_IN_CLUSTER_ENV`].
    pub includes_in_cluster: EnvFlag,
}

impl Default for ContextEnv {
    fn default() -> Self {
        ContextEnv {
            in_cluster_name_unknown: None,
            allow_all: EnvFlag::Is(false),
            includes_in_cluster: EnvFlag::Is(true),
        }
    }
}

/// Why skyhelm adds the in-cluster name to no list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InClusterOff {
    /// [`INCLUDES_IN_CLUSTER_ENV`] is false: the admin opted out.
    OptedOut,
    /// [`INCLUDES_IN_CLUSTER_ENV`] comes from this source.
    OptOutUnknown(String),
    /// [`IN_CLUSTER_NAME_ENV`] comes from this source.
    NameUnknown(String),
}

/// What an unset list (unset in the workspace and globally) means to SkyPilot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsetMeans {
    /// The kubeconfig's current-context (the in-cluster context when there is none).
    CurrentContext,
    /// Every context ([`ALLOW_ALL_ENV`] is true).
    All,
    /// Either: [`ALLOW_ALL_ENV`] comes from this source.
    Unknown(String),
}

/// What decides which contexts exist for the API server.
#[derive(Debug, Clone, Default)]
pub struct ContextFacts {
    /// Name of the in-cluster context (`SKYPILOT_IN_CLUSTER_CONTEXT_NAME` or `in-cluster`).
    pub in_cluster_name: String,
    /// The pod gets a service-account token.
    pub in_cluster_exists: bool,
    pub kubeconfig_mounted: bool,
    /// Context names of the kubeconfig, when the caller has it.
    pub kubeconfig_contexts: Option<Vec<String>>,
    pub current_context: Option<String>,
    pub allow_unknown: bool,
    /// SkyPilot's other context settings on the API container.
    pub env: ContextEnv,
}

/// What happens to one listed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOp {
    Keep,
    Rename(String),
    Remove,
}

/// The plan for one allowed_contexts list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPlan {
    /// One op per original item, in order.
    pub ops: Vec<ItemOp>,
    /// Names appended at the end.
    pub append: Vec<String>,
    pub reasons: Vec<String>,
    /// Names kept although no kubeconfig context has them (`--allow-unknown-contexts`).
    pub unknown_kept: Vec<String>,
    /// The resulting list.
    pub result: Vec<String>,
}

impl ListPlan {
    pub fn changes(&self) -> bool {
        !self.append.is_empty() || self.ops.iter().any(|o| *o != ItemOp::Keep)
    }
}

/// Which list a plan is for: only the global list ever gets the in-cluster name appended (the
/// documented fix); a workspace list is a team's allowlist and is only ever narrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Workspace,
}

/// Every text field is shown through [`shown`]: names, list labels and written text come from
/// config.yaml, the kubeconfig or the manifests.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContextError {
    #[error("{}: context `{}` is not in the kubeconfig{}{}; available contexts: {}. SkyPilot would skip it with one log line (pass --allow-unknown-contexts to keep it anyway)", shown(list), shown(name), crate::messages::did_you_mean(&shown_each(suggestions)), renamed_text(name, in_cluster), shown_each(available).join(", "))]
    Unknown { list: String, name: String, suggestions: Vec<String>, available: Vec<String>, in_cluster: Option<String> },
    #[error(
        "{}: item {index} is `{text}`, which SkyPilot's YAML reader (PyYAML) reads as {}, not a context name; quote it: '{text}'", shown(list), shown(reads_as), text = shown(text)
    )]
    NotString { list: String, index: usize, text: String, reads_as: String },
    /// Two keys that would both become (or already are) the context `context`: renaming would
    /// write the key twice, and PyYAML would keep only the last one's settings.
    #[error(
        "{}: keys `{}` and `{}` name the same context `{}` (case ignored); keep one",
        shown(list),
        shown(first),
        shown(second),
        shown(context)
    )]
    KeyClash { list: String, first: String, second: String, context: String },
    #[error("{}: item {index} is {found}, not a context name", shown(list))]
    NotAName { list: String, index: usize, found: String },
    #[error("{}: {}, expected a list of context names or `all`", shown(list), shown(found))]
    NotAList { list: String, found: String },
    #[error(
        "kubernetes.allowed_contexts is unset and the kubeconfig's current-context `{}` names no context in it; set the list with --allowed-context NAME (skyhelm never writes a context that does not exist)",
        shown(name)
    )]
    CurrentContextMissing { name: String },
    #[error("{}: `{}` matches several kubeconfig contexts when case is ignored ({}); write it exactly", shown(list), shown(name), shown_each(candidates).join(", "))]
    AmbiguousCase { list: String, name: String, candidates: Vec<String> },
    #[error(
        "kubernetes.allowed_contexts is unset while both a kubeconfig and the in-cluster context are available: SkyPilot would then use only the kubeconfig's current-context and silently drop `{in_cluster}`. Pass --skypilot-kubeconfig (skyhelm then writes [<current-context>, {in_cluster}]), or set the list with --allowed-context NAME (repeatable) or in the chart's apiService.config", in_cluster = shown(in_cluster)
    )]
    UnsetNeedsKubeconfig { in_cluster: String },
    #[error(
        "kubernetes.allowed_contexts is unset and the kubeconfig has no current-context; set the list with --allowed-context NAME"
    )]
    NoCurrentContext,
    #[error(
        "{}: `all` means every context, but a context is named `all`; say which in the --config file: `allowed-contexts: all` (every context) or `allowed-contexts: [all]` (only the context `all`)",
        shown(given_by)
    )]
    AmbiguousAll { given_by: String },
}

impl ContextError {
    /// A name that matches no context of `f` (list items and context_configs keys alike).
    pub fn unknown(list: &str, name: &str, suggestions: Vec<String>, f: &ContextFacts) -> ContextError {
        ContextError::Unknown {
            list: list.into(),
            name: name.into(),
            suggestions,
            available: f.available(),
            in_cluster: Some(f.in_cluster_name.clone()),
        }
    }
}

/// A name or text from outside (config.yaml, the kubeconfig, the manifests) as a message shows
/// it ([`crate::messages::sanitize`]): no terminal escapes or direction marks, bounded length;
/// one with a URL with user information by its size.
pub fn shown(text: &str) -> String {
    // A URL with user information where a name goes (a database URL pasted into a list) is a
    // credential: shown by its size, as the reports show it.
    if crate::messages::has_userinfo(text) {
        return crate::messages::redacted(text.len());
    }
    crate::messages::sanitize(text, &[])
}

fn shown_each(names: &[String]) -> Vec<String> {
    names.iter().map(|n| shown(n)).collect()
}

/// When SKYPILOT_IN_CLUSTER_CONTEXT_NAME renames the in-cluster context and the old name is used.
fn renamed_text(name: &str, in_cluster: &Option<String>) -> String {
    match in_cluster {
        Some(ic) if name == DEFAULT_IN_CLUSTER && ic != DEFAULT_IN_CLUSTER => {
            format!(
                " (the in-cluster context is named `{}` here: SKYPILOT_IN_CLUSTER_CONTEXT_NAME renames it)",
                shown(ic)
            )
        }
        _ => String::new(),
    }
}

/// Levenshtein distance, on characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest names (at most 3, within a third of the name's length, at least 2 edits).
pub fn nearest(name: &str, available: &[String]) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = available
        .iter()
        .map(|a| (edit_distance(&name.to_lowercase(), &a.to_lowercase()), a))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, a)| a.clone()).collect()
}

/// Plans the normalization of one set list (`list` names it in messages). Every bad name is
/// reported, not only the first.
///
/// Never wider than the admin wrote: names are corrected (case), dropped (duplicates, `ssh-`
/// names, the in-cluster name without a token) or refused (unknown); the in-cluster name is
/// appended only to a non-empty global list, only when the kubeconfig is mounted and the pod
/// gets a token. `[]` stays `[]`.
pub fn plan_list(list: &str, scope: Scope, items: &[String], f: &ContextFacts) -> Result<ListPlan, Vec<ContextError>> {
    let mut plan = ListPlan::default();
    let mut errors = Vec::new();
    for name in items {
        let (op, final_name) = match resolve_item(list, name, f, &mut plan) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                plan.ops.push(ItemOp::Keep);
                continue;
            }
        };
        let final_name = match final_name {
            Some(n) if plan.result.contains(&n) => {
                plan.reasons.push(format!("`{}` removed (listed twice; the first one wins)", shown(name)));
                plan.ops.push(ItemOp::Remove);
                continue;
            }
            other => other,
        };
        plan.ops.push(op);
        plan.result.extend(final_name);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if scope == Scope::Global
        && !plan.result.is_empty()
        && f.in_cluster_exists
        && f.kubeconfig_mounted
        && f.in_cluster_off().is_none()
        && !plan.result.contains(&f.in_cluster_name)
    {
        plan.append.push(f.in_cluster_name.clone());
        plan.result.push(f.in_cluster_name.clone());
        plan.reasons.push(format!(
            "`{}` appended (a mounted kubeconfig would otherwise hide the API server's own cluster)",
            shown(&f.in_cluster_name)
        ));
    }
    Ok(plan)
}

impl ContextFacts {
    /// The contexts SkyPilot can use: the kubeconfig's, and the in-cluster one when it exists
    /// (and its name is known).
    pub fn available(&self) -> Vec<String> {
        let mut all = self.kubeconfig_contexts.clone().unwrap_or_default();
        if self.in_cluster_exists && self.env.in_cluster_name_unknown.is_none() && !all.contains(&self.in_cluster_name)
        {
            all.push(self.in_cluster_name.clone());
        }
        all
    }

    /// A kubeconfig context named like [`ContextFacts::in_cluster_name`] is hidden by the
    /// in-cluster context: there is one, and its name is known.
    pub fn shadows_by_name(&self) -> bool {
        self.in_cluster_exists && self.env.in_cluster_name_unknown.is_none()
    }

    /// Why skyhelm must add the in-cluster name to no list, if it must not (an opt-out, or a
    /// setting whose value is unknown at render time).
    pub fn in_cluster_off(&self) -> Option<InClusterOff> {
        match (&self.env.includes_in_cluster, &self.env.in_cluster_name_unknown) {
            (EnvFlag::Is(false), _) => Some(InClusterOff::OptedOut),
            (EnvFlag::Unknown(source), _) => Some(InClusterOff::OptOutUnknown(source.clone())),
            (EnvFlag::Is(true), Some(source)) => Some(InClusterOff::NameUnknown(source.clone())),
            (EnvFlag::Is(true), None) => None,
        }
    }

    /// What a list unset everywhere means ([`ALLOW_ALL_ENV`]).
    pub fn unset_means(&self) -> UnsetMeans {
        match &self.env.allow_all {
            EnvFlag::Is(true) => UnsetMeans::All,
            EnvFlag::Is(false) => UnsetMeans::CurrentContext,
            EnvFlag::Unknown(source) => UnsetMeans::Unknown(source.clone()),
        }
    }

    /// SkyPilot can use the in-cluster context through `list` (a workspace's `Unset` is taken
    /// as unset everywhere). False when the name is unknown.
    pub fn reaches_in_cluster(&self, list: &AllowedList) -> bool {
        if !self.in_cluster_exists || self.env.in_cluster_name_unknown.is_some() {
            return false;
        }
        let derived = self.env.includes_in_cluster == EnvFlag::Is(true);
        match list {
            AllowedList::All => derived,
            AllowedList::Unset => derived && self.unset_means() == UnsetMeans::All,
            AllowedList::Names(n) => n.contains(&self.in_cluster_name),
        }
    }
}

/// How one listed name relates to the available contexts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameClass {
    /// Starts with `ssh-`: an SSH node pool, not a Kubernetes context.
    Ssh,
    /// The in-cluster context's name.
    InCluster,
    /// A kubeconfig context, exactly (or no kubeconfig to check against).
    Exact,
    /// Matches exactly one kubeconfig context when case is ignored.
    CaseOf(String),
    /// Matches several contexts when case is ignored.
    AmbiguousCase(Vec<String>),
    /// Matches none; the nearest names.
    Unknown(Vec<String>),
    /// Matches no kubeconfig context, but may be the in-cluster context, whose name is not
    /// known at render time: kept as written.
    MaybeInCluster,
}

pub fn classify(name: &str, f: &ContextFacts) -> NameClass {
    if name.starts_with(SSH_PREFIX) {
        return NameClass::Ssh;
    }
    let name_unknown = f.env.in_cluster_name_unknown.is_some();
    if name == f.in_cluster_name && !name_unknown {
        return NameClass::InCluster;
    }
    let Some(available) = &f.kubeconfig_contexts else { return NameClass::Exact };
    if available.iter().any(|a| a == name) {
        return NameClass::Exact;
    }
    let same_case: Vec<String> =
        f.available().into_iter().filter(|a| a.to_lowercase() == name.to_lowercase()).collect();
    match same_case.len() {
        0 if name_unknown && f.in_cluster_exists => NameClass::MaybeInCluster,
        0 => NameClass::Unknown(nearest(name, &f.available())),
        1 => NameClass::CaseOf(same_case.into_iter().next().unwrap_or_default()),
        _ => NameClass::AmbiguousCase(same_case),
    }
}

fn resolve_item(
    list: &str,
    name: &str,
    f: &ContextFacts,
    plan: &mut ListPlan,
) -> Result<(ItemOp, Option<String>), ContextError> {
    match classify(name, f) {
        NameClass::Ssh => {
            plan.reasons.push(format!(
                "`{}` removed (names starting with `ssh-` are SSH node pools; list them in ssh.allowed_node_pools)",
                shown(name)
            ));
            Ok((ItemOp::Remove, None))
        }
        NameClass::InCluster if f.in_cluster_exists => Ok((ItemOp::Keep, Some(name.into()))),
        NameClass::InCluster => {
            plan.reasons.push(format!(
                "`{}` removed (the pod gets no service-account token, so there is no in-cluster context)",
                shown(name)
            ));
            Ok((ItemOp::Remove, None))
        }
        NameClass::Exact | NameClass::MaybeInCluster => Ok((ItemOp::Keep, Some(name.into()))),
        NameClass::CaseOf(one) => {
            plan.reasons.push(format!(
                "`{}` corrected to `{}` (context names match exactly, case included)",
                shown(name),
                shown(&one)
            ));
            Ok((ItemOp::Rename(one.clone()), Some(one)))
        }
        NameClass::Unknown(_) if f.allow_unknown => {
            plan.unknown_kept.push(name.into());
            Ok((ItemOp::Keep, Some(name.into())))
        }
        NameClass::Unknown(suggestions) => Err(ContextError::unknown(list, name, suggestions, f)),
        NameClass::AmbiguousCase(candidates) => {
            Err(ContextError::AmbiguousCase { list: list.into(), name: name.into(), candidates })
        }
    }
}

/// A configured allowed_contexts value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedList {
    Unset,
    All,
    Names(Vec<String>),
}

impl AllowedList {
    /// A list given as `--allowed-context NAME` (repeatable): `all` alone is the string `all`
    /// (every context, as in config.yaml), anything else a list of names.
    pub fn from_flag(values: &[String]) -> AllowedList {
        match values {
            [only] if only == ALL => AllowedList::All,
            names => AllowedList::Names(names.to_vec()),
        }
    }

    /// The contexts SkyPilot will use from the kubeconfig with this list (None: all of them, or
    /// perhaps all when [`ALLOW_ALL_ENV`] is unknown, and the kubeconfig's contexts are not
    /// known). "All" never includes an `ssh-*` context: SkyPilot drops them first, and an unset
    /// list whose current-context is one falls back to the in-cluster context.
    pub fn used_kubeconfig_contexts(&self, f: &ContextFacts) -> Option<Vec<String>> {
        let every = || {
            f.kubeconfig_contexts.as_ref().map(|c| c.iter().filter(|n| !n.starts_with(SSH_PREFIX)).cloned().collect())
        };
        match self {
            AllowedList::All => every(),
            AllowedList::Unset => match f.unset_means() {
                UnsetMeans::CurrentContext => {
                    Some(f.current_context.iter().filter(|n| !n.starts_with(SSH_PREFIX)).cloned().collect())
                }
                UnsetMeans::All | UnsetMeans::Unknown(_) => every(),
            },
            AllowedList::Names(n) => Some(n.clone()),
        }
    }
}

/// The kubeconfig contexts `lists` use together (None: every context). The first list is the
/// global one; a later (workspace) list that is unset falls back to it, as SkyPilot's
/// `get_workspace_cloud` lookup does.
pub fn used_by_lists(lists: &[(String, AllowedList)], f: &ContextFacts) -> Option<Vec<String>> {
    let mut used = Vec::new();
    for (i, (_, list)) in lists.iter().enumerate() {
        if i > 0 && *list == AllowedList::Unset {
            continue;
        }
        used.extend(list.used_kubeconfig_contexts(f)?);
    }
    Some(used)
}

/// The global list skyhelm is told to write (`--allowed-context`, `SKYHELM_ALLOWED_CONTEXTS`,
/// `allowed-contexts` in the --config file). As in SkyPilot's config, the keyword `all` is a
/// string and a list always holds names: `[all]` is the context named `all`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GivenList {
    /// None given: the config's own lists are checked.
    #[default]
    None,
    /// `allowed-contexts: all` in the --config file: every context.
    All,
    /// `--allowed-context all` alone (or `SKYHELM_ALLOWED_CONTEXTS=all`), which has always
    /// meant every context; refused when a context is named `all` (a flag has no list syntax to
    /// say which was meant).
    AllFlag,
    /// Names in failover order.
    Names(Vec<String>),
}

impl GivenList {
    /// From the flag's values: `all` alone is [`GivenList::AllFlag`], nothing is None.
    pub fn from_flag(values: &[String]) -> GivenList {
        match values {
            [] => GivenList::None,
            [only] if only == ALL => GivenList::AllFlag,
            names => GivenList::Names(names.to_vec()),
        }
    }
}

/// The global list to write when it is unset: only when both sources exist, SkyPilot would use
/// only the current-context ([`ALLOW_ALL_ENV`] false) and skyhelm may add the in-cluster name
/// ([`ContextFacts::in_cluster_off`]); otherwise the list is left unset.
pub fn plan_unset(f: &ContextFacts) -> Result<Option<Vec<String>>, ContextError> {
    if !(f.in_cluster_exists && f.kubeconfig_mounted)
        || f.unset_means() != UnsetMeans::CurrentContext
        || f.in_cluster_off().is_some()
    {
        return Ok(None);
    }
    if f.kubeconfig_contexts.is_none() {
        return Err(ContextError::UnsetNeedsKubeconfig { in_cluster: f.in_cluster_name.clone() });
    }
    let current = f.current_context.clone().ok_or(ContextError::NoCurrentContext)?;
    if f.kubeconfig_contexts.as_ref().is_some_and(|c| !c.contains(&current)) {
        return Err(ContextError::CurrentContextMissing { name: current });
    }
    Ok(Some(vec![current, f.in_cluster_name.clone()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ContextFacts {
        ContextFacts {
            in_cluster_name: DEFAULT_IN_CLUSTER.into(),
            in_cluster_exists: true,
            kubeconfig_mounted: true,
            kubeconfig_contexts: Some(vec!["Prod-EU".into(), "train-us".into(), "in-cluster".into()]),
            current_context: Some("Prod-EU".into()),
            allow_unknown: false,
            env: ContextEnv::default(),
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn corrects_case_drops_ssh_and_duplicates_appends_in_cluster() {
        let p = plan_list(
            "kubernetes.allowed_contexts",
            Scope::Global,
            &names(&["prod-eu", "ssh-a", "train-us", "Prod-EU"]),
            &facts(),
        )
        .unwrap();
        assert_eq!(p.result, names(&["Prod-EU", "train-us", "in-cluster"]));
        assert_eq!(p.ops, vec![ItemOp::Rename("Prod-EU".into()), ItemOp::Remove, ItemOp::Keep, ItemOp::Remove]);
        assert_eq!(p.append, names(&["in-cluster"]));
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let err = plan_list("l", Scope::Global, &names(&["trian-us"]), &facts()).unwrap_err();
        let [ContextError::Unknown { suggestions, .. }] = err.as_slice() else { panic!("{err:?}") };
        assert_eq!(suggestions, &names(&["train-us"]));
        let mut f = facts();
        f.allow_unknown = true;
        assert_eq!(
            plan_list("l", Scope::Global, &names(&["trian-us"]), &f).unwrap().unknown_kept,
            names(&["trian-us"])
        );
    }

    #[test]
    fn workspace_lists_and_empty_lists_are_never_widened() {
        let ws = plan_list("w", Scope::Workspace, &names(&["train-us"]), &facts()).unwrap();
        assert_eq!(ws.result, names(&["train-us"]));
        assert!(!ws.changes());
        let empty = plan_list("g", Scope::Global, &[], &facts()).unwrap();
        assert_eq!(empty.result, Vec::<String>::new());
        let all_removed = plan_list("g", Scope::Global, &names(&["ssh-pool"]), &facts()).unwrap();
        assert_eq!(all_removed.result, Vec::<String>::new());
    }

    #[test]
    fn every_bad_name_is_reported() {
        let err = plan_list("g", Scope::Global, &names(&["nope", "train-us", "nada"]), &facts()).unwrap_err();
        assert_eq!(err.len(), 2);
    }

    #[test]
    fn in_cluster_removed_when_no_token() {
        let mut f = facts();
        f.in_cluster_exists = false;
        let p = plan_list("l", Scope::Global, &names(&["in-cluster", "train-us"]), &f).unwrap();
        assert_eq!(p.result, names(&["train-us"]));
    }

    #[test]
    fn unset_list() {
        assert_eq!(plan_unset(&facts()).unwrap(), Some(names(&["Prod-EU", "in-cluster"])));
        let mut f = facts();
        f.kubeconfig_contexts = None;
        assert!(matches!(plan_unset(&f), Err(ContextError::UnsetNeedsKubeconfig { .. })));
        f.in_cluster_exists = false;
        assert_eq!(plan_unset(&f).unwrap(), None);
        let mut f = facts();
        f.current_context = Some("gone".into());
        assert_eq!(plan_unset(&f), Err(ContextError::CurrentContextMissing { name: "gone".into() }));
    }

    #[test]
    fn env_flags_as_skypilot_parses_them() {
        for (v, want) in [("true", true), ("TRUE", true), ("1", true), ("yes", false), ("", false), ("0", false)] {
            assert_eq!(env_flag(Some(v), true), want, "{v:?}");
        }
        assert!(env_flag(None, true));
        assert!(!env_flag(None, false));
    }

    #[test]
    fn the_in_cluster_fix_is_off_when_opted_out_or_unknown() {
        let offs = [
            ContextEnv { includes_in_cluster: EnvFlag::Is(false), ..ContextEnv::default() },
            ContextEnv { includes_in_cluster: EnvFlag::Unknown("s".into()), ..ContextEnv::default() },
            ContextEnv { in_cluster_name_unknown: Some("s".into()), ..ContextEnv::default() },
        ];
        for env in offs {
            let f = ContextFacts { env, ..facts() };
            assert!(f.in_cluster_off().is_some());
            assert_eq!(plan_list("g", Scope::Global, &names(&["train-us"]), &f).unwrap().result, names(&["train-us"]));
            assert_eq!(plan_unset(&f).unwrap(), None);
        }
        let all = ContextFacts { env: ContextEnv { allow_all: EnvFlag::Is(true), ..ContextEnv::default() }, ..facts() };
        assert_eq!(plan_unset(&all).unwrap(), None);
        assert!(all.reaches_in_cluster(&AllowedList::Unset));
        assert_eq!(AllowedList::Unset.used_kubeconfig_contexts(&all), all.kubeconfig_contexts);
    }

    #[test]
    fn an_unknown_in_cluster_name_keeps_names_that_match_nothing() {
        let f = ContextFacts {
            env: ContextEnv { in_cluster_name_unknown: Some("s".into()), ..ContextEnv::default() },
            ..facts()
        };
        assert_eq!(classify("home", &f), NameClass::MaybeInCluster);
        assert_eq!(classify("prod-eu", &f), NameClass::CaseOf("Prod-EU".into()));
        assert!(!f.shadows_by_name());
        assert!(!f.available().contains(&"home".to_string()));
    }

    #[test]
    fn an_unset_workspace_list_falls_back_to_the_global_one() {
        let all = ContextFacts { env: ContextEnv { allow_all: EnvFlag::Is(true), ..ContextEnv::default() }, ..facts() };
        let lists =
            vec![("g".to_string(), AllowedList::Names(names(&["train-us"]))), ("w".to_string(), AllowedList::Unset)];
        assert_eq!(used_by_lists(&lists, &all), Some(names(&["train-us"])));
        let unset = vec![("g".to_string(), AllowedList::Unset)];
        assert_eq!(used_by_lists(&unset, &all), all.kubeconfig_contexts);
        let unknown = ContextFacts { kubeconfig_contexts: None, ..all };
        assert_eq!(used_by_lists(&unset, &unknown), None);
        assert_eq!(used_by_lists(&unset, &facts()), Some(names(&["Prod-EU"])));
    }
}
