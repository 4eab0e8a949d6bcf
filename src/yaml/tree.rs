//! A read-only tree of one YAML document that remembers where every node is in the text.
//!
//! Built from granit-parser's events (the parser kube's serde-saphyr already brings in). The
//! tree is an arena, so neither building nor dropping it recurses, whatever the nesting depth.
//! It never re-emits anything: edits are made to the original text (see `edit`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use granit_parser::{ErrorKind, Event, Options, Parser, ScalarStyle};

use super::fast::At;
use super::limits::Limits;
use super::scalar::{self, PyScalar, Scalar11, Style};

/// A node of one tree, valid only for the [`Tree`] that made it: it carries that tree's
/// identity, which the tree's accessors check (in debug builds, so every test catches a node
/// of one document used with another document's tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId {
    tree: TreeId,
    /// u32 keeps a NodeId as small as the plain index it replaces; a tree holds fewer nodes
    /// (parsing refuses more).
    index: u32,
}

impl NodeId {
    /// The node's slot in its tree's arena.
    fn slot(self) -> usize {
        self.index as usize
    }
}

/// Which tree a [`NodeId`] belongs to: each parse gets the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TreeId(u32);

impl TreeId {
    fn next() -> TreeId {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        TreeId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A scalar's text (`Tree::text` reads it): a range of the parsed text when the scalar is
/// written there as it reads (most are: `name`, `"a-b"`), else of the tree's one string, where
/// the parser's decoded text is kept (a document of a million scalars makes one allocation
/// for them, not a million).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    at: u32,
    len: u32,
    in_source: bool,
}

/// What a node is, as [`Tree::kind`] gives it: a view of the node's packed fields and of the
/// tree's shared arrays of children.
#[derive(Debug, Clone, Copy)]
pub enum NodeKind<'t> {
    Scalar {
        value: Text,
        style: Style,
        /// A tag is rare: kept in a side table of the tree.
        tag: Option<&'t str>,
    },
    /// Children as a range of the tree's one array of items (a collection's children are
    /// appended, together, when it closes).
    Seq {
        items: &'t [NodeId],
        flow: bool,
    },
    Map {
        entries: &'t [(NodeId, NodeId)],
        flow: bool,
    },
    Alias {
        anchor: usize,
    },
}

/// A node in 24 bytes (48 before, 56 before that; a config.yaml of 200,000 lines has half a
/// million nodes). Positions are kept in 32 bits: a document's text is at most 4 GiB (its
/// scalars' text already is, see [`Text`]), and the parser refuses a larger one. The column
/// shares its word with the node's kind, style and flags ([`Bits`]): 24 bits, 16,777,215
/// columns, 16 times the default `--max-line-bytes`; the parser refuses a node further right.
#[derive(Debug, Clone)]
pub struct Node {
    start: u32,
    end: u32,
    line: u32,
    /// The column in the low 24 bits, [`Bits`] in the high 8.
    col: u32,
    /// A scalar's [`Text`] (at, len); a collection's children (first, count) in the tree's
    /// `items` or `entries`; an alias's anchor (in `a`).
    a: u32,
    b: u32,
}

/// A node's kind, style and flags, the high byte of [`Node::col`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bits(u8);

const COL_BITS: u32 = 24;
const COL_MASK: u32 = (1 << COL_BITS) - 1;

impl Bits {
    const SCALAR: u8 = 0;
    const SEQ: u8 = 1;
    const MAP: u8 = 2;
    const ALIAS: u8 = 3;
    const FLOW: u8 = 1 << 2;
    /// A scalar's text is a range of the tree's source (FLOW's bit: only collections use that).
    const IN_SOURCE: u8 = 1 << 2;
    const TAGGED: u8 = 1 << 3;
    const ANCHORED: u8 = 1 << 4;
    const STYLE_SHIFT: u8 = 5;

    fn scalar(style: Style, tagged: bool, in_source: bool) -> Bits {
        let style = match style {
            Style::Plain => 0,
            Style::SingleQuoted => 1,
            Style::DoubleQuoted => 2,
            Style::Literal => 3,
            Style::Folded => 4,
        };
        let flags = if tagged { Bits::TAGGED } else { 0 } | if in_source { Bits::IN_SOURCE } else { 0 };
        Bits(Bits::SCALAR | (style << Bits::STYLE_SHIFT) | flags)
    }

    fn collection(map: bool, flow: bool) -> Bits {
        Bits(if map { Bits::MAP } else { Bits::SEQ } | if flow { Bits::FLOW } else { 0 })
    }

    fn kind(self) -> u8 {
        self.0 & 3
    }

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    fn style(self) -> Style {
        match self.0 >> Bits::STYLE_SHIFT {
            0 => Style::Plain,
            1 => Style::SingleQuoted,
            2 => Style::DoubleQuoted,
            3 => Style::Literal,
            _ => Style::Folded,
        }
    }
}

impl Node {
    /// Byte offset where the node's content starts (after any anchor or tag).
    pub fn start(&self) -> usize {
        self.start as usize
    }

    /// Byte offset just past the node's content. For a flow collection, past its closing
    /// bracket; for a block collection, the end of its last child.
    pub fn end(&self) -> usize {
        self.end as usize
    }

    /// 1-based line of `start`, relative to the parsed text.
    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// 0-based column of `start`.
    pub fn col(&self) -> usize {
        (self.col & COL_MASK) as usize
    }

    /// True for a scalar.
    pub fn is_scalar(&self) -> bool {
        self.bits().kind() == Bits::SCALAR
    }

    fn bits(&self) -> Bits {
        Bits((self.col >> COL_BITS) as u8)
    }

    fn set_bits(&mut self, bits: Bits) {
        self.col = (self.col & COL_MASK) | (u32::from(bits.0) << COL_BITS);
    }
}

/// `n` in 32 bits, or the error for a document too large to hold.
fn fit(n: usize, at: &At) -> Result<u32, ParseError> {
    u32::try_from(n).map_err(|_| err_at(TOO_LARGE, at.line, at.col))
}

const TOO_LARGE: &str = "more text than one document may hold";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message} (line {line}, column {col})")]
pub struct ParseError {
    pub message: String,
    /// 1-based, relative to the parsed text.
    pub line: usize,
    /// 1-based.
    pub col: usize,
}

/// A parsed document. It borrows the text it was parsed from: a scalar whose text is written
/// there as it reads (most are) is a range of that text, not a copy ([`Text`]).
#[derive(Debug)]
pub struct Tree<'s> {
    id: TreeId,
    nodes: Vec<Node>,
    /// The parsed text.
    source: &'s str,
    /// The text of every scalar that is not a range of `source`, one after the other.
    strings: String,
    /// Every collection's children: a collection's are one range, appended when it closes.
    items: Vec<NodeId>,
    entries: Vec<(NodeId, NodeId)>,
    /// Side tables of the rare: (node index, tag) and (node index, anchor), in node order.
    tags: Vec<(u32, Box<str>)>,
    anchor_ids: Vec<(u32, u32)>,
    root: Option<NodeId>,
    anchors: HashMap<usize, NodeId>,
    aliased: Vec<usize>,
    /// Keys looked up that the mapping holds twice: (first key, last key). Readers take the last
    /// one, so an edit of the first would not take effect; the pipeline refuses these.
    duplicate_reads: std::cell::RefCell<Vec<(NodeId, NodeId)>>,
    /// Lists whose items were checked for a key written twice, and the key
    /// ([`Tree::record_twice_in_items`]).
    items_checked: std::cell::RefCell<Vec<(NodeId, Box<str>)>>,
    /// How many nodes a reader decodes, aliases expanded (as go-yaml counts them).
    decoded: u64,
}

/// Whose reading of scalars to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// go-yaml v2 through sigs.k8s.io/yaml: kubectl, Helm, the API server.
    Kubernetes,
    /// PyYAML's `safe_load`: SkyPilot's config.yaml.
    PyYaml,
}

/// Result of looking a key up in a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found {
        key: NodeId,
        value: NodeId,
    },
    /// Not written in this mapping, but the mapping has a `<<` merge key that may supply it.
    Merged,
    Missing,
}

fn err_at(message: impl Into<String>, line: usize, col: usize) -> ParseError {
    ParseError { message: message.into(), line, col: col + 1 }
}

impl Tree<'static> {
    /// Parses as [`Tree::parse`], into a tree that owns all its scalars' text (for a tree kept
    /// where a borrowing one cannot be, such as the stream's cache of parsed documents).
    pub fn parse_owned(text: &str, limits: &Limits) -> Result<Tree<'static>, ParseError> {
        Tree::parse_with(text, "", limits, None).map(|(tree, _)| tree)
    }
}

impl<'s> Tree<'s> {
    /// Parses the first document of `text`. Empty and comment-only text gives a tree without
    /// a root. A second document in the same text is an error: callers split streams first.
    pub fn parse(text: &'s str, limits: &Limits) -> Result<Tree<'s>, ParseError> {
        Tree::parse_with(text, text, limits, None).map(|(tree, _)| tree)
    }

    /// Parses as `parse`, but hands each item of the sequence under the root mapping's key
    /// `key` to `on_item` as soon as it is complete and then drops it: the tree returned has
    /// that sequence empty, so a document of a million such items never holds them all (an
    /// RBAC Role's `rules`). None when the document has an anchor or an alias (an item could
    /// be shared): the caller parses it whole instead.
    pub fn parse_pruning<'a>(
        text: &'s str,
        limits: &'a Limits,
        key: &'a str,
        on_item: &'a mut dyn FnMut(&Tree<'_>, NodeId),
    ) -> Result<Option<Tree<'s>>, ParseError> {
        let (tree, pruned) = Tree::parse_with(text, text, limits, Some(Prune { key, on_item, shared: false }))?;
        Ok(pruned.then_some(tree))
    }

    /// Parses; with `prune`, returns whether pruning held (no anchor or alias).
    fn parse_with<'a>(
        text: &str,
        source: &'s str,
        limits: &'a Limits,
        prune: Option<Prune<'a>>,
    ) -> Result<(Tree<'s>, bool), ParseError> {
        check_lines(text, limits)?;
        // Plain block YAML first, with the fast reader; anything it does not take (or that the
        // builder refuses: the full parser then says why) is parsed again in full. Not while
        // pruning: the callback must see each item once.
        if prune.is_none() {
            let mut builder = Builder::new(limits, source);
            if source.is_empty() {
                // An owning tree keeps every scalar's text: at most the text's size.
                builder.tree.strings.reserve(text.len());
            }
            // A literal block is decoded straight into the tree's string of scalars (a 16 MB
            // config.yaml is not decoded into a string of its own first).
            let builder = std::cell::RefCell::new(builder);
            let read = super::fast::parse_lazily(
                text,
                &mut |event, at| builder.borrow_mut().event(event, at).is_ok(),
                &mut |block, at| builder.borrow_mut().literal(&block, at).is_ok(),
            );
            let mut builder = builder.into_inner();
            if read.is_ok() {
                builder.tree.nodes.shrink_to_fit();
                builder.tree.strings.shrink_to_fit();
                return Ok((builder.tree, true));
            }
        }
        let mut builder = Builder::new(limits, source);
        builder.prune = prune;
        let mut parser = Parser::new_from_str_with_options(text, parser_options(limits));
        while let Some(item) = parser.next_event() {
            let (event, span) = item.map_err(|e| parser_error(&e, limits))?;
            let start = span.start.byte_offset().unwrap_or(0);
            let at = At {
                start,
                end: span.end.byte_offset().unwrap_or(start),
                line: span.start.line(),
                col: span.start.col(),
            };
            builder.event(event, at)?;
            if builder.prune.as_ref().is_some_and(|p| p.shared) {
                return Ok((builder.tree, false));
            }
        }
        // The arena grew by doubling: a kept tree (the API server's, config.yaml's) gives the
        // unused half back.
        builder.tree.nodes.shrink_to_fit();
        builder.tree.strings.shrink_to_fit();
        Ok((builder.tree, true))
    }
}

/// What `parse_pruning` drops as it goes: the items under the root's `key`.
struct Prune<'c> {
    key: &'c str,
    on_item: &'c mut dyn FnMut(&Tree<'_>, NodeId),
    /// An anchor or alias was seen: pruning stops (the caller parses the whole document).
    shared: bool,
}

/// Refuses lines the parser should never see: longer than `--max-line-bytes`, or broken by a
/// bare CR (YAML breaks lines there too; skyhelm edits by `\n` lines, and real manifests use
/// LF or CRLF).
fn check_lines(text: &str, limits: &Limits) -> Result<(), ParseError> {
    let b = text.as_bytes();
    let max = limits.max_line_bytes;
    // Each line ends within `max` bytes of where it starts: the last line break of that window
    // is found from its end, so the text is crossed a window at a time, not a line at a time
    // (a 16 MB config.yaml has 200,000 lines). Only text with a longer line is read line by line,
    // to say which.
    let mut start = 0;
    while b.len() - start > max {
        match memchr::memrchr(b'\n', &b[start..=start + max]) {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    if b.len() - start <= max {
        return check_breaks(text);
    }
    // The lines as `split('\n')` gives them.
    let mut start = 0;
    for (i, end) in memchr::memchr_iter(b'\n', b).chain(std::iter::once(b.len())).enumerate() {
        if end - start > limits.max_line_bytes {
            return Err(err_at(
                format!("a line of {} bytes, more than --max-line-bytes {}", end - start, limits.max_line_bytes),
                i + 1,
                0,
            ));
        }
        start = end + 1;
    }
    check_breaks(text)
}

/// Refuses a carriage return without a line feed.
fn check_breaks(text: &str) -> Result<(), ParseError> {
    if let Some(i) = memchr::memchr_iter(b'\r', text.as_bytes()).find(|&i| text.as_bytes().get(i + 1) != Some(&b'\n')) {
        let line = memchr::memchr_iter(b'\n', &text.as_bytes()[..i]).count() + 1;
        return Err(err_at("a carriage return without a line feed (a bare CR line break) is not supported", line, 0));
    }
    Ok(())
}

/// The parser's options: nesting limited to `--max-depth`, and, as libyaml, go-yaml
/// (Kubernetes) and PyYAML, a block scalar's last line at the end of the input, without a line
/// break, gets none.
fn parser_options(limits: &Limits) -> Options {
    let mut options = Options::default();
    options.flow_nesting_limit = limits.max_depth;
    options.block_nesting_limit = limits.max_depth;
    options.block_scalar_eof_without_line_feed = true;
    // Comments are never read (edits keep them as text): the parser still checks their syntax
    // but does not capture them (8 % of the CPU time on a 6 MB Deployment).
    options.emit_comments = false;
    options
}

/// A document nested deeper than `--max-depth` (the parser's limit or the tree's own).
fn max_depth_message(max_depth: usize) -> String {
    format!("exceeded max depth of {max_depth}")
}

/// The parser's error in skyhelm's words.
fn parser_error(e: &granit_parser::ScanError, limits: &Limits) -> ParseError {
    let m = e.marker();
    let message = match e.kind() {
        ErrorKind::RecursionLimitExceeded => max_depth_message(limits.max_depth),
        // The column says where; the character itself may be part of a secret.
        ErrorKind::UnexpectedCharacter { .. } => "unexpected character".to_string(),
        _ => e.info(),
    };
    err_at(message, m.line(), m.col())
}

impl At {
    /// A node here: its kind and style as `bits`, its fields `a` and `b` (see [`Node`]).
    fn node(self, bits: Bits, a: u32, b: u32) -> Result<Node, ParseError> {
        let col = fit(self.col, &self)?;
        if col > COL_MASK {
            return Err(err_at(format!("a node past column {COL_MASK}, more than a tree keeps"), self.line, self.col));
        }
        let mut node = Node {
            start: fit(self.start, &self)?,
            end: fit(self.end, &self)?,
            line: fit(self.line, &self)?,
            col,
            a,
            b,
        };
        node.set_bits(bits);
        Ok(node)
    }
}

/// A collection being built: its node, and a key read whose value has not come yet.
struct Frame {
    id: NodeId,
    pending_key: Option<NodeId>,
    /// The collection's children so far (appended to the tree's arrays when it closes).
    items: Vec<NodeId>,
    entries: Vec<(NodeId, NodeId)>,
    /// Nodes decoded so far with aliases expanded, and how many of those through an alias
    /// (see `Builder::anchored`).
    count: (u64, u64),
}

/// A frame's lists of children: items, entries.
type Lists = (Vec<NodeId>, Vec<(NodeId, NodeId)>);

/// Builds a tree from the parser's events, one at a time.
struct Builder<'l, 's> {
    tree: Tree<'s>,
    limits: &'l Limits,
    /// The collections open around the current event, innermost last.
    stack: Vec<Frame>,
    /// Closed frames' lists, kept for the next collection (a document of 100,000 small
    /// mappings allocates a handful, not 100,000).
    spare: Vec<Lists>,
    /// Per anchored node: nodes decoded with aliases expanded, and how many of those are decoded
    /// through an alias, as go-yaml v2 counts them for its excessive-aliasing check (an alias
    /// decodes its anchor's nodes again). Other nodes' counts live in their parent's frame only.
    anchored: HashMap<NodeId, (u64, u64)>,
    documents: usize,
    /// Anchored collections not yet closed: an alias to one would make the value contain itself.
    open: std::collections::HashSet<NodeId>,
    prune: Option<Prune<'l>>,
}

impl<'l, 's> Builder<'l, 's> {
    fn new(limits: &'l Limits, source: &'s str) -> Self {
        Builder {
            tree: Tree {
                id: TreeId::next(),
                nodes: Vec::new(),
                source,
                strings: String::new(),
                items: Vec::new(),
                entries: Vec::new(),
                tags: Vec::new(),
                anchor_ids: Vec::new(),
                root: None,
                anchors: HashMap::new(),
                aliased: Vec::new(),
                duplicate_reads: std::cell::RefCell::new(Vec::new()),
                items_checked: std::cell::RefCell::new(Vec::new()),
                decoded: 0,
            },
            limits,
            stack: Vec::new(),
            spare: Vec::new(),
            anchored: HashMap::new(),
            documents: 0,
            open: std::collections::HashSet::new(),
            prune: None,
        }
    }

    /// Takes one event: a node that it completes (a scalar, an alias, a closed collection) is
    /// attached to its parent.
    fn event(&mut self, event: Event<'_>, at: At) -> Result<(), ParseError> {
        let completed = match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(err_at(
                        "a second YAML document inside one document (after '...' without '---')",
                        at.line,
                        at.col,
                    ));
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle(), t.suffix()));
                Some(self.scalar(&value, style, anchor, tag, at)?)
            }
            Event::Alias(anchor) => Some(self.alias(anchor, at)?),
            Event::SequenceStart(style, anchor, ref tag) | Event::MappingStart(style, anchor, ref tag) => {
                let flow = style == granit_parser::StructureStyle::Flow;
                let map = matches!(event, Event::MappingStart(..));
                let id = self.open_collection(Bits::collection(map, flow), anchor, at)?;
                // A collection's tag goes to the side table too ([`Tree::tagged`]: PyYAML
                // constructs few of them), in node order as every tag.
                if let Some(t) = tag {
                    self.tree.tags.push((id.index, format!("{}{}", t.handle(), t.suffix()).into_boxed_str()));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => Some(self.close_collection(at)?),
            _ => None,
        };
        match completed {
            Some((id, count)) => self.attach(id, count, at),
            None => Ok(()),
        }
    }

    /// Adds a node, with its anchor (0 for none) in the side table.
    fn push(&mut self, mut node: Node, anchor: usize) -> Result<NodeId, ParseError> {
        let (line, col) = (node.line(), node.col());
        if anchor != 0 {
            let anchor = u32::try_from(anchor).map_err(|_| err_at(TOO_LARGE, line, col))?;
            node.set_bits(Bits(node.bits().0 | Bits::ANCHORED));
            let index = u32::try_from(self.tree.nodes.len()).map_err(|_| err_at(TOO_LARGE, line, col))?;
            self.tree.anchor_ids.push((index, anchor));
        }
        self.tree.push(node).ok_or_else(|| err_at("more nodes than one document may hold", line, col))
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<String>,
        at: At,
    ) -> Result<(NodeId, (u64, u64)), ParseError> {
        // The parser's text is a slice of the source when the scalar reads as written: then the
        // tree keeps the range, not a copy.
        let source = self.tree.source;
        let offset = (text.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
        let in_source = !text.is_empty() && offset <= source.len() && text.len() <= source.len() - offset;
        let first = if in_source {
            offset
        } else {
            let first = self.tree.strings.len();
            self.tree.strings.push_str(text);
            first
        };
        self.scalar_at(first, text.len(), in_source, style_of(style), anchor, tag, at)
    }

    /// An untagged literal block scalar, decoded at the end of the tree's string of scalars.
    fn literal(&mut self, block: &super::fast::Literal<'_>, at: At) -> Result<(), ParseError> {
        let first = self.tree.strings.len();
        block.decode_into(&mut self.tree.strings);
        let len = self.tree.strings.len() - first;
        let (id, count) = self.scalar_at(first, len, false, Style::Literal, 0, None, at)?;
        self.attach(id, count, at)
    }

    /// The scalar node whose text is `len` bytes at `first` of the source or of the tree's
    /// string of scalars.
    #[allow(clippy::too_many_arguments)]
    fn scalar_at(
        &mut self,
        first: usize,
        len: usize,
        in_source: bool,
        style: Style,
        anchor: usize,
        tag: Option<String>,
        at: At,
    ) -> Result<(NodeId, (u64, u64)), ParseError> {
        let value = match (u32::try_from(first), u32::try_from(len)) {
            (Ok(start), Ok(len)) if start.checked_add(len).is_some() => Text { at: start, len, in_source },
            _ => return Err(err_at(TOO_LARGE, at.line, at.col)),
        };
        let node = at.node(Bits::scalar(style, tag.is_some(), in_source), value.at, value.len)?;
        let id = self.push(node, anchor)?;
        if let Some(tag) = tag {
            self.tree.tags.push((id.index, tag.into_boxed_str()));
        }
        Ok((id, (1, 0)))
    }

    fn alias(&mut self, anchor: usize, at: At) -> Result<(NodeId, (u64, u64)), ParseError> {
        let target =
            *self.tree.anchors.get(&anchor).ok_or_else(|| err_at("alias to an unknown anchor", at.line, at.col))?;
        if self.open.contains(&target) {
            // go-yaml refuses this too ("anchor '…' value contains itself").
            return Err(err_at("an anchor's value contains an alias to itself", at.line, at.col));
        }
        self.tree.aliased.push(anchor);
        // go-yaml counts every node it decodes through an alias as aliased.
        let (n, _) = self.anchored.get(&target).copied().unwrap_or((1, 0));
        let anchor32 = fit(anchor, &at)?;
        let id = self.push(at.node(Bits(Bits::ALIAS), anchor32, 0)?, 0)?;
        Ok((id, (n.saturating_add(1), n)))
    }

    fn open_collection(&mut self, bits: Bits, anchor: usize, at: At) -> Result<NodeId, ParseError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(err_at(max_depth_message(self.limits.max_depth), at.line, at.col));
        }
        let id = self.push(at.node(bits, 0, 0)?, anchor)?;
        if anchor != 0 {
            self.tree.anchors.insert(anchor, id);
            self.open.insert(id);
        }
        let (items, entries) = self.spare.pop().unwrap_or_default();
        self.stack.push(Frame { id, pending_key: None, items, entries, count: (1, 0) });
        Ok(id)
    }

    /// Closes the innermost collection: its children go to the tree's arrays, one range. A flow
    /// collection ends past its closing bracket, a block collection with its last child.
    fn close_collection(&mut self, at: At) -> Result<(NodeId, (u64, u64)), ParseError> {
        let mut frame = self.stack.pop().ok_or_else(|| err_at("unbalanced collection end", at.line, at.col))?;
        let id = frame.id;
        let tree = &mut self.tree;
        let bits = tree.node(id).bits();
        if bits.has(Bits::ANCHORED) {
            self.open.remove(&id);
        }
        let (first, count, last_child) = if bits.kind() == Bits::SEQ {
            let first = tree.items.len();
            tree.items.extend_from_slice(&frame.items);
            (first, frame.items.len(), frame.items.last().copied())
        } else {
            let first = tree.entries.len();
            tree.entries.extend_from_slice(&frame.entries);
            (first, frame.entries.len(), frame.entries.last().map(|e| e.1))
        };
        let (first, count) = (fit(first, &at)?, fit(count, &at)?);
        first.checked_add(count).ok_or_else(|| err_at(TOO_LARGE, at.line, at.col))?;
        let end = if bits.has(Bits::FLOW) {
            fit(at.end, &at)?
        } else {
            last_child.map_or(tree.node(id).start, |c| tree.node(c).end)
        };
        let node = tree.node_mut(id);
        (node.a, node.b, node.end) = (first, count, end);
        frame.items.clear();
        frame.entries.clear();
        self.spare.push((frame.items, frame.entries));
        Ok((id, frame.count))
    }

    /// Puts a completed node in its place: an anchored scalar is registered, the node becomes
    /// an item, a key or a value of the open collection (or the root), and its decoded count
    /// adds to the parent's; at the root, the document's count is checked for excessive
    /// aliasing.
    fn attach(&mut self, id: NodeId, child: (u64, u64), at: At) -> Result<(), ParseError> {
        if self.pruned(id) {
            return Ok(());
        }
        let tree = &mut self.tree;
        let anchor = tree.anchor_of(id);
        if anchor != 0 {
            if tree.node(id).is_scalar() {
                tree.anchors.insert(anchor, id);
            }
            self.anchored.insert(id, child);
        }
        match self.stack.last_mut() {
            None => tree.root = Some(id),
            Some(frame) => {
                let parent = frame.id;
                let e = &mut frame.count;
                *e = (e.0.saturating_add(child.0), e.1.saturating_add(child.1));
                match tree.node(parent).bits().kind() {
                    Bits::SEQ => frame.items.push(id),
                    Bits::MAP => match frame.pending_key.take() {
                        None => frame.pending_key = Some(id),
                        Some(k) => frame.entries.push((k, id)),
                    },
                    _ => {}
                }
            }
        }
        if self.stack.is_empty() {
            let (n, a) = child;
            tree.decoded = n;
            if self.limits.excessive_aliasing(n, a) {
                return Err(err_at("document contains excessive aliasing", at.line, at.col));
            }
        }
        Ok(())
    }
}

impl Builder<'_, '_> {
    /// With pruning on: hands `id` to the callback and drops it (with every node after it, its
    /// descendants) when it is an item of the root's pruned sequence. Any anchor or alias ends
    /// pruning.
    fn pruned(&mut self, id: NodeId) -> bool {
        let Some(prune) = self.prune.as_mut() else { return false };
        if prune.shared {
            return false;
        }
        let bits = self.tree.node(id).bits();
        if bits.has(Bits::ANCHORED) || bits.kind() == Bits::ALIAS || !self.tree.anchors.is_empty() {
            prune.shared = true;
            return false;
        }
        let [root, seq] = self.stack.as_slice() else { return false };
        let under_key = root.pending_key.is_some_and(
            |k| matches!(self.tree.kind(k), NodeKind::Scalar { value, .. } if self.tree.text(value) == prune.key),
        );
        if !under_key || self.tree.node(seq.id).bits().kind() != Bits::SEQ {
            return false;
        }
        (prune.on_item)(&self.tree, id);
        // The item's nodes go, and with them their scalars' text, their collections' children
        // and their tags: each is the end of its array, from the item's first on.
        let tree = &mut self.tree;
        let mut text_from = None;
        let mut items_from = None;
        let mut entries_from = None;
        for n in &tree.nodes[id.slot()..] {
            let (slot, at) = match n.bits().kind() {
                Bits::SCALAR if !n.bits().has(Bits::IN_SOURCE) => (&mut text_from, n.a),
                Bits::SEQ => (&mut items_from, n.a),
                Bits::MAP => (&mut entries_from, n.a),
                _ => continue,
            };
            *slot = Some(slot.map_or(at, |s: u32| s.min(at)));
        }
        if let Some(at) = text_from {
            tree.strings.truncate(at as usize);
        }
        if let Some(at) = items_from {
            tree.items.truncate(at as usize);
        }
        if let Some(at) = entries_from {
            tree.entries.truncate(at as usize);
        }
        let kept = tree.tags.partition_point(|&(i, _)| i < id.index);
        tree.tags.truncate(kept);
        tree.nodes.truncate(id.slot());
        true
    }
}

impl<'s> Tree<'s> {
    /// Adds a node; None when the tree is full (a NodeId's index is a u32).
    fn push(&mut self, node: Node) -> Option<NodeId> {
        let index = u32::try_from(self.nodes.len()).ok().filter(|&i| i < u32::MAX)?;
        self.nodes.push(node);
        Some(NodeId { tree: self.id, index })
    }

    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// A scalar's text.
    pub fn text(&self, t: Text) -> &str {
        // `Builder::scalar` made `t` from the source or this string, at character boundaries.
        let from = if t.in_source { self.source } else { &self.strings };
        from.get(t.at as usize..(t.at + t.len) as usize).unwrap_or_default()
    }

    /// What [`Tree::str`] gives for `id`, taken out of the tree without a copy when it is in the
    /// tree's own string (which it keeps, its other scalars' text removed); else copied.
    pub fn into_str(mut self, id: NodeId) -> String {
        let Some(text) = self.str(id) else { return String::new() };
        let range = match self.kind(self.resolve(id)) {
            NodeKind::Scalar { value, .. } if !value.in_source => value.at as usize..(value.at + value.len) as usize,
            _ => return text.to_string(),
        };
        let mut strings = std::mem::take(&mut self.strings);
        strings.truncate(range.end);
        strings.drain(..range.start);
        strings
    }

    /// The node `id` names; `id` must come from this tree.
    pub fn node(&self, id: NodeId) -> &Node {
        debug_assert_eq!(id.tree, self.id, "a NodeId used with a tree that did not make it");
        &self.nodes[id.slot()]
    }

    /// What the node `id` is: its kind, with a scalar's text, style and tag or a collection's
    /// children.
    pub fn kind(&self, id: NodeId) -> NodeKind<'_> {
        let n = self.node(id);
        let bits = n.bits();
        let range = |len: usize| {
            let first = (n.a as usize).min(len);
            first..(first + n.b as usize).min(len)
        };
        match bits.kind() {
            Bits::SCALAR => NodeKind::Scalar {
                value: Text { at: n.a, len: n.b, in_source: bits.has(Bits::IN_SOURCE) },
                style: bits.style(),
                tag: if bits.has(Bits::TAGGED) { self.tag_of(id) } else { None },
            },
            Bits::SEQ => NodeKind::Seq { items: &self.items[range(self.items.len())], flow: bits.has(Bits::FLOW) },
            Bits::MAP => {
                NodeKind::Map { entries: &self.entries[range(self.entries.len())], flow: bits.has(Bits::FLOW) }
            }
            _ => NodeKind::Alias { anchor: n.a as usize },
        }
    }

    /// A tagged node's tag, from the side table.
    fn tag_of(&self, id: NodeId) -> Option<&str> {
        let i = self.tags.binary_search_by_key(&id.index, |&(i, _)| i).ok()?;
        Some(&self.tags[i].1)
    }

    /// The anchor defined on this node, 0 when none.
    fn anchor_of(&self, id: NodeId) -> usize {
        if !self.node(id).bits().has(Bits::ANCHORED) {
            return 0;
        }
        let i = self.anchor_ids.binary_search_by_key(&id.index, |&(i, _)| i);
        i.map_or(0, |i| self.anchor_ids[i].1 as usize)
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        debug_assert_eq!(id.tree, self.id, "a NodeId used with a tree that did not make it");
        &mut self.nodes[id.slot()]
    }

    /// Whether some scalar's text may be `s`: false when neither the source nor the tree's own
    /// string holds it anywhere (every scalar's text is a range of one of them), so a search of
    /// a large document for a value written nowhere reads it a vector at a time, node by node
    /// only when it is written somewhere.
    pub fn mentions(&self, s: &str) -> bool {
        let finder = memchr::memmem::Finder::new(s.as_bytes());
        finder.find(self.source.as_bytes()).is_some() || finder.find(self.strings.as_bytes()).is_some()
    }

    /// The line where node `id`'s properties (anchor, tag) are written, as PyYAML's marks name
    /// it: the first thing written after what precedes the node (its key and `:`, its `-`, a
    /// previous item, the document's start), comments and directives aside. A block collection
    /// itself starts at its first child. The node's own line when the tree has no source.
    pub fn properties_line(&self, id: NodeId) -> usize {
        let node = self.node(id);
        let text = self.source.as_bytes();
        let Some(prev) = id.index.checked_sub(1).map(|index| self.node(NodeId { tree: self.id, index })) else {
            return self.first_written_line(0, node);
        };
        // The node made just before is the key, the previous sibling's last node, or the parent.
        let from = if prev.end() <= node.start() { prev.end() } else { prev.start() };
        if text.is_empty() || from > node.start() {
            return node.line();
        }
        self.first_written_line(from, node)
    }

    /// The line of the first character at or after `from` that is not blank, a comment, a
    /// directive, a document marker or an indicator (`:`, `-`, `?`, `,`, `[`, `{`), if it
    /// comes before `node`; else the node's line.
    fn first_written_line(&self, from: usize, node: &Node) -> usize {
        let text = self.source.as_bytes();
        let mut i = from;
        let line_end = |i: usize| memchr::memchr(b'\n', &text[i..]).map_or(text.len(), |n| i + n);
        let mut line_start = text[..from.min(text.len())].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        while i < node.start().min(text.len()) {
            match text[i] {
                b'\n' => line_start = i + 1,
                b' ' | b'\t' | b'\r' | b':' | b'-' | b'?' | b',' | b'[' | b'{' => {}
                // A comment, or a directive at a line's start: up to the line's end.
                b'#' => i = line_end(i) - 1,
                b'%' if i == line_start => i = line_end(i) - 1,
                _ => return memchr::memchr_iter(b'\n', &text[..i]).count() + 1,
            }
            i += 1;
        }
        node.line()
    }

    /// Every tagged node with its tag, scalars and collections, in document order (an alias to
    /// one is not listed: its target comes first).
    pub fn tagged(&self) -> impl Iterator<Item = (NodeId, &str)> {
        self.tags.iter().map(|(index, tag)| (NodeId { tree: self.id, index: *index }, &**tag))
    }

    /// Every node of the tree, in document order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        let tree = self.id;
        // `push` keeps the count within u32.
        (0..u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)).map(move |index| NodeId { tree, index })
    }

    /// Follows an alias to the node it names.
    pub fn resolve(&self, id: NodeId) -> NodeId {
        let n = self.node(id);
        if n.bits().kind() != Bits::ALIAS {
            return id;
        }
        self.anchors.get(&(n.a as usize)).copied().unwrap_or(id)
    }

    /// True for a mapping key `<<` written plain: a merge key.
    pub fn is_merge_key(&self, key: NodeId) -> bool {
        matches!(self.kind(self.resolve(key)), NodeKind::Scalar { value, style: Style::Plain, .. } if self.text(value) == "<<")
    }

    /// True when this node carries an anchor that an alias in the document refers to: editing
    /// it would also change every place that alias stands.
    pub fn is_shared(&self, id: NodeId) -> bool {
        let a = self.anchor_of(id);
        a != 0 && self.aliased.contains(&a)
    }

    pub fn entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        match self.kind(self.resolve(id)) {
            NodeKind::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    pub fn items(&self, id: NodeId) -> &[NodeId] {
        match self.kind(self.resolve(id)) {
            NodeKind::Seq { items, .. } => items,
            _ => &[],
        }
    }

    pub fn is_map(&self, id: NodeId) -> bool {
        matches!(self.kind(self.resolve(id)), NodeKind::Map { .. })
    }

    pub fn is_seq(&self, id: NodeId) -> bool {
        matches!(self.kind(self.resolve(id)), NodeKind::Seq { .. })
    }

    pub fn is_flow(&self, id: NodeId) -> bool {
        matches!(self.kind(id), NodeKind::Seq { flow: true, .. } | NodeKind::Map { flow: true, .. })
    }

    /// The node's value as Kubernetes reads a scalar (YAML 1.1), after following aliases.
    pub fn scalar(&self, id: NodeId) -> Option<Scalar11> {
        match self.kind(self.resolve(id)) {
            NodeKind::Scalar { value, style, tag } => Some(scalar::resolve(self.text(value), style, tag)),
            _ => None,
        }
    }

    /// The node's text when Kubernetes reads it as a string.
    pub fn str(&self, id: NodeId) -> Option<&str> {
        match self.kind(self.resolve(id)) {
            NodeKind::Scalar { value, style, tag } => match scalar::resolve(self.text(value), style, tag) {
                Scalar11::Str => Some(self.text(value)),
                _ => None,
            },
            _ => None,
        }
    }

    /// True for a null scalar (empty, `~`, `null`).
    pub fn is_null(&self, id: NodeId) -> bool {
        matches!(self.scalar(id), Some(Scalar11::Null))
    }

    /// Looks `key` up in a mapping. A key written twice gives the last one (as Kubernetes' and
    /// PyYAML's readers do) and is remembered: see [`Tree::duplicate_reads`].
    pub fn lookup(&self, map: NodeId, key: &str) -> Lookup {
        let mut merged = false;
        let mut found: Option<(NodeId, NodeId)> = None;
        for &(k, v) in self.entries(map) {
            // Most keys differ from `key` (and from `<<`) in length: told apart without a view.
            if !self.scalar_len(k).is_some_and(|len| len == key.len() || len == 2) {
                continue;
            }
            if let NodeKind::Scalar { value, style, .. } = self.kind(self.resolve(k)) {
                let value = self.text(value);
                if value == key {
                    if let Some((first, _)) = found {
                        self.duplicate_reads.borrow_mut().push((first, k));
                    }
                    found = Some((k, v));
                }
                if value == "<<" && style == Style::Plain {
                    merged = true;
                }
            }
        }
        match found {
            Some((key, value)) => Lookup::Found { key, value },
            None if merged => Lookup::Merged,
            None => Lookup::Missing,
        }
    }

    /// Records `key` written twice in any item of `list`, as looking `key` up in every item
    /// would; once per tree, list and key (a list of 100,000 items that several names are
    /// looked for in is read once, and the records are a set: [`Tree::duplicate_reads`]).
    pub fn record_twice_in_items(&self, list: NodeId, key: &str) {
        {
            let mut checked = self.items_checked.borrow_mut();
            if checked.iter().any(|(l, k)| *l == list && **k == *key) {
                return;
            }
            checked.push((list, key.into()));
        }
        for &item in self.items(list) {
            if self.may_write_twice(item, key) {
                self.lookup(item, key);
            }
        }
    }

    /// Whether mapping `map` may write `key` twice: two of its scalar keys have that many bytes
    /// of text. A cheap test before [`Tree::lookup`], which records a key written twice.
    fn may_write_twice(&self, map: NodeId, key: &str) -> bool {
        self.entries(map).iter().filter(|&&(k, _)| self.scalar_len(k) == Some(key.len())).nth(1).is_some()
    }

    /// The length in bytes of a scalar's text (after following aliases), read off its node.
    fn scalar_len(&self, id: NodeId) -> Option<usize> {
        let n = self.node(self.resolve(id));
        (n.bits().kind() == Bits::SCALAR).then_some(n.b as usize)
    }

    /// Records two keys (or two `name:` values of list items) that readers take as one, so the
    /// pipeline refuses the document (see [`Tree::duplicate_reads`]).
    pub fn record_duplicate(&self, first: NodeId, last: NodeId) {
        self.duplicate_reads.borrow_mut().push((first, last));
    }

    /// How many nodes a reader decodes with aliases expanded (large for alias bombs, which only
    /// `--allow-excessive-aliasing` lets through).
    pub fn decoded_nodes(&self) -> u64 {
        self.decoded
    }

    /// The duplicated keys that lookups have met so far: (line of the first, line of the last, key).
    pub fn duplicate_reads(&self) -> Vec<(usize, usize, String)> {
        let mut out: Vec<(usize, usize, String)> = self
            .duplicate_reads
            .borrow()
            .iter()
            .map(|&(a, b)| {
                let key = match self.kind(self.resolve(b)) {
                    NodeKind::Scalar { value, .. } => self.text(value).to_string(),
                    _ => String::new(),
                };
                (self.node(a).line(), self.node(b).line(), key)
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The node's value as PyYAML's `safe_load` reads a scalar (SkyPilot's config.yaml).
    pub fn pyyaml(&self, id: NodeId) -> Option<PyScalar> {
        match self.kind(self.resolve(id)) {
            NodeKind::Scalar { value, style, tag } => Some(scalar::resolve_pyyaml(self.text(value), style, tag)),
            _ => None,
        }
    }

    /// The node's text when PyYAML reads it as a string.
    pub fn py_str(&self, id: NodeId) -> Option<&str> {
        match self.kind(self.resolve(id)) {
            NodeKind::Scalar { value, style, tag } => {
                let value = self.text(value);
                (scalar::resolve_pyyaml(value, style, tag) == PyScalar::Str).then_some(value)
            }
            _ => None,
        }
    }

    /// The explicit tag of a scalar (after following aliases), as `tag:yaml.org,2002:int` or `!foo`.
    pub fn tag(&self, id: NodeId) -> Option<&str> {
        match self.kind(self.resolve(id)) {
            NodeKind::Scalar { tag, .. } => tag,
            _ => None,
        }
    }

    /// The scalar's text as written (after following aliases), whatever it means.
    pub fn raw(&self, id: NodeId) -> Option<&str> {
        match self.kind(self.resolve(id)) {
            NodeKind::Scalar { value, .. } => Some(self.text(value)),
            _ => None,
        }
    }

    /// The value under `key`, if written in this mapping.
    pub fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        match self.lookup(map, key) {
            Lookup::Found { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Follows a path of mapping keys from `from`.
    pub fn path(&self, from: NodeId, keys: &[&str]) -> Option<NodeId> {
        keys.iter().try_fold(from, |at, k| self.get(at, k))
    }

    /// String under `key` of a mapping.
    pub fn get_str(&self, map: NodeId, key: &str) -> Option<&str> {
        self.get(map, key).and_then(|v| self.str(v))
    }

    /// All nodes, for checks over the whole document.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

impl<'s> Tree<'s> {
    /// The node as JSON, with YAML 1.1 meaning (as Kubernetes reads it): aliases expanded,
    /// merge keys applied. For reading existing objects into typed structs; never re-emitted.
    pub fn to_json(&self, id: NodeId) -> serde_json::Value {
        self.to_json_as(id, Reader::Kubernetes)
    }

    /// The node as JSON as `reader` reads it. PyYAML's dates and unconstructible values become
    /// tagged strings (`!!timestamp 2001-12-14`), so they never equal a plain string.
    pub fn to_json_as(&self, id: NodeId, reader: Reader) -> serde_json::Value {
        use serde_json::Value;
        let id = self.resolve(id);
        match self.kind(id) {
            NodeKind::Scalar { value, style, tag } => scalar_json(self.text(value), style, tag, reader),
            NodeKind::Seq { items, .. } => Value::Array(items.iter().map(|&i| self.to_json_as(i, reader)).collect()),
            NodeKind::Map { entries, .. } => {
                let mut out = serde_json::Map::new();
                for &(k, v) in entries {
                    let key = self.to_json_as(k, reader);
                    let is_merge = matches!(self.kind(self.resolve(k)), NodeKind::Scalar { value, style: Style::Plain, .. } if self.text(value) == "<<");
                    if is_merge {
                        let sources = match self.to_json_as(v, reader) {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        for src in sources {
                            if let Value::Object(m) = src {
                                for (mk, mv) in m {
                                    out.entry(mk).or_insert(mv);
                                }
                            }
                        }
                        continue;
                    }
                    out.insert(key_text(key), self.to_json_as(v, reader));
                }
                Value::Object(out)
            }
            NodeKind::Alias { .. } => Value::Null,
        }
    }
}

impl<'s> Tree<'s> {
    /// Every key written more than once in one mapping (as `reader` reads keys; merge keys
    /// aside), with the values of all its entries in order. A reader keeps only the last
    /// entry, so the meaning ([`Tree::to_json_as`]) alone cannot tell `a: 1` from `a: 1\na: 1`.
    pub fn duplicated_keys(&self, reader: Reader) -> Vec<(String, Vec<serde_json::Value>)> {
        let mut out = Vec::new();
        // Reused from one mapping to the next: a document of 100,000 small mappings allocates
        // it once.
        let mut keys: Vec<(std::borrow::Cow<'_, str>, NodeId)> = Vec::new();
        for id in self.ids() {
            let NodeKind::Map { entries, .. } = self.kind(id) else { continue };
            if entries.len() < 2 {
                continue;
            }
            keys.clear();
            for &(k, v) in entries {
                let merge = matches!(self.kind(self.resolve(k)), NodeKind::Scalar { value, style: Style::Plain, .. } if self.text(value) == "<<");
                if !merge {
                    keys.push((self.key_name(k, reader), v));
                }
            }
            let duplicated = |k: &str, out: &mut Vec<(String, Vec<serde_json::Value>)>| {
                let values = keys.iter().filter(|(o, _)| o == k).map(|&(_, v)| self.to_json_as(v, reader)).collect();
                out.push((k.to_string(), values));
            };
            if keys.len() <= 16 {
                // Few keys: compared pairwise, each duplicated key once at its first entry.
                for (i, (k, _)) in keys.iter().enumerate() {
                    if !keys[..i].iter().any(|(o, _)| o == k) && keys[i + 1..].iter().any(|(o, _)| o == k) {
                        duplicated(k, &mut out);
                    }
                }
                continue;
            }
            let mut count: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
            for (k, _) in &keys {
                *count.entry(k).or_default() += 1;
            }
            for (k, _) in &keys {
                // Each duplicated key once, at its first entry.
                if count.insert(k, 0).unwrap_or(0) > 1 {
                    duplicated(k, &mut out);
                }
            }
        }
        out
    }

    /// A mapping key as `reader` reads it, as the key of a JSON object ([`Tree::to_json_as`]):
    /// borrowed when it reads as a string.
    pub fn key_name(&self, key: NodeId, reader: Reader) -> std::borrow::Cow<'_, str> {
        match self.kind(self.resolve(key)) {
            NodeKind::Scalar { value, style, tag } => key_name(self.text(value), style, tag, reader),
            _ => std::borrow::Cow::Owned(key_text(self.to_json_as(key, reader))),
        }
    }
}

/// The scalar style of a parser's event.
fn style_of(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        _ => Style::Folded,
    }
}

/// A scalar's meaning as JSON to `reader`, from its text, style and tag ([`Tree::to_json_as`]
/// of a scalar node). PyYAML's dates and unconstructible values become tagged strings
/// (`!!timestamp 2001-12-14`), so they never equal a plain string.
pub fn scalar_json(value: &str, style: Style, tag: Option<&str>, reader: Reader) -> serde_json::Value {
    use serde_json::Value;
    let number = |i: i128| i64::try_from(i).map_or_else(|_| Value::String(value.to_string()), Value::from);
    let float = |f: f64| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    match reader {
        Reader::PyYaml => match scalar::resolve_pyyaml(value, style, tag) {
            PyScalar::Null => Value::Null,
            PyScalar::Bool(b) => Value::Bool(b),
            PyScalar::Int(i) => number(i),
            PyScalar::Float(f) => float(f),
            PyScalar::Timestamp => Value::String(format!("!!timestamp {value}")),
            PyScalar::Unconstructible => Value::String(format!("!!value {value}")),
            PyScalar::Str => Value::String(value.to_string()),
        },
        Reader::Kubernetes => match scalar::resolve(value, style, tag) {
            Scalar11::Null => Value::Null,
            Scalar11::Bool(b) => Value::Bool(b),
            Scalar11::Int(i) => number(i),
            Scalar11::Float(f) => float(f),
            _ => Value::String(value.to_string()),
        },
    }
}

/// A scalar's text when `reader` reads it as a string ([`Tree::str`], [`Tree::py_str`]).
pub fn scalar_str<'t>(value: &'t str, style: Style, tag: Option<&str>, reader: Reader) -> Option<&'t str> {
    let is_str = match reader {
        Reader::Kubernetes => scalar::resolve(value, style, tag) == Scalar11::Str,
        Reader::PyYaml => scalar::resolve_pyyaml(value, style, tag) == PyScalar::Str,
    };
    is_str.then_some(value)
}

/// A scalar mapping key as `reader` reads it, as the key of a JSON object ([`Tree::key_name`]):
/// borrowed when it reads as a string.
pub fn key_name<'t>(value: &'t str, style: Style, tag: Option<&str>, reader: Reader) -> std::borrow::Cow<'t, str> {
    match scalar_str(value, style, tag, reader) {
        Some(t) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(key_text(scalar_json(value, style, tag, reader))),
    }
}

/// A parser's event as [`read_plain`] gives it: a scalar's style as the tree keeps it.
pub enum PlainEvent<'a> {
    Scalar {
        text: std::borrow::Cow<'a, str>,
        style: Style,
        tagged: bool,
    },
    SequenceStart {
        tagged: bool,
    },
    MappingStart {
        tagged: bool,
    },
    /// An untagged literal block scalar, undecoded (`Literal::equals` compares it in place).
    Literal(super::fast::Literal<'a>),
    End,
    /// An alias, or anything else than one document of nodes.
    Other,
}

/// Reads `text` once without building a tree, when the fast reader takes it whole and its
/// lines are within `limits` (as [`Tree::parse`] checks them): `sink` gets each node's events
/// (and answers false to stop). False when it was not read whole that way: the caller then
/// discards what it was given and parses the text ([`Tree::parse`] says what is wrong, if
/// anything). Nesting is the caller's to count against `limits.max_depth`.
pub fn read_plain<'a>(text: &'a str, limits: &Limits, sink: &mut dyn FnMut(PlainEvent<'a>) -> bool) -> bool {
    if check_lines(text, limits).is_err() {
        return false;
    }
    let literal = std::cell::RefCell::new(sink);
    let lazy = &mut |block, _| (literal.borrow_mut())(PlainEvent::Literal(block));
    super::fast::parse_lazily(
        text,
        &mut |event, _| {
            let event = match event {
                Event::StreamStart | Event::StreamEnd | Event::DocumentStart(..) | Event::DocumentEnd => return true,
                Event::Scalar(text, style, _, tag) => {
                    PlainEvent::Scalar { text, style: style_of(style), tagged: tag.is_some() }
                }
                Event::SequenceStart(_, _, tag) => PlainEvent::SequenceStart { tagged: tag.is_some() },
                Event::MappingStart(_, _, tag) => PlainEvent::MappingStart { tagged: tag.is_some() },
                Event::SequenceEnd | Event::MappingEnd => PlainEvent::End,
                _ => PlainEvent::Other,
            };
            (literal.borrow_mut())(event)
        },
        lazy,
    )
    .is_ok()
}

/// A mapping key's meaning as the key of a JSON object.
fn key_text(key: serde_json::Value) -> String {
    match key {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scalar's text is found wherever the tree keeps it: in the source as written, or
    /// decoded in the tree's own string (escapes, a literal block, an owning tree).
    #[test]
    fn mentions_finds_every_scalar_text() {
        let l = Limits::default();
        let text = "a: \"KUBE\\x43ONFIG\"\nb: plain\nc: |\n  two\n  lines\nd: &x anchored\ne: *x\n";
        let borrowing = Tree::parse(text, &l).unwrap();
        let owning = Tree::parse_owned(text, &l).unwrap();
        for tree in [&borrowing, &owning] {
            for id in tree.ids() {
                if let Some(raw) = tree.raw(id) {
                    assert!(tree.mentions(raw), "{raw}");
                }
            }
            assert!(tree.mentions("KUBECONFIG") && tree.mentions("two\nlines\n"));
            assert!(!tree.mentions("HOME"));
        }
    }

    /// The line check crossed a window at a time passes and refuses exactly what a check of
    /// every line does, and names the same line: lines of every length around the limit, with
    /// and without a final line break, at limits of 0 to 12.
    #[test]
    fn line_check_by_windows_is_the_line_by_line_check() {
        let mut seed = 0x2545_f491_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as usize
        };
        for _ in 0..20_000 {
            let lines = next(6);
            let mut text = String::new();
            for i in 0..lines {
                text.push_str(&"x".repeat(next(14)));
                if i + 1 < lines || next(2) == 0 {
                    text.push('\n');
                }
            }
            let max = next(13);
            let limits = Limits { max_line_bytes: max, ..Limits::default() };
            let long = text.split('\n').position(|l| l.len() > max);
            match check_lines(&text, &limits) {
                Ok(()) => assert_eq!(long, None, "{text:?} {max}"),
                Err(e) => {
                    assert_eq!(Some(e.line), long.map(|i| i + 1), "{text:?} {max}");
                    assert!(e.message.starts_with("a line of "), "{}", e.message);
                }
            }
        }
    }

    /// The parser runs without capturing comments: it must give the same events at the same
    /// places as with them (comments anywhere: between keys and values, in flow collections,
    /// after block scalar headers, in sequences, at document edges), on the project's inputs too.
    #[test]
    fn comments_off_gives_the_same_events() {
        let events = |text: &str, comments: bool| {
            let mut o = parser_options(&Limits::default());
            o.emit_comments = comments;
            // The reference captures comments without the parser's cap on how many it buffers
            // in one place (96 by default: 300 comments between a key and its value failed).
            o.max_buffered_comment_events = usize::MAX;
            let mut p = Parser::new_from_str_with_options(text, o);
            let mut out = Vec::new();
            while let Some(item) = p.next_event() {
                match item {
                    Ok((Event::Comment(..), _)) => {}
                    Ok((e, span)) => {
                        out.push(format!("{e:?} {:?} {:?}", span.start.byte_offset(), span.end.byte_offset()))
                    }
                    Err(e) => {
                        out.push(format!("error {e:?}"));
                        break;
                    }
                }
            }
            out
        };
        let mut texts: Vec<String> = [
            "# head\na: 1 # after\n# between\nb: # before value\n  # inside\n  c: [x, # in flow\n    y]\n",
            "? a # key\n# c\n: b\nc: [x]\n",
            "k: | # header\n  text # not a comment\n  # still text\n# out\nl: >-\n  f\n",
            "- # item\n  a: 1\n-   # c\n  - b\n--- # doc\nx: 'y' #c\n... # end\n",
            "a: b#c\nd: 'e'#f\n",
            "{a: 1, # c\n b: [2 #x\n ]}\n",
            "a:\n# c1\n# c2\n  - 1\n",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        texts.push(format!("a:\n{}  b: 1\n", "  # c\n".repeat(300)));
        texts.push(format!("? a\n{}: b\n", "# c\n".repeat(300)));
        let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        // The upstream renders beside the project root or beside one of its ancestors (as the
        // integration tests find them); missing is a failure.
        let upstream = project
            .ancestors()
            .map(|a| a.join("shared/fixtures/upstream-skypilot"))
            .find(|p| p.is_dir())
            .expect("shared/fixtures/upstream-skypilot above the project");
        for root in [upstream, project.join("examples")] {
            let mut stack = vec![root];
            while let Some(p) = stack.pop() {
                if p.is_dir() {
                    stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                } else if p.extension().is_some_and(|e| e == "yaml") {
                    texts.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        assert!(texts.len() > 12, "{}", texts.len());
        for t in &texts {
            let off = events(t, false);
            // Every text is valid YAML but this one (an unseparated comment), refused alike.
            let refused = off.iter().any(|e| e.starts_with("error"));
            assert_eq!(refused, t.contains("'e'#f"), "{t}: {off:?}");
            assert_eq!(off, events(t, true), "{t}");
        }
    }

    #[test]
    fn pruning_hands_over_each_item_and_keeps_the_rest() {
        let text = "kind: Role\nrules:\n- verbs: [get]\n  resources: [pods]\n- {verbs: ['*']}\nother: [1, 2]\n";
        let mut seen = Vec::new();
        let tree = Tree::parse_pruning(text, &Limits::default(), "rules", &mut |t, id| seen.push(t.to_json(id)))
            .unwrap()
            .unwrap();
        assert_eq!(
            seen,
            [serde_json::json!({"verbs": ["get"], "resources": ["pods"]}), serde_json::json!({"verbs": ["*"]})]
        );
        let root = tree.root().unwrap();
        assert_eq!(tree.to_json(root), serde_json::json!({"kind": "Role", "rules": [], "other": [1, 2]}));
        // An anchor anywhere: no pruning.
        let shared = "rules:\n- &r {verbs: [get]}\n- *r\n";
        assert!(Tree::parse_pruning(shared, &Limits::default(), "rules", &mut |_, _| {}).unwrap().is_none());
    }

    /// Issue 23: a document of 100,000 env entries is half a million nodes; a scalar's text is
    /// a range of the tree's one string, a collection's children a range of its one array, tags
    /// and anchors in side tables, positions 32 bits and the kind in the column's high byte.
    #[test]
    fn a_node_stays_small() {
        assert!(std::mem::size_of::<Node>() <= 24, "{}", std::mem::size_of::<Node>());
    }

    /// A position past 32 bits is refused as a document too large, never truncated; a column
    /// past 24 bits is refused too.
    #[test]
    fn positions_past_32_bits_are_refused() {
        let at = At { start: 1, end: u32::MAX as usize + 1, line: 1, col: 0 };
        let e = at.node(Bits(Bits::ALIAS), 1, 0).unwrap_err();
        assert_eq!(e.message, TOO_LARGE);
        let at = At { start: 1, end: 2, line: 1, col: COL_MASK as usize + 1 };
        assert!(at.node(Bits(Bits::ALIAS), 1, 0).is_err());
        let at = At { start: 1, end: 2, line: 1, col: COL_MASK as usize };
        let n = at.node(Bits::scalar(Style::Folded, true, false), 7, 9).unwrap();
        assert_eq!((n.start(), n.end(), n.line(), n.col()), (1, 2, 1, COL_MASK as usize));
        assert_eq!(
            (n.bits().style(), n.bits().has(Bits::TAGGED), n.bits().has(Bits::FLOW)),
            (Style::Folded, true, false)
        );
    }

    /// Every style, kind and flag comes back out of the column's high byte as it went in, and
    /// leaves the column alone.
    #[test]
    fn bits_round_trip() {
        let styles = [Style::Plain, Style::SingleQuoted, Style::DoubleQuoted, Style::Literal, Style::Folded];
        let mut n = Node { start: 0, end: 0, line: 1, col: 12345, a: 0, b: 0 };
        for style in styles {
            for (tagged, in_source) in [(false, false), (false, true), (true, false), (true, true)] {
                n.set_bits(Bits::scalar(style, tagged, in_source));
                let b = n.bits();
                assert_eq!(
                    (n.col(), b.kind(), b.style(), b.has(Bits::TAGGED), b.has(Bits::IN_SOURCE)),
                    (12345, Bits::SCALAR, style, tagged, in_source)
                );
            }
        }
        for (map, flow) in [(false, false), (false, true), (true, false), (true, true)] {
            n.set_bits(Bits::collection(map, flow));
            let kind = if map { Bits::MAP } else { Bits::SEQ };
            assert_eq!(
                (n.col(), n.bits().kind(), n.bits().has(Bits::FLOW), n.bits().has(Bits::ANCHORED)),
                (12345, kind, flow, false)
            );
        }
    }

    /// Tags and anchors live in side tables: each node gets its own back, pruning or not.
    #[test]
    fn tags_and_anchors_come_back_per_node() {
        let text = "a: !!str 1\nb: &x [!t 2, 3]\nc: *x\nd: {e: !!int '4'}\n";
        let tree = Tree::parse(text, &Limits::default()).unwrap();
        let tags: Vec<(String, Option<&str>)> = tree
            .ids()
            .filter(|&id| tree.node(id).is_scalar())
            .map(|id| (tree.raw(id).unwrap().to_string(), tree.tag(id)))
            .collect();
        assert_eq!(
            tags,
            [
                ("a", None),
                ("1", Some("tag:yaml.org,2002:str")),
                ("b", None),
                ("2", Some("!t")),
                ("3", None),
                ("c", None),
                ("d", None),
                ("e", None),
                ("4", Some("tag:yaml.org,2002:int"))
            ]
            .map(|(a, b)| (a.to_string(), b))
        );
        assert_eq!(
            tree.to_json(tree.root().unwrap()),
            serde_json::json!({"a": "1", "b": [2, 3], "c": [2, 3], "d": {"e": 4}})
        );
        let b = tree.get(tree.root().unwrap(), "b").unwrap();
        assert!(tree.is_shared(b));
        assert!(!tree.is_shared(tree.get(tree.root().unwrap(), "d").unwrap()));
    }

    #[test]
    fn a_node_id_is_as_small_as_an_index() {
        assert_eq!(std::mem::size_of::<NodeId>(), 8);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a NodeId used with a tree that did not make it")]
    fn a_node_of_another_tree_is_refused() {
        let a = Tree::parse("a: 1", &Limits::default()).unwrap();
        let b = Tree::parse("a: 1", &Limits::default()).unwrap();
        let _ = b.node(a.root().unwrap());
    }
}
