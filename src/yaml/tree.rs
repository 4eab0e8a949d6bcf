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

/// A scalar's text, kept in its tree's one string (`Tree::text` reads it): a document of a
/// million scalars makes one allocation for them, not a million.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    at: u32,
    len: u32,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A tag is rare: kept out of line behind one pointer ([`Tag`]).
    Scalar {
        value: Text,
        style: Style,
        tag: Option<Tag>,
    },
    /// Children as boxed slices, built in the builder's frames and sized exactly when the
    /// collection closes (a config.yaml of 200,000 lines has 100,000 small mappings).
    Seq {
        items: Box<[NodeId]>,
        flow: bool,
    },
    Map {
        entries: Box<[(NodeId, NodeId)]>,
        flow: bool,
    },
    Alias {
        anchor: usize,
    },
}

/// A scalar's explicit tag, as `tag:yaml.org,2002:int` or `!foo`, behind one thin pointer (so a
/// node is 48 bytes, not 56).
pub type Tag = Box<Box<str>>;

/// A tag as text.
fn tag_str(tag: &Option<Tag>) -> Option<&str> {
    tag.as_deref().map(|t| &**t)
}

/// Positions are kept in 32 bits (56 bytes a node, not 72; a config.yaml of 200,000 lines has
/// half a million nodes): a document's text is at most 4 GiB (its scalars' text already is,
/// see [`Text`]), and the parser refuses a larger one.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    start: u32,
    end: u32,
    line: u32,
    col: u32,
    anchor: u32,
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
        self.col as usize
    }

    /// Anchor id defined on this node, 0 when none.
    pub fn anchor(&self) -> usize {
        self.anchor as usize
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

#[derive(Debug)]
pub struct Tree {
    id: TreeId,
    nodes: Vec<Node>,
    /// The text of every scalar, one after the other.
    strings: String,
    root: Option<NodeId>,
    anchors: HashMap<usize, NodeId>,
    aliased: Vec<usize>,
    /// Keys looked up that the mapping holds twice: (first key, last key). Readers take the last
    /// one, so an edit of the first would not take effect; the pipeline refuses these.
    duplicate_reads: std::cell::RefCell<Vec<(NodeId, NodeId)>>,
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

impl Tree {
    /// Parses the first document of `text`. Empty and comment-only text gives a tree without
    /// a root. A second document in the same text is an error: callers split streams first.
    pub fn parse(text: &str, limits: &Limits) -> Result<Tree, ParseError> {
        Tree::parse_with(text, limits, None).map(|(tree, _)| tree)
    }

    /// Parses as `parse`, but hands each item of the sequence under the root mapping's key
    /// `key` to `on_item` as soon as it is complete and then drops it: the tree returned has
    /// that sequence empty, so a document of a million such items never holds them all (an
    /// RBAC Role's `rules`). None when the document has an anchor or an alias (an item could
    /// be shared): the caller parses it whole instead.
    pub fn parse_pruning<'a>(
        text: &str,
        limits: &'a Limits,
        key: &'a str,
        on_item: &'a mut dyn FnMut(&Tree, NodeId),
    ) -> Result<Option<Tree>, ParseError> {
        let (tree, pruned) = Tree::parse_with(text, limits, Some(Prune { key, on_item, shared: false }))?;
        Ok(pruned.then_some(tree))
    }

    /// Parses; with `prune`, returns whether pruning held (no anchor or alias).
    fn parse_with<'a>(text: &str, limits: &'a Limits, prune: Option<Prune<'a>>) -> Result<(Tree, bool), ParseError> {
        check_lines(text, limits)?;
        // Plain block YAML first, with the fast reader; anything it does not take (or that the
        // builder refuses: the full parser then says why) is parsed again in full. Not while
        // pruning: the callback must see each item once.
        if prune.is_none() {
            let mut builder = Builder::new(limits);
            builder.tree.strings.reserve(text.len());
            if super::fast::parse(text, &mut |event, at| builder.event(event, at).is_ok()).is_ok() {
                builder.tree.nodes.shrink_to_fit();
                builder.tree.strings.shrink_to_fit();
                return Ok((builder.tree, true));
            }
        }
        let mut builder = Builder::new(limits);
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
    on_item: &'c mut dyn FnMut(&Tree, NodeId),
    /// An anchor or alias was seen: pruning stops (the caller parses the whole document).
    shared: bool,
}

/// Refuses lines the parser should never see: longer than `--max-line-bytes`, or broken by a
/// bare CR (YAML breaks lines there too; skyhelm edits by `\n` lines, and real manifests use
/// LF or CRLF).
fn check_lines(text: &str, limits: &Limits) -> Result<(), ParseError> {
    if let Some((i, line)) = text.split('\n').enumerate().find(|(_, l)| l.len() > limits.max_line_bytes) {
        return Err(err_at(
            format!("a line of {} bytes, more than --max-line-bytes {}", line.len(), limits.max_line_bytes),
            i + 1,
            0,
        ));
    }
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
    fn node(self, kind: NodeKind, anchor: usize) -> Result<Node, ParseError> {
        Ok(Node {
            kind,
            start: fit(self.start, &self)?,
            end: fit(self.end, &self)?,
            line: fit(self.line, &self)?,
            col: fit(self.col, &self)?,
            anchor: fit(anchor, &self)?,
        })
    }
}

/// A collection being built: its node, and a key read whose value has not come yet.
struct Frame {
    id: NodeId,
    pending_key: Option<NodeId>,
    /// The collection's children so far (its node gets them, sized exactly, when it closes).
    items: Vec<NodeId>,
    entries: Vec<(NodeId, NodeId)>,
    /// Nodes decoded so far with aliases expanded, and how many of those through an alias
    /// (see `Builder::anchored`).
    count: (u64, u64),
}

/// Builds a tree from the parser's events, one at a time.
struct Builder<'l> {
    tree: Tree,
    limits: &'l Limits,
    /// The collections open around the current event, innermost last.
    stack: Vec<Frame>,
    /// Per anchored node: nodes decoded with aliases expanded, and how many of those are decoded
    /// through an alias, as go-yaml v2 counts them for its excessive-aliasing check (an alias
    /// decodes its anchor's nodes again). Other nodes' counts live in their parent's frame only.
    anchored: HashMap<NodeId, (u64, u64)>,
    documents: usize,
    /// Anchored collections not yet closed: an alias to one would make the value contain itself.
    open: std::collections::HashSet<NodeId>,
    prune: Option<Prune<'l>>,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Builder {
            tree: Tree {
                id: TreeId::next(),
                nodes: Vec::new(),
                strings: String::new(),
                root: None,
                anchors: HashMap::new(),
                aliased: Vec::new(),
                duplicate_reads: std::cell::RefCell::new(Vec::new()),
                decoded: 0,
            },
            limits,
            stack: Vec::new(),
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
            Event::SequenceStart(style, anchor, _) | Event::MappingStart(style, anchor, _) => {
                let flow = style == granit_parser::StructureStyle::Flow;
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    NodeKind::Seq { items: Box::default(), flow }
                } else {
                    NodeKind::Map { entries: Box::default(), flow }
                };
                self.open_collection(kind, anchor, at)?;
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

    /// Adds a node.
    fn push(&mut self, node: Node) -> Result<NodeId, ParseError> {
        let (line, col) = (node.line(), node.col());
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
        let style = style_of(style);
        let strings = &mut self.tree.strings;
        let value = match (u32::try_from(strings.len()), u32::try_from(text.len())) {
            (Ok(start), Ok(len)) if start.checked_add(len).is_some() => Text { at: start, len },
            _ => return Err(err_at(TOO_LARGE, at.line, at.col)),
        };
        strings.push_str(text);
        let id = self.push(
            at.node(NodeKind::Scalar { value, style, tag: tag.map(|t| Box::new(t.into_boxed_str())) }, anchor)?,
        )?;
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
        let id = self.push(at.node(NodeKind::Alias { anchor }, 0)?)?;
        Ok((id, (n.saturating_add(1), n)))
    }

    fn open_collection(&mut self, kind: NodeKind, anchor: usize, at: At) -> Result<(), ParseError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(err_at(max_depth_message(self.limits.max_depth), at.line, at.col));
        }
        let id = self.push(at.node(kind, anchor)?)?;
        if anchor != 0 {
            self.tree.anchors.insert(anchor, id);
            self.open.insert(id);
        }
        self.stack.push(Frame { id, pending_key: None, items: Vec::new(), entries: Vec::new(), count: (1, 0) });
        Ok(())
    }

    /// Closes the innermost collection: a flow collection ends past its closing bracket, a
    /// block collection with its last child.
    fn close_collection(&mut self, at: At) -> Result<(NodeId, (u64, u64)), ParseError> {
        let frame = self.stack.pop().ok_or_else(|| err_at("unbalanced collection end", at.line, at.col))?;
        let id = frame.id;
        self.open.remove(&id);
        let tree = &mut self.tree;
        let (flow, last_child) = match &mut tree.node_mut(id).kind {
            NodeKind::Seq { items, flow } => {
                let last = frame.items.last().copied();
                *items = frame.items.into_boxed_slice();
                (*flow, last)
            }
            NodeKind::Map { entries, flow } => {
                let last = frame.entries.last().map(|e| e.1);
                *entries = frame.entries.into_boxed_slice();
                (*flow, last)
            }
            _ => (false, None),
        };
        tree.node_mut(id).end =
            if flow { fit(at.end, &at)? } else { last_child.map_or(tree.node(id).start, |c| tree.node(c).end) };
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
        if tree.node(id).anchor != 0 {
            if let NodeKind::Scalar { .. } = tree.node(id).kind {
                tree.anchors.insert(tree.node(id).anchor(), id);
            }
            self.anchored.insert(id, child);
        }
        match self.stack.last_mut() {
            None => tree.root = Some(id),
            Some(frame) => {
                let parent = frame.id;
                let e = &mut frame.count;
                *e = (e.0.saturating_add(child.0), e.1.saturating_add(child.1));
                match &tree.node(parent).kind {
                    NodeKind::Seq { .. } => frame.items.push(id),
                    NodeKind::Map { .. } => match frame.pending_key.take() {
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

impl Builder<'_> {
    /// With pruning on: hands `id` to the callback and drops it (with every node after it, its
    /// descendants) when it is an item of the root's pruned sequence. Any anchor or alias ends
    /// pruning.
    fn pruned(&mut self, id: NodeId) -> bool {
        let Some(prune) = self.prune.as_mut() else { return false };
        if prune.shared {
            return false;
        }
        let node = self.tree.node(id);
        if node.anchor != 0 || matches!(node.kind, NodeKind::Alias { .. }) || !self.tree.anchors.is_empty() {
            prune.shared = true;
            return false;
        }
        let [root, seq] = self.stack.as_slice() else { return false };
        let under_key = root.pending_key.is_some_and(
            |k| matches!(&self.tree.node(k).kind, NodeKind::Scalar { value, .. } if self.tree.text(*value) == prune.key),
        );
        if !under_key || !matches!(self.tree.node(seq.id).kind, NodeKind::Seq { .. }) {
            return false;
        }
        (prune.on_item)(&self.tree, id);
        // The item's scalars' text goes with it: it is the end of the tree's string, from its
        // first scalar on.
        let tree = &mut self.tree;
        let text_from = tree.nodes[id.slot()..].iter().find_map(|n| match n.kind {
            NodeKind::Scalar { value, .. } => Some(value.at as usize),
            _ => None,
        });
        if let Some(at) = text_from {
            tree.strings.truncate(at);
        }
        tree.nodes.truncate(id.slot());
        true
    }
}

impl Tree {
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
        // `Builder::scalar` made `t` from this string, at character boundaries.
        self.strings.get(t.at as usize..(t.at + t.len) as usize).unwrap_or_default()
    }

    /// The node `id` names; `id` must come from this tree.
    pub fn node(&self, id: NodeId) -> &Node {
        debug_assert_eq!(id.tree, self.id, "a NodeId used with a tree that did not make it");
        &self.nodes[id.slot()]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        debug_assert_eq!(id.tree, self.id, "a NodeId used with a tree that did not make it");
        &mut self.nodes[id.slot()]
    }

    /// Every node of the tree, in document order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        let tree = self.id;
        // `push` keeps the count within u32.
        (0..u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)).map(move |index| NodeId { tree, index })
    }

    /// Follows an alias to the node it names.
    pub fn resolve(&self, id: NodeId) -> NodeId {
        match self.node(id).kind {
            NodeKind::Alias { anchor } => self.anchors.get(&anchor).copied().unwrap_or(id),
            _ => id,
        }
    }

    /// True for a mapping key `<<` written plain: a merge key.
    pub fn is_merge_key(&self, key: NodeId) -> bool {
        matches!(&self.node(self.resolve(key)).kind, NodeKind::Scalar { value, style: Style::Plain, .. } if self.text(*value) == "<<")
    }

    /// True when this node carries an anchor that an alias in the document refers to: editing
    /// it would also change every place that alias stands.
    pub fn is_shared(&self, id: NodeId) -> bool {
        let a = self.node(id).anchor();
        a != 0 && self.aliased.contains(&a)
    }

    pub fn entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    pub fn items(&self, id: NodeId) -> &[NodeId] {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Seq { items, .. } => items,
            _ => &[],
        }
    }

    pub fn is_map(&self, id: NodeId) -> bool {
        matches!(self.node(self.resolve(id)).kind, NodeKind::Map { .. })
    }

    pub fn is_seq(&self, id: NodeId) -> bool {
        matches!(self.node(self.resolve(id)).kind, NodeKind::Seq { .. })
    }

    pub fn is_flow(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, NodeKind::Seq { flow: true, .. } | NodeKind::Map { flow: true, .. })
    }

    /// The node's value as Kubernetes reads a scalar (YAML 1.1), after following aliases.
    pub fn scalar(&self, id: NodeId) -> Option<Scalar11> {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Scalar { value, style, tag } => Some(scalar::resolve(self.text(*value), *style, tag_str(tag))),
            _ => None,
        }
    }

    /// The node's text when Kubernetes reads it as a string.
    pub fn str(&self, id: NodeId) -> Option<&str> {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Scalar { value, style, tag } => match scalar::resolve(self.text(*value), *style, tag_str(tag)) {
                Scalar11::Str => Some(self.text(*value)),
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
            if let NodeKind::Scalar { value, style, .. } = &self.node(self.resolve(k)).kind {
                let value = self.text(*value);
                if value == key {
                    if let Some((first, _)) = found {
                        self.duplicate_reads.borrow_mut().push((first, k));
                    }
                    found = Some((k, v));
                }
                if value == "<<" && *style == Style::Plain {
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
                let key = match &self.node(self.resolve(b)).kind {
                    NodeKind::Scalar { value, .. } => self.text(*value).to_string(),
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
        match &self.node(self.resolve(id)).kind {
            NodeKind::Scalar { value, style, tag } => {
                Some(scalar::resolve_pyyaml(self.text(*value), *style, tag_str(tag)))
            }
            _ => None,
        }
    }

    /// The node's text when PyYAML reads it as a string.
    pub fn py_str(&self, id: NodeId) -> Option<&str> {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Scalar { value, style, tag } => {
                let value = self.text(*value);
                (scalar::resolve_pyyaml(value, *style, tag_str(tag)) == PyScalar::Str).then_some(value)
            }
            _ => None,
        }
    }

    /// The explicit tag of a scalar (after following aliases), as `tag:yaml.org,2002:int` or `!foo`.
    pub fn tag(&self, id: NodeId) -> Option<&str> {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Scalar { tag, .. } => tag_str(tag),
            _ => None,
        }
    }

    /// The scalar's text as written (after following aliases), whatever it means.
    pub fn raw(&self, id: NodeId) -> Option<&str> {
        match &self.node(self.resolve(id)).kind {
            NodeKind::Scalar { value, .. } => Some(self.text(*value)),
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

impl Tree {
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
        match &self.node(id).kind {
            NodeKind::Scalar { value, style, tag } => scalar_json(self.text(*value), *style, tag_str(tag), reader),
            NodeKind::Seq { items, .. } => Value::Array(items.iter().map(|&i| self.to_json_as(i, reader)).collect()),
            NodeKind::Map { entries, .. } => {
                let mut out = serde_json::Map::new();
                for &(k, v) in entries {
                    let key = self.to_json_as(k, reader);
                    let is_merge = matches!(&self.node(self.resolve(k)).kind, NodeKind::Scalar { value, style: Style::Plain, .. } if self.text(*value) == "<<");
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

impl Tree {
    /// Every key written more than once in one mapping (as `reader` reads keys; merge keys
    /// aside), with the values of all its entries in order. A reader keeps only the last
    /// entry, so the meaning ([`Tree::to_json_as`]) alone cannot tell `a: 1` from `a: 1\na: 1`.
    pub fn duplicated_keys(&self, reader: Reader) -> Vec<(String, Vec<serde_json::Value>)> {
        let mut out = Vec::new();
        // Reused from one mapping to the next: a document of 100,000 small mappings allocates
        // it once.
        let mut keys: Vec<(std::borrow::Cow<'_, str>, NodeId)> = Vec::new();
        for node in &self.nodes {
            let NodeKind::Map { entries, .. } = &node.kind else { continue };
            if entries.len() < 2 {
                continue;
            }
            keys.clear();
            for &(k, v) in entries {
                let merge = matches!(&self.node(self.resolve(k)).kind, NodeKind::Scalar { value, style: Style::Plain, .. } if self.text(*value) == "<<");
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
        match &self.node(self.resolve(key)).kind {
            NodeKind::Scalar { value, style, tag } => key_name(self.text(*value), *style, tag_str(tag), reader),
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
    super::fast::parse(text, &mut |event, _| {
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
        sink(event)
    })
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
    /// a range of the tree's one string, its tag boxed, and positions are 32 bits.
    #[test]
    fn a_node_stays_small() {
        assert!(std::mem::size_of::<Node>() <= 48, "{}", std::mem::size_of::<Node>());
    }

    /// A position past 32 bits is refused as a document too large, never truncated.
    #[test]
    fn positions_past_32_bits_are_refused() {
        let at = At { start: 1, end: u32::MAX as usize + 1, line: 1, col: 0 };
        let e = at.node(NodeKind::Alias { anchor: 1 }, 0).unwrap_err();
        assert_eq!(e.message, TOO_LARGE);
        let at = At { start: 1, end: 2, line: 1, col: 0 };
        assert!(at.node(NodeKind::Alias { anchor: 1 }, u32::MAX as usize + 1).is_err());
        let n = at.node(NodeKind::Alias { anchor: 1 }, 7).unwrap();
        assert_eq!((n.start(), n.end(), n.line(), n.col(), n.anchor()), (1, 2, 1, 0, 7));
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
