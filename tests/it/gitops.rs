//! `generate --format flux|argocd|helmfile`: the committed examples are what the environments
//! file generates; their objects have the shape the engines require (JSON Schemas in
//! schemas/gitops/, checked by python jsonschema); and each environment's values, rendered with
//! the chart by real Helm 3 and Helm 4 and post-rendered with that environment's settings, need
//! no change (`skyhelm diff` exits 0).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::helm::{CHART, Helm};
use crate::util::{bin, clean, copy_dir, generate, k8s_json, root, skyhelm};

pub const FORMATS: [&str; 3] = ["flux", "argocd", "helmfile"];
const ENVS: &str = "examples/gitops/environments.yaml";
/// The folders of examples/gitops/environments.yaml's environments.
pub const EXAMPLE_ENVS: &[&str] = &["skypilot-dev", "skypilot-prod", "skypilot-team"];

fn validate(schema: &str, doc: &Value) {
    let out = crate::util::run_with_stdin(
        Command::new(crate::util::python()).args([
            "-c",
            "import json, sys, pathlib\nfrom jsonschema import Draft7Validator\nfrom referencing import Registry, Resource\nd = pathlib.Path(sys.argv[1])\nreg = Registry().with_resources([(p.name, Resource.from_contents(json.load(open(p)))) for p in d.glob('*.json')])\nschema = json.load(open(d / sys.argv[2]))\nerrors = [e.message for e in Draft7Validator(schema, registry=reg).iter_errors(json.load(sys.stdin))]\nprint('\\n'.join(errors)); sys.exit(1 if errors else 0)",
        ])
        .arg(root().join("schemas/gitops"))
        .arg(schema),
        doc.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "{schema}: {}{}\n{doc}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn read_doc(p: &Path) -> Value {
    let docs = k8s_json(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    assert_eq!(docs.len(), 1, "{}", p.display());
    docs.into_iter().next().expect("doc")
}

/// One deployment of the upstream chart a format describes: release, namespace, values, and
/// the post-render settings of its environment.
pub struct Deployment {
    pub release: String,
    pub namespace: String,
    pub values: Value,
    pub settings: PathBuf,
}

/// The deployments a generated output folder describes, with the environments' folders
/// `envs` (shape-checked on the way).
pub fn deployments(format: &str, dir: &Path, envs: &[&str]) -> Vec<Deployment> {
    let text = |d: &Value, pointer: &str| d.pointer(pointer).and_then(Value::as_str).expect(pointer).to_string();
    if format == "helmfile" {
        let hf = read_doc(&dir.join("helmfile.yaml"));
        validate("helmfile.schema.json", &hf);
        return hf["releases"]
            .as_array()
            .expect("releases")
            .iter()
            .map(|r| Deployment {
                release: text(r, "/name"),
                namespace: text(r, "/namespace"),
                values: r["values"][0].clone(),
                settings: dir.join(text(r, "/postRendererArgs/0").trim_start_matches("--config=")),
            })
            .collect();
    }
    // Where each object keeps the release, its namespace and the values.
    let (file, schema, release, namespace, values) = if format == "flux" {
        ("helmrelease.yaml", "helmrelease.schema.json", "/spec/releaseName", "/spec/targetNamespace", "/spec/values")
    } else {
        (
            "application.yaml",
            "application.schema.json",
            "/spec/source/helm/releaseName",
            "/spec/destination/namespace",
            "/spec/source/helm/valuesObject",
        )
    };
    let out = envs
        .iter()
        .map(|env| {
            let d = read_doc(&dir.join(env).join(file));
            validate(schema, &d);
            Deployment {
                release: text(&d, release),
                namespace: text(&d, namespace),
                values: d.pointer(values).expect(values).clone(),
                settings: dir.join(env).join("skyhelm.yaml"),
            }
        })
        .collect();
    if format == "flux" {
        validate("helmrepository.schema.json", &read_doc(&dir.join("helmrepository-skypilot.yaml")));
    } else {
        validate("cmp-plugin.schema.json", &read_doc(&dir.join("cmp-plugin.yaml")));
    }
    out
}

/// `skyhelm generate ENVS --format FORMAT --out OUT` and `extra`.
pub fn generate_to(envs: &Path, format: &str, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![envs.to_str().expect("p"), "--format", format, "--out", out.to_str().expect("p")];
    args.extend(extra);
    generate(&args)
}

#[test]
fn committed_gitops_examples_are_what_the_environments_file_generates() {
    for format in FORMATS {
        let out = format!("examples/gitops/{format}");
        let (code, stdout, err) = generate(&[ENVS, "--format", format, "--out", &out, "--check"]);
        assert_eq!(code, 0, "{format}: {stdout}{err}");
    }
}

#[test]
fn every_format_and_environment_renders_with_real_helm_and_needs_no_post_render_change() {
    // The gate on the real upstream chart (../shared/fixtures/upstream-chart, used in place).
    let upstream = crate::helm::upstream_chart();
    let tmp = tempfile::tempdir().expect("tmp");
    for format in FORMATS {
        let deployments = deployments(format, &root().join("examples/gitops").join(format), EXAMPLE_ENVS);
        assert_eq!(deployments.len(), EXAMPLE_ENVS.len(), "{format}");
        for d in deployments {
            let values = tmp.path().join(format!("{format}-{}.json", d.namespace));
            std::fs::write(&values, d.values.to_string()).expect("values");
            for helm in ["helm3", "helm4"] {
                let rendered = Helm::new(helm).ok(&[
                    "template",
                    &d.release,
                    upstream.to_str().expect("p"),
                    "-n",
                    &d.namespace,
                    "-f",
                    values.to_str().expect("p"),
                ]);
                assert!(rendered.contains("kind: Deployment"));
                let out = skyhelm(
                    &["diff", "--config", d.settings.to_str().expect("p"), "--color", "never"],
                    rendered.as_bytes(),
                );
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{format} {} with {helm}: post-render would change:\n{}{}",
                    d.namespace,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

#[test]
fn gitops_formats_refuse_a_repository_the_engine_cannot_fetch() {
    let dir = tempfile::tempdir().expect("tmp");
    for format in FORMATS {
        let out = dir.path().join(format);
        let (code, _, err) = generate_to(Path::new("examples/environments.yaml"), format, &out, &[]);
        assert_eq!(code, 1, "{format}");
        assert!(err.contains("environment `dev`: repository \"file://../skypilot\" is not one"), "{err}");
        assert!(!out.exists());
    }
}

#[test]
fn hard_cases_hold_in_every_format() {
    // mountKubeconfig false, an in-cluster-only list, conflicting lists: as for charts.
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\nenvironments:\n  - name: nomount\n    mountKubeconfig: false\n    allowedContexts: [in-cluster]\n",
    )
    .expect("envs");
    for format in FORMATS {
        let out = dir.path().join(format);
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        let settings = out.join("sky-nomount/skyhelm.yaml");
        let v = crate::util::pyyaml_json(&std::fs::read_to_string(&settings).expect("settings"));
        assert_eq!(v["mount-kubeconfig"], Value::Bool(false), "{format}");
        // Rerun with a user file in the folder: it survives, --check ignores it.
        std::fs::write(out.join("kustomization.yaml"), "# mine\n").expect("user file");
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{err}");
        let (code, stdout, _) = generate_to(&envs, format, &out, &["--check"]);
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(std::fs::read_to_string(out.join("kustomization.yaml")).expect("kept"), "# mine\n");
        let d = deployments(format, &out, &["sky-nomount"]).remove(0).values;
        assert_eq!(d["kubernetesCredentials"]["useKubeconfig"], Value::Bool(false), "{format}");
        let values = dir.path().join(format!("{format}.json"));
        std::fs::write(&values, d.to_string()).expect("values");
        let rendered =
            Helm::new("helm3").ok(&["template", "sky", CHART, "-n", "ns", "-f", values.to_str().expect("p")]);
        let out = skyhelm(&["diff", "--config", settings.to_str().expect("p")], rendered.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{format}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn oci_registries_get_the_form_each_engine_needs_and_repositories_are_shared() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\nenvironments:\n  - name: a\n  - name: b\n  - name: c\n    repository: oci://registry.example.com/charts\n",
    )
    .expect("envs");
    let out = dir.path().join("helmfile");
    let (code, _, err) = generate_to(&envs, "helmfile", &out, &[]);
    assert_eq!(code, 0, "{err}");
    let hf = read_doc(&out.join("helmfile.yaml"));
    validate("helmfile.schema.json", &hf);
    assert_eq!(
        hf["repositories"],
        serde_json::json!([
            {"name": "skypilot", "url": "https://helm.skypilot.co"},
            {"name": "skypilot-2", "url": "registry.example.com/charts", "oci": true},
        ])
    );
    let charts: Vec<&str> =
        hf["releases"].as_array().expect("r").iter().map(|r| r["chart"].as_str().expect("c")).collect();
    assert_eq!(charts, ["skypilot/skypilot", "skypilot/skypilot", "skypilot-2/skypilot"]);
    let out = dir.path().join("flux");
    let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
    assert_eq!(code, 0, "{err}");
    let repo = read_doc(&out.join("helmrepository-skypilot-2.yaml"));
    validate("helmrepository.schema.json", &repo);
    assert_eq!(repo["spec"]["type"], "oci");
    let rel = read_doc(&out.join("sky-c/helmrelease.yaml"));
    assert_eq!(rel["spec"]["chart"]["spec"]["sourceRef"]["name"], "skypilot-2");
}

#[test]
fn argocd_plugin_command_post_renders_a_wrapper_chart_and_fails_when_helm_fails() {
    let plugin = read_doc(&root().join("examples/gitops/argocd/cmp-plugin.yaml"));
    let spec = &plugin["spec"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().expect("list").iter().map(|s| s.as_str().expect("str").to_string()).collect()
    };
    let dir = tempfile::tempdir().expect("tmp");
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("mkdir");
    std::os::unix::fs::symlink(crate::util::tool("helm3"), bin_dir.join("helm")).expect("helm");
    std::os::unix::fs::symlink(bin(), bin_dir.join("skyhelm")).expect("skyhelm");
    let charts = dir.path().join("charts");
    for c in ["skypilot", "skypilot-prod"] {
        copy_dir(&root().join("charts").join(c), &charts.join(c));
    }
    let app = charts.join("skypilot-prod");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let helm_home = dir.path().join("helm");
    let run = |cmd: Vec<String>| {
        clean(&mut Command::new(&cmd[0]))
            .args(&cmd[1..])
            .current_dir(&app)
            .env("PATH", &path)
            .env("HELM_CONFIG_HOME", helm_home.join("config"))
            .env("HELM_CACHE_HOME", helm_home.join("cache"))
            .env("HELM_DATA_HOME", helm_home.join("data"))
            .env("ARGOCD_APP_NAME", "skypilot")
            .env("ARGOCD_APP_NAMESPACE", "skypilot-prod")
            .output()
            .expect("run")
    };
    let init = run(strings(&spec["init"]["command"]));
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let mut generate_cmd = strings(&spec["generate"]["command"]);
    generate_cmd.extend(strings(&spec["generate"]["args"]));
    let out = run(generate_cmd.clone());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = k8s_json(&String::from_utf8_lossy(&out.stdout));
    assert!(docs.iter().any(|d| d["kind"] == "Deployment"));
    // The chart is already right: post-render changed nothing.
    let rendered = Helm::new("helm3").ok(&["template", "skypilot", app.to_str().expect("p"), "-n", "skypilot-prod"]);
    assert_eq!(k8s_json(&rendered), docs);
    // A broken chart fails the sync instead of producing an empty stream.
    std::fs::write(app.join("templates/broken.yaml"), "{{ .Values.nope.nope }}\n").expect("broken");
    let out = run(generate_cmd);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}
