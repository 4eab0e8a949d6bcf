//! With `--skypilot-kubeconfig` (or `--contexts-file`), post-render runs doctor's per-context
//! checks ([`doctor::context_findings`], or the contexts file's) on every context the final
//! allowed lists use. A finding that makes the context unusable inside the pod
//! ([`doctor::unusable_in_pod`]: a file reference, a loopback server, an expired certificate…)
//! fails the render (Helm hides a successful post-renderer's stderr: a warning would be seen by
//! no one) unless `--allow-unusable-contexts`, which makes it a warning; the other findings
//! (exec plugins, auth-providers, insecure TLS, expiring certificates, a context shadowed by the
//! in-cluster one) are warnings. Findings about contexts no list uses are notes. The contexts
//! used: those of the global list and every workspace list after normalization (an unset list:
//! the current-context; `all`: every context); every context when the lists are not in the
//! stream (an external database holds them). No credential is ever named.

use crate::kubeconfig::doctor::{self, Finding};
use crate::model::Severity;
use crate::policy::contexts::{self, ContextFacts, shown};
use crate::rules::change::{Note, RuleId};

use super::allowed_contexts::Lists;

/// Allowed contexts that cannot work inside the API server pod.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} cannot work inside the API server pod (nothing was written; Helm would not show a warning):\n{}\nFix each at the source as it says, or leave the context out of the allowed lists; --allow-unusable-contexts (with Helm: --post-renderer-args=--allow-unusable-contexts) renders anyway with warnings",
    if .findings.len() == 1 { "an allowed context".to_string() } else { format!("allowed contexts ({} findings)", .findings.len()) },
    .findings.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
)]
pub struct UnusableError {
    /// One line per finding, naming the contexts that have it.
    pub findings: Vec<String>,
}

/// The notes for the kubeconfig's contexts: `lists` as the allowed-contexts rule left them
/// ([`super::allowed_contexts::run`]), None when the stream does not hold them; `names` the
/// kubeconfig's contexts and `findings_of` the checks of one. Unusable findings of used contexts
/// are the error unless `allow_unusable`.
pub fn check(
    lists: Option<&Lists>,
    facts: &ContextFacts,
    names: &[String],
    findings_of: &dyn Fn(&str) -> Vec<Finding>,
    allow_unusable: bool,
) -> Result<Vec<Note>, UnusableError> {
    let used: Vec<String> = lists
        .and_then(|l| contexts::used_by_lists(l, facts))
        .unwrap_or_else(|| names.iter().filter(|n| !n.starts_with(contexts::SSH_PREFIX)).cloned().collect());
    // In the order the lists use them; then the others, in the kubeconfig's order.
    let mut contexts: Vec<&String> = Vec::new();
    for n in &used {
        if names.contains(n) && !contexts.contains(&n) {
            contexts.push(n);
        }
    }
    let unused: Vec<&String> = names.iter().filter(|n| !used.contains(n)).collect();
    let mut notes = Vec::new();
    let mut unusable = Vec::new();
    for (f, ctxs) in group(&contexts, findings_of) {
        let severity = match doctor::unusable_in_pod(&f) {
            true if !allow_unusable => {
                unusable.push(line(&f, &ctxs));
                continue;
            }
            _ => Severity::Warning,
        };
        notes.push(note(severity, line(&f, &ctxs)));
    }
    if !unusable.is_empty() {
        return Err(UnusableError { findings: unusable });
    }
    for (f, ctxs) in group(&unused, findings_of) {
        notes.push(note(Severity::Info, format!("not used by any allowed list: {}", line(&f, &ctxs))));
    }
    Ok(notes)
}

/// The findings of each context, one entry per finding with every context that has it.
fn group<'c>(contexts: &[&'c String], findings_of: &dyn Fn(&str) -> Vec<Finding>) -> Vec<(Finding, Vec<&'c str>)> {
    let mut out: Vec<(Finding, Vec<&str>)> = Vec::new();
    for ctx in contexts {
        for f in findings_of(ctx) {
            match out.iter_mut().find(|(g, _)| *g == f) {
                Some((_, names)) => names.push(ctx.as_str()),
                None => out.push((f, vec![ctx.as_str()])),
            }
        }
    }
    out
}

fn note(severity: Severity, message: String) -> Note {
    Note { severity, rule: RuleId::AllowedContexts, message }
}

/// ``context `a` (user `u`): MESSAGE [check]``, naming every context that has the finding.
fn line(f: &Finding, contexts: &[&str]) -> String {
    let quoted: Vec<String> = contexts.iter().map(|c| format!("`{}`", shown(c))).collect();
    let who = match quoted.as_slice() {
        [one] => format!("context {one}"),
        many => format!("contexts {}", many.join(", ")),
    };
    let via = match f.subject.split_once(' ') {
        Some(("context", _)) | None => String::new(),
        Some((what, name)) => format!(" ({what} `{}`)", shown(name)),
    };
    format!("{who}{via}: {} [{}]", f.message, f.check)
}
