//! Test harness: runs the real binary with a clean environment, and the independent reader of
//! Kubernetes YAML (tests/tools/k8syaml, sigs.k8s.io/yaml) that meaning is checked with.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed by scripts/install-tools.sh. Missing is a failure, never a skip.
pub fn tool(name: &str) -> PathBuf {
    let p = root().join(".tools").join(name);
    assert!(p.exists(), "{} is missing: run scripts/install-tools.sh (the README's test command does)", p.display());
    p
}

/// The Python of the tests (PyYAML, jsonschema, kubernetes-validate): the venv
/// scripts/install-tools.sh makes under .tools, never the system Python.
pub fn python() -> PathBuf {
    tool("python-venv").join("bin").join("python")
}

/// Cargo.toml's `description`: the one line `skyhelm` alone, `--help` and `man skyhelm` show.
pub const CARGO_DESCRIPTION: &str = env!("CARGO_PKG_DESCRIPTION");

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_skyhelm"))
}

/// A command with every SKYHELM_* variable removed, keeping its last-run report under the
/// target folder instead of the user's ~/.local/state.
pub fn clean(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("SKYHELM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("XDG_STATE_HOME", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("state"))
}

/// The one last-run report (`last-run-<hash of the working folder>.txt`) under the state folder
/// `state` (XDG_STATE_HOME); every test runs skyhelm from the same folder, so exactly one.
pub fn last_run_file(state: &std::path::Path) -> PathBuf {
    let dir = state.join("skyhelm");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("last-run-")))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().expect("one")
}

pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

/// Runs `skyhelm ARGS` with `stdin`.
pub fn skyhelm(args: &[&str], stdin: &[u8]) -> Output {
    run_with_stdin(clean(&mut Command::new(bin())).args(args), stdin)
}

/// Runs post-render and expects success; returns stdout.
pub fn post_render_ok(args: &[&str], stdin: &str) -> String {
    let mut all = vec!["post-render"];
    all.extend_from_slice(args);
    let out = skyhelm(&all, stdin.as_bytes());
    assert!(out.status.success(), "skyhelm failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Each document as Kubernetes reads it, as JSON (null for empty documents).
pub fn k8s_json(yaml: &str) -> Vec<serde_json::Value> {
    let out = run_with_stdin(&mut Command::new(tool("k8syaml")), yaml.as_bytes());
    assert!(
        out.status.success(),
        "the Kubernetes YAML reader refused the text: {}\n---\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

/// Splits a stream into documents the way YAML marks them (test-side, independent of ours).
pub fn docs(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in s.split_inclusive('\n') {
        let marker =
            line.starts_with("---") && matches!(line.as_bytes().get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'));
        if marker || out.is_empty() {
            out.push(String::new());
        }
        out.last_mut().expect("doc").push_str(line);
    }
    out
}

pub fn kubeconfig_file(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("kubeconfig");
    std::fs::write(&p, KUBECONFIG).expect("write kubeconfig");
    p
}

/// Contexts `prod` (current), `Dev-EU`, `train`.
pub const KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: c1
  cluster: {server: https://c1.example.com}
contexts:
- name: prod
  context: {cluster: c1, user: u1}
- name: Dev-EU
  context: {cluster: c1, user: u1}
- name: train
  context: {cluster: c1, user: u1}
users:
- name: u1
  user: {token: placeholder}
";

/// A YAML document as PyYAML (YAML 1.1, what SkyPilot reads its config with) reads it, as JSON.
pub fn pyyaml_json(text: &str) -> serde_json::Value {
    let out = run_with_stdin(
        Command::new(python())
            .args(["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"]),
        text.as_bytes(),
    );
    assert!(out.status.success(), "PyYAML refused the text: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// A minimal SkyPilot API server Deployment (block lists, a volume and a mount of its own, its
/// own service account: RBAC refuses to bind to `default`).
pub const API_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: sky-api-server
  namespace: sky
spec:
  template:
    spec:
      containers:
      - name: skypilot-api
        image: img
        volumeMounts:
        - name: state
          mountPath: /root/.sky
      volumes:
      - name: state
        emptyDir: {}
      serviceAccountName: sky-api
";

/// Runs `skyhelm generate ARGS` from the project's root: (exit code, stdout, stderr).
pub fn generate(args: &[&str]) -> (i32, String, String) {
    let out = clean(&mut Command::new(bin())).arg("generate").args(args).current_dir(root()).output().expect("run");
    (
        out.status.code().expect("code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies a folder tree (charts, for tests that change a copy).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// A man page as `man -l` shows it (plain text, 200 columns); groff's warnings (`-ww`) fail the
/// test (`-k`: UTF-8 input, as `man` reads it). groff-base comes from scripts/install-tools.sh.
pub fn render_man(page: &std::path::Path) -> String {
    let check = Command::new("groff").args(["-k", "-man", "-Tutf8", "-ww", "-z"]).arg(page).output().expect("groff");
    assert!(
        check.status.success() && check.stderr.is_empty(),
        "groff warns about {}: {}",
        page.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    let out = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(page)
        .env("MANWIDTH", "200")
        .env("MAN_KEEP_FORMATTING", "")
        .env_remove("MANPAGER")
        .env_remove("PAGER")
        .output()
        .expect("man");
    assert!(out.status.success(), "man -l {}: {}", page.display(), String::from_utf8_lossy(&out.stderr));
    // Bold and underline as overstrikes (nroff's) removed.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut clean = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            clean.pop();
        } else {
            clean.push(c);
        }
    }
    clean
}
