//! [`Manifests`]: the stream's documents with their resource ids, each parsed on first use, and the
//! rendering of edits back into the stream's bytes.

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::ops::Range;

use super::DocIndex;
use crate::yaml::{EditError, Limits, ParseError, Tree};

/// What Kubernetes keys a resource on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Which namespace [`Manifests::find`] asks of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InNamespace<'n> {
    /// Any, or none (cluster-scoped kinds, whose documents still get the release namespace).
    Any,
    /// Exactly this one, as `ResourceId` gives it: the document's own or else the release
    /// namespace; `None` when there is neither.
    Exactly(Option<&'n str>),
}

impl InNamespace<'_> {
    fn accepts(self, namespace: Option<&str>) -> bool {
        match self {
            InNamespace::Any => true,
            InNamespace::Exactly(want) => namespace == want,
        }
    }
}

/// Where something is, for error messages: the document's position in the stream, its kind
/// and name when known, and a line of the whole stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRef {
    pub document: DocIndex,
    pub resource: Option<String>,
    pub line: Option<usize>,
}

impl fmt::Display for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(r) = &self.resource {
            // Control characters (a line break, a terminal escape) and direction marks are
            // shown escaped.
            write!(f, " ({})", crate::messages::escaped(r))?;
        }
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{at}: {cause}")]
    Parse { at: DocRef, cause: ParseError },
    #[error("{at}: {cause}")]
    Edit { at: DocRef, cause: EditError },
    #[error("{at}: the document is empty")]
    Empty { at: DocRef },
    #[error("{at}: the document has no kind or metadata.name")]
    Unnamed { at: DocRef },
    #[error(
        "{at}: `{key}` appears twice (lines {first} and {second}): readers take the last one, so an edit of the first would not take effect; remove one"
    )]
    DuplicateKey { at: DocRef, key: String, first: usize, second: usize },
    #[error(
        "{at}: U+{code:04X} is a line break for YAML 1.1 readers (Kubernetes, PyYAML) but not for YAML 1.2 parsers, so they would read this document differently; remove it"
    )]
    Yaml11Break { at: DocRef, code: u32 },
}

/// A manifest stream split into documents; each document is parsed at most once, on demand.
pub struct Manifests<'a> {
    input: &'a str,
    ranges: Vec<Range<usize>>,
    /// Boxed: one cell per document of the stream, most never parsed, so the cell stays small.
    /// Trees that own their scalars' text (`Tree::parse_owned`): a cell of a borrowing tree would
    /// make `Manifests` invariant in `'a`.
    trees: Vec<OnceCell<Result<Box<Tree<'static>>, Box<ParseError>>>>,
    limits: Limits,
    namespace: Option<String>,
    /// The documents found for each needle scanned for so far (see [`Manifests::containing`]).
    found: RefCell<Vec<(Box<str>, Vec<DocIndex>)>>,
}

/// Up to this many needles, [`Manifests::containing_any`] runs memmem once per needle.
const FEW_NEEDLES: usize = 4;

/// [`Manifests::containing`] keeps the documents of this many needles at most.
const KEPT_NEEDLES: usize = 32;

impl<'a> Manifests<'a> {
    pub fn new(input: &'a str, limits: Limits, default_namespace: Option<String>) -> Self {
        let ranges = super::split(input.as_bytes());
        let trees = ranges.iter().map(|_| OnceCell::new()).collect();
        Manifests { input, ranges, trees, limits, namespace: default_namespace, found: RefCell::default() }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The limits documents are parsed with (`--max-depth` and the others).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Every document of the stream, in order.
    pub fn docs(&self) -> impl Iterator<Item = DocIndex> + use<> {
        (0..self.len()).map(DocIndex::new)
    }

    pub fn text(&self, doc: DocIndex) -> &'a str {
        &self.input[self.ranges[doc.index()].clone()]
    }

    /// Documents whose text contains `needle`: a cheap filter before parsing. One pass of
    /// memmem over the whole input, skipping to the next document after each hit.
    ///
    /// Issue 23: the rules ask for the same needle again (`\\` with every name, a role's name
    /// for each binding) and for needles that extend one asked for already (`skypilot-api-sa`
    /// after `skypilot-api`), and a pass over a large stream costs more than the rest of a run.
    /// So each needle's documents are kept: a needle asked for again is not scanned for, and a
    /// needle that contains one scanned for already is looked for only in that one's documents
    /// (a document that contains `needle` contains every part of it). At most [`KEPT_NEEDLES`]
    /// needles are kept, so that a rule asking for many names costs no more than before.
    pub fn containing(&self, needle: &str) -> Vec<DocIndex> {
        if needle.is_empty() {
            return self.scan(needle);
        }
        let narrowest = {
            let found = self.found.borrow();
            if let Some((_, docs)) = found.iter().find(|(n, _)| &**n == needle) {
                return docs.clone();
            }
            found
                .iter()
                .filter(|(n, _)| needle.contains(&**n))
                .min_by_key(|(_, docs)| docs.len())
                .map(|(_, docs)| docs.clone())
        };
        let docs = match narrowest {
            Some(within) => {
                let finder = memchr::memmem::Finder::new(needle.as_bytes());
                within.into_iter().filter(|&d| finder.find(self.text(d).as_bytes()).is_some()).collect()
            }
            None => self.scan(needle),
        };
        let mut found = self.found.borrow_mut();
        if found.len() < KEPT_NEEDLES {
            found.push((needle.into(), docs.clone()));
        }
        docs
    }

    /// [`Self::containing`] by one pass over the whole stream.
    fn scan(&self, needle: &str) -> Vec<DocIndex> {
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        self.documents_with(|hay| finder.find(hay).map(|i| (i, needle.len())))
    }

    /// The documents that contain any of `needles`, sorted. A few needles: one memmem pass
    /// each (SIMD, the fastest scan); more: one aho-corasick pass whatever their number, so the
    /// cost stays linear in the stream. Every document when the automaton cannot be built
    /// (past its size limits).
    pub fn containing_any(&self, needles: &[&str]) -> Vec<DocIndex> {
        if needles.len() <= FEW_NEEDLES {
            let mut docs: Vec<DocIndex> = needles.iter().flat_map(|n| self.containing(n)).collect();
            docs.sort_unstable();
            docs.dedup();
            return docs;
        }
        match aho_corasick::AhoCorasick::new(needles) {
            Ok(ac) => self.documents_with(|hay| ac.find(hay).map(|m| (m.start(), m.len()))),
            Err(_) => self.docs().collect(),
        }
    }

    /// The documents that may hold a scalar equal to one of `names`: those whose text contains
    /// one, and those that could spell one otherwise: with a `\\` (an escape in a
    /// double-quoted scalar: `"a\\eb"` is `a`, ESC, `b`), or every document when a name holds
    /// what a quoted or folded scalar writes differently (whitespace, `'`, a control character).
    /// A filter before parsing, as [`Self::containing_any`]: callers check what they parse.
    pub fn maybe_naming(&self, names: &[&str]) -> Vec<DocIndex> {
        if names.iter().any(|n| n.chars().any(|c| c.is_whitespace() || c == '\'' || c.is_control())) {
            return self.docs().collect();
        }
        let mut docs = self.containing_any(names);
        docs.extend(self.containing("\\"));
        docs.sort_unstable();
        docs.dedup();
        docs
    }

    /// The documents in which `find` (the first match in a slice: offset and length) finds a
    /// match lying inside one document; the search goes on after each hit's document.
    fn documents_with(&self, mut find: impl FnMut(&[u8]) -> Option<(usize, usize)>) -> Vec<DocIndex> {
        let bytes = self.input.as_bytes();
        let mut docs = Vec::new();
        let mut pos = 0;
        // `get`: an empty needle matches at the very end too, after which `pos` is past it.
        while let Some((i, len)) = bytes.get(pos..).and_then(&mut find) {
            let at = pos + i;
            let doc = self.ranges.partition_point(|r| r.start <= at).saturating_sub(1);
            // A hit that runs past its document's end is not inside one document.
            if at + len <= self.ranges[doc].end {
                docs.push(DocIndex::new(doc));
            }
            pos = self.ranges[doc].end.max(at + 1);
        }
        docs
    }

    /// The first document of `kind` named `name` whose namespace `namespace` accepts.
    pub fn find(&self, kind: &str, name: &str, namespace: InNamespace) -> Result<Option<DocIndex>, ManifestError> {
        // The one found is kept parsed: its caller reads it next (a 16 MB ConfigMap is parsed
        // once, not twice).
        let wanted = |r: &ResourceId| r.kind == kind && r.name == name && namespace.accepts(r.namespace.as_deref());
        for doc in self.maybe_naming(&[name]) {
            if self.peek_resource_keeping(doc, wanted)?.as_ref().is_some_and(wanted) {
                return Ok(Some(doc));
            }
        }
        Ok(None)
    }

    /// 1-based line in the whole stream of a 1-based line of document `doc`.
    pub fn stream_line(&self, doc: DocIndex, line: usize) -> usize {
        let before = &self.input.as_bytes()[..self.ranges[doc.index()].start];
        memchr::memchr_iter(b'\n', before).count() + line
    }

    /// The parsed document, or an error saying where it does not parse.
    pub fn tree(&self, doc: DocIndex) -> Result<&Tree<'_>, ManifestError> {
        let cell = self.trees[doc.index()]
            .get_or_init(|| Tree::parse_owned(self.text(doc), &self.limits).map(Box::new).map_err(Box::new));
        cell.as_ref().map(|t| &**t).map_err(|e| self.parse_error(doc, e))
    }

    /// Takes document `doc`'s tree out of the cache (None when it was not parsed, or did not
    /// parse): for a caller done with it that wants its text without a copy.
    pub fn take_tree(&mut self, doc: DocIndex) -> Option<Box<Tree<'static>>> {
        self.trees.get_mut(doc.index())?.take()?.ok()
    }

    /// The parsed document without keeping it (for rules that read many small documents once,
    /// such as RBAC over thousands of Roles): the caller drops the tree when done.
    pub fn parse_once(&self, doc: DocIndex) -> Result<Tree<'static>, ManifestError> {
        match self.trees[doc.index()].get() {
            Some(Ok(_)) | None => {
                Tree::parse_owned(self.text(doc), &self.limits).map_err(|e| self.parse_error(doc, &e))
            }
            Some(Err(e)) => Err(self.parse_error(doc, e)),
        }
    }

    /// As `parse_once`, handing each item under the root's `key` to `on_item` and dropping it
    /// (`Tree::parse_pruning`); None when the document has anchors or aliases.
    pub fn parse_pruning(
        &self,
        doc: DocIndex,
        key: &str,
        on_item: &mut dyn FnMut(&Tree, crate::yaml::NodeId),
    ) -> Result<Option<Tree<'a>>, ManifestError> {
        if let Some(Err(e)) = self.trees[doc.index()].get() {
            return Err(self.parse_error(doc, e));
        }
        Tree::parse_pruning(self.text(doc), &self.limits, key, on_item).map_err(|e| self.parse_error(doc, &e))
    }

    fn parse_error(&self, doc: DocIndex, e: &ParseError) -> ManifestError {
        ManifestError::Parse {
            at: DocRef { document: doc, resource: self.quick_label(doc), line: Some(self.stream_line(doc, e.line)) },
            cause: ParseError { message: e.message.clone(), line: self.stream_line(doc, e.line), col: e.col },
        }
    }

    /// Kind, name and namespace of a parsed document (None for an empty document or one that
    /// is not a Kubernetes object). Documents without a namespace get the release namespace.
    pub fn resource(&self, doc: DocIndex) -> Result<Option<ResourceId>, ManifestError> {
        Ok(self.resource_in(self.tree(doc)?))
    }

    /// As `resource`, without keeping the tree unless it is kept already: for scans over the
    /// documents that contain a needle many documents may contain (a ServiceAccount's name,
    /// which every binding of it names), so that memory does not grow with their number.
    pub fn peek_resource(&self, doc: DocIndex) -> Result<Option<ResourceId>, ManifestError> {
        match self.trees[doc.index()].get() {
            Some(Ok(tree)) => Ok(self.resource_in(tree)),
            _ => Ok(self.resource_in(&self.parse_once(doc)?)),
        }
    }

    /// As `peek_resource`, keeping the tree when `keep` accepts the resource (the one document
    /// a rule goes on to read, such as the API server's Deployment), so that it is parsed once.
    pub fn peek_resource_keeping(
        &self,
        doc: DocIndex,
        keep: impl Fn(&ResourceId) -> bool,
    ) -> Result<Option<ResourceId>, ManifestError> {
        let cell = &self.trees[doc.index()];
        if cell.get().is_some() {
            return self.resource(doc);
        }
        let tree = self.parse_once(doc)?;
        let resource = self.resource_in(&tree);
        if resource.as_ref().is_some_and(keep) {
            // Nothing else set the cell meanwhile (it is not shared across threads).
            let _ = cell.set(Ok(Box::new(tree)));
        }
        Ok(resource)
    }

    /// As `resource`, for a tree of this stream the caller holds (from `parse_once`).
    pub fn resource_in(&self, tree: &Tree) -> Option<ResourceId> {
        let root = tree.root()?;
        let kind = tree.get_str(root, "kind")?;
        let name = tree.path(root, &["metadata", "name"]).and_then(|n| tree.str(n))?;
        let namespace = tree
            .path(root, &["metadata", "namespace"])
            .and_then(|n| tree.str(n))
            .map(str::to_string)
            .or_else(|| self.namespace.clone());
        Some(ResourceId {
            api_version: tree.get_str(root, "apiVersion").unwrap_or_default().to_string(),
            kind: kind.to_string(),
            namespace,
            name: name.to_string(),
        })
    }

    /// "Kind name" of a document that does not parse, from what parses of it: `kind` and
    /// `metadata.name` where they stand, never a line that only looks like them (see `label`).
    fn quick_label(&self, doc: DocIndex) -> Option<String> {
        let (kind, name) = super::label::head(self.text(doc), self.limits.max_depth);
        Some(format!("{} {}", kind?, name.as_deref().unwrap_or("?")))
    }

    pub fn doc_ref(&self, doc: DocIndex, line: Option<usize>) -> DocRef {
        let resource = match self.resource(doc) {
            Ok(Some(r)) => Some(r.to_string()),
            _ => self.quick_label(doc),
        };
        DocRef { document: doc, resource, line: line.map(|l| self.stream_line(doc, l)) }
    }

    /// Refuses a document whose keys that skyhelm read were written twice.
    pub fn check_duplicate_reads(&self, doc: DocIndex) -> Result<(), ManifestError> {
        if let Some((first, second, key)) = self.tree(doc)?.duplicate_reads().into_iter().next() {
            return Err(ManifestError::DuplicateKey {
                at: self.doc_ref(doc, Some(second)),
                key,
                first: self.stream_line(doc, first),
                second: self.stream_line(doc, second),
            });
        }
        Ok(())
    }

    /// The whole stream's bytes.
    pub fn input_bytes(&self) -> &'a [u8] {
        self.input.as_bytes()
    }

    /// The byte range of document `doc` in the stream.
    pub fn range(&self, doc: DocIndex) -> Range<usize> {
        self.ranges[doc.index()].clone()
    }

    /// The new texts of the documents that have edits, each document's edits applied to it
    /// (the pipeline then reads each edited document again, see `verify`), in stream order.
    /// Every other document goes out as its input bytes.
    /// The edits are consumed as each document is written (see `Edits::apply_owned`).
    pub fn render(
        &self,
        edits: std::collections::BTreeMap<DocIndex, crate::yaml::Edits>,
    ) -> Result<Vec<(DocIndex, String)>, ManifestError> {
        let mut edited_docs = Vec::new();
        for (doc, doc_edits) in edits.into_iter().filter(|(d, e)| !e.is_empty() && d.index() < self.len()) {
            let edited = doc_edits
                .apply_owned(self.text(doc))
                .map_err(|cause| ManifestError::Edit { at: self.doc_ref(doc, None), cause })?;
            edited_docs.push((doc, edited));
        }
        Ok(edited_docs)
    }
}
