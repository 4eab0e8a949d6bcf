//! The JSON report, for CI bots. Its structure is documented in docs/diff.md ("JSON report").

use serde::Serialize;

use super::Report;
use crate::model::Severity;
use crate::rules::change::{Action, FieldPath, RuleId};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    version: u32,
    changed: bool,
    resources: Vec<JsonResource<'a>>,
    notes: Vec<JsonNote<'a>>,
    summary: JsonSummary,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonResource<'a> {
    /// 1-based, as the text report counts documents.
    document: usize,
    api_version: &'a str,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    action: Action,
    rules: Vec<RuleId>,
    reasons: Vec<JsonReason<'a>>,
    changed_paths: &'a [FieldPath],
    before: String,
    after: String,
}

#[derive(Serialize)]
struct JsonReason<'a> {
    rule: RuleId,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonNote<'a> {
    severity: Severity,
    rule: RuleId,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonSummary {
    changed: usize,
    added: usize,
}

pub fn render_json(report: &Report) -> String {
    let resources = report
        .resources
        .iter()
        .map(|r| {
            let mut rules: Vec<RuleId> = r.reasons.iter().map(|(rule, _)| *rule).collect();
            rules.dedup();
            JsonResource {
                document: r.document.number(),
                api_version: &r.id.api_version,
                kind: &r.id.kind,
                namespace: r.id.namespace.as_deref(),
                name: &r.id.name,
                action: r.action,
                rules,
                reasons: r.reasons.iter().map(|(rule, reason)| JsonReason { rule: *rule, reason }).collect(),
                changed_paths: &r.paths,
                before: r.before(),
                after: r.after(),
            }
        })
        .collect();
    let json = Json {
        version: 1,
        changed: report.changed(),
        resources,
        notes: report
            .notes
            .iter()
            .map(|n| JsonNote { severity: n.severity, rule: n.rule, message: &n.message })
            .collect(),
        summary: JsonSummary { changed: report.count(Action::Changed), added: report.count(Action::Added) },
    };
    // Names from the stream: no C1 control or direction mark raw (serde_json escapes only C0).
    crate::messages::escape_hidden_json(&serde_json::to_string_pretty(&json).unwrap_or_default()) + "\n"
}
