//! Issue 11 §6, messages and small promises: options before the subcommand, JSON errors,
//! `doctor --allowed-context all` and the external database, SKYHELM_ALLOWED_CONTEXTS, no
//! parser-library hints, the report file's final newline, cluster-scoped diff headers.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::helm::{Form, render};
use crate::util::{KUBECONFIG, bin, clean, kubeconfig_file, run_with_stdin, skyhelm};

fn run_env(args: &[&str], env: &[(&str, &str)], dir: Option<&Path>, stdin: &[u8]) -> Output {
    let mut cmd = Command::new(bin());
    clean(&mut cmd).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    run_with_stdin(&mut cmd, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const GOOD: &str = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";

#[test]
fn post_render_options_may_come_before_post_render_and_diff() {
    let dir = tempfile::tempdir().expect("tmp");
    let sub = dir.path().join("a folder");
    std::fs::create_dir(&sub).expect("mkdir");
    let cfg = sub.join("skyhelm config.yaml");
    std::fs::write(&cfg, "secret-name: creds-from-config\n").expect("write");
    let cfg = cfg.to_str().unwrap();
    let kc = kubeconfig_file(dir.path());
    let kc = kc.to_str().unwrap();
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, GOOD);
        let out = skyhelm(&["--config", cfg, "post-render", "--skypilot-kubeconfig", kc], input.as_bytes());
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("secretName: creds-from-config"), "{}", text(&out.stdout));
        let out = skyhelm(
            &[&format!("--config={cfg}"), "--skypilot-kubeconfig", kc, "diff", "--color", "never"],
            input.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout)
                .contains("  kubeconfig-mount: added volume `kube-config` from Secret `creds-from-config`\n"),
            "{}",
            text(&out.stdout)
        );
    }
    let input = render(Form::Helm3, GOOD);
    // A flag before the subcommand beats the environment, like one after it.
    let out = run_env(
        &["--secret-name", "from-flag", "post-render"],
        &[("SKYHELM_SECRET_NAME", "from-env")],
        None,
        input.as_bytes(),
    );
    assert!(text(&out.stdout).contains("secretName: from-flag"), "{}", text(&out.stderr));
    // Repeatable options add up on both sides.
    let out = skyhelm(
        &[
            "--skypilot-kubeconfig",
            kc,
            "--allowed-context",
            "train",
            "diff",
            "--allowed-context",
            "prod",
            "--output",
            "json",
        ],
        input.as_bytes(),
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v["resources"][0]["reasons"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("kubernetes.allowed_contexts set to [train, prod, in-cluster] from --allowed-context"),
        "{v}"
    );
    // A config file whose name is a subcommand's.
    std::fs::write(dir.path().join("diff"), "secret-name: named-diff\n").expect("write");
    let out = run_env(&["--config", "diff", "post-render"], &[], Some(dir.path()), input.as_bytes());
    assert!(text(&out.stdout).contains("secretName: named-diff"), "{}", text(&out.stderr));
    // Given twice, once on each side: refused, as clap refuses it on one side.
    let out = skyhelm(&["--config", cfg, "post-render", "--config", cfg], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: the argument '--config <FILE>' cannot be used multiple times\n"));
    // A bad value before the subcommand is named as after it.
    let out = skyhelm(&["--max-depth", "abc", "post-render"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .starts_with("error: invalid value 'abc' for '--max-depth <N>': invalid digit found in string\n"),
        "{}",
        text(&out.stderr)
    );
    // The other subcommands do not take post-render's options.
    let out = skyhelm(&["--config", cfg, "doctor", "--kubeconfig", kc], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).starts_with("error: the subcommand 'doctor' cannot be used with '--config <FILE>'\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn json_output_reports_failure_as_json() {
    let input = render(Form::Helm3, GOOD);
    let out = skyhelm(&["diff", "--output", "json", "--container", "nope"], input.as_bytes());
    let msg = "no Deployment has a container named `nope`; found: Deployment skypilot/sky-api-server (containers: skypilot-api). Use --deployment and --container to name the API server";
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_eq!(v, json!({"version": 1, "errors": [{"message": msg}], "error": msg}));
    assert_eq!(text(&out.stderr), format!("skyhelm: error: {msg}\n"));
    // Without --output json, stdout stays empty.
    let out = skyhelm(&["diff", "--container", "nope"], input.as_bytes());
    assert_eq!((out.status.code(), out.stdout.is_empty()), (Some(1), true));

    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("no such kubeconfig");
    let missing = missing.to_str().unwrap();
    let out = skyhelm(&["doctor", "--output", "json", "--kubeconfig", missing], b"");
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    let msg = format!("reading kubeconfig {missing}: No such file or directory (os error 2)");
    assert_eq!(v, json!({"kubeconfig": missing, "errors": [{"message": msg}], "error": msg}));
    assert_eq!(text(&out.stderr), format!("skyhelm: error: {msg}\n"));
    let kc = kubeconfig_file(dir.path());
    let out = skyhelm(&["doctor", "--output", "json", "--kubeconfig", kc.to_str().unwrap(), "--now", "tomorrow"], b"");
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_eq!(v["error"], "--now tomorrow: expected YYYY-MM-DD");
    let out = skyhelm(
        &[
            "doctor",
            "--output",
            "json",
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--manifests",
            "-",
            "--container",
            "nope",
        ],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_eq!(
        v["error"],
        "no Deployment has a container named `nope`; found: Deployment skypilot/sky-api-server (containers: skypilot-api). Use --deployment and --container to name the API server"
    );
}

fn doctor_json(args: &[&str], stdin: &[u8]) -> (i32, Value) {
    let mut all = vec!["doctor", "--output", "json"];
    all.extend_from_slice(args);
    let out = skyhelm(&all, stdin);
    (out.status.code().expect("code"), serde_json::from_slice(&out.stdout).expect("json"))
}

#[test]
fn doctor_accepts_allowed_context_all_and_names_an_external_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let kc = kc.to_str().unwrap();
    let (code, v) = doctor_json(&["--kubeconfig", kc, "--allowed-context", "all"], b"");
    assert_eq!((code, &v["findings"]), (0, &json!([])), "{v}");
    // A list of names is still a list: the others are reported as not allowed.
    let (code, v) = doctor_json(&["--kubeconfig", kc, "--allowed-context", "prod"], b"");
    assert_eq!(code, 0);
    assert_eq!(v["findings"].as_array().unwrap().len(), 2, "{v}");
    // `all` in the chart is read the same way.
    let input = render(Form::Helm4, "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: all\n");
    let (code, v) = doctor_json(&["--kubeconfig", kc, "--manifests", "-"], input.as_bytes());
    assert_eq!((code, &v["findings"]), (0, &json!([])), "{v}");

    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, "apiService:\n  dbConnectionString: postgresql://db/sky\n");
        let (code, v) = doctor_json(&["--kubeconfig", kc, "--manifests", "-"], input.as_bytes());
        assert_eq!(code, 0);
        assert_eq!(
            v["findings"],
            json!([{
                "severity": "info",
                "check": "external-database",
                "subject": "kubeconfig",
                "message": "SKYPILOT_DB_CONNECTION_URI is set on the API server: SkyPilot keeps its config, allowed_contexts included, in that database, not in the chart; not checking which contexts are allowed (name them with --allowed-context to check a list)"
            }])
        );
    }
}

#[test]
fn skyhelm_allowed_contexts_is_trimmed_and_named_in_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let kc = kc.to_str().unwrap();
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, "{}\n");
        let out = run_env(
            &["post-render", "--skypilot-kubeconfig", kc],
            &[("SKYHELM_ALLOWED_CONTEXTS", " prod , train,, ")],
            None,
            input.as_bytes(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(
                "[allowed-contexts]: kubernetes.allowed_contexts set to [prod, train, in-cluster] from SKYHELM_ALLOWED_CONTEXTS\n"
            ),
            "{}",
            text(&out.stderr)
        );
        let docs = crate::util::k8s_json(&text(&out.stdout));
        let config = crate::helm::config_map(&docs);
        assert_eq!(config["kubernetes"]["allowed_contexts"], json!(["prod", "train", "in-cluster"]));

        let out = run_env(
            &["post-render", "--skypilot-kubeconfig", kc],
            &[("SKYHELM_ALLOWED_CONTEXTS", "prod, trian")],
            None,
            input.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert!(
            err.contains(
                ": SKYHELM_ALLOWED_CONTEXTS: context `trian` is not in the kubeconfig (did you mean `train`?); "
            ),
            "{err}"
        );
        // The flag is named when the flag is used; its values are taken as written.
        let out =
            skyhelm(&["post-render", "--skypilot-kubeconfig", kc, "--allowed-context", "trian"], input.as_bytes());
        assert!(text(&out.stderr).contains(": --allowed-context: context `trian` is not in the kubeconfig"));
    }
}

#[test]
fn no_parser_library_hints_in_messages() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = render(Form::Helm3, GOOD);
    let hints = ["DuplicateKeyPolicy", "in Options", "Option<", "from_str"];
    let clean_of_hints = |what: &str, s: &str| {
        for h in hints {
            assert!(!s.contains(h), "{what}: {h:?} in\n{s}");
        }
    };
    // The --config file.
    let cfg = dir.path().join("skyhelm.yaml");
    std::fs::write(&cfg, "secret-name: a\nsecret-name: b\n").expect("write");
    let out = skyhelm(&["post-render", "--config", cfg.to_str().unwrap()], input.as_bytes());
    let err = text(&out.stderr);
    assert_eq!(
        err.lines().next(),
        Some(
            format!(
                "skyhelm: error: config file {}: error: line 2 column 1: duplicate mapping key: secret-name",
                cfg.display()
            )
            .as_str()
        )
    );
    clean_of_hints("config file", &err);
    std::fs::write(&cfg, "secret-name: a\n---\nsecret-name: b\n").expect("write");
    let err = text(&skyhelm(&["post-render", "--config", cfg.to_str().unwrap()], input.as_bytes()).stderr);
    assert_eq!(
        err.lines().next(),
        Some(
            format!(
                "skyhelm: error: config file {}: error: line 3 column 1: multiple YAML documents detected",
                cfg.display()
            )
            .as_str()
        )
    );
    clean_of_hints("config file", &err);
    // A kubeconfig (post-render and doctor).
    let kc = dir.path().join("kc");
    std::fs::write(&kc, "apiVersion: v1\nkind: Config\nusers:\n- name: ~\n").expect("write");
    let kcs = kc.to_str().unwrap();
    let out = skyhelm(&["post-render", "--skypilot-kubeconfig", kcs], input.as_bytes());
    let msg = "failed to parse kubeconfig YAML: a value of the wrong type or form (line 4, column 9)";
    // The first line is the error; post-render adds where its report is kept (`skyhelm last`).
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().next(), Some(format!("skyhelm: error: kubeconfig {kcs}: {msg}").as_str()));
    let (_, v) = doctor_json(&["--kubeconfig", kcs], b"");
    assert_eq!(v["findings"][0]["message"], msg);
    std::fs::write(&kc, format!("{KUBECONFIG}kind: Config\n")).expect("write");
    let out = skyhelm(&["post-render", "--skypilot-kubeconfig", kcs], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    clean_of_hints("kubeconfig", &text(&out.stderr));
    let out = skyhelm(&["doctor", "--kubeconfig", kcs], b"");
    assert!(text(&out.stdout).contains("  kubeconfig  parse  "), "{}", text(&out.stdout));
    clean_of_hints("doctor", &text(&out.stdout));
    // The environments file of `generate`.
    let envs = dir.path().join("environments.yaml");
    std::fs::write(&envs, "name: a\nname: b\n").expect("write");
    let out = skyhelm(&["generate", envs.to_str().unwrap(), "--out", dir.path().join("charts").to_str().unwrap()], b"");
    assert_eq!(
        text(&out.stderr),
        format!(
            "skyhelm: error: environments file {}: error: line 2 column 1: duplicate mapping key: name\n",
            envs.display()
        )
    );
}

#[test]
fn the_report_file_ends_with_one_newline() {
    let dir = tempfile::tempdir().expect("tmp");
    let report = dir.path().join("report.txt");
    let r = report.to_str().unwrap();
    let kc = kubeconfig_file(dir.path());
    let input = render(Form::Helm3, GOOD);
    let out =
        skyhelm(&["post-render", "--skypilot-kubeconfig", kc.to_str().unwrap(), "--report-file", r], input.as_bytes());
    assert!(out.status.success());
    let ok = std::fs::read_to_string(&report).expect("report");
    assert!(ok.ends_with("\n") && !ok.ends_with("\n\n"), "{ok:?}");
    assert_eq!(
        text(&out.stderr),
        ok.lines().map(|l| format!("skyhelm: {l}\n")).collect::<String>(),
        "the report file holds what stderr says"
    );
    let out = skyhelm(&["post-render", "--container", "nope", "--report-file", r], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&report).expect("report"),
        "error: no Deployment has a container named `nope`; found: Deployment skypilot/sky-api-server (containers: skypilot-api). Use --deployment and --container to name the API server\n"
    );
    let out = skyhelm(&["diff", "--container", "nope", "--report-file", r], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::read_to_string(&report).expect("report").ends_with("API server\n"));
}

#[test]
fn cluster_scoped_resources_have_no_namespace_in_diff_headers() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let kc = kc.to_str().unwrap();
    let values = format!("rbac:\n  create: false\n{GOOD}");
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, &values);
        for extra in [&[][..], &["--namespace", "skypilot"][..]] {
            let mut args = vec!["diff", "--skypilot-kubeconfig", kc, "--color", "never"];
            args.extend_from_slice(extra);
            let out = skyhelm(&args, input.as_bytes());
            let headers: Vec<String> = text(&out.stdout)
                .lines()
                .filter(|l| l.ends_with(" has been added:") || l.ends_with(" has changed:"))
                .map(str::to_string)
                .collect();
            assert_eq!(
                headers,
                [
                    "skypilot, sky-api-server, Deployment (apps) has changed:",
                    "skypilot, sky-api-server-skyhelm, Role (rbac.authorization.k8s.io) has been added:",
                    "skypilot, sky-api-server-skyhelm, RoleBinding (rbac.authorization.k8s.io) has been added:",
                    "skyhelm:skypilot:sky-api-server, ClusterRole (rbac.authorization.k8s.io) has been added:",
                    "skyhelm:skypilot:sky-api-server, ClusterRoleBinding (rbac.authorization.k8s.io) has been added:",
                ],
                "{}",
                text(&out.stdout)
            );
        }
    }
}
