//! Issue 24 item 5: a name from the stream never reaches a terminal or a report raw. Terminal
//! escapes (an OSC title-set `ESC]0;…BEL`, a clear screen `ESC[2J`, a C1 CSI, bidi overrides)
//! are written into every name field of every document kind skyhelm reads, and every output
//! that is not the manifests (stderr, --report-file, --diff-file, `skyhelm last`, `diff` as text
//! and JSON, `doctor --manifests` as table and JSON) is checked for raw ones, on the runs that
//! succeed and on those refused.

use std::path::Path;
use std::process::Command;

use crate::helm::{Form, render};
use crate::util::{KUBECONFIG, bin, clean, run_with_stdin};

/// The hostile name as a YAML double-quoted scalar: ESC ] 0 ; T BEL (title), ESC [ 2 J (clear
/// screen), C1 CSI `1m`, RIGHT-TO-LEFT OVERRIDE, LEFT-TO-RIGHT ISOLATE.
const H: &str = r#""\e]0;T\a\e[2J\x9b1m\u202Ex\u2066""#;
/// The same name decoded (for a command-line value).
const DECODED: &str = "\u{1b}]0;T\u{7}\u{1b}[2J\u{9b}1m\u{202e}x\u{2066}";
/// What stays visible of it once escaped: proof that the name reached the output.
const VISIBLE: &str = "]0;T";

const CONFIG: &str = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";

/// A character a terminal acts on or hides (test-side: control characters but the line break
/// and tab that lay text out, and the invisible direction marks).
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Replaces `from` (which must be there) in `text`.
fn with(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is not in the rendered chart");
    text.replace(from, to)
}

/// The Deployment's API container `env:` with one more entry.
fn with_env(text: &str, entry: &str) -> String {
    with(text, "        env:\n", &format!("        env:\n        - {entry}\n"))
}

/// Each case: what it puts the name into, the stream, the kubeconfig, extra post-render flags.
fn cases() -> Vec<(&'static str, String, String, Vec<&'static str>)> {
    let base = render(Form::Helm3, CONFIG);
    let kc = KUBECONFIG.to_string();
    let volume = |mount: &str, volume: &str| {
        with(
            &with(&base, "        volumeMounts:\n", &format!("        volumeMounts:\n        - {mount}\n")),
            "      volumes:\n",
            &format!("      volumes:\n      - {volume}\n"),
        )
    };
    vec![
        ("Deployment name", with(&base, "  name: sky-api-server\n", &format!("  name: {H}\n")), kc.clone(), vec![]),
        ("namespace", with(&base, "namespace: skypilot\n", &format!("namespace: {H}\n")), kc.clone(), vec![]),
        ("ServiceAccount name", with(&base, "sky-api-sa\n", &format!("{H}\n")), kc.clone(), vec![]),
        (
            "Role and ClusterRole name",
            with(&base, "name: sky-api-role\n", &format!("name: {H}\n")),
            kc.clone(),
            vec!["--rbac", "audit"],
        ),
        (
            "binding names",
            with(&base, "name: sky-api-role-binding\n", &format!("name: {H}\n")),
            kc.clone(),
            vec!["--rbac", "audit"],
        ),
        ("ConfigMap name", with(&base, "sky-config\n", &format!("{H}\n")), kc.clone(), vec![]),
        (
            "API container name",
            with(&base, "      - name: skypilot-api\n", &format!("      - name: {H}\n")),
            kc.clone(),
            vec![],
        ),
        (
            "context name in config.yaml",
            with(&base, "[prod, in-cluster]", &format!("[{H}, in-cluster]")),
            kc.clone(),
            vec![],
        ),
        (
            "context name in the kubeconfig (listed as available)",
            with(&base, "[prod, in-cluster]", "[prd, in-cluster]"),
            with(&kc, "- name: train\n", &format!("- name: {H}\n")),
            vec![],
        ),
        ("KUBECONFIG value", with_env(&base, &format!("name: KUBECONFIG\n          value: {H}")), kc.clone(), vec![]),
        ("HOME value", with_env(&base, &format!("name: HOME\n          value: {H}")), kc.clone(), vec![]),
        ("env name", with_env(&base, &format!("name: {H}\n          value: x")), kc.clone(), vec![]),
        (
            "envFrom ConfigMap name",
            with(
                &base,
                "        env:\n",
                &format!("        envFrom:\n        - configMapRef: {{name: {H}}}\n        env:\n"),
            ),
            kc.clone(),
            vec![],
        ),
        (
            "volume holding the kubeconfig path",
            volume(
                &format!("name: {H}\n          mountPath: /root/.kube"),
                &format!("name: {H}\n        emptyDir: {{}}"),
            ),
            kc.clone(),
            vec![],
        ),
        (
            "kube-config volume's Secret",
            volume(
                "name: other\n          mountPath: /other",
                &format!("name: kube-config\n        secret: {{secretName: {H}}}"),
            ),
            kc.clone(),
            vec![],
        ),
        (
            "Secret the chart mounts (--no-mount)",
            volume(
                "name: kc\n          mountPath: /root/.kube",
                &format!("name: kc\n        secret: {{secretName: {H}}}"),
            ),
            kc.clone(),
            vec!["--no-mount", "--secret-name", "kube-credentials"],
        ),
        (
            "Secret document name",
            format!(
                "{base}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {H}\n  namespace: skypilot\nstringData:\n  a: b\n"
            ),
            kc.clone(),
            vec!["--secret-name", DECODED],
        ),
    ]
}

/// stdout and stderr of `skyhelm ARGS` (state under `state`), with the exit code.
fn run(args: &[&str], stdin: &[u8], state: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin());
    clean(&mut cmd).args(args).env("XDG_STATE_HOME", state);
    let out = run_with_stdin(&mut cmd, stdin);
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn names_from_the_stream_reach_no_output_raw() {
    let mut failures: Vec<(String, String)> = Vec::new();
    for (what, stream, kubeconfig, extra) in cases() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = |name: &str| dir.path().join(name).to_str().expect("path").to_string();
        std::fs::write(p("kubeconfig"), &kubeconfig).expect("write");
        std::fs::write(p("manifests.yaml"), &stream).expect("write");
        let kc = format!("--skypilot-kubeconfig={}", p("kubeconfig"));
        let report = format!("--report-file={}", p("report.txt"));
        let diff_file = format!("--diff-file={}", p("diff.txt"));
        let state = dir.path().join("state");
        let mut outputs: Vec<(String, String)> = Vec::new();

        let mut args = vec!["post-render", kc.as_str(), report.as_str(), diff_file.as_str()];
        args.extend(&extra);
        // post-render's stdout is the manifests (byte for byte): only its stderr is judged.
        let mut cmd = Command::new(bin());
        clean(&mut cmd).args(&args).env("XDG_STATE_HOME", &state);
        let out = run_with_stdin(&mut cmd, stream.as_bytes());
        outputs.push(("post-render stderr".into(), String::from_utf8_lossy(&out.stderr).into_owned()));
        for side in ["report.txt", "diff.txt"] {
            outputs.push((side.into(), std::fs::read_to_string(p(side)).unwrap_or_default()));
        }
        outputs.push(("last".into(), run(&["last"], b"", &state).1));
        let mut diff = vec!["diff", kc.as_str(), "--color", "never"];
        diff.extend(&extra);
        outputs.push(("diff".into(), run(&diff, stream.as_bytes(), &state).1));
        diff.extend(["--output", "json"]);
        outputs.push(("diff --output json".into(), run(&diff, stream.as_bytes(), &state).1));
        let manifests = p("manifests.yaml");
        let kc_path = p("kubeconfig");
        let doctor = ["doctor", "--kubeconfig", kc_path.as_str(), "--manifests", manifests.as_str()];
        outputs.push(("doctor".into(), run(&doctor, b"", &state).1));
        let mut json = doctor.to_vec();
        json.extend(["--output", "json"]);
        outputs.push(("doctor --output json".into(), run(&json, b"", &state).1));

        for (output, text) in &outputs {
            let raw: Vec<char> = text.chars().filter(|&c| hidden(c)).collect();
            if !raw.is_empty() {
                failures.push((format!("{what} / {output}"), format!("{raw:?}:\n{text}")));
            }
        }
        if !outputs.iter().any(|(_, t)| t.contains(VISIBLE)) {
            let all = outputs.iter().map(|(o, t)| format!("== {o}\n{}", t.chars().take(1500).collect::<String>()));
            failures.push((format!("{what}: the name reached no output"), all.collect()));
        }
    }
    let cases: Vec<&str> = failures.iter().map(|(c, _)| c.as_str()).collect();
    let details: Vec<String> = failures.iter().map(|(c, d)| format!("{c}: {d}")).collect();
    assert!(failures.is_empty(), "raw escapes in {cases:#?}\n{}", details.join("\n"));
}

/// Documents skyhelm adds name the stream's names: a name with C1 controls and direction marks
/// is written with `\u` escapes (raw C1 is not YAML, and raw marks would reach a terminal that
/// shows the output), and both Kubernetes' reader and PyYAML read back the very name.
#[test]
fn added_documents_write_hostile_names_escaped() {
    let base = render(Form::Helm3, CONFIG);
    // `--rbac add` binds SkyPilot's permissions to the API server's account, named by the stream.
    let stream = with(&with(&base, "sky-api-sa\n", &format!("{H}\n")), "kind: RoleBinding", "kind: RoleBindingX");
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, KUBECONFIG).expect("write");
    let kc = format!("--skypilot-kubeconfig={}", kc.display());
    let mut cmd = Command::new(bin());
    clean(&mut cmd).args(["post-render", kc.as_str(), "--rbac", "add"]).env("XDG_STATE_HOME", dir.path());
    let out = run_with_stdin(&mut cmd, stream.as_bytes());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = crate::util::docs(&stdout);
    let added: Vec<&String> = docs.iter().filter(|d| !stream.contains(d.as_str())).collect();
    assert!(added.iter().any(|d| d.contains("kind: RoleBinding\n")), "no RoleBinding was added:\n{stdout}");
    let mut named = 0;
    for doc in &added {
        let raw: Vec<char> = doc.chars().filter(|&c| hidden(c)).collect();
        assert!(raw.is_empty(), "{raw:?} raw in an added document:\n{doc}");
        for reader in [crate::util::k8s_json(doc).remove(0), crate::util::pyyaml_json(doc)] {
            for s in reader["subjects"].as_array().into_iter().flatten() {
                assert_eq!(s["name"], DECODED, "{doc}");
                named += 1;
            }
        }
    }
    assert!(named >= 2, "no added binding names the account:\n{stdout}");
}
