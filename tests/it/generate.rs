//! `skyhelm generate`: the committed example charts are what the environments file generates;
//! they lint and render under Helm 3 and Helm 4 (the dependency satisfied offline by the
//! stand-in chart); post-rendering them with their skyhelm.yaml changes nothing; validation
//! reports every error with its environment and writes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helm::Helm;
use crate::util::{bin, copy_dir, generate, pyyaml_json, root, skyhelm};

const ENVS: [&str; 2] = ["skypilot-dev", "skypilot-prod"];

/// A scratch folder with the stand-in chart and the generated ones, as in charts/.
fn scratch_charts() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let charts = dir.path().join("charts");
    for c in ["skypilot"].iter().chain(ENVS.iter()) {
        copy_dir(&root().join("charts").join(c), &charts.join(c));
    }
    (dir, charts)
}

#[test]
fn committed_charts_are_what_the_environments_file_generates() {
    let (code, out, err) = generate(&["examples/environments.yaml", "--check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("up to date"));
}

#[test]
fn environments_example_matches_its_json_schema() {
    for example in ["examples/environments.yaml", "examples/gitops/environments.yaml"] {
        let out = Command::new(crate::util::python())
            .args(["-c", "import json, sys, yaml, jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
            .arg(root().join(example))
            .arg(root().join("schemas/environments.schema.json"))
            .output()
            .expect("python3");
        assert!(out.status.success(), "{example}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn generated_charts_lint_render_and_need_no_post_render_changes() {
    let (_dir, charts) = scratch_charts();
    for helm_name in ["helm3", "helm4"] {
        let helm = Helm::new(helm_name);
        for env in ENVS {
            let chart = charts.join(env);
            let c = chart.to_str().expect("path");
            helm.ok(&["dependency", "build", c]);
            let lint = helm.ok(&["lint", "--strict", c]);
            assert!(lint.contains("0 chart(s) failed"), "{helm_name} {env}: {lint}");
            let rendered = helm.ok(&["template", "skypilot", c, "-n", "ns"]);
            assert!(rendered.contains("kind: Deployment"));
            let cfg = chart.join("skyhelm.yaml");
            let out =
                skyhelm(&["diff", "--config", cfg.to_str().expect("path"), "--color", "never"], rendered.as_bytes());
            let report = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{helm_name} {env}: post-render would change:\n{report}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn generated_chart_in_helm4_post_renderer_input_form_needs_no_changes() {
    let (dir, charts) = scratch_charts();
    let helm = Helm::new("helm4");
    let capture = dir.path().join("captured.yaml");
    // The Helm 4 form: what a postrenderer/v1 plugin receives.
    helm.install_capture_plugin(&capture);
    let chart = charts.join("skypilot-prod");
    let c = chart.to_str().expect("path");
    helm.ok(&["dependency", "build", c]);
    helm.ok(&["template", "skypilot", c, "-n", "skypilot-prod", "--post-renderer", "capture"]);
    let input = std::fs::read_to_string(&capture).expect("captured");
    let cfg = chart.join("skyhelm.yaml");
    let out = skyhelm(&["diff", "--config", cfg.to_str().expect("path")], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn validation_reports_every_error_with_its_environment_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(root().join("examples/kubeconfig"), dir.path().join("kubeconfig")).expect("kc");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\n  repository: file://../skypilot\nenvironments:\n  - name: Dev\n    allowedContexts: [prod-eu]\n  - name: qa\n    allowedContexts: [prod-ue]\n  - name: qa\n    namespace: under_score\n  - name: ok\n    allowedContexts: [PROD-EU]\n",
    )
    .expect("write");
    let out_dir = dir.path().join("out");
    let (code, out, err) = generate(&[envs.to_str().expect("p"), "--out", out_dir.to_str().expect("p")]);
    assert_eq!(code, 1, "{out}{err}");
    for expected in [
        "environment `Dev`: environment name `Dev` is not a DNS-1123 label",
        "environment `qa`: defined twice",
        "environment `qa`: namespace `under_score` is not a DNS-1123 label",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!out_dir.exists(), "nothing may be written");
    // Once names are valid, context errors are reported for each environment.
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: qa\n    allowedContexts: [prod-ue]\n  - name: stage\n    kubeconfig: missing-file\n  - name: ok\n    allowedContexts: [PROD-EU]\n",
    )
    .expect("write");
    let (code, _, err) = generate(&[envs.to_str().expect("p"), "--out", out_dir.to_str().expect("p")]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "environment `qa`: allowedContexts: context `prod-ue` is not in the kubeconfig (did you mean `prod-eu`?)"
        ),
        "{err}"
    );
    assert!(err.contains("environment `stage`: kubeconfig"), "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn check_shows_a_diff_when_a_chart_was_edited() {
    let (_dir, charts) = scratch_charts();
    let values = charts.join("skypilot-dev/values.yaml");
    let text = std::fs::read_to_string(&values).expect("values");
    std::fs::write(&values, text.replace("cpus: 2", "cpus: 8")).expect("edit");
    let (code, out, _) = generate(&["examples/environments.yaml", "--check", "--out", charts.to_str().expect("p")]);
    assert_eq!(code, 1);
    assert!(out.contains("-            cpus: 8") && out.contains("+            cpus: 2"), "{out}");
    // Regenerating restores it, atomically: no temporary folder is left behind.
    let (code, _, err) = generate(&["examples/environments.yaml", "--out", charts.to_str().expect("p")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&values).expect("values"), text);
    let leftovers: Vec<_> = std::fs::read_dir(&charts)
        .expect("read")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn template_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    copy_dir(&root().join("templates"), dir.path());
    std::fs::write(dir.path().join("chart/values.yaml.tera"), "skypilot:\n  image: {{ env.image\n").expect("write");
    let (code, _, err) =
        generate(&["examples/environments.yaml", "--check", "--templates", dir.path().to_str().expect("p")]);
    assert_eq!(code, 1);
    assert!(err.contains("template chart/values.yaml.tera") && err.contains("--> 3:1"), "{err}");
}

#[test]
fn rerun_keeps_chart_lock_dependency_archives_and_user_files() {
    let (_dir, charts) = scratch_charts();
    let out = charts.to_str().expect("p");
    let chart = charts.join("skypilot-dev");
    Helm::new("helm3").ok(&["dependency", "update", chart.to_str().expect("p")]);
    let lock = std::fs::read_to_string(chart.join("Chart.lock")).expect("Chart.lock written by helm");
    assert!(chart.join("charts/skypilot-0.0.0.tgz").exists());
    std::fs::write(chart.join("templates/extra.yaml"), "# mine\n").expect("user file");
    std::fs::write(chart.join("README.md"), "mine\n").expect("user file");
    // --check ignores files generate does not own.
    let (code, stdout, err) = generate(&["examples/environments.yaml", "--check", "--out", out]);
    assert_eq!(code, 0, "{stdout}{err}");
    let (code, _, err) = generate(&["examples/environments.yaml", "--out", out]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(chart.join("Chart.lock")).expect("kept"), lock);
    assert!(chart.join("charts/skypilot-0.0.0.tgz").exists(), "dependency archive removed");
    assert_eq!(std::fs::read_to_string(chart.join("templates/extra.yaml")).expect("kept"), "# mine\n");
    assert_eq!(std::fs::read_to_string(chart.join("README.md")).expect("kept"), "mine\n");
    // Still renders offline with the kept lock and archive.
    let rendered = Helm::new("helm3").ok(&["template", "skypilot", chart.to_str().expect("p"), "-n", "ns"]);
    assert!(rendered.contains("kind: Deployment"));
}

#[test]
fn check_reports_a_stale_generated_file_and_a_rerun_removes_only_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let tpl = dir.path().join("tpl");
    std::fs::create_dir_all(tpl.join("templates")).expect("mkdir");
    for (name, text) in [
        ("Chart.yaml.tera", "apiVersion: v2\nname: {{ chart_name }}\nversion: 0.1.0\n"),
        ("templates/old.txt.tera", "old {{ env.name }}\n"),
    ] {
        std::fs::write(tpl.join(name), text).expect("write");
    }
    let out = dir.path().join("out");
    let args = |t: &Path| {
        vec![
            "examples/environments.yaml".to_string(),
            "--out".into(),
            out.to_str().expect("p").into(),
            "--templates".into(),
            t.to_str().expect("p").into(),
        ]
    };
    let run = |a: Vec<String>| generate(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, _, err) = run(args(&tpl));
    assert_eq!(code, 0, "{err}");
    let chart = out.join("skypilot-dev");
    assert_eq!(std::fs::read_to_string(chart.join("templates/old.txt")).expect("gen"), "old dev\n");
    std::fs::write(chart.join("templates/mine.txt"), "mine\n").expect("user file");
    // The template goes away: --check reports the file it generated, not the user's.
    std::fs::remove_file(tpl.join("templates/old.txt.tera")).expect("rm");
    let mut check = args(&tpl);
    check.push("--check".into());
    let (code, stdout, _) = run(check.clone());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("templates/old.txt (no longer generated") && stdout.contains("-old dev"), "{stdout}");
    assert!(!stdout.contains("mine.txt"), "{stdout}");
    let (code, _, err) = run(args(&tpl));
    assert_eq!(code, 0, "{err}");
    assert!(!chart.join("templates/old.txt").exists(), "stale generated file kept");
    assert_eq!(std::fs::read_to_string(chart.join("templates/mine.txt")).expect("kept"), "mine\n");
    let (code, stdout, _) = run(check);
    assert_eq!(code, 0, "{stdout}");
    // New files are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(chart.join("Chart.yaml")).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_hostile_owned_list_cannot_make_generate_remove_files_outside_the_chart() {
    let (dir, charts) = scratch_charts();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep\n").expect("victim");
    std::fs::write(charts.join("skypilot-dev/.skyhelm-generated"), "../../victim.txt\n").expect("list");
    let (code, _, err) = generate(&["examples/environments.yaml", "--out", charts.to_str().expect("p")]);
    assert_eq!(code, 1);
    assert!(err.contains("`../../victim.txt` is not a plain relative path"), "{err}");
    assert!(victim.exists());
}

/// Writes `envs` (with `repository` pointing at a copy of the stand-in chart) and the example
/// kubeconfig into a scratch folder; runs generate into `<dir>/charts`.
fn generate_in(envs: &str, kubeconfig: &str) -> (tempfile::TempDir, i32, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    copy_dir(&root().join("charts/skypilot"), &dir.path().join("charts/skypilot"));
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig).expect("kubeconfig");
    let file = dir.path().join("envs.yaml");
    std::fs::write(&file, envs).expect("envs");
    let out = dir.path().join("charts");
    let (code, stdout, err) = generate(&[file.to_str().expect("p"), "--out", out.to_str().expect("p")]);
    (dir, code, stdout, err)
}

fn example_kubeconfig() -> String {
    std::fs::read_to_string(root().join("examples/kubeconfig")).expect("kubeconfig")
}

/// helm template of a generated chart, then `skyhelm diff --config` with its skyhelm.yaml:
/// returns the diff's exit code, report, and the rendered manifests.
fn render_and_diff(chart: &Path, helm: &str) -> (i32, String, String) {
    let h = Helm::new(helm);
    let c = chart.to_str().expect("p");
    h.ok(&["dependency", "build", c]);
    let rendered = h.ok(&["template", "skypilot", c, "-n", "ns"]);
    let cfg = chart.join("skyhelm.yaml");
    let out = skyhelm(&["diff", "--config", cfg.to_str().expect("p"), "--color", "never"], rendered.as_bytes());
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("code"), report, rendered)
}

/// The SkyPilot config a generated chart's values carry, as PyYAML reads it.
fn values_config(chart: &Path) -> serde_json::Value {
    let values = crate::util::pyyaml_json(&std::fs::read_to_string(chart.join("values.yaml")).expect("values"));
    let config = values["skypilot"]["apiService"]["config"].as_str().expect("config string").to_string();
    crate::util::pyyaml_json(&config)
}

#[test]
fn mount_kubeconfig_false_mounts_nothing_at_post_render_and_still_checks_contexts() {
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\nenvironments:\n  - name: dev\n    mountKubeconfig: false\n    allowedContexts: [in-cluster]\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let chart = dir.path().join("charts/sky-dev");
    let values = crate::util::pyyaml_json(&std::fs::read_to_string(chart.join("values.yaml")).expect("values"));
    assert_eq!(values["skypilot"]["kubernetesCredentials"]["useKubeconfig"], serde_json::json!(false));
    // A kubeconfig context listed without a kubeconfig to read it from is pointed out.
    let (_d, code, _, err) = generate_in(
        "name: sky\nenvironments:\n  - name: dev\n    mountKubeconfig: false\n    allowedContexts: [in-cluster, prod-eu]\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("dev: `prod-eu` is listed, but mountKubeconfig is false"), "{err}");
    let settings = crate::util::pyyaml_json(&std::fs::read_to_string(chart.join("skyhelm.yaml")).expect("cfg"));
    assert_eq!(settings["mount-kubeconfig"], serde_json::json!(false));
    for helm in ["helm3", "helm4"] {
        let (code, report, rendered) = render_and_diff(&chart, helm);
        assert_eq!(code, 0, "{helm}: post-render would change:\n{report}");
        // The same rendering post-rendered with the settings: no kubeconfig volume is added.
        let cfg = chart.join("skyhelm.yaml");
        let out = crate::util::post_render_ok(&["--config", cfg.to_str().expect("p")], &rendered);
        assert!(!out.contains("kube-config") && !out.contains("/root/.kube"), "{helm}: mounted:\n{out}");
    }
    // Without --no-mount the same rendering gets the mount: the setting is what prevents it.
    let (_, _, rendered) = render_and_diff(&chart, "helm3");
    let mounted = crate::util::post_render_ok(&["--allowed-context", "in-cluster"], &rendered);
    assert!(mounted.contains("mountPath: /root/.kube"));
    // --no-mount still checks context names against the kubeconfig.
    let kc = dir.path().join("kubeconfig");
    let out = skyhelm(
        &[
            "post-render",
            "--no-mount",
            "--skypilot-kubeconfig",
            kc.to_str().expect("p"),
            "--allowed-context",
            "prod-ue",
        ],
        rendered.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `prod-eu`"));
    // And the environment variable works like the flag.
    let out = crate::util::run_with_stdin(
        crate::util::clean(&mut Command::new(bin())).arg("post-render").env("SKYHELM_NO_MOUNT", "true"),
        rendered.as_bytes(),
    );
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("/root/.kube"));
}

#[test]
fn empty_list_stays_empty_and_workspace_lists_are_never_widened() {
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\nenvironments:\n  - name: empty\n    allowedContexts: []\n  - name: teams\n    allowedContexts: [prod-eu]\n    config:\n      workspaces:\n        team-a:\n          kubernetes:\n            allowed_contexts: [TRAIN-US, ssh-pool]\n        team-b:\n          kubernetes:\n            allowed_contexts: []\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let empty = values_config(&dir.path().join("charts/sky-empty"));
    assert_eq!(empty["kubernetes"]["allowed_contexts"], serde_json::json!([]), "{empty}");
    let teams = values_config(&dir.path().join("charts/sky-teams"));
    assert_eq!(teams["kubernetes"]["allowed_contexts"], serde_json::json!(["prod-eu", "in-cluster"]));
    assert_eq!(teams["workspaces"]["team-a"]["kubernetes"]["allowed_contexts"], serde_json::json!(["train-us"]));
    assert_eq!(teams["workspaces"]["team-b"]["kubernetes"]["allowed_contexts"], serde_json::json!([]));
    assert!(err.contains("team-a.kubernetes.allowed_contexts: `TRAIN-US` corrected to `train-us`"), "{err}");
    // Post-render, with the same context policy, changes nothing in either.
    for env in ["sky-empty", "sky-teams"] {
        for helm in ["helm3", "helm4"] {
            let (code, report, _) = render_and_diff(&dir.path().join("charts").join(env), helm);
            assert_eq!(code, 0, "{env} {helm}: post-render would change:\n{report}");
        }
    }
}

#[test]
fn an_environments_config_keeps_the_lists_its_defaults_set() {
    // The environment's config adds keys under `kubernetes` and `workspaces`: the defaults'
    // lists stay (a shallow merge dropped them, and the unset global list became the wider
    // [<current-context>, in-cluster]).
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\n  config:\n    kubernetes:\n      allowed_contexts: [train-us]\n    workspaces:\n      team-a:\n        kubernetes:\n          allowed_contexts: [train-us]\nenvironments:\n  - name: dev\n    config:\n      kubernetes:\n        pod_config: {}\n      workspaces:\n        team-b: {}\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let cfg = values_config(&dir.path().join("charts/sky-dev"));
    assert_eq!(cfg["kubernetes"]["allowed_contexts"], serde_json::json!(["train-us", "in-cluster"]), "{cfg}");
    assert_eq!(cfg["kubernetes"]["pod_config"], serde_json::json!({}), "{cfg}");
    assert_eq!(cfg["workspaces"]["team-a"]["kubernetes"]["allowed_contexts"], serde_json::json!(["train-us"]), "{cfg}");
    assert_eq!(cfg["workspaces"]["team-b"], serde_json::json!({}), "{cfg}");
}

/// Issue 20: `allowedContexts: [all]` names the context `all` (SkyPilot: a list holds names;
/// only the string `all` is every context). skyhelm.yaml carries that list, and post-render
/// reads it back as the same list: before, it read `allowed-contexts: [all]` as the keyword
/// and wrote `allowed_contexts: all` (every context).
#[test]
fn a_list_naming_the_context_all_reads_back_as_the_same_list() {
    let kubeconfig = example_kubeconfig().replace("- name: train-us\n  context:", "- name: all\n  context:");
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    inCluster: false\n    allowedContexts: [all]\n",
        &kubeconfig,
    );
    assert_eq!(code, 0, "{err}");
    let chart = dir.path().join("charts/sky-dev");
    assert_eq!(values_config(&chart)["kubernetes"]["allowed_contexts"], serde_json::json!(["all"]));
    let settings = std::fs::read_to_string(chart.join("skyhelm.yaml")).expect("skyhelm.yaml");
    assert_eq!(pyyaml_json(&settings)["allowed-contexts"], serde_json::json!(["all"]), "{settings}");
    for helm in ["helm3", "helm4"] {
        let (code, report, _) = render_and_diff(&chart, helm);
        assert_eq!(code, 0, "{helm}: post-render would change the list:\n{report}");
    }
}

#[test]
fn notes_show_a_global_all_as_all_not_as_unset() {
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    config:\n      kubernetes:\n        allowed_contexts: all\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let chart = dir.path().join("charts/sky-dev");
    assert_eq!(values_config(&chart)["kubernetes"]["allowed_contexts"], "all");
    let notes = std::fs::read_to_string(chart.join("templates/NOTES.txt")).expect("notes");
    assert!(notes.contains("Allowed contexts, in failover order: all.\n"), "{notes}");
}

#[test]
fn an_empty_kubernetes_key_in_config_still_gets_the_written_list() {
    // `kubernetes:` with its children commented out is null: the list the note says was
    // written must be in the config (it was left out: SkyPilot then dropped in-cluster).
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    config:\n      kubernetes:\n        # pod_config: {}\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("dev: allowedContexts unset: wrote [prod-eu, in-cluster]"), "{err}");
    let cfg = values_config(&dir.path().join("charts/sky-dev"));
    assert_eq!(cfg["kubernetes"]["allowed_contexts"], serde_json::json!(["prod-eu", "in-cluster"]), "{cfg}");
    // Anything else that is not a map is refused, not silently left without the list.
    let (_dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    config:\n      kubernetes: 'yes'\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("environment `dev`: config.kubernetes is \"yes\", not a map"), "{err}");
}

#[test]
fn notes_show_control_characters_of_context_names_escaped() {
    // Without a kubeconfig the names are taken as written; Helm prints NOTES.txt on a terminal.
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\nenvironments:\n  - name: dev\n    allowedContexts: [\"a\\e[2J\\u202eb\", in-cluster]\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let chart = dir.path().join("charts/sky-dev");
    let notes = std::fs::read_to_string(chart.join("templates/NOTES.txt")).expect("notes");
    assert!(!notes.contains(['\u{1b}', '\u{202e}']), "{notes:?}");
    assert!(notes.contains("--context 'a\\u{1b}[2J\\u{202e}b'"), "{notes}");
    assert!(notes.contains("[a\\u{1b}[2J\\u{202e}b, in-cluster]"), "{notes}");
    // The values keep the name itself.
    assert_eq!(values_config(&chart)["kubernetes"]["allowed_contexts"][0], "a\u{1b}[2J\u{202e}b");
}

#[test]
fn both_lists_set_is_an_error_naming_the_environment() {
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: ok\n    allowedContexts: [prod-eu]\n  - name: both\n    allowedContexts: [prod-eu]\n    config:\n      kubernetes:\n        allowed_contexts: [train-us]\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("environment `both`: both allowedContexts and config.kubernetes.allowed_contexts are set"),
        "{err}"
    );
    assert!(!dir.path().join("charts/sky-ok").exists(), "nothing may be written");
    // The config's list alone is the list, checked and kept (not replaced by [current, in-cluster]).
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: cfg\n    config:\n      kubernetes:\n        allowed_contexts: [train-us]\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let cfg = values_config(&dir.path().join("charts/sky-cfg"));
    assert_eq!(cfg["kubernetes"]["allowed_contexts"], serde_json::json!(["train-us", "in-cluster"]));
}

#[test]
fn kubeconfig_findings_for_allowed_contexts_are_warnings_naming_the_environment() {
    let kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: local\nclusters:\n- name: local\n  cluster: {server: 'https://127.0.0.1:6443'}\n- name: v6\n  cluster: {server: 'https://[::1]:6443'}\n- name: far\n  cluster: {server: 'https://far.example.com'}\ncontexts:\n- name: local\n  context: {cluster: local, user: tok}\n- name: cloud\n  context: {cluster: far, user: gke}\n- name: unused\n  context: {cluster: v6, user: gke}\nusers:\n- name: tok\n  user: {token: SECRETSECRET123}\n- name: gke\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: gke-gcloud-auth-plugin}\n";
    let (_dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    allowedContexts: [local, cloud]\n  - name: prod\n    allowedContexts: [local]\n",
        kubeconfig,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: environment `dev`: context local: loopback-server: cluster `local`:"), "{err}");
    assert!(err.contains("warning: environment `dev`: context cloud: exec-plugin: user `gke`:"), "{err}");
    assert!(err.contains("warning: environment `prod`: context local: loopback-server: cluster `local`:"), "{err}");
    assert!(!err.contains("environment `prod`: context cloud"), "prod does not use gke:\n{err}");
    assert!(!err.contains("cluster `v6`"), "unused contexts are not reported:\n{err}");
    assert!(!err.contains("SECRETSECRET123"));
    // An unknown name: the message does not suggest a flag generate lacks.
    let (_dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    allowedContexts: [locl]\n",
        kubeconfig,
    );
    assert_eq!(code, 1);
    assert!(err.contains("environment `dev`: allowedContexts: context `locl` is not in the kubeconfig"), "{err}");
    assert!(!err.contains("--"), "suggests a flag:\n{err}");
}

#[test]
fn secret_names_are_dns1123_subdomains_and_shell_values_are_quoted() {
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\nenvironments:\n  - name: dev\n    kubeconfigSecretName: '../Not a Valid.Name'\n    allowedContexts: [in-cluster]\n",
        &example_kubeconfig(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("environment `dev`: kubeconfigSecretName \"../Not a Valid.Name\" is not a valid Secret name"),
        "{err}"
    );
    assert!(!dir.path().join("charts/sky-dev").exists());
    for bad in ["a..b", ".a", "a.", "A.b", "a_b.c"] {
        let (_d, code, _, err) = generate_in(
            &format!(
                "name: sky\nenvironments:\n  - name: dev\n    kubeconfigSecretName: '{bad}'\n    allowedContexts: [in-cluster]\n"
            ),
            &example_kubeconfig(),
        );
        assert_eq!(code, 1, "{bad} accepted: {err}");
    }
    // A context name with shell and template syntax: one shell word in NOTES.txt, printed literally by Helm.
    let hostile = "x; touch pwned {{ .Release.Name }}";
    let kubeconfig =
        example_kubeconfig().replace("- name: train-us\n  context:", &format!("- name: '{hostile}'\n  context:"));
    let (dir, code, _, err) = generate_in(
        &format!(
            "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    kubeconfigSecretName: kube.credentials\n    allowedContexts: ['{hostile}']\n"
        ),
        &kubeconfig,
    );
    assert_eq!(code, 0, "{err}");
    let chart = dir.path().join("charts/sky-dev");
    let notes = Helm::new("helm4");
    let c = chart.to_str().expect("p");
    notes.ok(&["dependency", "build", c]);
    let out = notes.ok(&["install", "skypilot", c, "-n", "ns", "--dry-run=client"]);
    let line = out.lines().find(|l| l.contains("kubeconfig pack")).expect("pack line");
    let words = Command::new(crate::util::python())
        .args(["-c", "import shlex, sys, json; print(json.dumps(shlex.split(sys.argv[1])))"])
        .arg(line.split('|').next().expect("cmd"))
        .output()
        .expect("python3");
    let words: Vec<String> = serde_json::from_slice(&words.stdout).expect("json");
    let i = words.iter().position(|w| w == "--context").expect("--context");
    assert_eq!(words[i + 1], hostile, "{line}");
    assert!(words.contains(&"kube.credentials".to_string()), "{line}");
}

#[test]
fn yaml_values_keep_their_meaning_for_yaml11_readers() {
    // Names a YAML 1.1 reader would take for a bool, an octal int or a float.
    let kubeconfig = example_kubeconfig()
        .replace("- name: prod-eu\n  context:", "- name: 'yes'\n  context:")
        .replace("- name: train-us\n  context:", "- name: '0123'\n  context:")
        .replace("current-context: prod-eu", "current-context: '1e3'")
        + "- name: '1e3'\n  context: {cluster: prod-eu, user: skypilot-sa}\n";
    let kubeconfig = kubeconfig
        .replace("users:\n", "")
        .replace("- name: skypilot-sa\n  user:\n    token: placeholder-not-a-real-token\n", "")
        + "users:\n- name: skypilot-sa\n  user: {token: placeholder}\n";
    let (dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    namespace: '0123'\n    release: 'yes'\n    kubeconfigSecretName: '1e3'\n    image: '0777'\n    allowedContexts: ['yes', '0123', '1e3']\n",
        &kubeconfig,
    );
    assert_eq!(code, 0, "{err}");
    let chart = dir.path().join("charts/sky-dev");
    let settings_text = std::fs::read_to_string(chart.join("skyhelm.yaml")).expect("cfg");
    let values_text = std::fs::read_to_string(chart.join("values.yaml")).expect("values");
    let settings = crate::util::pyyaml_json(&settings_text);
    assert_eq!(settings["namespace"], serde_json::json!("0123"));
    assert_eq!(settings["secret-name"], serde_json::json!("1e3"));
    assert_eq!(settings["allowed-contexts"], serde_json::json!(["yes", "0123", "1e3", "in-cluster"]));
    // Kubernetes' reader (what Helm reads values with) agrees.
    let k8s = crate::util::k8s_json(&values_text);
    assert_eq!(k8s[0]["skypilot"]["kubernetesCredentials"]["kubeconfigSecretName"], serde_json::json!("1e3"));
    assert_eq!(k8s[0]["skypilot"]["apiService"]["image"], serde_json::json!("0777"));
    let config = values_config(&chart);
    assert_eq!(config["kubernetes"]["allowed_contexts"], serde_json::json!(["yes", "0123", "1e3", "in-cluster"]));
}

#[test]
fn templates_dir_symlinks_out_of_it_or_in_a_cycle_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let tpl = dir.path().join("tpl");
    copy_dir(&root().join("templates/chart"), &tpl);
    let outside = dir.path().join("secret.tera");
    std::fs::write(&outside, "SECRETSECRET123 {{ env.name }}\n").expect("outside");
    std::os::unix::fs::symlink(&outside, tpl.join("leak.yaml.tera")).expect("link");
    let out = dir.path().join("out");
    let run = || {
        generate(&[
            "examples/environments.yaml",
            "--out",
            out.to_str().expect("p"),
            "--templates",
            tpl.to_str().expect("p"),
        ])
    };
    let (code, _, err) = run();
    assert_eq!(code, 1);
    assert!(err.contains("leak.yaml.tera is a symbolic link out of"), "{err}");
    assert!(!out.exists());
    std::fs::remove_file(tpl.join("leak.yaml.tera")).expect("rm");
    std::os::unix::fs::symlink(&tpl, tpl.join("templates/loop")).expect("cycle");
    let (code, _, err) = run();
    assert_eq!(code, 1);
    assert!(err.contains("loop is a symbolic link to a folder"), "{err}");
    // A link to a file inside the folder is fine.
    std::fs::remove_file(tpl.join("templates/loop")).expect("rm");
    std::os::unix::fs::symlink(tpl.join("values.yaml.tera"), tpl.join("copy.yaml.tera")).expect("link");
    let (code, _, err) = run();
    assert_eq!(code, 0, "{err}");
    assert!(out.join("skypilot-dev/copy.yaml").exists());
}

/// `kubeconfig pack --contexts-file` into `dir`: returns (secret stdout, contexts file text).
fn pack_with_contexts_file(dir: &Path, kubeconfig: &str, contexts: &[&str]) -> (String, String) {
    let kc = dir.join("full-kubeconfig");
    std::fs::write(&kc, kubeconfig).expect("kc");
    let file = dir.join("contexts.yaml");
    let mut args = vec!["kubeconfig", "pack", "--kubeconfig", kc.to_str().expect("p"), "--contexts-file"];
    args.push(file.to_str().expect("p"));
    for c in contexts {
        args.extend(["--context", c]);
    }
    let out = skyhelm(&args, b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).expect("utf-8"), std::fs::read_to_string(&file).expect("contexts file"))
}

fn sha256_of_secret_config(secret: &str) -> String {
    let secret = &crate::util::k8s_json(secret)[0];
    let out = Command::new(crate::util::python())
        .args(["-c", "import sys, base64, hashlib; print(hashlib.sha256(base64.b64decode(sys.argv[1])).hexdigest())"])
        .arg(secret["data"]["config"].as_str().expect("data.config"))
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_string()
}

/// Issue 24: server URLs written scheme-relative (`//user:pw@host`), with one slash
/// (`https:/pw:x@host`) or with a `/` in the password kept their user information in the
/// contexts file; an `@` after `?` leaves no part safe to show (no server recorded).
#[test]
fn pack_contexts_file_drops_user_information_in_any_url_spelling() {
    let dir = tempfile::tempdir().expect("tmp");
    let servers = [
        ("//admin:PWSLASHLESS@c1.example.com:6443", Some("//c1.example.com:6443")),
        ("https:/PWONESLASH:x@c2.example.com", Some("https:/c2.example.com")),
        ("https://admin:PW/WITH:SLASH@c3.example.com/k8s", Some("https://c3.example.com/k8s")),
        ("https://admin:PW?QUERYLIKE@c4.example.com", None),
    ];
    let mut kc = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (i, (server, _)) in servers.iter().enumerate() {
        kc.push_str(&format!("- name: c{i}\n  cluster: {{server: '{server}'}}\n"));
    }
    kc.push_str("contexts:\n");
    for i in 0..servers.len() {
        kc.push_str(&format!("- name: x{i}\n  context: {{cluster: c{i}, user: u}}\n"));
    }
    kc.push_str("users:\n- name: u\n  user: {token: tok-123456}\n");
    let names: Vec<String> = (0..servers.len()).map(|i| format!("x{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_, text) = pack_with_contexts_file(dir.path(), &kc, &names);
    for secret in ["admin", "PWSLASHLESS", "PWONESLASH", "PW/WITH", "SLASH", "QUERYLIKE"] {
        assert!(!text.contains(secret), "{secret} in the contexts file:\n{text}");
    }
    let v = crate::util::pyyaml_json(&text);
    for (i, (_, want)) in servers.iter().enumerate() {
        assert_eq!(v["contexts"][i]["server"], serde_json::json!(want), "{text}");
    }
}

#[test]
fn pack_writes_a_credential_free_contexts_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c1\n  cluster: {server: 'https://admin:SECRETPASSWORD@c1.example.com:6443/k8s'}\n- name: c2\n  cluster: {server: 'https://127.0.0.1:6443'}\ncontexts:\n- name: prod\n  context: {cluster: c1, user: u1}\n- name: train\n  context: {cluster: c2, user: u2}\n- name: other\n  context: {cluster: c1, user: u1}\nusers:\n- name: u1\n  user: {token: SECRETSECRET123}\n- name: u2\n  user: {client-certificate-data: Zm9v, client-key-data: U0VDUkVUS0VZ}\n";
    let (secret, text) = pack_with_contexts_file(dir.path(), kubeconfig, &["prod", "train"]);
    for secret_text in ["SECRETSECRET123", "SECRETPASSWORD", "U0VDUkVUS0VZ", "Zm9v", "admin"] {
        assert!(!text.contains(secret_text), "{secret_text} in the contexts file:\n{text}");
    }
    let v = crate::util::pyyaml_json(&text);
    assert_eq!(v["apiVersion"], "skyhelm.io/v1");
    assert_eq!(v["kind"], "ContextsFile");
    assert_eq!(v["secretName"], "kube-credentials");
    assert_eq!(v["currentContext"], "prod");
    assert_eq!(
        v["contexts"],
        serde_json::json!([
            {"name": "prod", "server": "https://c1.example.com:6443/k8s", "auth": "token"},
            {"name": "train", "server": "https://127.0.0.1:6443", "auth": "client-certificate"},
        ])
    );
    assert_eq!(v["configSha256"], sha256_of_secret_config(&secret));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("contexts.yaml")).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // doctor reads it: names, the loopback server.
    let file = dir.path().join("contexts.yaml");
    let out = skyhelm(
        &[
            "doctor",
            "--contexts-file",
            file.to_str().expect("p"),
            "--allowed-context",
            "prod",
            "--allowed-context",
            "trian",
        ],
        b"",
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("allowed-not-found") && report.contains("did you mean `train`"), "{report}");
    assert!(report.contains("loopback-server"), "{report}");
}

#[test]
fn contexts_file_checks_names_and_sets_the_rollout_annotation_at_post_render() {
    let dir = tempfile::tempdir().expect("tmp");
    let (secret, _) = pack_with_contexts_file(dir.path(), crate::util::KUBECONFIG, &["prod", "Dev-EU"]);
    let sha = sha256_of_secret_config(&secret);
    let file = dir.path().join("contexts.yaml");
    let f = file.to_str().expect("p");
    let rendered = Helm::new("helm3").ok(&["template", "sky", crate::helm::CHART, "-n", "sky"]);
    let out = crate::util::post_render_ok(&["--contexts-file", f, "--allowed-context", "dev-eu"], &rendered);
    let docs = crate::util::k8s_json(&out);
    let deploy = docs.iter().find(|d| d["kind"] == "Deployment").expect("deployment");
    assert_eq!(
        deploy["spec"]["template"]["metadata"]["annotations"]["skyhelm.io/kubeconfig-sha256"],
        serde_json::json!(sha)
    );
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("configmap");
    let config = crate::util::pyyaml_json(cm["data"]["config.yaml"].as_str().expect("config"));
    assert_eq!(config["kubernetes"]["allowed_contexts"], serde_json::json!(["Dev-EU", "in-cluster"]));
    // An unknown name is an error; the context `train` was not packed.
    for cmd in ["post-render", "diff"] {
        let out = skyhelm(&[cmd, "--contexts-file", f, "--allowed-context", "train"], rendered.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("context `train` is not in the kubeconfig"));
    }
    // Both sources at once is refused.
    let kc = crate::util::kubeconfig_file(dir.path());
    let out = skyhelm(
        &["post-render", "--contexts-file", f, "--skypilot-kubeconfig", kc.to_str().expect("p")],
        rendered.as_bytes(),
    );
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn generate_checks_names_against_a_contexts_file_and_points_post_render_at_it() {
    let dir = tempfile::tempdir().expect("tmp");
    copy_dir(&root().join("charts/skypilot"), &dir.path().join("charts/skypilot"));
    let (secret, _) = pack_with_contexts_file(dir.path(), &example_kubeconfig(), &["prod-eu", "train-us"]);
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  contexts: contexts.yaml\nenvironments:\n  - name: dev\n    allowedContexts: [TRAIN-US]\n  - name: bad\n    allowedContexts: [prod-ue]\n",
    )
    .expect("envs");
    let out = dir.path().join("charts");
    let (code, _, err) = generate(&[envs.to_str().expect("p"), "--out", out.to_str().expect("p")]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "environment `bad`: allowedContexts: context `prod-ue` is not in the contexts file (did you mean `prod-eu`?)"
        ),
        "{err}"
    );
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: file://../skypilot\n  contexts: contexts.yaml\nenvironments:\n  - name: dev\n    allowedContexts: [TRAIN-US]\n",
    )
    .expect("envs");
    let (code, _, err) = generate(&[envs.to_str().expect("p"), "--out", out.to_str().expect("p")]);
    assert_eq!(code, 0, "{err}");
    let chart = out.join("sky-dev");
    let settings = crate::util::pyyaml_json(&std::fs::read_to_string(chart.join("skyhelm.yaml")).expect("cfg"));
    assert_eq!(settings["contexts-file"], "../../contexts.yaml");
    assert_eq!(values_config(&chart)["kubernetes"]["allowed_contexts"], serde_json::json!(["train-us", "in-cluster"]));
    // post-render with the generated settings changes only the rollout annotation, to the recorded sha256.
    let (code, report, rendered) = render_and_diff(&chart, "helm3");
    assert_eq!(code, 2, "{report}");
    let cfg = chart.join("skyhelm.yaml");
    let out = crate::util::post_render_ok(&["--config", cfg.to_str().expect("p")], &rendered);
    let docs = crate::util::k8s_json(&out);
    let deploy = docs.iter().find(|d| d["kind"] == "Deployment").expect("deployment");
    assert_eq!(
        deploy["spec"]["template"]["metadata"]["annotations"]["skyhelm.io/kubeconfig-sha256"],
        serde_json::json!(sha256_of_secret_config(&secret))
    );
    let diff = skyhelm(&["diff", "--config", cfg.to_str().expect("p"), "--output", "json"], rendered.as_bytes());
    let report: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("json");
    let text = report.to_string();
    assert!(text.contains("kubeconfig-sha256") && !text.contains("allowed_contexts"), "{text}");
}

/// generate with `contexts:` writes the contexts file's Secret into the values and skyhelm.yaml,
/// so the Secret the chart mounts is the one whose contexts were checked (post-render with the
/// generated settings agrees); a `kubeconfigSecretName` naming another Secret is an error naming
/// both.
#[test]
fn generate_with_a_contexts_file_mounts_its_secret() {
    let dir = tempfile::tempdir().expect("tmp");
    copy_dir(&root().join("charts/skypilot"), &dir.path().join("charts/skypilot"));
    let kc = dir.path().join("full-kubeconfig");
    std::fs::write(&kc, example_kubeconfig()).expect("kc");
    let file = dir.path().join("contexts.yaml");
    let out = skyhelm(
        &[
            "kubeconfig",
            "pack",
            "--kubeconfig",
            kc.to_str().expect("p"),
            "--context",
            "prod-eu",
            "--secret-name",
            "sky-kube",
            "--contexts-file",
            file.to_str().expect("p"),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let envs = dir.path().join("envs.yaml");
    let out = dir.path().join("charts");
    let run = |text: &str| {
        std::fs::write(&envs, text).expect("envs");
        generate(&[envs.to_str().expect("p"), "--out", out.to_str().expect("p")])
    };
    let base = "name: sky\ndefaults:\n  repository: file://../skypilot\n  contexts: contexts.yaml\nenvironments:\n  - name: dev\n    allowedContexts: [prod-eu]\n";
    let (code, _, err) = run(&format!("{base}    kubeconfigSecretName: kube-credentials\n"));
    assert_eq!(code, 1);
    assert!(
        err.contains("environment `dev`: kubeconfigSecretName is kube-credentials, but the contexts file ../../contexts.yaml records the contexts of Secret sky-kube"),
        "{err}"
    );
    for text in [base.to_string(), format!("{base}    kubeconfigSecretName: sky-kube\n")] {
        let (code, _, err) = run(&text);
        assert_eq!(code, 0, "{err}");
        let chart = out.join("sky-dev");
        let values = crate::util::pyyaml_json(&std::fs::read_to_string(chart.join("values.yaml")).expect("values"));
        assert_eq!(values["skypilot"]["kubernetesCredentials"]["kubeconfigSecretName"], "sky-kube");
        let settings = crate::util::pyyaml_json(&std::fs::read_to_string(chart.join("skyhelm.yaml")).expect("cfg"));
        assert_eq!(settings["secret-name"], "sky-kube");
        // The chart mounts it, and post-render with the generated settings agrees.
        let (code, report, _) = render_and_diff(&chart, "helm3");
        assert_eq!(code, 2, "{report}");
        assert!(!report.contains("error"), "{report}");
    }
}

#[test]
fn generate_never_writes_through_a_symbolic_link_in_a_chart_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let out = dir.path().join("out");
    let (code, _, err) = generate(&["examples/environments.yaml", "--out", out.to_str().expect("p")]);
    assert_eq!(code, 0, "{err}");
    // A folder inside a chart replaced by a link to somewhere else.
    let t = out.join("skypilot-dev/templates");
    std::fs::remove_dir_all(&t).expect("rm");
    std::os::unix::fs::symlink(&elsewhere, &t).expect("link");
    let (code, _, err) = generate(&["examples/environments.yaml", "--out", out.to_str().expect("p")]);
    assert_eq!(code, 1);
    assert!(err.contains("templates is a symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).expect("read").count(), 0, "wrote through the link");
    // The output folder itself may be a link (the user's choice).
    std::fs::remove_file(&t).expect("rm");
    let linked = dir.path().join("linked-out");
    std::os::unix::fs::symlink(&out, &linked).expect("link");
    let (code, _, err) = generate(&["examples/environments.yaml", "--out", linked.to_str().expect("p")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("skypilot-dev/templates/NOTES.txt").exists());
}

/// A context whose name has control characters still gets its kubeconfig findings (findings
/// carry names made safe to show; generate compares with the same form), shown escaped.
#[test]
fn kubeconfig_findings_reach_contexts_with_control_characters_in_their_names() {
    let kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: \"a\\e[2Jb\"\nclusters:\n- name: \"lo\\e[1m\"\n  cluster: {server: 'https://127.0.0.1:6443'}\ncontexts:\n- name: \"a\\e[2Jb\"\n  context: {cluster: \"lo\\e[1m\", user: \"g\\e[31m\"}\nusers:\n- name: \"g\\e[31m\"\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: gke-gcloud-auth-plugin}\n";
    let (_dir, code, _, err) = generate_in(
        "name: sky\ndefaults:\n  kubeconfig: kubeconfig\nenvironments:\n  - name: dev\n    allowedContexts: [\"a\\e[2Jb\"]\n",
        kubeconfig,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("loopback-server"), "{err}");
    assert!(err.contains("exec-plugin"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// Issue 20: an environment's `config:` is SkyPilot config, read by PyYAML once generate writes
/// it into config.yaml. Where the environments file reader (serde) and PyYAML read a plain
/// scalar or key differently, generate refuses it, naming the environment, the key path and the
/// spelling both read alike. Before, `0123` became 123.0, `y` became true and `1e3` became 1000.0
/// in the generated config (PyYAML reads 83, "y" and "1e3" from the same text). What both
/// readers agree on is written so that PyYAML reads exactly it.
#[test]
fn an_environments_config_is_read_as_pyyaml_reads_it_or_refused() {
    let head = "name: sky\ndefaults:\n  repository: file://../skypilot\n  kubeconfig: kubeconfig\n  allowedContexts: [prod-eu]\n";
    let (_, code, _, err) = generate_in(
        &format!(
            "{head}  config:\n    jobs:\n      bucket: 0123\nenvironments:\n  - name: dev\n    config:\n      kubernetes:\n        pod_config: {{a: y, b: [1e3, 2001-12-14]}}\n        2001-12-14: 1\n      x: 1:30\n"
        ),
        &example_kubeconfig(),
    );
    assert_eq!(code, 1, "{err}");
    // Each reading checked with PyYAML: 0123 -> 83, y -> 'y', 1e3 -> '1e3', 2001-12-14 -> a
    // date (as a key too), 1:30 -> 90 (sexagesimal). (Keys `yes` or `0123` the environments file
    // reader already refuses: it reads a boolean or a number where a string key is needed.)
    for want in [
        "environment `defaults`: config.jobs.bucket: `0123` is the integer 83 for SkyPilot (PyYAML), the number 123.0 for the environments file reader; write '0123' for the string, or `83` for the integer 83",
        "environment `dev`: config.kubernetes.pod_config.a: `y` is a string for SkyPilot (PyYAML), the boolean true for the environments file reader; write 'y' for the string",
        "environment `dev`: config.kubernetes.pod_config.b[0]: `1e3` is a string for SkyPilot (PyYAML), the number 1000.0 for the environments file reader; write '1e3' for the string",
        "environment `dev`: config.kubernetes.pod_config.b[1]: `2001-12-14` is a date/time (2001-12-14) for SkyPilot (PyYAML), the string \"2001-12-14\" for the environments file reader; write '2001-12-14' for the string",
        "environment `dev`: config.kubernetes.2001-12-14: the key `2001-12-14` is a date/time (2001-12-14) for SkyPilot (PyYAML), the string `2001-12-14` for the environments file reader; quote it: '2001-12-14'",
        "environment `dev`: config.x: `1:30` is the integer 90 for SkyPilot (PyYAML), the string \"1:30\" for the environments file reader; write '1:30' for the string, or `90` for the integer 90",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // Spelled as the messages say, the same values pass and mean to PyYAML what they say.
    let (dir, code, _, err) = generate_in(
        &format!(
            "{head}  config:\n    jobs:\n      bucket: '0123'\nenvironments:\n  - name: dev\n    config:\n      kubernetes:\n        pod_config: {{a: 'y', b: ['1e3', '2001-12-14', 1.0e+3, 0x1F, 600, true, ~, 1.5e+300, -2.5e-7]}}\n        '2001-12-14': 1\n      x: 90\n"
        ),
        &example_kubeconfig(),
    );
    assert_eq!(code, 0, "{err}");
    let cfg = values_config(&dir.path().join("charts/sky-dev"));
    assert_eq!(cfg["jobs"], serde_json::json!({"bucket": "0123"}), "{cfg}");
    assert_eq!(
        cfg["kubernetes"]["pod_config"],
        serde_json::json!({"a": "y", "b": ["1e3", "2001-12-14", 1000.0, 31, 600, true, null, 1.5e300, -2.5e-7]}),
        "{cfg}"
    );
    assert_eq!(cfg["kubernetes"]["2001-12-14"], 1, "{cfg}");
    assert_eq!(cfg["x"], 90, "{cfg}");
}
