//! Runs a command's work on a thread whose stack holds the deepest document skyhelm accepts.
//!
//! Trees are built without recursion, but reading a value (as Kubernetes or PyYAML read it),
//! proving an edit and dropping a nested JSON value recurse once per level of nesting. The main
//! thread's stack is the system's (often 8 MiB), which ran out near 8,850 levels, below the
//! default `--max-depth` of 10,000. So the work runs on a thread with a stack sized for the
//! limit: [`stack_bytes`]. The stack is reserved address space; only the pages a walk touches
//! are used.

use crate::model::MAX_MAX_DEPTH;

/// Stack one level of nesting may take. Measured on the deepest walk (a flow sequence in a
/// ConfigMap's config.yaml or in the API server's `args`, through post-render and diff): about
/// 3,600 bytes a level in a debug build and 960 in a release build; the bound is twice that,
/// rounded up.
pub const BYTES_PER_LEVEL: usize = if cfg!(debug_assertions) { 8 << 10 } else { 2 << 10 };

/// Stack for all but the nesting: the command's own frames, a flat document's walks, libraries.
pub const BASE_BYTES: usize = 16 << 20;

/// The stack a document nested `max_depth` deep needs (`max_depth` at most [`MAX_MAX_DEPTH`];
/// a larger one is sized as that).
pub fn stack_bytes(max_depth: usize) -> usize {
    BASE_BYTES + max_depth.min(MAX_MAX_DEPTH) * BYTES_PER_LEVEL
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot start a thread with a {} MiB stack for --max-depth {max_depth}: {cause}", .bytes >> 20)]
    Spawn { max_depth: usize, bytes: usize, cause: std::io::Error },
}

/// Runs `work` on a thread with [`stack_bytes`]`(max_depth)` of stack and waits for it. A panic
/// in `work` continues in the caller (whose guard reports it as a bug).
pub fn with_depth<T: Send>(max_depth: usize, work: impl FnOnce() -> T + Send) -> Result<T, StackError> {
    let bytes = stack_bytes(max_depth);
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("skyhelm".into())
            .stack_size(bytes)
            .spawn_scoped(scope, work)
            .map_err(|cause| StackError::Spawn { max_depth, bytes, cause })?;
        match worker.join() {
            Ok(value) => Ok(value),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_grows_with_the_limit_and_stops_at_the_cap() {
        assert_eq!(stack_bytes(0), BASE_BYTES);
        assert_eq!(stack_bytes(10_000), BASE_BYTES + 10_000 * BYTES_PER_LEVEL);
        assert_eq!(stack_bytes(usize::MAX), stack_bytes(MAX_MAX_DEPTH));
    }

    #[test]
    fn work_runs_and_returns_its_value() {
        assert_eq!(with_depth(10, || 6 * 7).unwrap(), 42);
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| with_depth(10, || panic!("in the work")));
        assert!(caught.is_err());
    }
}
