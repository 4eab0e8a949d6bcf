//! Edits that change a document's text only where the change goes.
//!
//! Every operation returns `Edit`s (insert or replace at a byte offset of the original text);
//! nothing else in the document is rewritten, so every untouched scalar keeps its original
//! text, style and meaning, and comments stay where they were.

use serde_json::{Map, Value};

use super::emit::{self, Layout};
use super::scalar::{Scalar11, Style};
use super::tree::{Lookup, NodeId, NodeKind, Tree};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub at: usize,
    pub delete: usize,
    pub insert: Insert,
}

/// The text an edit writes. Shared (`Arc`): a rule that writes one text in many places keeps
/// it once. A `String` inside: a document's one edit, unshared, becomes the document's new
/// text without a copy ([`Edits::apply_owned`]; a new config.yaml of 16 MB is not held twice).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Insert(std::sync::Arc<String>);

impl Insert {
    /// Whether both are the same shared text (not only equal texts).
    pub fn ptr_eq(&self, other: &Insert) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for Insert {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Insert {
    fn from(s: String) -> Self {
        Insert(std::sync::Arc::new(s))
    }
}

impl From<&str> for Insert {
    fn from(s: &str) -> Self {
        Insert(std::sync::Arc::new(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("`{key}` may come from a merge key (`<<`) at line {line}; skyhelm does not edit merged values")]
    Merged { key: String, line: usize },
    #[error(
        "the value at line {line} is shared through an anchor and an alias; editing it would change every place the alias stands"
    )]
    Shared { line: usize },
    #[error("`{key}` at line {line} is {found}, expected {expected}")]
    WrongType { key: String, line: usize, found: &'static str, expected: &'static str },
    #[error("unsupported layout at line {line}: {what}")]
    Layout { line: usize, what: &'static str },
    /// Explicit keys (`? key`) anywhere in the document: a property of the whole document, not
    /// of one line (the message has always named line 1).
    #[error("unsupported layout at line 1: a document with explicit keys (`?`)")]
    ExplicitKeys,
    /// A list keeps at least one item (an index past its end is refused the same way).
    #[error("unsupported layout at line {line}: cannot remove the only item of a list")]
    OnlyItem { line: usize },
    #[error("overlapping edits at byte {at}")]
    Overlap { at: usize },
}

/// Whether `s` holds a control character (`char::is_control`: C0, DEL, C1) other than a line
/// feed or a tab: a block of bytes at a time while it is plain ASCII (a 16 MB config.yaml), char
/// by char otherwise.
fn has_control(s: &str) -> bool {
    let plain =
        |block: &[u8]| block.iter().fold(true, |ok, &c| ok & ((0x20..0x7f).contains(&c) | (c == b'\n') | (c == b'\t')));
    if s.as_bytes().chunks(4096).all(plain) {
        return false;
    }
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Indentation of the first line `insert` writes.
fn insert_indent(insert: &str) -> usize {
    let body = insert.trim_start_matches(['\r', '\n']);
    body.len() - body.trim_start_matches(' ').len()
}

/// One edit as [`apply`] reads it, from an [`Edit`] or from [`Edits`].
#[derive(Debug, Clone, Copy)]
pub struct EditRef<'a> {
    pub at: usize,
    pub delete: usize,
    pub insert: &'a str,
}

impl Edit {
    pub fn as_ref(&self) -> EditRef<'_> {
        EditRef { at: self.at, delete: self.delete, insert: &self.insert }
    }
}

/// One edit of [`Edits`]: byte offsets that fit 32 bits and which of its texts it writes.
#[derive(Debug, Clone, Copy)]
struct Span {
    at: u32,
    delete: u32,
    text: u32,
}

/// A document's edits, kept small. A few are a list of [`Edit`]s; from [`FEW`] on, each is a
/// 12-byte span naming one of the texts written, each distinct text kept once, instead of a
/// 32-byte `Edit` (a rule that writes one text in many places, tighten's list of verbs in each
/// of a huge role's rules, costs 12 bytes a place). Edits that do not fit 32 bits (a document
/// past 4 GiB) stay a list. Empty or few, it is a `Vec`'s 24 bytes (a stream of 100,000 roles
/// narrowed a few rules each keeps one per role).
#[derive(Debug, Clone)]
pub struct Edits(Repr);

#[derive(Debug, Clone)]
enum Repr {
    List(Vec<Edit>),
    Spans(Box<Spans>),
}

#[derive(Debug, Clone, Default)]
struct Spans {
    texts: Vec<Insert>,
    spans: Vec<Span>,
}

impl Default for Edits {
    fn default() -> Self {
        Edits(Repr::List(Vec::new()))
    }
}

/// How many edits a list holds before they become spans.
const FEW: usize = 64;

/// How many of the texts written last a new edit's text is compared with.
const RECENT_TEXTS: usize = 16;

impl Spans {
    /// Adds `edit` as a span; false (nothing added) when it does not fit 32 bits.
    fn push(&mut self, edit: &Edit) -> bool {
        let found = self
            .texts
            .iter()
            .enumerate()
            .rev()
            .take(RECENT_TEXTS)
            .find(|(_, t)| t.ptr_eq(&edit.insert) || t[..] == edit.insert[..])
            .map(|(i, _)| i);
        let text = found.unwrap_or(self.texts.len());
        let (Ok(at), Ok(delete), Ok(text)) = (u32::try_from(edit.at), u32::try_from(edit.delete), u32::try_from(text))
        else {
            return false;
        };
        if found.is_none() {
            self.texts.push(edit.insert.clone());
        }
        self.spans.push(Span { at, delete, text });
        true
    }

    fn get(&self, s: &Span) -> EditRef<'_> {
        EditRef {
            at: s.at as usize,
            delete: s.delete as usize,
            insert: self.texts.get(s.text as usize).map_or("", |t| &t[..]),
        }
    }
}

impl Edits {
    pub fn push(&mut self, edit: Edit) {
        match &mut self.0 {
            Repr::Spans(spans) => {
                if spans.push(&edit) {
                    return;
                }
                let mut list = std::mem::take(self).into_vec();
                list.push(edit);
                self.0 = Repr::List(list);
            }
            Repr::List(list) => {
                list.push(edit);
                if list.len() == FEW {
                    let mut spans = Spans::default();
                    if list.iter().all(|e| spans.push(e)) {
                        self.0 = Repr::Spans(Box::new(spans));
                    }
                }
            }
        }
    }

    /// Moves `other`'s edits to the end of these.
    pub fn append(&mut self, other: &mut Edits) {
        if self.is_empty() {
            std::mem::swap(self, other);
            return;
        }
        for edit in std::mem::take(other).into_vec() {
            self.push(edit);
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Spans(spans) => spans.spans.len(),
            Repr::List(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn shrink_to_fit(&mut self) {
        match &mut self.0 {
            Repr::Spans(spans) => {
                spans.texts.shrink_to_fit();
                spans.spans.shrink_to_fit();
            }
            Repr::List(list) => list.shrink_to_fit(),
        }
    }

    /// The edits in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = EditRef<'_>> + Clone {
        let (spans, list): (Option<&Spans>, &[Edit]) = match &self.0 {
            Repr::Spans(spans) => (Some(spans), &[]),
            Repr::List(list) => (None, list),
        };
        let from_spans = spans.into_iter().flat_map(|s| s.spans.iter().map(move |span| s.get(span)));
        from_spans.chain(list.iter().map(Edit::as_ref))
    }

    pub fn into_vec(self) -> Vec<Edit> {
        match self.0 {
            Repr::Spans(spans) => spans
                .spans
                .iter()
                .map(|s| {
                    let e = spans.get(s);
                    let insert = spans.texts.get(s.text as usize).cloned().unwrap_or_else(|| "".into());
                    Edit { at: e.at, delete: e.delete, insert }
                })
                .collect(),
            Repr::List(list) => list,
        }
    }

    /// `text` with these edits applied (see [`apply`]).
    pub fn apply(&self, text: &str) -> Result<String, EditError> {
        apply_each(text, || self.iter())
    }

    /// As [`Edits::apply`], consuming the edits: one edit whose text nothing else shares
    /// becomes the new text in place, the rest of `text` written around it (a ConfigMap whose
    /// 16 MB config.yaml is replaced holds that text once, not twice).
    pub fn apply_owned(self, text: &str) -> Result<String, EditError> {
        let Repr::List(mut list) = self.0 else { return self.apply(text) };
        if list.len() != 1 {
            return Edits(Repr::List(list)).apply(text);
        }
        let Some(Edit { at, delete, insert }) = list.pop() else { return Ok(text.to_string()) };
        if at.checked_add(delete).is_none_or(|end| end > text.len()) || !text.is_char_boundary(at) {
            return Err(EditError::Overlap { at });
        }
        let (before, after) = (&text[..at], &text[at + delete..]);
        let mut out = std::sync::Arc::try_unwrap(insert.0).unwrap_or_else(|shared| shared.to_string());
        out.reserve_exact(before.len() + after.len());
        out.insert_str(0, before);
        out.push_str(after);
        Ok(out)
    }
}

impl From<Vec<Edit>> for Edits {
    fn from(list: Vec<Edit>) -> Self {
        list.into_iter().collect()
    }
}

impl FromIterator<Edit> for Edits {
    fn from_iter<I: IntoIterator<Item = Edit>>(iter: I) -> Self {
        let mut edits = Edits::default();
        for edit in iter {
            edits.push(edit);
        }
        edits
    }
}

impl Extend<Edit> for Edits {
    fn extend<I: IntoIterator<Item = Edit>>(&mut self, iter: I) {
        for edit in iter {
            self.push(edit);
        }
    }
}

/// Applies edits to `text`. Insertions at the same offset go deepest first: when a nested
/// collection and its parent both end there, the nested one's new lines must come before the
/// parent's (or they would land inside the parent's new entry). Otherwise in the order given.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, EditError> {
    apply_each(text, || edits.iter().map(Edit::as_ref))
}

/// [`apply`] over edits that `edits` lists (each call from the first again).
fn apply_each<'a, I: Iterator<Item = EditRef<'a>>>(text: &str, edits: impl Fn() -> I) -> Result<String, EditError> {
    fn key(e: &EditRef) -> (usize, std::cmp::Reverse<usize>) {
        (e.at, std::cmp::Reverse(insert_indent(e.insert)))
    }
    // The exact length when the edits do not overlap (which is checked below): a huge
    // document is held once, not in a buffer twice its size.
    let (extra, deleted) = edits().fold((0usize, 0usize), |(x, d), e| (x + e.insert.len(), d + e.delete));
    let mut out = String::with_capacity((text.len() + extra).saturating_sub(deleted));
    // Edits given in that order already (a rule that edits a long list item by item) are
    // applied as they are, without a second list of them (the sort is stable: same order).
    if edits().is_sorted_by_key(|e| key(&e)) {
        write_edits(text, edits(), &mut out)?;
    } else {
        let mut sorted: Vec<EditRef> = edits().collect();
        sorted.sort_by_key(key);
        write_edits(text, sorted.into_iter(), &mut out)?;
    }
    Ok(out)
}

/// `text` with `edits` (in offset order) applied, into `out`.
fn write_edits<'a>(text: &str, edits: impl Iterator<Item = EditRef<'a>>, out: &mut String) -> Result<(), EditError> {
    let mut pos = 0;
    for e in edits {
        if e.at < pos || e.at + e.delete > text.len() {
            return Err(EditError::Overlap { at: e.at });
        }
        out.push_str(&text[pos..e.at]);
        out.push_str(e.insert);
        pos = e.at + e.delete;
    }
    out.push_str(&text[pos..]);
    Ok(())
}

fn type_name(tree: &Tree, id: NodeId) -> &'static str {
    let id = tree.resolve(id);
    match tree.kind(id) {
        NodeKind::Map { .. } => "a mapping",
        NodeKind::Seq { .. } => "a sequence",
        _ => match tree.scalar(id) {
            Some(Scalar11::Null) => "null",
            Some(Scalar11::Str) => "a string",
            _ => "a scalar",
        },
    }
}

/// What [`Editor::new`] reads from a whole document: its layout and whether it has explicit keys.
#[derive(Debug, Clone, Copy)]
pub struct TextFacts {
    layout: Layout,
    explicit_keys: bool,
}

/// Edits one parsed document.
pub struct Editor<'a> {
    text: &'a str,
    tree: &'a Tree<'a>,
    layout: Layout,
    /// Byte ranges of anchored nodes that aliases refer to.
    shared: Vec<(usize, usize, usize)>,
    /// The document has an explicit key (`? key`).
    explicit_keys: bool,
}

/// Whether the document has an explicit key (`? key`, in block or flow style): the scanner
/// gives explicit keys a `Key` token that covers the `?`, implicit ones an empty one.
fn has_explicit_keys(text: &str) -> bool {
    memchr::memchr(b'?', text.as_bytes()).is_some()
        && granit_parser::Scanner::new(granit_parser::StrInput::new(text)).filter_map(Result::ok).any(|tok| {
            let (span, kind) = tok.into_parts();
            matches!(kind, granit_parser::TokenType::Key)
                && span.start.byte_offset().zip(span.end.byte_offset()).is_some_and(|(a, b)| b > a)
        })
}

impl<'a> Editor<'a> {
    pub fn new(text: &'a str, tree: &'a Tree) -> Self {
        // A CR is rare: looked for a vector at a time, then whether a LF follows it.
        let b = text.as_bytes();
        let crlf = memchr::memchr_iter(b'\r', b).any(|i| b.get(i + 1) == Some(&b'\n'));
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut editor = Editor {
            text,
            tree,
            layout: Layout { seq_offset: 0, nl },
            shared: Vec::new(),
            explicit_keys: has_explicit_keys(text),
        };
        editor.layout.seq_offset = editor.detect_seq_offset();
        editor.shared = tree
            .ids()
            .filter(|&id| tree.is_shared(id))
            .map(|id| (tree.node(id).start(), tree.node(id).end(), tree.node(id).line()))
            .collect();
        editor
    }

    /// An editor for one item of a long document that [`Tree::parse_pruning`] hands over (the
    /// tree holds that item and the document's other parts), with what [`Editor::new`] read
    /// from the whole document (`like`: [`Editor::facts`] of it), so that an editor per item
    /// does not read the whole text again.
    pub fn for_item(text: &'a str, tree: &'a Tree, like: TextFacts) -> Self {
        let shared = tree
            .ids()
            .filter(|&id| tree.is_shared(id))
            .map(|id| (tree.node(id).start(), tree.node(id).end(), tree.node(id).line()))
            .collect();
        Editor { text, tree, layout: like.layout, shared, explicit_keys: like.explicit_keys }
    }

    /// What this editor read from the whole text (for [`Editor::for_item`]).
    pub fn facts(&self) -> TextFacts {
        TextFacts { layout: self.layout, explicit_keys: self.explicit_keys }
    }

    /// How this document lays out block content (for new documents in the same style).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Follows the document's own habit for block sequences under a key: indented or not.
    fn detect_seq_offset(&self) -> usize {
        for id in self.tree.ids() {
            if let NodeKind::Map { entries, flow: false } = self.tree.kind(id) {
                for &(k, v) in entries {
                    let seq = matches!(self.tree.kind(v), NodeKind::Seq { flow: false, .. });
                    let v = self.tree.node(v);
                    if seq
                        && v.line() > self.tree.node(k).line()
                        && let Some(dash) = self.dash_col_at(v.start())
                    {
                        return dash.saturating_sub(self.tree.node(k).col());
                    }
                }
            }
        }
        0
    }

    fn wrong_type(&self, id: NodeId, key: &str, expected: &'static str) -> EditError {
        EditError::WrongType { key: key.into(), line: self.line_of(id), found: type_name(self.tree, id), expected }
    }

    fn line_of(&self, id: NodeId) -> usize {
        self.tree.node(id).line()
    }

    fn check_not_shared(&self, at: usize) -> Result<(), EditError> {
        match self.shared.iter().find(|(s, e, _)| *s <= at && at < *e) {
            Some(&(_, _, line)) => Err(EditError::Shared { line }),
            None => Ok(()),
        }
    }

    fn line_start(&self, pos: usize) -> usize {
        self.text[..pos].rfind('\n').map_or(0, |i| i + 1)
    }

    /// Where a new line goes after content ending at `end`: the start of the line holding the
    /// next token when only blanks precede `end` on its line, else the start of the next line.
    /// The flag says the text ends without a line break there.
    ///
    /// The first case only applies after a block scalar, whose span runs on to the next token's
    /// indentation; an empty scalar's span sits at its `:` and must not pull the new line up
    /// above the line it is on.
    fn line_after(&self, end: usize, block_scalar: bool) -> (usize, bool) {
        let ls = self.line_start(end);
        if block_scalar && self.text[ls..end].bytes().all(|b| b == b' ' || b == b'\t') {
            return (ls, false);
        }
        match self.text[end..].find('\n') {
            Some(i) => (end + i + 1, false),
            None => (self.text.len(), true),
        }
    }

    /// The indentation of a block mapping, from its first key: where that key's line starts,
    /// past `- ` sequence indicators (an anchor or tag before the key belongs to the mapping,
    /// so the mapping starts where they do).
    fn map_indent(&self, first_key: NodeId) -> usize {
        let k = self.tree.node(first_key);
        let prefix = &self.text[self.line_start(k.start())..k.start()];
        let mut rest = prefix;
        loop {
            let trimmed = rest.trim_start_matches([' ', '\t']);
            match trimmed.strip_prefix('-').filter(|r| r.starts_with([' ', '\t']) || r.is_empty()) {
                Some(after) => rest = after,
                None if trimmed.is_empty() => return k.col(),
                None => return prefix[..prefix.len() - trimmed.len()].chars().count(),
            }
        }
    }

    /// The innermost last node of a block collection (where its text ends).
    fn last_leaf(&self, mut id: NodeId) -> NodeId {
        loop {
            let next = match self.tree.kind(id) {
                NodeKind::Seq { items, flow: false } => items.last().copied(),
                NodeKind::Map { entries, flow: false } => entries.last().map(|e| e.1),
                _ => None,
            };
            match next {
                Some(n) => id = n,
                None => return id,
            }
        }
    }

    /// New lines after everything `node` holds.
    fn insert_after(&self, node: NodeId, lines: String) -> Result<Edit, EditError> {
        let leaf = self.last_leaf(node);
        let block_scalar =
            matches!(self.tree.kind(leaf), NodeKind::Scalar { style: Style::Literal | Style::Folded, .. });
        if block_scalar
            && !self.text.ends_with('\n')
            && self.text.trim_end_matches([' ', '\t', '\r']).len() <= self.tree.node(leaf).end()
        {
            // Text after it would give its last line a line break: a change of its value
            // unless the header strips it (`|-`, `>-`).
            let (header, _) = self.scalar_range(leaf);
            let indicators: String = self.text[header..].chars().skip(1).take_while(|c| !c.is_whitespace()).collect();
            if !indicators.contains('-') {
                return Err(EditError::Layout {
                    line: self.tree.node(leaf).line(),
                    what: "a block scalar ends the document without a line break; adding after it would change its value",
                });
            }
        }
        self.insert_lines(self.tree.node(leaf).end(), block_scalar, lines)
    }

    /// Explicit keys (`? key`) put keys where the mapping's column is not, and their spans are
    /// unreliable (an empty key sits anywhere): new block lines are not written into such a
    /// document.
    fn refuse_explicit_keys(&self) -> Result<(), EditError> {
        if self.explicit_keys {
            return Err(EditError::ExplicitKeys);
        }
        Ok(())
    }

    fn insert_lines(&self, after: usize, block_scalar: bool, mut lines: String) -> Result<Edit, EditError> {
        self.refuse_explicit_keys()?;
        let (at, missing_nl) = self.line_after(after, block_scalar);
        if missing_nl {
            let body_len = lines.len() - self.layout.nl.len();
            lines.truncate(body_len);
            lines.insert_str(0, self.layout.nl);
        }
        Ok(Edit { at, delete: 0, insert: lines.into() })
    }

    /// Column of the `-` before a block sequence item starting at `item_start`.
    fn dash_col_at(&self, item_start: usize) -> Option<usize> {
        let before = self.text[..item_start].trim_end_matches([' ', '\t', '\r', '\n']);
        let dash = before.strip_suffix('-')?.len();
        Some(self.text[self.line_start(dash)..dash].chars().count())
    }

    /// Adds `text` as the last entry of a flow collection: after the last content before its
    /// closing bracket, with a comma unless one (or the opening bracket) is already there. An
    /// empty entry's span is unreliable, so the bracket, not the last entry, decides.
    fn flow_append(&self, collection: NodeId, last: Option<NodeId>, text: &str) -> Result<Edit, EditError> {
        self.refuse_explicit_keys()?;
        let node = self.tree.node(collection);
        let close = node.end().saturating_sub(1);
        let trimmed = self.text[..close].trim_end_matches([' ', '\t', '\r', '\n']);
        let pos = trimmed.len();
        let line = &self.text[self.line_start(pos)..pos];
        if line.trim_start().starts_with('#') || line.contains(" #") {
            // A comment runs up to the line's end: go after the last entry's own text instead.
            return match last.map(|l| self.tree.node(l)).filter(|l| l.end() > l.start()) {
                Some(l) => Ok(Edit { at: l.end(), delete: 0, insert: format!(", {text}").into() }),
                None => Err(EditError::Layout { line: node.line(), what: "a flow collection ending in a comment" }),
            };
        }
        let insert = match trimmed.chars().last() {
            Some('[' | '{') => text.to_string(),
            Some(',') => format!(" {text}"),
            _ => format!(", {text}"),
        };
        Ok(Edit { at: pos, delete: 0, insert: insert.into() })
    }

    /// Appends `item` to a sequence (block or flow).
    pub fn append_item(&self, seq: NodeId, item: &Value) -> Result<Edit, EditError> {
        let node = self.tree.node(seq);
        let NodeKind::Seq { items, flow } = self.tree.kind(seq) else {
            return Err(self.wrong_type(seq, "", "a sequence"));
        };
        self.check_not_shared(node.start())?;
        if flow {
            return self.flow_append(seq, items.last().copied(), &emit::flow(item));
        }
        let (Some(&first), Some(&last)) = (items.first(), items.last()) else {
            return Err(EditError::Layout { line: node.line(), what: "empty block sequence" });
        };
        let dash = self
            .dash_col_at(self.tree.node(first).start())
            .ok_or(EditError::Layout { line: node.line(), what: "cannot find the `-` of the first item" })?;
        let mut lines = String::new();
        emit::block_seq(std::slice::from_ref(item), dash, self.layout, &mut lines);
        self.insert_after(last, lines)
    }

    /// Adds entries to a mapping (block or flow). The keys must not be present.
    pub fn add_entries(&self, map: NodeId, entries: &Map<String, Value>) -> Result<Edit, EditError> {
        let node = self.tree.node(map);
        let NodeKind::Map { entries: existing, flow } = self.tree.kind(map) else {
            return Err(self.wrong_type(map, "", "a mapping"));
        };
        self.check_not_shared(node.start())?;
        if flow {
            let text: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", emit::scalar(&Value::String(k.clone())), emit::flow(v)))
                .collect();
            return self.flow_append(map, existing.last().map(|e| e.1), &text.join(", "));
        }
        let Some(&(first_key, last_value)) = existing.first().map(|f| (f.0, existing[existing.len() - 1].1)).as_ref()
        else {
            return Err(EditError::Layout { line: node.line(), what: "empty block mapping" });
        };
        let mut lines = String::new();
        emit::block_map(entries, self.map_indent(first_key), self.layout, &mut lines);
        self.insert_after(last_value, lines)
    }

    /// Gives a key whose value is null (`key:`, `key: ~`) a mapping or sequence value.
    fn fill_null(&self, key: NodeId, null_value: NodeId, value: &Value) -> Result<Vec<Edit>, EditError> {
        let k = self.tree.node(key);
        let v = self.tree.node(null_value);
        let mut lines = String::new();
        emit::block_value(value, k.col(), self.layout, &mut lines);
        let mut edits = Vec::new();
        self.check_not_shared(k.start())?;
        if v.end() > v.start() {
            edits.push(Edit { at: v.start(), delete: v.end() - v.start(), insert: "".into() });
        }
        // block_value starts with the line break that ends the `key:` line.
        let body = lines.split_off(self.layout.nl.len());
        edits.push(self.insert_lines(k.end().max(v.end()), false, body)?);
        Ok(edits)
    }

    /// The source text of a scalar: a block scalar's header included, the blank lines after
    /// its content excluded.
    fn scalar_range(&self, node: NodeId) -> (usize, usize) {
        let n = self.tree.node(node);
        if !matches!(self.tree.kind(node), NodeKind::Scalar { style: Style::Literal | Style::Folded, .. }) {
            return (n.start(), n.end());
        }
        let content = &self.text[n.start()..n.end()];
        let end = n.start() + content.trim_end_matches([' ', '\t', '\r', '\n']).len();
        // The header is on the last non-blank line before the content.
        let mut line_end = self.line_start(n.start());
        while line_end > 0 {
            let ls = self.line_start(line_end - 1);
            let line = &self.text[ls..line_end];
            let code = line.split(" #").next().unwrap_or(line);
            if let Some(i) = code.rfind(['|', '>']) {
                return (ls + i, end);
            }
            if !line.trim().is_empty() {
                break;
            }
            line_end = ls;
        }
        (n.start(), end)
    }

    /// Replaces a scalar with `value`, keeping everything around it.
    pub fn replace_scalar(&self, node: NodeId, value: &Value) -> Result<Edit, EditError> {
        self.check_not_shared(self.tree.node(node).start())?;
        let (start, end) = self.scalar_range(node);
        Ok(Edit { at: start, delete: end - start, insert: emit::flow(value).into() })
    }

    /// Replaces a scalar with the string `text` (quoted where needed, on one line) for a
    /// report, never for output: shared (anchored) scalars too, and the document keeps its line
    /// count (a scalar over several lines becomes `text` and blank lines), so that a diff's
    /// hunks still line up.
    pub fn replace_for_report(&self, node: NodeId, text: &str) -> Edit {
        let (start, end) = self.scalar_range(node);
        let mut insert = emit::flow(&Value::String(text.to_string()));
        let lines = self.text[start..end].matches('\n').count();
        for _ in 0..lines {
            insert.push_str(self.layout.nl);
        }
        Edit { at: start, delete: end - start, insert: insert.into() }
    }

    /// Replaces a string scalar with new text: as a literal block when the original was one and
    /// the text allows it, else double-quoted.
    pub fn replace_text(&self, node: NodeId, new: &str) -> Result<Edit, EditError> {
        let n = self.tree.node(node);
        self.check_not_shared(n.start())?;
        let (start, end) = self.scalar_range(node);
        let literal = matches!(self.tree.kind(node), NodeKind::Scalar { style: Style::Literal, .. });
        Ok(Edit { at: start, delete: end - start, insert: self.string_value(new, literal, n.col()) })
    }

    /// `new` as a literal block indented to `indent` when `literal` and the text allows it
    /// (it reads back exactly), else as a double-quoted string.
    fn string_value(&self, new: &str, literal: bool, indent: usize) -> Insert {
        let literal_ok =
            literal && !new.is_empty() && !new.starts_with([' ', '\n']) && !new.ends_with("\n\n") && !has_control(new);
        if !literal_ok {
            return serde_json::to_string(new).unwrap_or_default().into();
        }
        let (body, header) = match new.strip_suffix('\n') {
            Some(b) => (b, "|"),
            None => (new, "|-"),
        };
        let indent = " ".repeat(indent);
        let nl = self.layout.nl;
        // Written once, into room for every line indented (a config.yaml can be 200,000 lines;
        // the room of blank lines' indentation, never written, is never touched either).
        let breaks = || memchr::memchr_iter(b'\n', body.as_bytes());
        let count = breaks().count() + 1;
        let mut out = String::with_capacity(header.len() + body.len() + count * (nl.len() + indent.len()));
        out.push_str(header);
        let mut start = 0;
        for end in breaks().chain([body.len()]) {
            let line = &body[start..end];
            out.push_str(nl);
            if !line.is_empty() {
                out.push_str(&indent);
                out.push_str(line);
            }
            start = end + 1;
        }
        out.into()
    }

    /// Replaces the null value of `key` (empty, `~`, `!!null ''`) with the string `new`: a literal
    /// block (`literal`, Helm 3 style) or a double-quoted string (Helm 4 style), always after a
    /// space, never glued to the key.
    pub fn replace_null_with_text(
        &self,
        key: NodeId,
        value: NodeId,
        new: &str,
        literal: bool,
    ) -> Result<Edit, EditError> {
        let k = self.tree.node(key);
        let v = self.tree.node(value);
        self.check_not_shared(v.start())?;
        self.refuse_explicit_keys()?;
        let at = self.after_colon(key)?;
        let end = v.end().max(at);
        let rest_of_line = self.text[end..].split('\n').next().unwrap_or("");
        // A comment after the null would land inside a block: quoted then.
        let insert = format!(" {}", &*self.string_value(new, literal && rest_of_line.trim().is_empty(), k.col() + 2));
        Ok(Edit { at, delete: end - at, insert: insert.into() })
    }

    /// Position just past the `:` that follows a mapping key.
    fn after_colon(&self, key: NodeId) -> Result<usize, EditError> {
        let k = self.tree.node(key);
        self.text[k.end()..]
            .find(':')
            .map(|i| k.end() + i + 1)
            .ok_or(EditError::Layout { line: k.line(), what: "no `:` after the key" })
    }

    /// Replaces the whole value of `key` with `new`: in block style when the old value was a
    /// block collection (an empty list becomes `[]`), in flow style otherwise.
    pub fn replace_value(&self, key: NodeId, value: NodeId, new: &Value) -> Result<Edit, EditError> {
        let k = self.tree.node(key);
        let v = self.tree.node(value);
        self.check_not_shared(v.start())?;
        let block =
            matches!(self.tree.kind(value), NodeKind::Seq { flow: false, .. } | NodeKind::Map { flow: false, .. });
        if block || (self.tree.is_null(value) && v.start() == v.end()) {
            self.refuse_explicit_keys()?;
            let at = self.after_colon(key)?;
            let end = self.content_end(value).max(at);
            let mut text = String::new();
            emit::block_value(new, k.col(), self.layout, &mut text);
            text.truncate(text.len() - self.layout.nl.len());
            return Ok(Edit { at, delete: end - at, insert: text.into() });
        }
        let (start, end) = self.scalar_range(value);
        Ok(Edit { at: start, delete: end - start, insert: emit::flow(new).into() })
    }

    /// End of a node's content (for a block collection, its last scalar, without trailing blanks).
    fn content_end(&self, id: NodeId) -> usize {
        let n = self.tree.node(id);
        match self.tree.kind(id) {
            NodeKind::Seq { items, flow: false } => items.last().map_or(n.end(), |&c| self.content_end(c)),
            NodeKind::Map { entries, flow: false } => entries.last().map_or(n.end(), |&(_, v)| self.content_end(v)),
            NodeKind::Scalar { .. } => self.scalar_range(id).1,
            _ => n.end(),
        }
    }

    /// Replaces the whole document (for an empty or `{}` document) with `value` in block style.
    pub fn replace_document(&self, value: &Value) -> Edit {
        let mut text = String::new();
        match value {
            Value::Object(m) if !m.is_empty() => emit::block_map(m, 0, self.layout, &mut text),
            other => text.push_str(&emit::flow(other)),
        }
        let trimmed = self.text.trim_end_matches(['\n', '\r', ' ']);
        let keep_nl = &self.text[trimmed.len()..];
        let body = text.trim_end_matches(['\n', '\r']).to_string();
        Edit {
            at: 0,
            delete: self.text.len(),
            insert: format!("{body}{}", if keep_nl.contains('\n') { self.layout.nl } else { "" }).into(),
        }
    }

    /// Removes item `index` of a sequence that has at least two items.
    pub fn remove_item(&self, seq: NodeId, index: usize) -> Result<Edit, EditError> {
        let node = self.tree.node(seq);
        self.check_not_shared(node.start())?;
        let NodeKind::Seq { items, flow } = self.tree.kind(seq) else {
            return Err(self.wrong_type(seq, "", "a sequence"));
        };
        if items.len() < 2 || index >= items.len() {
            return Err(EditError::OnlyItem { line: node.line() });
        }
        let item = self.tree.node(items[index]);
        if flow {
            let (start, end) = if index > 0 {
                (self.tree.node(items[index - 1]).end(), item.end())
            } else {
                (item.start(), self.tree.node(items[1]).start())
            };
            return Ok(Edit { at: start, delete: end - start, insert: "".into() });
        }
        let before = self.text[..item.start()].trim_end_matches([' ', '\t', '\r', '\n']);
        if !before.ends_with('-') {
            return Err(EditError::Layout { line: item.line(), what: "cannot find the `-` of the item" });
        }
        let dash = before.len() - 1;
        let ls = self.line_start(dash);
        if !self.text[ls..dash].trim().is_empty() {
            return Err(EditError::Layout { line: item.line(), what: "an item that shares its line with another" });
        }
        let (end, _) = self.line_after(self.content_end(items[index]), false);
        Ok(Edit { at: ls, delete: end - ls, insert: "".into() })
    }

    fn lookup(&self, map: NodeId, key: &str) -> Result<Option<(NodeId, NodeId)>, EditError> {
        match self.tree.lookup(map, key) {
            Lookup::Found { key, value } => Ok(Some((key, value))),
            Lookup::Merged => Err(EditError::Merged { key: key.into(), line: self.line_of(map) }),
            Lookup::Missing => Ok(None),
        }
    }

    /// Appends `item` to the sequence under `key` of `map`, creating the key when missing and
    /// filling it when null.
    pub fn push_to_list(&self, map: NodeId, key: &str, item: &Value) -> Result<Vec<Edit>, EditError> {
        let list = Value::Array(vec![item.clone()]);
        match self.lookup(map, key)? {
            None => Ok(vec![self.add_entries(map, &Map::from_iter([(key.to_string(), list)]))?]),
            Some((k, v)) if self.tree.is_null(v) => self.fill_null(k, v, &list),
            Some((_, v)) if matches!(self.tree.kind(v), NodeKind::Seq { .. }) => Ok(vec![self.append_item(v, item)?]),
            Some((_, v)) => Err(self.wrong_type(v, key, "a sequence")),
        }
    }

    /// Makes `map` contain `patch`, recursively (like a JSON merge patch that only adds and
    /// replaces scalars). Values that already mean the same are left as written.
    pub fn merge(&self, map: NodeId, patch: &Map<String, Value>) -> Result<Vec<Edit>, EditError> {
        let mut edits = Vec::new();
        let mut missing = Map::new();
        for (key, want) in patch {
            match self.lookup(map, key)? {
                None => {
                    missing.insert(key.clone(), want.clone());
                }
                Some((k, v)) => match want {
                    Value::Object(_) | Value::Array(_) if self.tree.is_null(v) => {
                        edits.extend(self.fill_null(k, v, want)?)
                    }
                    Value::Object(sub) if matches!(self.tree.kind(v), NodeKind::Map { .. }) => {
                        edits.extend(self.merge(v, sub)?)
                    }
                    Value::Object(_) | Value::Array(_) => {
                        return Err(self.wrong_type(v, key, "a mapping"));
                    }
                    scalar => {
                        if !self.means(v, scalar) {
                            if !matches!(self.tree.kind(v), NodeKind::Scalar { .. }) {
                                return Err(self.wrong_type(v, key, "a scalar"));
                            }
                            edits.push(self.replace_scalar(v, scalar)?);
                        }
                    }
                },
            }
        }
        if !missing.is_empty() {
            edits.push(self.add_entries(map, &missing)?);
        }
        Ok(edits)
    }

    /// True when the scalar node means `want` to a YAML 1.1 reader.
    pub fn means(&self, node: NodeId, want: &Value) -> bool {
        let Some(s) = self.tree.scalar(node) else {
            return false;
        };
        match (s, want) {
            (Scalar11::Str, Value::String(w)) => self.tree.str(node) == Some(w.as_str()),
            (Scalar11::Bool(b), Value::Bool(w)) => b == *w,
            (Scalar11::Null, Value::Null) => true,
            (Scalar11::Int(i), Value::Number(n)) => n.as_i64().is_some_and(|w| i128::from(w) == i),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Limits;

    fn first_value(tree: &Tree) -> NodeId {
        let root = tree.root().unwrap();
        tree.entries(root)[0].1
    }

    /// The fast check of control characters says what `char::is_control` says.
    #[test]
    fn has_control_is_char_is_control_but_line_feed_and_tab() {
        let slow = |s: &str| s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        let long = "a".repeat(5000);
        for s in [
            "",
            "abc",
            "a\nb\tc",
            "a\rb",
            "\u{7f}",
            "\u{85}",
            "é\u{9f}",
            "é",
            "\u{a0}",
            "x\u{0}",
            "\u{1b}[0m",
            "\u{2028}",
        ] {
            for text in [s.to_string(), format!("{long}{s}"), format!("{s}{long}")] {
                assert_eq!(has_control(&text), slow(&text), "{text:?}");
            }
        }
    }

    /// Consuming the edits writes what `apply` writes: one edit (its text shared or not), many
    /// edits, and an edit past the text's end refused the same way.
    #[test]
    fn apply_owned_writes_what_apply_writes() {
        let text = "a: 1\nb: |\n  old\nc: 3\n";
        let edit = |at: usize, delete: usize, insert: &str| Edit { at, delete, insert: insert.into() };
        let cases: Vec<Vec<Edit>> = vec![
            vec![edit(8, 10, "|\n  new\n  lines\n")],
            vec![edit(0, 0, "z: 0\n")],
            vec![edit(text.len(), 0, "d: 4\n")],
            vec![edit(3, 1, "2"), edit(text.len(), 0, "d: 4\n")],
            vec![edit(0, text.len(), "")],
        ];
        for list in cases {
            let edits: Edits = list.clone().into();
            let shared = edits.clone();
            assert_eq!(edits.clone().apply_owned(text), apply(text, &list), "{list:?}");
            // The text shared with another holder: copied, the holder's text unchanged.
            let kept: Vec<Insert> = list.iter().map(|e| e.insert.clone()).collect();
            assert_eq!(shared.apply_owned(text), apply(text, &list));
            assert!(kept.iter().zip(&list).all(|(k, e)| k[..] == e.insert[..]));
        }
        assert_eq!(
            Edits::from(vec![edit(text.len(), 1, "x")]).apply_owned(text),
            Err(EditError::Overlap { at: text.len() })
        );
        assert_eq!(apply(text, &[edit(text.len(), 1, "x")]), Err(EditError::Overlap { at: text.len() }));
    }

    /// The conditions that are not about one line keep the words they always had.
    #[test]
    fn explicit_keys_and_only_item_keep_their_messages() {
        let text = "? a\n: [x]\nb: [y]\n";
        let tree = Tree::parse(text, &Limits::default()).unwrap();
        let editor = Editor::new(text, &tree);
        let mut m = Map::new();
        m.insert("c".into(), Value::from(vec!["z"]));
        let e = editor.add_entries(tree.root().unwrap(), &m).unwrap_err();
        assert_eq!(e, EditError::ExplicitKeys);
        assert_eq!(e.to_string(), "unsupported layout at line 1: a document with explicit keys (`?`)");

        let text = "a:\n- x\n";
        let tree = Tree::parse(text, &Limits::default()).unwrap();
        let e = Editor::new(text, &tree).remove_item(first_value(&tree), 0).unwrap_err();
        assert_eq!(e, EditError::OnlyItem { line: 2 });
        assert_eq!(e.to_string(), "unsupported layout at line 2: cannot remove the only item of a list");
    }

    /// Edits given in any order apply as if sorted by offset, deepest insertion first at one
    /// offset; edits already in that order apply as given; overlapping edits are refused.
    #[test]
    fn edits_apply_in_offset_order_whatever_order_they_come_in() {
        let edit = |at: usize, delete: usize, insert: &str| Edit { at, delete, insert: insert.into() };
        let text = "a: 1\nb: 2\n";
        let sorted = [edit(3, 1, "x"), edit(9, 0, "\n    deep"), edit(9, 0, "\n  shallow"), edit(10, 0, "c: 3\n")];
        let want = "a: x\nb: 2\n    deep\n  shallow\nc: 3\n";
        assert_eq!(apply(text, &sorted).unwrap(), want);
        for order in [[3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]] {
            let shuffled: Vec<Edit> = order.iter().map(|&i| sorted[i].clone()).collect();
            assert_eq!(apply(text, &shuffled).unwrap(), want, "{order:?}");
        }
        assert_eq!(apply(text, &[edit(0, 4, "z"), edit(2, 1, "y")]), Err(EditError::Overlap { at: 2 }));
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            let edits: Edits = order.iter().map(|&i| sorted[i].clone()).collect();
            assert_eq!(edits.apply(text).unwrap(), want, "{order:?}");
        }
        let overlapping: Edits = vec![edit(0, 4, "z"), edit(2, 1, "y")].into();
        assert_eq!(overlapping.apply(text), Err(EditError::Overlap { at: 2 }));
        // Many edits (spans), in reverse and in order, as the slice's `apply` gives them.
        let long = "x\n".repeat(FEW * 2);
        let many: Vec<Edit> = (0..FEW * 2).map(|i| edit(2 * i, 1, ["a", "\n  b", "\n    c"][i % 3])).rev().collect();
        let spans: Edits = many.iter().cloned().collect();
        assert!(matches!(spans.0, Repr::Spans(_)));
        assert_eq!(spans.apply(&long), apply(&long, &many));
        let sorted: Edits = many.iter().rev().cloned().collect();
        assert_eq!(sorted.apply(&long), apply(&long, &many));
    }

    /// `Edits` keeps a few edits as a list and many as spans with each text written once
    /// (whatever `Arc` it came in), gives its edits back in the order pushed, and an edit past
    /// 32 bits turns spans into a list with nothing lost.
    #[test]
    fn edits_keep_their_order_and_texts_past_32_bits_too() {
        let edit = |at: usize, delete: usize, insert: &str| Edit { at, delete, insert: insert.into() };
        let few = vec![edit(9, 3, "[get]"), edit(1, 0, "x"), edit(30, 3, "[get]"), edit(40, 1, "")];
        assert!(matches!(Edits::from(few.clone()).0, Repr::List(_)));
        let texts = ["[get]", "x", "[get]", ""];
        let pushed: Vec<Edit> = (0..FEW + 6).map(|i| edit(10 * i, i % 3, texts[i % 4])).collect();
        let mut edits = Edits::from(pushed.clone());
        match &edits.0 {
            Repr::Spans(spans) => {
                assert_eq!(spans.texts.iter().map(|t| &t[..]).collect::<Vec<_>>(), ["[get]", "x", ""]);
                assert_eq!(spans.spans.len(), FEW + 6);
            }
            Repr::List(_) => panic!("many small edits are spans"),
        }
        assert_eq!(edits.clone().into_vec(), pushed);
        let wide = edit(u32::MAX as usize + 7, 1, "far");
        edits.push(wide.clone());
        assert!(matches!(edits.0, Repr::List(_)));
        let mut all = pushed.clone();
        all.push(wide.clone());
        assert_eq!(
            edits.iter().map(|e| (e.at, e.delete, e.insert.to_string())).collect::<Vec<_>>(),
            all.iter().map(|e| (e.at, e.delete, e.insert.to_string())).collect::<Vec<_>>()
        );
        // A wide edit among the first few keeps them a list past `FEW`.
        let mut wide_first = vec![wide];
        wide_first.extend(pushed.iter().cloned());
        let edits = Edits::from(wide_first.clone());
        assert!(matches!(edits.0, Repr::List(_)));
        assert_eq!(edits.into_vec(), wide_first);
        assert!(std::mem::size_of::<Edits>() <= 24);
        let mut first = Edits::from(pushed[..2].to_vec());
        let mut rest = Edits::from(pushed[2..].to_vec());
        first.append(&mut rest);
        assert!(rest.is_empty());
        assert_eq!(first.into_vec(), pushed);
    }
}
