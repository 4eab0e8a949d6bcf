//! Limits on what one document may make the parser do, mirroring the Kubernetes reader.

/// Maximum nesting depth; go-yaml (Kubernetes' reader) refuses deeper documents.
pub const DEFAULT_MAX_DEPTH: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: DEFAULT_MAX_DEPTH }
    }
}

impl Limits {
    /// go-yaml v2's rule for "document contains excessive aliasing": more than 100 aliases
    /// and 1000 decoded nodes, with a ratio of aliases to nodes above what the document's
    /// size allows (0.99 up to 400,000 nodes, falling to 0.10 at 4,000,000).
    pub fn excessive_aliasing(&self, nodes: u64, aliases: u64) -> bool {
        if aliases <= 100 || nodes <= 1000 {
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
