//! The command line as kubectl and helm users expect it: exit codes (usage errors are 1, on
//! every subcommand; 2 is only `diff`'s "changes"), JSON errors when JSON was asked for,
//! `-o`, `--color always` over NO_COLOR, kubectl's kubeconfig lookup, the man pages.

use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{API_DEPLOYMENT, KUBECONFIG, bin, clean, run_with_stdin, skyhelm};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_env(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(bin());
    clean(&mut cmd).env_remove("KUBECONFIG").env_remove("NO_COLOR").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_stdin(&mut cmd, stdin)
}

#[test]
fn usage_errors_exit_1_on_every_subcommand_and_2_stays_diffs_changes() {
    let cases: &[&[&str]] = &[
        &["diff", "--kubecofig", "x", "f"],
        &["post-render", "--no-such-flag"],
        &["--no-such-flag"],
        &["doctor", "--now"],
        &["kubeconfig", "pack", "--context"],
        &["generate"],
        &["helm-plugin", "package", "--sign"],
        &["completions", "tcsh"],
        &["man", "--bogus"],
        &["last", "extra"],
        &["no-such-subcommand"],
    ];
    for args in cases {
        let out = skyhelm(args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}: stdout must be empty");
        assert!(text(&out.stderr).starts_with("error: "), "{args:?}: {}", text(&out.stderr));
    }
    // `diff` with changes is still 2.
    let out = skyhelm(&["diff", "--rbac", "off", "--color", "never"], API_DEPLOYMENT.as_bytes());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // --help and --version are not errors.
    for args in [&["--help"][..], &["diff", "--help"], &["--version"]] {
        let out = skyhelm(args, b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn a_usage_error_with_json_output_is_the_json_error_object() {
    for (args, first) in [
        (&["diff", "--output", "json", "--kubecofig", "x"][..], "version"),
        (&["diff", "-o", "json", "--kubecofig", "x"], "version"),
        (&["diff", "--kubecofig=x", "-ojson"], "version"),
        (&["doctor", "-o", "json", "--now"], "kubeconfig"),
        (&["doctor", "--output=json", "--bogus"], "kubeconfig"),
    ] {
        let out = skyhelm(args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
        assert!(v.get(first).is_some(), "{args:?}: {v}");
        let errors = v["errors"].as_array().expect("errors list");
        assert_eq!(errors.len(), 1, "{v}");
        let message = errors[0]["message"].as_str().expect("message");
        assert!(message.contains("unexpected argument") || message.contains("a value is required"), "{v}");
        assert!(!message.contains("Usage:"), "{v}");
        assert!(text(&out.stderr).starts_with("error: "), "{}", text(&out.stderr));
    }
    // A typo's tip comes along.
    let out = skyhelm(&["diff", "-o", "json", "--kubecofig", "x"], b"");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("'--kubeconfig'"), "{v}");
}

#[test]
fn json_errors_are_a_list_with_document_and_line() {
    // A manifest error: its document and line.
    let input = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\n---\n{API_DEPLOYMENT}");
    let bad = input.replace("        image: img\n", "        image: [unclosed\n");
    let out = skyhelm(&["diff", "-o", "json"], bad.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let e = &v["errors"][0];
    assert_eq!(e["document"], 2, "{v}");
    assert!(e["line"].as_u64().is_some_and(|l| l > 4), "{v}");
    // --strict: each correction or warning its own entry, no embedded bullets.
    let kc = tempfile::tempdir().expect("tmp");
    let kcp = crate::util::kubeconfig_file(kc.path());
    let out = skyhelm(
        &[
            "diff",
            "-o",
            "json",
            "--strict",
            "--skypilot-kubeconfig",
            kcp.to_str().unwrap(),
            "--allowed-context",
            "PROD",
            "--allowed-context",
            "dev-eu",
        ],
        API_DEPLOYMENT.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let errors = v["errors"].as_array().expect("list");
    assert!(errors.len() >= 2, "{v}");
    for e in errors {
        assert!(!e["message"].as_str().unwrap().contains('\n'), "{v}");
        assert!(e.get("document").is_none(), "{v}");
    }
    // A correction names its document in the `document` field too; a warning has none
    // (the example stream: its ConfigMap's allowed list gets `in-cluster` appended).
    let root = crate::util::root();
    let (example_kc, example) = (root.join("examples/kubeconfig"), root.join("examples/helm3-rendered.yaml"));
    let out = skyhelm(
        &[
            "diff",
            "-o",
            "json",
            "--strict",
            "--skypilot-kubeconfig",
            example_kc.to_str().unwrap(),
            example.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let errors = v["errors"].as_array().expect("list");
    let mut corrections = 0;
    for e in errors {
        let message = e["message"].as_str().unwrap();
        assert!(!message.contains('\n'), "{v}");
        match message.strip_prefix("--strict: correction: document ") {
            Some(rest) => {
                corrections += 1;
                let n: u64 = rest.split(' ').next().unwrap().parse().expect("document number");
                assert_eq!(e["document"], n, "{v}");
            }
            None => assert!(e.get("document").is_none(), "{v}"),
        }
    }
    assert!(corrections >= 1, "{v}");
}

#[test]
fn o_is_short_for_output_everywhere() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let kc = kc.to_str().unwrap();
    let out = skyhelm(&["diff", "-o", "json", "--rbac", "off"], API_DEPLOYMENT.as_bytes());
    serde_json::from_slice::<Value>(&out.stdout).expect("diff -o json");
    let out = skyhelm(&["doctor", "-o", "json", "--kubeconfig", kc, "--allowed-context", "prod"], b"");
    serde_json::from_slice::<Value>(&out.stdout).expect("doctor -o json");
    let out = skyhelm(&["kubeconfig", "pack", "-o", "kubeconfig", "--kubeconfig", kc, "--context", "prod"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("apiVersion: v1\nkind: Config\n"), "{}", text(&out.stdout));
}

#[test]
fn color_always_beats_no_color_and_doctor_is_colored() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let kc = kc.to_str().unwrap();
    let out = run_env(&["diff", "--rbac", "off", "--color", "always"], &[("NO_COLOR", "1")], API_DEPLOYMENT.as_bytes());
    assert!(text(&out.stdout).contains("\x1b["), "{}", text(&out.stdout));
    let out = run_env(&["diff", "--rbac", "off"], &[("NO_COLOR", "1")], API_DEPLOYMENT.as_bytes());
    assert!(!text(&out.stdout).contains('\x1b'));
    let doctor = ["doctor", "--kubeconfig", kc, "--allowed-context", "nope"];
    let mut args = doctor.to_vec();
    args.extend(["--color", "always"]);
    let out = run_env(&args, &[("NO_COLOR", "1")], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\x1b[1m\x1b[31mERRORS\x1b[0m"), "{}", text(&out.stdout));
    // auto: not a terminal, so no colour.
    let out = run_env(&doctor, &[], b"");
    assert!(!text(&out.stdout).contains('\x1b'), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("\nERRORS\n"), "{}", text(&out.stdout));
}

#[test]
fn exit_codes_and_the_description_are_in_help() {
    for args in [&["--help"][..], &["diff", "--help"], &["doctor", "--help"], &["kubeconfig", "pack", "--help"]] {
        let out = skyhelm(args, b"");
        let help = text(&out.stdout);
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.contains("Exit status: 0 success; 1 error, usage errors included"), "{args:?}: {help}");
        assert!(help.contains("2 `diff` found changes"), "{args:?}");
    }
    let cargo = std::fs::read_to_string(crate::util::root().join("Cargo.toml")).unwrap();
    let line = cargo.lines().find_map(|l| l.strip_prefix("description = \"")).unwrap().trim_end_matches('"');
    for args in [&["--help"][..], &["-h"]] {
        let help = text(&skyhelm(args, b"").stdout);
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.starts_with(line), "{args:?}: {help}");
    }
    // `skyhelm` alone on a terminal prints the same help; here (no terminal) `skyhelm -h`.
    for part in ["mounts the kubeconfig Secret", "fixes allowed_contexts", "minimal RBAC", "reports every change"] {
        assert!(line.contains(part), "{line}");
    }
}

/// doctor and kubeconfig pack with no --kubeconfig read what kubectl reads.
#[test]
fn doctor_and_pack_read_kubeconfig_as_kubectl() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    // a: context prod (server c1); b: prod again (another server, ignored), its own `extra`,
    // and the current-context (a sets none).
    std::fs::write(&a, KUBECONFIG.replace("current-context: prod\n", "")).unwrap();
    std::fs::write(
        &b,
        "apiVersion: v1\nkind: Config\ncurrent-context: extra\nclusters:\n- name: c1\n  cluster: {server: https://other.example.com}\n- name: c2\n  cluster: {server: https://c2.example.com}\ncontexts:\n- name: prod\n  context: {cluster: c2, user: u1}\n- name: extra\n  context: {cluster: c2, user: u1}\nusers:\n- name: u1\n  user: {token: other}\n",
    )
    .unwrap();
    let missing = dir.path().join("missing");
    let list = std::env::join_paths([&a, &missing, &b]).unwrap();
    let list = list.to_str().unwrap();
    let out = run_env(
        &["kubeconfig", "pack", "-o", "kubeconfig", "--context", "prod", "--context", "extra"],
        &[("KUBECONFIG", list)],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let packed = text(&out.stdout);
    let view = crate::util::k8s_json(&packed);
    let clusters = view[0]["clusters"].as_array().unwrap();
    let server = |name: &str| {
        clusters.iter().find(|c| c["name"] == name).map(|c| c["cluster"]["server"].as_str().unwrap().to_string())
    };
    assert_eq!(server("c1").as_deref(), Some("https://c1.example.com"), "first file wins: {packed}");
    assert_eq!(server("c2").as_deref(), Some("https://c2.example.com"), "{packed}");
    let users = view[0]["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["user"]["token"], "placeholder", "first file's user wins");

    let out = run_env(&["doctor", "-o", "json", "--allowed-context", "extra"], &[("KUBECONFIG", list)], b"");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["kubeconfig"], list, "{v}");
    assert!(!text(&out.stdout).contains("unknown-context"), "extra is in the merged kubeconfig: {v}");

    // No KUBECONFIG: ~/.kube/config.
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    std::fs::write(home.join(".kube/config"), KUBECONFIG).unwrap();
    let out =
        run_env(&["doctor", "-o", "json", "--allowed-context", "train"], &[("HOME", home.to_str().unwrap())], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["kubeconfig"], home.join(".kube/config").to_str().unwrap());
    let out = run_env(&["kubeconfig", "pack", "--context", "train"], &[("HOME", home.to_str().unwrap())], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Neither: a clear error.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run_env(&["doctor"], &[("HOME", empty.to_str().unwrap())], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no kubeconfig: KUBECONFIG is not set and"), "{}", text(&out.stderr));
}

#[test]
fn man_out_writes_a_page_per_subcommand_that_man_renders() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = skyhelm(&["man", "--out", dir.path().to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for want in [
        "skyhelm.1",
        "skyhelm-post-render.1",
        "skyhelm-diff.1",
        "skyhelm-doctor.1",
        "skyhelm-last.1",
        "skyhelm-man.1",
        "skyhelm-generate.1",
        "skyhelm-kubeconfig-pack.1",
        "skyhelm-helm-plugin-install.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    // Every SKYHELM_* variable any option reads.
    let help = text(&skyhelm(&["diff", "--help"], b"").stdout);
    let vars: Vec<&str> =
        help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("SKYHELM_")).collect();
    assert!(vars.len() > 10, "{vars:?}");
    for name in &names {
        let page = dir.path().join(name);
        let rendered = crate::util::render_man(&page);
        for section in ["NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
            assert!(rendered.lines().any(|l| l.trim_end() == section), "{name}: no {section}:\n{rendered}");
        }
        for v in &vars {
            assert!(rendered.contains(v), "{name}: {v} missing");
        }
        assert!(rendered.contains("last-run.txt"), "{name}");
        assert!(rendered.contains("KUBECONFIG"), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("skyhelm-diff.1")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "man pages are for every user");
    }
    let top = crate::util::render_man(&dir.path().join("skyhelm.1"));
    assert!(top.contains("fixes allowed_contexts"), "{top}");
    assert!(top.contains("skyhelm-diff(1)"), "{top}");
    // `skyhelm man` alone is the top page.
    let out = skyhelm(&["man"], b"");
    assert_eq!(out.stdout, std::fs::read(dir.path().join("skyhelm.1")).unwrap());
}

/// generate reports every problem of the environments file in one run (a Secret name, a
/// context typo, a second environment's), and names the contexts file when it checked one.
#[test]
fn generate_reports_every_problem_in_one_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kubeconfig");
    std::fs::copy(crate::util::root().join("examples/kubeconfig"), &kc).unwrap();
    let contexts = dir.path().join("contexts.yaml");
    let out = skyhelm(
        &[
            "kubeconfig",
            "pack",
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--contexts-file",
            contexts.to_str().unwrap(),
            "--context",
            "prod-eu",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: file://../skypilot\nenvironments:\n  - name: a\n    kubeconfig: kubeconfig\n    kubeconfigSecretName: 'Not Valid'\n    allowedContexts: [prod-ue]\n  - name: b\n    contexts: contexts.yaml\n    allowedContexts: [train-us]\n",
    )
    .unwrap();
    let out = skyhelm(&["generate", envs.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for want in [
        "environment `a`: kubeconfigSecretName \"Not Valid\" is not a valid Secret name",
        "environment `a`: allowedContexts: context `prod-ue` is not in the kubeconfig (did you mean `prod-eu`?)",
        "environment `b`: allowedContexts: context `train-us` is not in the contexts file",
        "fix the name or the contexts file",
    ] {
        assert!(err.contains(want), "{want}:\n{err}");
    }
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

/// Runs `skyhelm ARGS` on a terminal (util-linux `script` gives it one): (exit code, output).
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let line = std::iter::once(bin().display().to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    clean(&mut cmd).env_remove("NO_COLOR").args(["-qec", &line, "/dev/null"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_with_stdin(&mut cmd, b"");
    (out.status.code(), text(&out.stdout))
}

#[test]
fn on_a_terminal_skyhelm_alone_says_what_it_does_and_doctor_is_colored() {
    let (code, out) = on_terminal(&[], &[]);
    assert_eq!(code, Some(1), "{out}");
    let said = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.starts_with(crate::util::CARGO_DESCRIPTION), "{said}");
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let args = ["doctor", "--kubeconfig", kc.to_str().unwrap(), "--allowed-context", "nope"];
    let (_, out) = on_terminal(&args, &[]);
    assert!(out.contains("\x1b[1m\x1b[31mERRORS\x1b[0m"), "{out}");
    let (_, out) = on_terminal(&args, &[("NO_COLOR", "1")]);
    assert!(out.contains("ERRORS") && !out.contains('\x1b'), "{out}");
}
