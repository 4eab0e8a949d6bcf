//! Limits on what one document may make the parser do, mirroring the Kubernetes reader.

/// Maximum nesting depth; go-yaml (Kubernetes' reader) refuses deeper documents.
pub const DEFAULT_MAX_DEPTH: usize = 10_000;
pub const DEFAULT_MAX_INPUT_BYTES: usize = 512 << 20;
pub const DEFAULT_MAX_DOCUMENTS: usize = 1_000_000;
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// What skyhelm accepts; each limit has an option to raise it (docs/reliability.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `--max-depth`: nesting of a parsed document.
    pub max_depth: usize,
    /// `--max-input-bytes`: the whole stream.
    pub max_input_bytes: usize,
    /// `--max-documents`: documents in the stream.
    pub max_documents: usize,
    /// `--max-line-bytes`: one line of a document skyhelm parses.
    pub max_line_bytes: usize,
    /// `--allow-excessive-aliasing` turns this off: refuse aliasing as Kubernetes' reader does.
    pub refuse_excessive_aliasing: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_documents: DEFAULT_MAX_DOCUMENTS,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            refuse_excessive_aliasing: true,
        }
    }
}

impl Limits {
    /// go-yaml v2's rule for "document contains excessive aliasing": more than 100 aliases
    /// and 1000 decoded nodes, with a ratio of aliases to nodes above what the document's
    /// size allows (0.99 up to 400,000 nodes, falling to 0.10 at 4,000,000).
    pub fn excessive_aliasing(&self, nodes: u64, aliases: u64) -> bool {
        if !self.refuse_excessive_aliasing || aliases <= 100 || nodes <= 1000 {
            return false;
        }
        const LOW: f64 = 400_000.0;
        const HIGH: f64 = 4_000_000.0;
        let n = nodes as f64;
        let allowed = if n <= LOW {
            0.99
        } else if n >= HIGH {
            0.10
        } else {
            0.99 - 0.89 * (n - LOW) / (HIGH - LOW)
        };
        aliases as f64 / n > allowed
    }
}
