//! What a release binary carries: completions, a man page, the version with its git commit (and
//! the build script's fallback outside a checkout), and the documented exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{API_DEPLOYMENT, bin, clean, root, run_with_stdin, skyhelm};

fn stdout_of(args: &[&str]) -> String {
    let out = skyhelm(args, b"");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    for (shell, marker) in [
        ("bash", "complete -F _skyhelm"),
        ("zsh", "#compdef skyhelm"),
        ("fish", "complete -c skyhelm"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[skyhelm]"),
    ] {
        let text = stdout_of(&["completions", shell]);
        assert!(text.contains(marker) && text.contains("helm-plugin") && text.contains("post-render"), "{shell}");
    }
    // bash can read its script.
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("skyhelm.bash");
    std::fs::write(&f, stdout_of(&["completions", "bash"])).expect("write");
    let out = Command::new("bash").arg("-n").arg(&f).output().expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let man = stdout_of(&["man"]);
    assert!(man.starts_with(".ie ") && man.contains(".TH skyhelm 1"), "{}", &man[..200.min(man.len())]);
    assert!(man.contains("post\\-render") && man.contains("helm\\-plugin") && man.contains(".SH SUBCOMMANDS"), "{man}");
    assert!(stdout_of(&["completions", "--help"]).contains("[possible values: bash, elvish, fish, powershell, zsh]"));
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(root()).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_git_commit_of_a_checkout() {
    let text = stdout_of(&["--version"]);
    let top = git(&["rev-parse", "--show-toplevel"]);
    let checkout = top.is_some_and(|t| std::fs::canonicalize(t).ok() == std::fs::canonicalize(root()).ok());
    let want = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if checkout => format!("skyhelm {} (git {c})\n", env!("CARGO_PKG_VERSION")),
        _ => format!("skyhelm {}\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(text, want);
}

/// The compiled build script of this crate (cargo keeps it under target/<profile>/build/).
fn build_script() -> PathBuf {
    let build = bin().parent().expect("profile dir").join("build");
    std::fs::read_dir(&build)
        .expect("build dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("skyhelm-"))
        .map(|e| e.path().join("build-script-build"))
        .find(|p| p.is_file())
        .expect("the build script")
}

fn suffix(manifest_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut c = Command::new(build_script());
    c.env("CARGO_MANIFEST_DIR", manifest_dir).env_remove("SKYHELM_GIT_COMMIT");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("build script");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix("cargo:rustc-env=SKYHELM_VERSION_SUFFIX="))
        .expect("suffix line")
        .to_string()
}

#[test]
fn the_build_script_falls_back_cleanly_outside_a_checkout() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Not a checkout at all (a source archive).
    assert_eq!(suffix(tmp.path(), &[]), "");
    // Inside another repository: its commit is not ours.
    let inner = tmp.path().join("vendor/skyhelm");
    std::fs::create_dir_all(&inner).expect("mkdir");
    assert!(Command::new("git").arg("init").arg("-q").arg(tmp.path()).status().expect("git").success());
    assert_eq!(suffix(&inner, &[]), "");
    // A commit given from outside, reduced to what a commit id can hold.
    assert_eq!(
        suffix(tmp.path(), &[("SKYHELM_GIT_COMMIT", "abc123\ncargo:rustc-env=X=1")]),
        " (git abc123cargorustc-envX1)"
    );
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let run = |args: &[&str], stdin: &str| {
        run_with_stdin(clean(&mut Command::new(bin())).args(args), stdin.as_bytes()).status.code()
    };
    assert_eq!(run(&["post-render"], API_DEPLOYMENT), Some(0));
    assert_eq!(run(&["post-render", "--container", "nope"], API_DEPLOYMENT), Some(1));
    assert_eq!(run(&["diff", "--rbac", "off"], API_DEPLOYMENT), Some(2), "diff with changes");
    assert_eq!(run(&["post-render", "--no-such-flag"], API_DEPLOYMENT), Some(1), "usage");
    assert_eq!(run(&["--version"], ""), Some(0));
}
