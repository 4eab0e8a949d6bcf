//! The YAML editing engine: a located tree of one document (`tree`), what scalars mean to
//! Kubernetes (`scalar`, YAML 1.1), edits that keep every other byte (`edit`), and the writer
//! of new values (`emit`).

pub mod edit;
pub mod emit;
#[doc(hidden)]
pub mod fast;
#[cfg(test)]
mod fast_tests;
pub mod limits;
pub mod pyyaml;
pub mod scalar;
pub mod tree;

pub use edit::{Edit, EditError, Editor, Edits, TextFacts};
pub use limits::Limits;
pub use scalar::{PyScalar, Scalar11};
pub use tree::{NodeId, ParseError, Reader, Tree};
