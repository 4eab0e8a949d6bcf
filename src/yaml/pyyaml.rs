//! What PyYAML (SkyPilot's reader of config.yaml) refuses to load that YAML 1.2 parsers (ours)
//! accept: tabs.
//!
//! SkyPilot loads config.yaml with `yaml.CSafeLoader` (libyaml) when PyYAML has its C
//! extension, else with the pure-Python `yaml.SafeLoader`; on a syntax error it logs it and
//! runs with an empty config. Measured with PyYAML 6.0.4 (tests/it/regressions.rs holds the
//! cases, each checked against both loaders):
//! - the Python scanner skips only spaces between tokens, so a tab anywhere outside a quoted
//!   scalar, a comment or a block scalar's text is an error ("found character '\t' that cannot
//!   start any token"): after `:`, `-` or `?`, before a comment, inside flow collections, in
//!   indentation, inside an unquoted value, after a tag, anchor or block scalar indicator;
//! - libyaml accepts many of those, but refuses a tab in a block scalar's indentation while it
//!   detects it (the lines up to the first one with text): "found a tab character where an
//!   indentation space is expected".
//!
//! A config is accepted here only when both loaders load it, whichever one the server has.

use super::scalar::Style;
use super::tree::{NodeKind, Tree};

/// A tab PyYAML refuses: where, and why in PyYAML's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedTab {
    /// 1-based line and column in the text.
    pub line: usize,
    pub col: usize,
    /// Where the tab is (`after `:``, `in indentation`, …).
    pub place: &'static str,
    /// PyYAML's error message.
    pub reason: &'static str,
}

impl std::fmt::Display for RefusedTab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a tab {} at line {}, column {} (PyYAML: {})", self.place, self.line, self.col, self.reason)
    }
}

const NO_TOKEN: &str = "found character '\\t' that cannot start any token";
const BLOCK_INDENT: &str = "found a tab character where an indentation space is expected";

/// Byte ranges of `text`, each list sorted and without overlaps: where a tab is accepted
/// (quoted scalars, block scalar text) and where it is refused although inside a scalar (plain
/// scalars, a block scalar's indentation), with the place and PyYAML's reason.
struct Spans {
    accepted: Vec<(usize, usize)>,
    refused: Vec<(usize, usize, &'static str, &'static str)>,
}

impl Spans {
    fn accepts(&self, at: usize) -> bool {
        let i = self.accepted.partition_point(|&(s, _)| s <= at);
        i > 0 && at < self.accepted[i - 1].1
    }

    fn refusal(&self, at: usize) -> Option<(&'static str, &'static str)> {
        let i = self.refused.partition_point(|&(s, ..)| s <= at);
        (i > 0 && at < self.refused[i - 1].1).then(|| (self.refused[i - 1].2, self.refused[i - 1].3))
    }

    /// Inside any scalar (then `#` is text, not a comment).
    fn in_scalar(&self, at: usize) -> bool {
        // A refused tab inside block scalar text is inside an accepted span too.
        self.accepts(at) || self.refusal(at).is_some()
    }
}

/// The first tab in `text` (the text `tree` was parsed from) that PyYAML's SafeLoader or
/// CSafeLoader refuses, if any.
pub fn refused_tab(text: &str, tree: &Tree) -> Option<RefusedTab> {
    // No tab, nothing to refuse (found a vector at a time).
    memchr::memchr(b'\t', text.as_bytes())?;
    let spans = spans(text, tree);
    let mut line_start = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let mut comment: Option<Option<usize>> = None;
        for i in memchr::memchr_iter(b'\t', line.as_bytes()) {
            let at = line_start + i;
            let found =
                |(place, reason)| Some(RefusedTab { line: n + 1, col: line[..i].chars().count() + 1, place, reason });
            if let Some(refusal) = spans.refusal(at) {
                return found(refusal);
            }
            if spans.accepts(at) {
                continue;
            }
            let from = *comment.get_or_insert_with(|| comment_start(line, line_start, &spans));
            if from.is_some_and(|c| c < at) {
                continue;
            }
            return found(place_of(text, line_start, at, tree));
        }
        line_start += line.len();
    }
    None
}

/// Where a comment starts on `line` (at byte `offset` of the text): the first `#` outside any
/// scalar, at the line's start or after a space or tab.
fn comment_start(line: &str, offset: usize, spans: &Spans) -> Option<usize> {
    let mut prev = None;
    for (i, c) in line.char_indices() {
        if c == '#' && matches!(prev, None | Some(' ' | '\t')) && !spans.in_scalar(offset + i) {
            return Some(offset + i);
        }
        prev = Some(c);
    }
    None
}

/// Where a refused tab outside any scalar is, and PyYAML's reason, for the message.
fn place_of(text: &str, line_start: usize, at: usize, tree: &Tree) -> (&'static str, &'static str) {
    let before = &text[line_start..at];
    let after = text[at..].trim_start_matches([' ', '\t']);
    let in_flow = tree.ids().any(|id| {
        let n = tree.node(id);
        tree.is_flow(id) && n.start() < at && at < n.end()
    });
    if block_header(before) {
        return ("after a block scalar indicator", "expected a comment or a line break, but found '\\t'");
    }
    let place = match before.trim_end_matches([' ', '\t']).chars().last() {
        _ if before.chars().all(|c| c == ' ' || c == '\t') => "in indentation",
        _ if after.starts_with('#') => "before a comment",
        _ if in_flow => "inside a flow collection",
        Some(':') => "after `:`",
        Some('-') => "after `-`",
        Some('?') => "after `?`",
        _ if after.starts_with(':') => "before `:`",
        _ if before.trim_end().rsplit(' ').next().is_some_and(|w| w.starts_with(['!', '&', '*'])) => {
            "after a tag, an anchor or an alias"
        }
        _ if after.is_empty() || after.starts_with(['\n', '\r']) => "at the end of a line",
        _ => "between tokens",
    };
    (place, NO_TOKEN)
}

/// True when `before` (a line up to a tab) ends with a block scalar's header (`|`, `>-`, `|2`…).
fn block_header(before: &str) -> bool {
    let word = before.trim_end_matches([' ', '\t']).rsplit(' ').next().unwrap_or("");
    word.starts_with(['|', '>']) && word[1..].chars().all(|c| matches!(c, '-' | '+' | '1'..='9'))
}

fn spans(text: &str, tree: &Tree) -> Spans {
    let mut spans = Spans { accepted: Vec::new(), refused: Vec::new() };
    for id in tree.ids() {
        let NodeKind::Scalar { style, .. } = tree.kind(id) else { continue };
        let node = tree.node(id);
        let (start, end) = (node.start().min(text.len()), node.end().min(text.len()));
        match style {
            Style::SingleQuoted | Style::DoubleQuoted => spans.accepted.push((start, end)),
            Style::Plain => spans.refused.push((start, end, "inside an unquoted value", NO_TOKEN)),
            Style::Literal | Style::Folded => block_scalar(text, start, end, &mut spans),
        }
    }
    spans.accepted.sort_unstable();
    spans.refused.sort_unstable_by_key(|&(s, ..)| s);
    spans
}

/// A block scalar's text (the node spans it from its first character to its end): a tab is
/// accepted past the indentation, refused in it; on the first line with text, a tab right after
/// the indentation is refused too (libyaml is still detecting the indentation there), unless
/// the header gives the indentation. The header line and blank lines before the text are
/// outside the span: a tab there is refused like any tab outside scalars.
fn block_scalar(text: &str, start: usize, end: usize, spans: &mut Spans) {
    let first_line = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = start - first_line;
    let explicit = header_line(text, first_line).is_some_and(|h| {
        h.char_indices().any(|(i, c)| {
            matches!(c, '|' | '>')
                && h[i + 1..].trim_start_matches(['-', '+']).starts_with(|d: char| d.is_ascii_digit())
        })
    });
    let mut offset = first_line;
    for line in text[first_line..end].split_inclusive('\n') {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        let tab_at = offset + spaces;
        if line[spaces..].starts_with('\t') && (spaces < indent || (offset == first_line && !explicit)) {
            let reason = if offset == first_line { BLOCK_INDENT } else { NO_TOKEN };
            spans.refused.push((tab_at, tab_at + 1, "in a block scalar's indentation", reason));
        }
        spans.accepted.push((offset + spaces.min(indent), offset + line.len()));
        offset += line.len();
    }
}

/// The line that holds a block scalar's header: the last line before `first_line` (where its
/// text starts) that is not blank.
fn header_line(text: &str, first_line: usize) -> Option<&str> {
    text[..first_line].lines().rev().find(|l| !l.trim_matches([' ', '\t', '\r']).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Limits;

    fn check(text: &str) -> Option<(usize, usize, &'static str)> {
        let tree = Tree::parse(text, &Limits::default()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        refused_tab(text, &tree).map(|r| (r.line, r.col, r.place))
    }

    #[test]
    fn tabs_where_pyyaml_takes_them_pass() {
        for ok in [
            "a: \"b\tc\"\n",
            "a: 'b\tc'\n",
            "a: b # c\td\n",
            "# a\tb\na: c\n",
            "a: | # x\ty\n  z\n",
            "a: |\n  x\n  \ty\n",
            "a: >\n  x\n  \ty\n",
            "a: \"b\n\tc\"\n",
            "a: |\n  x\n  \t\n  y\n",
        ] {
            assert_eq!(check(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn tabs_pyyaml_refuses_are_found_with_where() {
        for (bad, want) in [
            ("a:\tb\n", (1, 3, "after `:`")),
            ("a: b\t# c\n", (1, 5, "before a comment")),
            ("- a:\tb\n", (1, 5, "after `:`")),
            ("a: [b,\tc]\n", (1, 7, "inside a flow collection")),
            ("a: b\n\t\nc: d\n", (2, 1, "in indentation")),
            ("a: &x\tb\n", (1, 6, "after a tag, an anchor or an alias")),
            ("a: b\tc\n", (1, 5, "inside an unquoted value")),
            ("a: |\n  \tx\n", (2, 3, "in a block scalar's indentation")),
            ("a: |\t\n  x\n", (1, 5, "after a block scalar indicator")),
            ("a: b\t\n", (1, 5, "at the end of a line")),
        ] {
            assert_eq!(check(bad), Some(want), "{bad:?}");
        }
    }
}
