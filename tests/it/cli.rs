//! The command contract: exit codes, errors that say where, nothing on stdout on failure,
//! options from flags, environment and config file.

use std::process::Command;

use crate::util::{bin, clean, run_with_stdin, skyhelm};

const API: &str = crate::util::API_DEPLOYMENT;

fn stream(extra_before: &str, api: &str) -> String {
    format!("---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n{extra_before}---\n{api}")
}

/// Runs post-render expecting failure: stdout must be empty; returns stderr.
fn fails(args: &[&str], input: &[u8]) -> String {
    let mut all = vec!["post-render"];
    all.extend_from_slice(args);
    let out = skyhelm(&all, input);
    assert_eq!(out.status.code(), Some(1), "expected exit 1: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout must be empty on error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn empty_input_gives_empty_output() {
    let out = skyhelm(&["post-render"], b"");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn no_subcommand_with_piped_stdin_post_renders() {
    let out = skyhelm(&["--secret-name", "creds"], stream("", API).as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: creds"));
}

#[test]
fn malformed_api_server_names_document_kind_and_line() {
    let bad = API.replace("        image: img\n", "        image: [unclosed\n");
    let err = fails(&[], stream("", &bad).as_bytes());
    assert!(err.contains("document 2 (Deployment sky-api-server)"), "{err}");
    assert!(err.contains("line "), "{err}");
}

#[test]
fn non_utf8_is_refused_with_its_place() {
    let mut input = stream("", API).into_bytes();
    input.extend_from_slice(b"# \xff\xfe\n");
    let err = fails(&[], &input);
    assert!(err.contains("document 2, line 25, column 3"), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn alias_bomb_is_refused() {
    let mut bomb = String::from("      x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!("      x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    let api = API.replace("    spec:\n      containers:", &format!("    spec:\n{bomb}      containers:"));
    let err = fails(&[], stream("", &api).as_bytes());
    assert!(err.contains("excessive aliasing"), "{err}");
}

#[test]
fn nesting_deeper_than_kubernetes_accepts_is_refused() {
    let deep = format!("      x: {}{}\n", "[".repeat(10_001), "]".repeat(10_001));
    let api = API.replace("    spec:\n      containers:", &format!("    spec:\n{deep}      containers:"));
    let err = fails(&[], stream("", &api).as_bytes());
    assert!(err.contains("exceeded max depth of 10000"), "{err}");
}

#[test]
fn another_volume_at_the_target_path_is_a_conflict_naming_both() {
    let api = API.replace("          mountPath: /root/.sky\n", "          mountPath: /root/.kube\n");
    let err = fails(&[], stream("", &api).as_bytes());
    assert!(err.contains("/root/.kube is already mounted from volume `state` (a emptyDir volume)"), "{err}");
    assert!(err.contains("Secret `kube-credentials`"), "{err}");
}

#[test]
fn kube_config_volume_from_another_secret_is_a_conflict() {
    let api = API.replace(
        "        emptyDir: {}\n",
        "        emptyDir: {}\n      - name: kube-config\n        secret:\n          secretName: other\n",
    );
    let err = fails(&[], stream("", &api).as_bytes());
    assert!(
        err.contains("volume `kube-config` comes from Secret `other`, not from Secret `kube-credentials`"),
        "{err}"
    );
}

#[test]
fn no_api_server_lists_what_was_found() {
    let other = API.replace("skypilot-api", "web").replace("sky-api-server", "web");
    let err = fails(&[], stream("", &other).as_bytes());
    assert!(err.contains("no Deployment has a container named `skypilot-api`"), "{err}");
    assert!(err.contains("Deployment sky/web (containers: web)"), "{err}");
}

#[test]
fn two_candidates_are_ambiguous_until_deployment_is_named() {
    let second = API.replace("sky-api-server", "other-api-server");
    let input = format!("{}---\n{second}", stream("", API));
    let err = fails(&[], input.as_bytes());
    assert!(err.contains("several Deployments") && err.contains("sky/other-api-server"), "{err}");
    let out = skyhelm(&["post-render", "--deployment", "other-api-server"], input.as_bytes());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let docs = crate::util::docs(&text);
    assert!(!docs[1].contains("kube-config") && docs[2].contains("kube-config"));
}

#[test]
fn shared_anchor_is_not_edited() {
    let api = API.replace("        volumeMounts:\n", "        volumeMounts: &mounts\n").replace(
        "      volumes:\n",
        "      - name: sidecar\n        image: img\n        volumeMounts: *mounts\n      volumes:\n",
    );
    let err = fails(&[], stream("", &api).as_bytes());
    assert!(err.contains("shared through an anchor"), "{err}");
}

/// The API Deployment with these `env` entries (each line indented for the container).
fn api_with_env(entries: &str) -> String {
    API.replace("        image: img\n", &format!("        image: img\n        env:\n{entries}"))
}

#[test]
fn kubeconfig_env_that_ignores_the_mount_is_refused() {
    // The variable's name as written, with an escape (its text is written nowhere as is), and
    // through an alias to an escaped anchor.
    for name in ["KUBECONFIG", "\"KUBE\\x43ONFIG\"", "\"KUBE\\u0043ONFIG\""] {
        for (anchor, entry) in [
            ("", name.to_string()),
            (&*format!("        - name: &n {name}\n          value: other\n"), "*n".to_string()),
        ] {
            let api = api_with_env(&format!("{anchor}        - name: {entry}\n          value: /elsewhere\n"))
                .replace(
                    "        emptyDir: {}\n",
                    "        emptyDir: {}\n      - name: pools\n        secret:\n          secretName: sky-ssh-node-pools\n",
                );
            let err = fails(&[], stream("", &api).as_bytes());
            assert!(err.contains("KUBECONFIG is set to `/elsewhere`"), "{name} {entry}: {err}");
        }
    }
}

/// An env entry of the API container that writes `name` twice is refused, whether or not a
/// variable skyhelm looks for is written anywhere in the Deployment (a name written nowhere is
/// not looked for entry by entry, but the entries are still checked for this), block or flow,
/// with the mount or without.
#[test]
fn an_env_entry_that_writes_name_twice_is_refused() {
    for entry in
        ["        - name: A\n          name: B\n          value: x\n", "        - {name: A, name: B, value: x}\n"]
    {
        for other in ["", "        - name: HOME\n          value: /root\n"] {
            let api = api_with_env(&format!("{other}{entry}"));
            for args in [&[][..], &["--no-mount"], &["--rbac", "off"]] {
                let err = fails(args, stream("", &api).as_bytes());
                assert!(err.contains("`name` appears twice"), "{entry} {other} {args:?}: {err}");
            }
        }
    }
}

#[test]
fn options_come_from_flags_then_environment_then_config_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("skyhelm.yaml");
    std::fs::write(&cfg, "secret-name: from-file\nreport-file: report.txt\n").expect("write");
    let input = stream("", API);
    let cfg_arg = cfg.to_string_lossy().into_owned();

    let out = skyhelm(&["post-render", "--config", &cfg_arg], input.as_bytes());
    assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: from-file"));
    let report = std::fs::read_to_string(dir.path().join("report.txt")).expect("report relative to the config file");
    assert!(report.contains("[kubeconfig-mount]"), "{report}");

    let out = run_with_stdin(
        clean(&mut Command::new(bin()))
            .args(["post-render", "--config", &cfg_arg])
            .env("SKYHELM_SECRET_NAME", "from-env"),
        input.as_bytes(),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: from-env"));

    let out = run_with_stdin(
        clean(&mut Command::new(bin()))
            .args(["post-render", "--config", &cfg_arg, "--secret-name", "from-flag"])
            .env("SKYHELM_SECRET_NAME", "from-env"),
        input.as_bytes(),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: from-flag"));

    std::fs::write(&cfg, "secret_name: typo\n").expect("write");
    let err = fails(&["--config", &cfg_arg], input.as_bytes());
    assert!(err.contains("config file") && err.contains("secret_name"), "{err}");
}

#[test]
fn report_file_gets_the_error_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let report = dir.path().join("r.txt");
    let arg = format!("--report-file={}", report.display());
    fails(&[&arg, "--container", "nope"], stream("", API).as_bytes());
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.starts_with("error: no Deployment has a container named `nope`"), "{text}");
}

#[test]
fn plugin_install_and_uninstall() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().to_string_lossy().into_owned();
    let out = skyhelm(&["helm-plugin", "install", "--dir", &d], b"");
    assert!(out.status.success());
    let manifest = std::fs::read_to_string(dir.path().join("skyhelm/plugin.yaml")).expect("plugin.yaml");
    assert!(
        manifest.contains("type: postrenderer/v1") && manifest.contains("command: \"${HELM_PLUGIN_DIR}/bin/skyhelm\""),
        "{manifest}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("skyhelm/bin/skyhelm")).expect("copy"),
        std::fs::read(bin()).expect("bin")
    );
    let out = skyhelm(&["helm-plugin", "uninstall", "--dir", &d], b"");
    assert!(out.status.success());
    assert!(!dir.path().join("skyhelm").exists());
}

#[test]
fn limits_have_clear_errors_and_options_to_raise_them() {
    let input = stream("", API);
    let err = fails(&["--max-input-bytes", "100"], input.as_bytes());
    assert!(err.contains("more than --max-input-bytes 100"), "{err}");
    let err = fails(&["--max-documents", "1"], input.as_bytes());
    assert!(err.contains("the input has 2 documents, more than --max-documents 1"), "{err}");
    let err = fails(&["--max-line-bytes", "20"], input.as_bytes());
    assert!(
        err.contains("document 2 (Deployment sky-api-server)") && err.contains("more than --max-line-bytes 20"),
        "{err}"
    );
    let err = fails(&["--max-depth", "3"], input.as_bytes());
    assert!(err.contains("exceeded max depth of 3"), "{err}");
    // Raised, the same input goes through.
    let out = skyhelm(&["post-render", "--max-input-bytes", "100000", "--max-documents", "2"], input.as_bytes());
    assert!(out.status.success());
}

/// A parsed node keeps its column in 24 bits: one starting further right is refused, naming the
/// document, even with --max-line-bytes raised past that; one just inside still goes through.
#[test]
fn a_node_past_column_16777215_is_refused_not_misread() {
    for (pad, refused) in [(16_777_215 - 17, false), (16_777_215 - 16, true)] {
        // `b` starts at column 17 + pad (0-based) of the container's `args`.
        let long = format!("        args: [{}, b]\n", "x".repeat(pad));
        let api = API.replace("        image: img\n", &format!("        image: img\n{long}"));
        let args = ["post-render", "--max-line-bytes", "20000000", "--max-input-bytes", "40000000", "--rbac", "off"];
        let out = skyhelm(&args, stream("", &api).as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        if refused {
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(out.stdout.is_empty());
            assert!(
                err.contains("document 2 (Deployment sky-api-server)") && err.contains("past column 16777215"),
                "{err}"
            );
        } else {
            assert!(out.status.success(), "{err}");
            assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: kube-credentials"));
        }
    }
}

#[test]
fn excessive_aliasing_can_be_allowed() {
    let mut bomb = String::from("      x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!("      x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    let api = API.replace("    spec:\n      containers:", &format!("    spec:\n{bomb}      containers:"));
    let out = skyhelm(&["post-render", "--allow-excessive-aliasing", "--rbac", "off"], stream("", &api).as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: kube-credentials"));
}

/// The fault injection exists in debug builds only (what `cargo test` builds); a release build
/// ignores the variable.
#[test]
fn a_panic_becomes_exit_70_with_nothing_on_stdout() {
    let state = tempfile::tempdir().expect("tmp");
    let out = run_with_stdin(
        clean(&mut Command::new(bin()))
            .arg("post-render")
            .env("SKYHELM_TEST_PANIC", "1")
            .env("XDG_STATE_HOME", state.path()),
        stream("", API).as_bytes(),
    );
    if cfg!(debug_assertions) {
        assert_eq!(out.status.code(), Some(70));
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("internal error"));
        // The last-run report says so (not "running", as after a kill).
        let last =
            clean(&mut Command::new(bin())).env("XDG_STATE_HOME", state.path()).arg("last").output().expect("last");
        let text = String::from_utf8_lossy(&last.stdout);
        assert_eq!(last.status.code(), Some(1), "{text}");
        assert!(text.contains(" post-render failed at ") && text.contains("error: internal error (a bug)"), "{text}");
    } else {
        assert_eq!(out.status.code(), Some(0), "the release binary has test-only behaviour");
    }
}

/// kube's parse errors quote the kubeconfig's lines; skyhelm's never show a credential.
#[test]
fn a_broken_kubeconfig_error_shows_no_credential() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: \"hunter2-token\"\n    exec: [broken\n",
    )
    .expect("write");
    let arg = format!("--skypilot-kubeconfig={}", kc.display());
    let err = fails(&[&arg], stream("", API).as_bytes());
    assert!(err.contains("kubeconfig") && err.contains("line"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// A stdout that cannot be written (full disk, here /dev/full) is an error (exit 1, "writing
/// stdout"), never a panic (exit 70) — for every command that prints, not only post-render.
#[test]
fn a_failed_stdout_write_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let envs = crate::util::root().join("examples/environments.yaml");
    let out = dir.path().join("charts");
    let cases: Vec<Vec<String>> = vec![
        vec!["completions".into(), "bash".into()],
        vec!["man".into()],
        vec!["generate".into(), envs.display().to_string(), "--out".into(), out.display().to_string()],
        vec!["diff".into(), crate::util::root().join("examples/helm3-rendered.yaml").display().to_string()],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let o = clean(&mut Command::new(bin()))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("writing stdout"), "{args:?}: {err}");
        assert!(!err.contains("internal error"), "{args:?}: {err}");
    }
}
