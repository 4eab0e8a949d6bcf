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
        ("helmrelease", "helmrelease.schema.json", "/spec/releaseName", "/spec/targetNamespace", "/spec/values")
    } else {
        (
            "application",
            "application.schema.json",
            "/spec/source/helm/releaseName",
            "/spec/destination/namespace",
            "/spec/source/helm/valuesObject",
        )
    };
    envs.iter()
        .map(|env| {
            let d = read_doc(&dir.join(env).join(format!("deploy/{file}-{env}.yaml")));
            validate(schema, &d);
            if format == "flux" {
                let repo = read_doc(&dir.join(env).join(format!("deploy/helmrepository-{env}.yaml")));
                validate("helmrepository.schema.json", &repo);
            } else {
                validate("cmp-plugin.schema.json", &read_doc(&dir.join(env).join("cmp-plugin.yaml")));
            }
            Deployment {
                release: text(&d, release),
                namespace: text(&d, namespace),
                values: d.pointer(values).expect(values).clone(),
                settings: dir.join(env).join("skyhelm.yaml"),
            }
        })
        .collect()
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
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\nenvironments:\n  - name: a\n    release: a\n  - name: b\n    release: b\n  - name: c\n    release: c\n    repository: oci://registry.example.com/charts\n",
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
    // Flux: each environment's deploy folder has its own HelmRepository, named after it.
    let repo = read_doc(&out.join("sky-c/deploy/helmrepository-sky-c.yaml"));
    validate("helmrepository.schema.json", &repo);
    assert_eq!(repo["spec"]["type"], "oci");
    let rel = read_doc(&out.join("sky-c/deploy/helmrelease-sky-c.yaml"));
    assert_eq!(rel["spec"]["chart"]["spec"]["sourceRef"]["name"], "sky-c");
    let repo = read_doc(&out.join("sky-a/deploy/helmrepository-sky-a.yaml"));
    assert!(repo["spec"].get("type").is_none(), "{repo}");
}

/// The plugin renders with the environment's release name (`skypilot`), not the Application's
/// name (`ARGOCD_APP_NAME`, here `skypilot-prod`), which would rename every object.
#[test]
fn argocd_plugin_renders_with_the_environments_release_name_and_fails_when_helm_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plugin = read_doc(&fresh(tmp.path(), "argocd").join("skypilot-prod/cmp-plugin.yaml"));
    assert_eq!(plugin["metadata"]["name"], "skyhelm-skypilot-prod");
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
            .env("ARGOCD_APP_NAME", "skypilot-prod")
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
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").expect("a Deployment");
    assert_eq!(deployment["metadata"]["name"], "skypilot-api-server", "named after the release, not the Application");
    // The chart is already right: post-render changed nothing.
    let rendered = Helm::new("helm3").ok(&["template", "skypilot", app.to_str().expect("p"), "-n", "skypilot-prod"]);
    assert_eq!(k8s_json(&rendered), docs);
    // A broken chart fails the sync instead of producing an empty stream.
    std::fs::write(app.join("templates/broken.yaml"), "{{ .Values.nope.nope }}\n").expect("broken");
    let out = run(generate_cmd);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

/// `examples/gitops/environments.yaml` generated in `format` into `tmp/format` (the committed
/// examples are the same: `committed_gitops_examples_are_what_the_environments_file_generates`).
fn fresh(tmp: &Path, format: &str) -> PathBuf {
    let out = tmp.join(format);
    let (code, _, err) = generate_to(Path::new(ENVS), format, &out, &[]);
    assert_eq!(code, 0, "{format}: {err}");
    out
}

/// The files of a folder (not below it), sorted by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
}

/// `kubectl kustomize` (the loader Flux's kustomize-controller uses) of each Flux deploy folder
/// succeeds and yields exactly the environment's HelmRepository and HelmRelease.
#[test]
fn each_flux_deploy_folder_kustomizes_to_exactly_its_helmrepository_and_helmrelease() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = fresh(tmp.path(), "flux");
    for env in ["skypilot-dev", "skypilot-prod"] {
        let deploy = dir.join(env).join("deploy");
        assert_eq!(
            files_in(&deploy),
            [format!("helmrelease-{env}.yaml"), format!("helmrepository-{env}.yaml"), "kustomization.yaml".into()]
        );
        let out = clean(&mut Command::new(crate::util::tool("kubectl")))
            .args(["kustomize", deploy.to_str().expect("p")])
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "{env}: {}", String::from_utf8_lossy(&out.stderr));
        let objects = k8s_json(&String::from_utf8_lossy(&out.stdout));
        let mut kinds: Vec<(String, String)> = objects
            .iter()
            .map(|o| (o["kind"].as_str().expect("kind").into(), o["metadata"]["name"].as_str().expect("name").into()))
            .collect();
        kinds.sort();
        assert_eq!(kinds, [("HelmRelease".to_string(), env.to_string()), ("HelmRepository".into(), env.into())]);
        let release = objects.iter().find(|o| o["kind"] == "HelmRelease").expect("release");
        assert_eq!(release["spec"]["chart"]["spec"]["sourceRef"]["name"], env);
        // skyhelm's own settings sit beside deploy/, where no engine reads them.
        assert!(dir.join(env).join("skyhelm.yaml").is_file());
    }
}

/// Every file of each Argo CD deploy folder (a directory app reads every one) is a Kubernetes
/// object with apiVersion, kind and metadata.name; the plugin config and skyhelm.yaml are not
/// in it.
#[test]
fn every_file_of_each_argocd_deploy_folder_is_a_kubernetes_object() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = fresh(tmp.path(), "argocd");
    for env in ["skypilot-dev", "skypilot-prod"] {
        let deploy = dir.join(env).join("deploy");
        let files = files_in(&deploy);
        assert_eq!(files, [format!("application-{env}.yaml")]);
        for f in files {
            let d = read_doc(&deploy.join(&f));
            for field in ["/apiVersion", "/kind", "/metadata/name"] {
                assert!(d.pointer(field).and_then(Value::as_str).is_some_and(|v| !v.is_empty()), "{f}: {field}");
            }
            assert_eq!(d["kind"], "Application", "{f}");
        }
        assert!(dir.join(env).join("cmp-plugin.yaml").is_file());
        assert!(dir.join(env).join("skyhelm.yaml").is_file());
    }
}

const TWO_ENVS: &str = "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\nenvironments:\n  - name: a\n    release: a\n    values: {rbac: {manageSystemComponents: false}}\n  - name: b\n    release: b\n";

/// Removing an environment: `--check` exits 1 naming its folder and the exact command; a rerun
/// removes what generate wrote there and nothing else (a user's file keeps the folder).
#[test]
fn a_removed_environments_folder_is_reported_by_check_and_removed_by_a_rerun() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    for format in ["chart", "flux", "argocd", "helmfile"] {
        std::fs::write(&envs, TWO_ENVS).expect("envs");
        let out = dir.path().join(format);
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        assert!(out.join("sky-b/skyhelm.yaml").is_file());
        std::fs::write(&envs, TWO_ENVS.replace("  - name: b\n    release: b\n", "")).expect("envs");
        let (code, stdout, err) = generate_to(&envs, format, &out, &["--check"]);
        assert_eq!(code, 1, "{format}: {stdout}{err}");
        let b = out.join("sky-b");
        assert!(err.contains(&format!("{}, generated for an environment that", b.display())), "{err}");
        let command = format!("run `skyhelm generate {} --format {format} --out {}`", envs.display(), out.display());
        assert!(err.contains(&command), "{format}: {err}");
        assert!(stdout.contains(&format!("--- {}", b.join("skyhelm.yaml").display())), "{stdout}");
        // A rerun removes the folder; --check is then clean.
        let (code, stdout, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{err}");
        assert!(stdout.contains(&format!("removed {}", b.display())), "{stdout}");
        assert!(!b.exists(), "{format}: {:?}", std::fs::read_dir(&b).map(|d| d.count()));
        assert!(out.join("sky-a/skyhelm.yaml").is_file());
        let (code, stdout, err) = generate_to(&envs, format, &out, &["--check"]);
        assert_eq!(code, 0, "{format}: {stdout}{err}");
        // With a file of the user's in it, only the generated files go.
        std::fs::write(&envs, TWO_ENVS).expect("envs");
        assert_eq!(generate_to(&envs, format, &out, &[]).0, 0);
        std::fs::write(b.join("notes.txt"), "mine\n").expect("user file");
        std::fs::write(&envs, TWO_ENVS.replace("  - name: b\n    release: b\n", "")).expect("envs");
        assert_eq!(generate_to(&envs, format, &out, &[]).0, 0);
        assert_eq!(files_in(&b), ["notes.txt"], "{format}");
        assert_eq!(generate_to(&envs, format, &out, &["--check"]).0, 0, "{format}");
    }
}

/// A folder without generate's list (the stand-in chart next to generated ones), or one this
/// environments file would not name (`<name>-…`: another generated output in the same folder),
/// is never stale.
#[test]
fn folders_generate_did_not_write_are_never_removed() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(&envs, TWO_ENVS).expect("envs");
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("skypilot")).expect("mkdir");
    std::fs::write(out.join("skypilot/Chart.yaml"), "name: skypilot\n").expect("chart");
    // Another output (helmfile's shared folder) inside the chart format's output.
    assert_eq!(generate_to(&envs, "helmfile", &out.join("helmfile"), &[]).0, 0);
    for format in ["chart", "flux", "argocd", "helmfile"] {
        assert_eq!(generate_to(&envs, format, &out, &[]).0, 0);
        assert_eq!(generate_to(&envs, format, &out, &["--check"]).0, 0);
    }
    assert_eq!(std::fs::read_to_string(out.join("skypilot/Chart.yaml")).expect("kept"), "name: skypilot\n");
    assert!(out.join("helmfile/helmfile.yaml").is_file());
}

/// `--check` names the exact command that regenerates: `--templates DIR` too when it was used.
#[test]
fn check_names_the_templates_folder_it_was_run_with() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(&envs, TWO_ENVS).expect("envs");
    let templates = dir.path().join("my templates");
    copy_dir(&root().join("templates"), &templates);
    for format in ["chart", "flux"] {
        let out = dir.path().join(format);
        let t = templates.to_str().expect("p");
        let (code, stdout, err) = generate_to(&envs, format, &out, &["--check", "--templates", t]);
        assert_eq!(code, 1, "{format}: {stdout}{err}");
        let command = format!(
            "run `skyhelm generate {} --format {format} --out {} --templates '{t}'`",
            envs.display(),
            out.display()
        );
        assert!(err.contains(&command), "{format}: {err}");
        let (code, _, err) = generate_to(&envs, format, &out, &["--check"]);
        assert_eq!(code, 1, "{format}: {err}");
        assert!(err.contains(&format!("--out {}`", out.display())), "{format}: {err}");
    }
}

/// Two environments files whose names share a prefix (`sky`, `sky-team`) write into one output
/// folder: a run for `sky` neither reports nor removes `sky-team`'s folders (which start with
/// `sky-` too), in every format; its own removed environment still goes.
#[test]
fn another_environments_files_folders_are_never_stale_even_when_their_names_share_the_prefix() {
    let dir = tempfile::tempdir().expect("tmp");
    let head = "defaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\nenvironments:\n";
    let (sky, team) = (dir.path().join("sky.yaml"), dir.path().join("team.yaml"));
    std::fs::write(&team, format!("name: sky-team\n{head}  - name: dev\n    release: team\n")).expect("envs");
    for format in ["chart", "flux", "argocd", "helmfile"] {
        let out = dir.path().join(format);
        std::fs::write(&sky, format!("name: sky\n{head}  - name: dev\n  - name: qa\n    release: qa\n    values: {{rbac: {{manageSystemComponents: false}}}}\n")).expect("envs");
        assert_eq!(generate_to(&team, format, &out, &[]).0, 0, "{format}");
        assert_eq!(generate_to(&sky, format, &out, &[]).0, 0, "{format}");
        let (code, stdout, err) = generate_to(&sky, format, &out, &["--check"]);
        assert_eq!(code, 0, "{format}: {stdout}{err}");
        assert!(out.join("sky-team-dev/.skyhelm-generated").is_file(), "{format}");
        // sky drops qa: its folder goes, sky-team's stays.
        std::fs::write(&sky, format!("name: sky\n{head}  - name: dev\n")).expect("envs");
        let (code, stdout, err) = generate_to(&sky, format, &out, &["--check"]);
        assert_eq!(code, 1, "{format}: {stdout}{err}");
        assert!(err.contains("sky-qa") && !err.contains("sky-team-dev"), "{format}: {err}");
        assert_eq!(generate_to(&sky, format, &out, &[]).0, 0, "{format}");
        assert!(!out.join("sky-qa").exists(), "{format}");
        assert!(out.join("sky-team-dev/.skyhelm-generated").is_file(), "{format}");
        assert!(out.join("sky-dev/.skyhelm-generated").is_file(), "{format}");
    }
}

/// Two environments with one release name deploying to one cluster would own the chart's
/// cluster-scoped objects together: refused with both names; another cluster is fine.
#[test]
fn two_environments_with_one_release_in_one_cluster_are_refused_naming_both() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    let base = "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\nenvironments:\n";
    // (format, the two environments' extra settings, refused)
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("argocd", "", "", Some("Argo CD destination server https://kubernetes.default.svc")),
        ("argocd", "", "    argocd: {destination: {name: in-cluster}}\n", Some("Argo CD destination")),
        ("argocd", "", "    argocd: {destination: {name: prod}}\n", None),
        (
            "argocd",
            "    argocd: {destination: {server: https://a.example}}\n",
            "    argocd: {destination: {server: https://a.example}}\n",
            Some("https://a.example"),
        ),
        ("flux", "", "", Some("no flux.cluster set")),
        ("flux", "    flux: {cluster: east}\n", "    flux: {cluster: east}\n", Some("flux.cluster east")),
        ("flux", "    flux: {cluster: east}\n", "    flux: {cluster: west}\n", None),
        ("helmfile", "", "", Some("helmfile environment default")),
        ("helmfile", "    helmfile: {environments: [dev]}\n", "", Some("helmfile environment dev")),
        (
            "helmfile",
            "    helmfile: {environments: [dev, qa]}\n",
            "    helmfile: {environments: [qa]}\n",
            Some("helmfile environment qa"),
        ),
        ("helmfile", "    helmfile: {environments: [dev]}\n", "    helmfile: {environments: [prod]}\n", None),
    ];
    for (format, a, b, refused) in cases {
        let text = format!("{base}  - name: dev\n{a}  - name: prod\n{b}");
        std::fs::write(&envs, &text).expect("envs");
        let out = dir.path().join("out");
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        match refused {
            Some(target) => {
                assert_eq!(code, 1, "{format}: {text}");
                assert!(
                    err.contains("environments `dev` and `prod` both deploy release `sky` to the same cluster"),
                    "{err}"
                );
                assert!(err.contains(target), "{format} {target}: {err}");
                assert!(!out.exists());
            }
            None => {
                assert_eq!(code, 0, "{format}: {text}{err}");
                // Different releases never collide.
                std::fs::remove_dir_all(&out).expect("rm");
            }
        }
    }
    // The chart names its objects after values.fullnameOverride when it is set: two releases
    // with one override collide as one release does; an override that tells them apart does not.
    let fo = |a: &str, b: &str| {
        format!(
            "{base}  - name: dev\n    values: {{fullnameOverride: {a}, rbac: {{manageSystemComponents: false}}}}\n  - name: prod\n    release: sky2\n    values: {{fullnameOverride: {b}}}\n"
        )
    };
    for format in FORMATS {
        std::fs::write(&envs, fo("shared", "shared")).expect("envs");
        let out = dir.path().join("fo");
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 1, "{format}: {err}");
        assert!(
            err.contains("environments `dev` and `prod` both deploy chart objects named `shared` (releases `sky` and `sky2`, values.fullnameOverride) to the same cluster"),
            "{format}: {err}"
        );
        assert!(!out.exists());
        // prod's override is dev's release name.
        std::fs::write(
            &envs,
            format!("{base}  - name: dev\n  - name: prod\n    release: sky2\n    values: {{fullnameOverride: sky-}}\n"),
        )
        .expect("envs");
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 1, "{format}: {err}");
        assert!(err.contains("chart objects named `sky`"), "{format}: {err}");
        std::fs::write(&envs, fo("one", "two")).expect("envs");
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        std::fs::remove_dir_all(&out).expect("rm");
    }
    // Different release names in one cluster are fine, but for Argo CD, which renders the
    // chart's skypilot-system Namespace in every Application that manages system components
    // (no lookup without a cluster), only when at most one of them does.
    let sys = |a: &str, b: &str| format!("{base}  - name: dev\n{a}  - name: prod\n    release: sky2\n{b}");
    let off = "    values: {rbac: {manageSystemComponents: false}}\n";
    let prod = "    argocd: {destination: {name: prod}}\n";
    for (format, a, b, refused) in [
        ("flux", "", "", false),
        ("helmfile", "", "", false),
        ("argocd", "", "", true),
        ("argocd", "    values: {rbac: {create: true}}\n", "", true),
        ("argocd", off, "", false),
        ("argocd", "", off, false),
        ("argocd", "", prod, false),
    ] {
        let text = sys(a, b);
        std::fs::write(&envs, &text).expect("envs");
        let out = dir.path().join(format!("sys-{format}"));
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        if refused {
            assert_eq!(code, 1, "{format}: {text}");
            assert!(
                err.contains("environments `dev` and `prod` both render the chart's Namespace skypilot-system (rbac.manageSystemComponents, on by default) to the same cluster (Argo CD destination server https://kubernetes.default.svc)"),
                "{err}"
            );
            assert!(!out.exists());
        } else {
            assert_eq!(code, 0, "{format}: {text}{err}");
            std::fs::remove_dir_all(&out).expect("rm");
        }
    }
}

/// `apiService.config` is a literal block scalar in every format, and PyYAML and the
/// Kubernetes reader read back the same text, which PyYAML (SkyPilot's reader) reads as the
/// environment's config.
#[test]
fn api_service_config_is_a_literal_block_scalar_that_reads_back_identically() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  mountKubeconfig: false\nenvironments:\n  - name: a\n    allowedContexts: [in-cluster]\n    config:\n      jobs:\n        controller:\n          resources: {cpus: '2+', memory: \"# not a comment\"}\n      api_server:\n        note: \"two words: yes\"\n",
    )
    .expect("envs");
    let expected = serde_json::json!({
        "jobs": {"controller": {"resources": {"cpus": "2+", "memory": "# not a comment"}}},
        "api_server": {"note": "two words: yes"},
        "kubernetes": {"allowed_contexts": ["in-cluster"]},
    });
    for (format, file, pointer) in [
        ("flux", "sky-a/deploy/helmrelease-sky-a.yaml", "/spec/values/apiService/config"),
        ("argocd", "sky-a/deploy/application-sky-a.yaml", "/spec/source/helm/valuesObject/apiService/config"),
        ("helmfile", "helmfile.yaml", "/releases/0/values/0/apiService/config"),
        ("chart", "sky-a/values.yaml", "/skypilot/apiService/config"),
    ] {
        let out = dir.path().join(format);
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        let text = std::fs::read_to_string(out.join(file)).expect("file");
        assert!(text.contains("  config: |\n"), "{format}: not a literal block scalar:\n{text}");
        let py = crate::util::pyyaml_json(&text);
        let k8s = k8s_json(&text).remove(0);
        let config = py.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{format}: {py}"));
        assert_eq!(k8s.pointer(pointer).and_then(Value::as_str), Some(config), "{format}");
        assert_eq!(crate::util::pyyaml_json(config), expected, "{format}: {config}");
    }
}

/// The engine settings of the environments file reach the objects; defaults stay as before.
#[test]
fn engine_settings_appear_in_the_objects() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\n  argocd:\n    project: platform\n  flux:\n    interval: 1h30m\nenvironments:\n  - name: a\n    release: a\n  - name: b\n    release: b\n    argocd:\n      destination: {name: east, namespace: sky-b}\n      syncPolicy: {automated: {prune: true, selfHeal: true}}\n    flux:\n      namespace: sky-flux\n      valuesFrom:\n        - {kind: ConfigMap, name: extra-values}\n        - {kind: Secret, name: extra-secret, valuesKey: v.yaml, optional: true}\n    helmfile:\n      environments: [east, west]\n",
    )
    .expect("envs");
    for format in FORMATS {
        let (code, _, err) = generate_to(&envs, format, &dir.path().join(format), &[]);
        assert_eq!(code, 0, "{format}: {err}");
    }
    let doc = |p: &str| read_doc(&dir.path().join(p));
    let a = doc("argocd/sky-a/deploy/application-sky-a.yaml");
    validate("application.schema.json", &a);
    assert_eq!(a["spec"]["project"], "platform");
    assert_eq!(
        a["spec"]["destination"],
        serde_json::json!({"server": "https://kubernetes.default.svc", "namespace": "sky-a"})
    );
    assert_eq!(a["spec"]["syncPolicy"], serde_json::json!({"syncOptions": ["CreateNamespace=true"]}));
    let b = doc("argocd/sky-b/deploy/application-sky-b.yaml");
    validate("application.schema.json", &b);
    assert_eq!(b["spec"]["destination"], serde_json::json!({"name": "east", "namespace": "sky-b"}));
    assert_eq!(b["spec"]["syncPolicy"], serde_json::json!({"automated": {"prune": true, "selfHeal": true}}));
    let a = doc("flux/sky-a/deploy/helmrelease-sky-a.yaml");
    assert_eq!(
        (a["metadata"]["namespace"].as_str(), a["spec"]["interval"].as_str()),
        (Some("flux-system"), Some("1h30m"))
    );
    assert!(a["spec"].get("valuesFrom").is_none());
    let b = doc("flux/sky-b/deploy/helmrelease-sky-b.yaml");
    validate("helmrelease.schema.json", &b);
    assert_eq!(b["metadata"]["namespace"], "sky-flux");
    assert_eq!(b["spec"]["chart"]["spec"]["sourceRef"]["namespace"], "sky-flux");
    assert_eq!(doc("flux/sky-b/deploy/helmrepository-sky-b.yaml")["metadata"]["namespace"], "sky-flux");
    assert_eq!(
        b["spec"]["valuesFrom"],
        serde_json::json!([{"kind": "ConfigMap", "name": "extra-values"}, {"kind": "Secret", "name": "extra-secret", "valuesKey": "v.yaml", "optional": true}])
    );
    let hf = doc("helmfile/helmfile.yaml");
    validate("helmfile.schema.json", &hf);
    assert!(hf["releases"][0].get("condition").is_none(), "{hf}");
    assert_eq!(hf["releases"][1]["condition"], "sky-b.enabled");
    assert_eq!(
        hf["environments"],
        serde_json::json!({
            "default": {"values": [{"sky-b": {"enabled": false}}]},
            "east": {"values": [{"sky-b": {"enabled": true}}]},
            "west": {"values": [{"sky-b": {"enabled": true}}]},
        })
    );
}

#[test]
fn bad_engine_settings_are_errors_naming_the_environment() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    let base = "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\nenvironments:\n  - name: a\n";
    for (extra, message) in [
        (
            "    argocd: {destination: {server: https://x, name: x}}\n",
            "environment `a`: argocd.destination: set server or name, not both",
        ),
        (
            "    argocd: {destination: {namespace: other}}\n",
            "argocd.destination.namespace `other` is not the environment's namespace `sky-a`",
        ),
        ("    flux: {interval: 1d}\n", "environment `a`: flux.interval `1d` is not a duration"),
        ("    flux: {namespace: Flux}\n", "flux.namespace `Flux` is not a DNS-1123 label"),
        ("    flux: {valuesFrom: [{kind: Deployment, name: x}]}\n", "unknown variant `Deployment`"),
        ("    helmfile: {environments: [Prod]}\n", "helmfile.environments: `Prod` is not a DNS-1123 label"),
        ("    argocd: {project: p, cluster: x}\n", "unknown field `cluster`"),
    ] {
        std::fs::write(&envs, format!("{base}{extra}")).expect("envs");
        let (code, _, err) = generate_to(&envs, "argocd", &dir.path().join("out"), &[]);
        assert_eq!(code, 1, "{extra}");
        assert!(err.contains(message), "{extra}: {err}");
    }
}

/// Output of the earlier flat layout (shared HelmRepository at the top, `helmrelease.yaml` in
/// each environment's folder): a rerun removes what it listed as generated and writes deploy/.
#[test]
fn a_rerun_over_the_earlier_flat_layout_removes_its_generated_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(&envs, TWO_ENVS).expect("envs");
    let out = dir.path().join("flux");
    let list = |files: &str| format!("# Files `skyhelm generate` wrote in this folder\n{files}");
    std::fs::create_dir_all(out.join("sky-a")).expect("mkdir");
    std::fs::write(out.join(".skyhelm-generated"), list("helmrepository-skypilot.yaml\n")).expect("list");
    std::fs::write(out.join("helmrepository-skypilot.yaml"), "kind: HelmRepository\n").expect("old");
    std::fs::write(out.join("sky-a/.skyhelm-generated"), list("helmrelease.yaml\nskyhelm.yaml\n")).expect("list");
    std::fs::write(out.join("sky-a/helmrelease.yaml"), "kind: HelmRelease\n").expect("old");
    let (code, stdout, err) = generate_to(&envs, "flux", &out, &["--check"]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(err.contains("the files an earlier run generated in"), "{err}");
    let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(files_in(&out), ["sky-a", "sky-b"]);
    assert_eq!(files_in(&out.join("sky-a")), [".skyhelm-generated", "deploy", "skyhelm.yaml"]);
    assert_eq!(generate_to(&envs, "flux", &out, &["--check"]).0, 0);
}
