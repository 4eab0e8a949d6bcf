//! The human report: helm-diff style headers, the rules and reasons, unified diffs (similar),
//! notes, and a summary line.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use super::{Report, ReportOptions, ResourceReport, group_of};
use crate::messages::{escaped, escaped_lines};
use crate::model::Severity;
use crate::rules::change::Action;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const UNDERLINE: &str = "\x1b[4m";

fn paint(out: &mut String, color: bool, code: &str, text: &str) {
    if color {
        let _ = write!(out, "{code}{text}{RESET}");
    } else {
        out.push_str(text);
    }
}

fn header(r: &ResourceReport) -> String {
    let verb = match r.action {
        Action::Changed => "has changed",
        Action::Added => "has been added",
    };
    let group = group_of(&r.id.api_version);
    // helm-diff: `ns, name, Kind (group)`; cluster-scoped resources have no namespace part.
    // Names from the stream are shown escaped (`messages::escaped`), as everywhere.
    let header = match r.id.namespace.as_deref().filter(|ns| !ns.is_empty() && !super::is_cluster_scoped(&r.id.kind)) {
        Some(ns) => format!("{ns}, {}, {} ({group}) {verb}:", r.id.name, r.id.kind),
        None => format!("{}, {} ({group}) {verb}:", r.id.name, r.id.kind),
    };
    escaped(&header)
}

/// A unified diff of two texts, with word emphasis inside changed lines when coloured.
/// Both texts get a final line break, so that a line that gains one does not show as changed.
fn unified(out: &mut String, before: &str, after: &str, opts: &ReportOptions) {
    let with_nl = |t: &str| if t.ends_with('\n') || t.is_empty() { t.to_string() } else { format!("{t}\n") };
    let (before, after) = (with_nl(before), with_nl(after));
    let diff = TextDiff::from_lines(&before, &after);
    // A radius past the line count shows every line; a larger one overflows inside `similar`.
    let radius = opts.context.min(before.len().max(after.len()) + 1);
    for hunk in diff.unified_diff().context_radius(radius).iter_hunks() {
        let h = hunk.header().to_string();
        paint(out, opts.color, CYAN, &h);
        out.push('\n');
        for op in hunk.ops() {
            for change in diff.iter_inline_changes(op) {
                let (sign, color) = match change.tag() {
                    ChangeTag::Delete => ('-', RED),
                    ChangeTag::Insert => ('+', GREEN),
                    ChangeTag::Equal => (' ', ""),
                };
                let mut line = String::new();
                line.push(sign);
                for (emphasized, value) in change.iter_strings_lossy() {
                    let value = escaped_lines(value.trim_end_matches(['\n', '\r']));
                    if emphasized && opts.color {
                        let _ = write!(line, "{UNDERLINE}{BOLD}{value}{RESET}{color}");
                    } else {
                        line.push_str(&value);
                    }
                }
                if color.is_empty() {
                    out.push_str(&line);
                } else {
                    paint(out, opts.color, color, &line);
                }
                out.push('\n');
            }
        }
    }
}

pub fn render_human(report: &Report, opts: &ReportOptions) -> String {
    let mut out = String::new();
    for r in &report.resources {
        paint(&mut out, opts.color, &format!("{BOLD}{YELLOW}"), &header(r));
        out.push('\n');
        for (rule, reason) in &r.reasons {
            let _ = writeln!(out, "  {rule}: {}", escaped(reason));
        }
        match r.field() {
            Some(f) => {
                let _ = writeln!(out, "{} (decoded):", escaped(&f.path));
                unified(&mut out, &f.before, f.after(), opts);
            }
            None => unified(&mut out, &r.before(), &r.after(), opts),
        }
        out.push('\n');
    }
    for n in &report.notes {
        let code = match n.severity {
            Severity::Error => RED,
            Severity::Warning => YELLOW,
            Severity::Info => CYAN,
        };
        paint(&mut out, opts.color, code, n.severity.label());
        let _ = writeln!(out, " ({}): {}", n.rule, escaped(&n.message));
    }
    if !report.notes.is_empty() {
        out.push('\n');
    }
    out.push_str(&report.totals());
    out.push('\n');
    out
}
