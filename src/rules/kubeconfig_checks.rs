//! With `--skypilot-kubeconfig`, post-render runs doctor's per-context checks
//! ([`doctor::context_findings`]) on every context the final allowed lists use, and reports
//! each finding as a warning: exec plugins and auth-providers, file references, insecure TLS,
//! expired or expiring certificates, a loopback server, a context shadowed by the in-cluster
//! one. The contexts: those of the global list and every workspace list after normalization
//! (an unset list: the current-context; `all`: every context); every context when the lists
//! are not in the stream (an external database holds them). No credential is ever named.

use crate::kubeconfig::doctor::{self, Finding};
use crate::kubeconfig::{LoadedKubeconfig, cert};
use crate::policy::contexts::{self, ContextFacts, shown};
use crate::rules::change::{Note, RuleId, Severity};

use super::allowed_contexts::Lists;

/// The warnings for the contexts the final lists use: `lists` as the allowed-contexts rule left
/// them ([`super::allowed_contexts::run`]), None when the stream does not hold them.
pub fn notes(lists: Option<&Lists>, facts: &ContextFacts, kubeconfig: &LoadedKubeconfig) -> Vec<Note> {
    let names = kubeconfig.context_names();
    let used = lists.and_then(|l| contexts::used_by_lists(l, facts)).unwrap_or_else(|| names.clone());
    let mut contexts: Vec<&String> = Vec::new();
    for n in &used {
        if names.contains(n) && !contexts.contains(&n) {
            contexts.push(n);
        }
    }
    group(&kubeconfig.config, &contexts, facts, cert::unix_now()).into_iter().map(to_note).collect()
}

/// The findings of each context, one entry per finding with every context that has it.
fn group<'c>(
    config: &kube::config::Kubeconfig,
    contexts: &[&'c String],
    facts: &ContextFacts,
    now: i64,
) -> Vec<(Finding, Vec<&'c str>)> {
    let mut out: Vec<(Finding, Vec<&str>)> = Vec::new();
    for ctx in contexts {
        for f in doctor::context_findings(config, ctx, &facts.in_cluster_name, Some(facts.shadows_by_name()), now) {
            match out.iter_mut().find(|(g, _)| *g == f) {
                Some((_, names)) => names.push(ctx.as_str()),
                None => out.push((f, vec![ctx.as_str()])),
            }
        }
    }
    out
}

fn to_note((f, contexts): (Finding, Vec<&str>)) -> Note {
    let quoted: Vec<String> = contexts.iter().map(|c| format!("`{}`", shown(c))).collect();
    let who = match quoted.as_slice() {
        [one] => format!("context {one}"),
        many => format!("contexts {}", many.join(", ")),
    };
    let via = match f.subject.split_once(' ') {
        Some(("context", _)) | None => String::new(),
        Some((what, name)) => format!(" ({what} `{}`)", shown(name)),
    };
    Note {
        severity: Severity::Warning,
        rule: RuleId::AllowedContexts,
        message: format!("{who}{via}: {} [{}]", f.message, f.check),
    }
}
