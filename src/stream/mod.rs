//! The manifest stream: split into documents by lines, before any YAML parser runs, keeping
//! every byte; documents are parsed only when a rule needs them.

mod label;
mod manifests;

pub use manifests::{DocRef, InNamespace, ManifestError, Manifests, ResourceId};

use std::fmt;
use std::ops::Range;

/// A document's position in the stream: 0-based inside skyhelm (it indexes the stream's
/// documents), shown 1-based to people ("document 3") by `Display` and [`DocIndex::number`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocIndex(usize);

impl DocIndex {
    /// The document at 0-based position `index`.
    pub const fn new(index: usize) -> Self {
        DocIndex(index)
    }

    /// The 0-based position, for indexing.
    pub const fn index(self) -> usize {
        self.0
    }

    /// The 1-based position, as reports and errors count documents.
    pub const fn number(self) -> usize {
        self.0 + 1
    }
}

impl fmt::Display for DocIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("document {document}, line {line}, column {column}: the input is not valid UTF-8")]
    NotUtf8 { document: DocIndex, line: usize, column: usize },
    #[error("the input is {size} bytes, more than --max-input-bytes {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the input has {count} documents, more than --max-documents {limit}")]
    TooManyDocuments { count: usize, limit: usize },
}

/// True when the line starting at `bytes[0]` is a document start marker: `---` followed by
/// white space or the end of the line.
fn is_marker(bytes: &[u8]) -> bool {
    bytes.starts_with(b"---") && matches!(bytes.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

/// Splits a stream into the byte ranges of its documents. Each range starts at its `---` line
/// (or at the start of the stream) and runs to the next one, so the ranges tile the input and
/// concatenating them gives the input back. A stream that starts with `---` has no empty first
/// range; an empty stream has none at all.
pub fn split(input: &[u8]) -> Vec<Range<usize>> {
    let mut starts = Vec::new();
    if !input.is_empty() {
        starts.push(0);
    }
    for nl in memchr::memmem::find_iter(input, b"\n---") {
        if is_marker(&input[nl + 1..]) {
            starts.push(nl + 1);
        }
    }
    if starts.len() > 1 && starts[1] == 0 {
        starts.remove(0);
    }
    // Sized once: one range per start (a stream may hold many thousand documents).
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(starts.len());
    ranges.extend(starts.windows(2).map(|w| w[0]..w[1]));
    if let Some(&last) = starts.last() {
        ranges.push(last..input.len());
    }
    ranges
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(input: &[u8], offset: usize) -> (usize, usize) {
    let before = &input[..offset.min(input.len())];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// Checks that the input is UTF-8, naming the document and line of the first bad byte.
pub fn decode(input: &[u8]) -> Result<&str, InputError> {
    std::str::from_utf8(input).map_err(|e| {
        let at = e.valid_up_to();
        let document = DocIndex::new(split(input).iter().position(|r| r.contains(&at)).unwrap_or(0));
        let (line, column) = line_col(input, at);
        InputError::NotUtf8 { document, line, column }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> Vec<&str> {
        split(s.as_bytes()).into_iter().map(|r| &s[r]).collect()
    }

    /// Both strategies of `containing_any` (memmem per needle, one aho-corasick pass) give the
    /// documents that contain a needle inside themselves, sorted, each once.
    #[test]
    fn containing_any_finds_the_documents_with_a_needle() {
        let text = "a: r1\n---\nb: x\n---\nc: r2 r1\n---\nd: r3\n---\ne: r\n---\nf: r6";
        let m = Manifests::new(text, crate::yaml::Limits::default(), None);
        let expect = |needles: &[&str]| -> Vec<DocIndex> {
            m.docs().filter(|&d| needles.iter().any(|n| m.text(d).contains(n))).collect()
        };
        for needles in [&["r1", "r3"][..], &["r1", "r2", "r3", "r4", "r5", "r6"][..], &["x"][..], &["zz"][..]] {
            assert_eq!(m.containing_any(needles), expect(needles), "{needles:?}");
        }
        assert_eq!(m.containing_any(&["r1", "r2", "r3", "r4", "r5", "r6"]).len(), 4);
    }

    /// Needles asked for again, and needles that extend one asked for before (looked for only
    /// in its documents), give the documents a scan of the whole stream gives, in any order;
    /// a match across a document boundary counts for neither document.
    #[test]
    fn containing_again_or_narrowed_finds_what_a_scan_finds() {
        let text = "a: r1\n---\nb: r1x\n---\nc: \\ r1xy\n---\nd: r\n---\ne: r1\n---\nx";
        let scan = |m: &Manifests, n: &str| -> Vec<DocIndex> { m.docs().filter(|&d| m.text(d).contains(n)).collect() };
        let orders: [&[&str]; 3] = [
            &["r1", "r1x", "r1xy", "r1", "\\", "\\", "1x", "r1xyz", "r", "\n---", "r1\n"],
            &["r1xy", "r1x", "r1", "r", "1x", "x", "xy", "\n---\nx"],
            &["x", "r1x", "r1", "r1xy", "d: r", "r\n", "r\n---"],
        ];
        for needles in orders {
            let m = Manifests::new(text, crate::yaml::Limits::default(), None);
            for n in needles {
                assert_eq!(m.containing(n), scan(&m, n), "{n:?} after {needles:?}");
            }
        }
        let m = Manifests::new(text, crate::yaml::Limits::default(), None);
        assert_eq!(m.containing("r1x"), vec![DocIndex::new(1), DocIndex::new(2)]);
        assert_eq!(m.containing("r1"), vec![DocIndex::new(0), DocIndex::new(1), DocIndex::new(2), DocIndex::new(4)]);
        assert_eq!(m.containing("r1xy"), vec![DocIndex::new(2)]);
    }

    #[test]
    fn ranges_tile_the_input() {
        for s in [
            "",
            "a: 1",
            "---\na: 1\n",
            "a: 1\n---\nb: 2",
            "# c\n--- # x\na: 1\r\n---\r\nb: 2\r\n",
            "a: |\n  ---x\n---\n",
        ] {
            assert_eq!(parts(s).concat(), s);
        }
    }

    #[test]
    fn markers_only_at_line_start_followed_by_space() {
        assert_eq!(parts("a: 1\n---\nb: 2\n"), vec!["a: 1\n", "---\nb: 2\n"]);
        assert_eq!(parts("---\na\n--- # c\nb\n---x: 1\n"), vec!["---\na\n", "--- # c\nb\n---x: 1\n"]);
        assert_eq!(parts("a\n---\r\nb"), vec!["a\n", "---\r\nb"]);
        assert_eq!(parts("x: \" ---\"\n"), vec!["x: \" ---\"\n"]);
    }

    #[test]
    fn non_utf8_names_document_and_line() {
        let err = decode(b"a: 1\n---\nb: 2\nc: \xff\n").unwrap_err();
        assert_eq!(err, InputError::NotUtf8 { document: DocIndex::new(1), line: 4, column: 4 });
    }
}
