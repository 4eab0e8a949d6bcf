//! `skyhelm generate`: the committed example charts are what the environments file generates;
//! they lint and render under Helm 3 and Helm 4 (the dependency satisfied offline by the
//! stand-in chart); post-rendering them with their skyhelm.yaml changes nothing; validation
//! reports every error with its environment and writes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helm::Helm;
use crate::util::{bin, clean, root, skyhelm};

const ENVS: [&str; 2] = ["skypilot-dev", "skypilot-prod"];

fn generate(args: &[&str]) -> (i32, String, String) {
    let out = clean(&mut Command::new(bin())).arg("generate").args(args).current_dir(root()).output().expect("run");
    (
        out.status.code().expect("code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read") {
        let p = e.expect("entry").path();
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

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
    let out = Command::new("python3")
        .args(["-c", "import json, sys, yaml, jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
        .arg(root().join("examples/environments.yaml"))
        .arg(root().join("schemas/environments.schema.json"))
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
