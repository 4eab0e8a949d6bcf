//! `skyhelm diff` and `post-render --diff-file`: the report of what changed and why.

use std::process::Command;

use serde_json::Value;

use crate::helm::{Form, render};
use crate::util::{bin, clean, kubeconfig_file, last_run_file, run_with_stdin, skyhelm};

/// The upstream-shaped cases: (name, chart values).
const CASES: &[(&str, &str)] = &[
    ("incluster-only", "{}\n"),
    (
        "both-missing-incluster",
        "kubernetesCredentials:\n  useKubeconfig: true\napiService:\n  config: |\n    kubernetes:\n      allowed_contexts:\n        - prod\n        - train\n",
    ),
    (
        "ssh-node-pools",
        "apiService:\n  sshNodePools: |\n    my-box:\n      hosts: [1.2.3.4]\n  config: |\n    kubernetes:\n      allowed_contexts: [Prod, in-cluster]  # failover order\n",
    ),
];

fn diff(input: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let mut args = vec!["diff", &kc];
    args.extend_from_slice(extra);
    let out = skyhelm(&args, input.as_bytes());
    (
        out.status.code().expect("code"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn human_report_snapshots() {
    for (name, values) in CASES {
        for (form, tag) in [(Form::Helm3, "helm3"), (Form::Helm4, "helm4")] {
            let input = render(form, values);
            let (code, plain, err) = diff(&input, &["--color", "never"]);
            assert_eq!(code, 2, "{name} {tag}: {err}");
            insta::assert_snapshot!(format!("diff-{name}-{tag}"), plain);
            let (_, colored, _) = diff(&input, &["--color", "always"]);
            insta::assert_snapshot!(format!("diff-{name}-{tag}-color"), colored);
        }
    }
}

/// Untouched lines of an edited document never show as changed: with no context, the only
/// marked lines are the ones skyhelm added.
#[test]
fn only_changed_lines_are_marked() {
    let input = render(Form::Helm3, CASES[1].1);
    let (_, text, _) = diff(&input, &["--color", "never", "--context", "0", "--rbac", "off"]);
    let changed: Vec<&str> = text.lines().filter(|l| l.starts_with('+') || l.starts_with('-')).collect();
    assert!(changed.iter().all(|l| l.starts_with('+')), "{text}");
    assert_eq!(changed.len(), 3, "{text}");
    assert_eq!(changed[0], "+    - in-cluster");
    assert_eq!(changed[1], "+      annotations:");
    assert!(changed[2].starts_with("+        skyhelm.io/kubeconfig-sha256: \""), "{text}");
}

#[test]
fn exit_codes_follow_diff() {
    let input = render(Form::Helm3, CASES[0].1);
    let (code, _, _) = diff(&input, &[]);
    assert_eq!(code, 2);
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let out = skyhelm(&["post-render", &kc], input.as_bytes());
    let (code, text, _) = diff(&String::from_utf8(out.stdout).expect("utf-8"), &[]);
    assert_eq!((code, text.as_str()), (0, "no changes\n"));
    let (code, text, err) = diff(&input, &["--container", "nope"]);
    assert_eq!(code, 1);
    assert!(text.is_empty() && err.contains("nope"));
    // The largest --context is every line, not an overflow (a panic, exit 70, in a debug build).
    let (code, huge, err) = diff(&input, &["--context", &usize::MAX.to_string()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(huge, diff(&input, &["--context", "1000000"]).1);
}

#[test]
fn diff_file_equals_diff_output() {
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, CASES[2].1);
        let dir = tempfile::tempdir().expect("tmp");
        let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
        let file = dir.path().join("diff.txt");
        let out = run_with_stdin(
            clean(&mut Command::new(bin())).args(["post-render", &kc]).env("SKYHELM_DIFF_FILE", &file),
            input.as_bytes(),
        );
        assert!(out.status.success());
        let (_, printed, _) = diff(&input, &["--color", "never"]);
        assert_eq!(std::fs::read_to_string(&file).expect("diff file"), printed);
    }
}

/// The JSON report has exactly the structure the README documents.
#[test]
fn json_report_has_the_documented_structure() {
    let values = format!("{}rbac:\n  create: false\n", CASES[1].1);
    let input = render(Form::Helm4, &values);
    let (code, text, _) = diff(&input, &["--output", "json"]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&text).expect("json");
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), ["changed", "notes", "resources", "summary", "version"]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["changed"], true);
    assert_eq!(v["summary"], serde_json::json!({"changed": 2, "added": 4}));
    let resources = v["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 6);
    for r in resources {
        assert_eq!(
            keys(r),
            [
                "action",
                "after",
                "apiVersion",
                "before",
                "changedPaths",
                "document",
                "kind",
                "name",
                "namespace",
                "reasons",
                "rules"
            ]
        );
        assert!(r["document"].is_u64() && r["before"].is_string() && r["after"].is_string());
        assert!(["changed", "added"].contains(&r["action"].as_str().expect("action")));
        for reason in r["reasons"].as_array().expect("reasons") {
            assert_eq!(keys(reason), ["reason", "rule"]);
        }
        assert!(
            r["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .all(|x| ["kubeconfig-mount", "allowed-contexts", "rbac"].contains(&x.as_str().unwrap_or("")))
        );
    }
    let cm = resources.iter().find(|r| r["kind"] == "ConfigMap").expect("cm");
    assert_eq!(cm["changedPaths"], serde_json::json!(["data.config.yaml"]));
    assert_eq!(cm["rules"], serde_json::json!(["allowed-contexts"]));
    let added = resources.iter().find(|r| r["action"] == "added").expect("added");
    assert_eq!((added["kind"].as_str(), added["before"].as_str()), (Some("Role"), Some("")));
    assert_eq!(added["rules"], serde_json::json!(["rbac"]));
    for n in v["notes"].as_array().expect("notes") {
        assert_eq!(keys(n), ["message", "rule", "severity"]);
    }
}

/// No byte of a Secret value or kubeconfig credential appears in any output.
#[test]
fn secrets_never_appear_in_reports() {
    let values = "apiService:\n  sshNodePools: |\n    pool:\n      hosts: [10.9.8.7]\n      user: s3cr3t-ssh-user\n";
    let input = render(Form::Helm3, values);
    assert!(input.contains("s3cr3t-ssh-user"), "the rendered Secret carries the value");
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let report = dir.path().join("report.txt");
    let diff_file = dir.path().join("diff.txt");
    let kc_arg = format!("--skypilot-kubeconfig={}", kc.display());
    let mut outputs = Vec::new();
    for args in
        [vec!["diff", &kc_arg], vec!["diff", &kc_arg, "--output", "json"], vec!["diff", &kc_arg, "--color", "always"]]
    {
        let out = skyhelm(&args, input.as_bytes());
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr));
    }
    let out = run_with_stdin(
        clean(&mut Command::new(bin()))
            .args(["post-render", &kc_arg])
            .env("SKYHELM_DIFF_FILE", &diff_file)
            .env("SKYHELM_REPORT_FILE", &report),
        input.as_bytes(),
    );
    outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    outputs.push(std::fs::read_to_string(&diff_file).expect("diff file"));
    outputs.push(std::fs::read_to_string(&report).expect("report"));
    let forbidden = ["s3cr3t-ssh-user", "10.9.8.7", "placeholder"];
    for (i, o) in outputs.iter().enumerate() {
        for f in forbidden {
            assert!(!o.contains(f), "output {i} shows {f:?}:\n{o}");
        }
    }
}

/// config.yaml with credentials right after the list skyhelm extends (so they are context
/// lines), and a Deployment env carrying more.
const CREDENTIAL_VALUES: &str = "apiService:
  config: |
    kubernetes:
      allowed_contexts:
        - prod
    db: postgresql://user:hunter2@db/sky
    password: hunter2
    # previous_password: hf_tokenvalue0123
    jobs:
      controller: {resources: {cpus: 2}}
  extraEnvs:
  - name: HF_TOKEN
    value: hf_tokenvalue0123
  - name: APP_ENDPOINT
    value: https://svcuser:envpassw0rd@api.example.com/v1
";

/// Each credential the values above (and `dbConnectionString` below) hold.
const CREDENTIALS: &[&str] = &["hunter2", "hf_tokenvalue0123", "svcuser:envpassw0rd", "dbpassw0rd-xyz"];

/// No run of 6 or more characters of any credential appears in `out`.
fn assert_no_credential(out: &str, what: &str) {
    for c in CREDENTIALS {
        let chars: Vec<char> = c.chars().collect();
        for run in chars.windows(6.min(chars.len())) {
            let run: String = run.iter().collect();
            assert!(!out.contains(&run), "{what} shows {run:?} of {c:?}:\n{out}");
        }
    }
}

/// Every report of a render whose config.yaml and Deployment carry credentials: text (default
/// context, and a context wide enough that every line shows), coloured, JSON, and post-render's
/// `--diff-file`, `--report-file`, last-run report and stderr; then with `--show-secrets`.
fn reports(input: &str, show: bool) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let mut outputs = Vec::new();
    for extra in [
        &["--color", "never"][..],
        &["--color", "never", "--context", "1000"],
        &["--color", "always"],
        &["--output", "json"],
    ] {
        let mut args = vec!["diff", kc.as_str()];
        args.extend_from_slice(extra);
        if show {
            args.push("--show-secrets");
        }
        let out = skyhelm(&args, input.as_bytes());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        outputs.push((format!("diff {extra:?}"), String::from_utf8(out.stdout).expect("utf-8")));
        outputs.push((format!("diff {extra:?} stderr"), String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let (diff_file, report, state) = (dir.path().join("d.txt"), dir.path().join("r.txt"), dir.path().join("state"));
    let mut cmd = Command::new(bin());
    clean(&mut cmd)
        .args(["post-render", &kc])
        .env("SKYHELM_DIFF_FILE", &diff_file)
        .env("SKYHELM_REPORT_FILE", &report)
        .env("XDG_STATE_HOME", &state);
    if show {
        cmd.env("SKYHELM_SHOW_SECRETS", "true");
    }
    let out = run_with_stdin(&mut cmd, input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    outputs.push(("post-render stderr".into(), String::from_utf8_lossy(&out.stderr).into_owned()));
    for (name, f) in [("diff file", diff_file), ("report file", report), ("last run", last_run_file(&state))] {
        outputs.push((name.into(), std::fs::read_to_string(&f).expect(name)));
    }
    outputs
}

/// Credentials in config.yaml's context lines, in the JSON `before`/`after` texts and in the
/// Deployment's env are shown as `(redacted, N bytes)` with their keys, in Helm 3's and Helm
/// 4's forms; `--show-secrets` shows them; masking keeps every line where it was.
#[test]
fn credentials_in_context_lines_are_masked() {
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, CREDENTIAL_VALUES);
        assert!(CREDENTIALS[..3].iter().all(|c| input.contains(c)), "{form:?}: the render carries them");
        let masked = reports(&input, false);
        for (what, out) in &masked {
            assert_no_credential(out, &format!("{form:?} {what}"));
        }
        // The text report shows config.yaml's credentials as context lines, keys kept.
        let text = &masked[0].1;
        assert!(
            text.contains(
                "\n db: \"(redacted, 32 bytes)\"\n password: \"(redacted, 7 bytes)\"\n # previous_password: \"(redacted, "
            ),
            "{text}"
        );
        let wide = &masked[2].1;
        for key in ["- name: HF_TOKEN", "- name: APP_ENDPOINT", "value: \"(redacted, 17 bytes)\""] {
            assert!(wide.contains(key), "{form:?} {key}:\n{wide}");
        }
        let shown = reports(&input, true);
        for (i, c) in CREDENTIALS[..3].iter().enumerate() {
            assert!(shown[2].1.contains(c) && shown[6].1.contains(c), "{form:?} --show-secrets shows {i}");
        }
        assert!(shown[0].1.contains("\n db: postgresql://user:hunter2@db/sky\n password: hunter2\n"), "{}", shown[0].1);
        // Same lines, same hunks: only values differ.
        let headers = |t: &str| t.lines().filter(|l| l.starts_with("@@")).map(String::from).collect::<Vec<_>>();
        assert_eq!(headers(&masked[2].1), headers(&shown[2].1));
        let json = |t: &str| serde_json::from_str::<Value>(t).expect("json");
        let (m, s) = (json(&masked[6].1), json(&shown[6].1));
        for (a, b) in m["resources"].as_array().expect("r").iter().zip(s["resources"].as_array().expect("r")) {
            for side in ["before", "after"] {
                let (a, b) = (a[side].as_str().expect("text"), b[side].as_str().expect("text"));
                assert_eq!(a.lines().count(), b.lines().count(), "{form:?} {side}:\n{a}");
            }
        }
    }
}

/// A credential in a URL's query (`?token=…`, `&api_key=…`: a RESTful admin policy's or a
/// webhook's URL) is masked like a URL with user information, in config.yaml's context lines
/// and in the Deployment's env, in every report; `--show-secrets` shows it.
#[test]
fn credentials_in_url_queries_are_masked() {
    let values = "apiService:
  config: |
    admin_policy: https://policy.example.com/check?team=ml&token=qtok-querysecret
    kubernetes:
      allowed_contexts:
        - prod
  extraEnvs:
  - name: NOTIFY_URL
    value: https://hooks.example.com/x?api_key=qkey-querysecret
";
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, values);
        assert_eq!(input.matches("querysecret").count(), 2, "{form:?}: the render carries both");
        for (what, out) in reports(&input, false) {
            assert!(
                !out.contains("querysecret") && !out.contains("qtok") && !out.contains("qkey"),
                "{form:?} {what}:\n{out}"
            );
        }
        let shown = reports(&input, true);
        assert!(shown[2].1.contains("token=qtok-querysecret"), "{form:?}: {}", shown[2].1);
        assert!(shown[2].1.contains("api_key=qkey-querysecret"), "{form:?}: {}", shown[2].1);
    }
}

/// `SKYPILOT_DB_CONNECTION_URI` written inline (the chart's `dbConnectionString`): masked in the
/// Deployment's diff, named.
#[test]
fn database_uri_in_the_deployment_is_masked() {
    for form in [Form::Helm3, Form::Helm4] {
        let values = "apiService:\n  dbConnectionString: postgresql://sky:dbpassw0rd-xyz@pg.internal:5432/sky\n";
        let input = render(form, values);
        assert!(input.contains("dbpassw0rd-xyz"));
        let masked = reports(&input, false);
        for (what, out) in &masked {
            assert_no_credential(out, &format!("{form:?} {what}"));
        }
        assert!(
            masked[2].1.contains("- name: SKYPILOT_DB_CONNECTION_URI\n           value: \"(redacted, 52 bytes)\""),
            "{}",
            masked[2].1
        );
        assert!(reports(&input, true)[6].1.contains("dbpassw0rd-xyz"));
    }
}

/// A URL with user information pasted where a context name goes (an allowed list, a
/// `context_configs` key): the error that says it names no context shows its size, never the
/// password, on stderr, in the last-run report and in the diff's JSON error.
#[test]
fn a_url_with_user_information_in_a_context_name_is_not_shown() {
    let values = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, \"postgresql://svc:hunter2@db/sky\"]\n      context_configs:\n        \"https://tok:hunter2@h\": {}\n";
    let input = render(Form::Helm3, values);
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_file(dir.path()).display());
    let state = dir.path().join("state");
    let out = run_with_stdin(
        clean(&mut Command::new(bin())).args(["post-render", &kc]).env("XDG_STATE_HOME", &state),
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not in the kubeconfig") && err.contains("context `(redacted, 31 bytes)`"), "{err}");
    assert_no_credential(&err, "post-render stderr");
    let last = std::fs::read_to_string(last_run_file(&state)).expect("last run");
    assert_no_credential(&last, "last run");
    let (code, json, err) = diff(&input, &["--output", "json"]);
    assert_eq!(code, 1);
    assert!(json.contains("\"error\""), "{json}");
    assert_no_credential(&json, "diff JSON");
    assert_no_credential(&err, "diff stderr");
}
