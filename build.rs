//! Puts the git commit into `--version` when built from a git checkout of this crate; builds
//! from a source archive (or a crate packaged inside another repository) get the version alone.
//! SKYHELM_GIT_COMMIT overrides what git says (for builds from a tarball that know their commit).

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SKYHELM_GIT_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let is_checkout = git(&dir, &["rev-parse", "--show-toplevel"]).is_some_and(|t| canon(Path::new(&t)) == canon(&dir));
    let from_env = std::env::var("SKYHELM_GIT_COMMIT").ok().filter(|c| !c.trim().is_empty());
    let commit = from_env.or_else(|| {
        if !is_checkout {
            return None;
        }
        // Rebuild when HEAD moves: HEAD itself, the branch it points to, packed refs.
        if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
            println!("cargo:rerun-if-changed={git_dir}/HEAD");
        }
        if let Some(common) = git(&dir, &["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
            println!("cargo:rerun-if-changed={common}/packed-refs");
            if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
                println!("cargo:rerun-if-changed={common}/{branch}");
            }
        }
        git(&dir, &["rev-parse", "--short=12", "HEAD"])
    });
    // Only what a commit id can hold: nothing can end the cargo directive below.
    let commit = commit
        .map(|c| c.chars().filter(|ch| ch.is_ascii_alphanumeric() || "-._".contains(*ch)).take(64).collect::<String>())
        .filter(|c| !c.is_empty());
    let suffix = commit.map(|c| format!(" (git {c})")).unwrap_or_default();
    println!("cargo:rustc-env=SKYHELM_VERSION_SUFFIX={suffix}");
}
