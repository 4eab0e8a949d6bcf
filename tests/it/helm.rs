//! End to end through real Helm 3.17 and Helm 4.1 (installed by scripts/install-tools.sh):
//! `helm template` and, for Helm 4, `helm install --dry-run=client`, with skyhelm as the
//! post-renderer (Helm 3 by path, Helm 4 through the installed plugin).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::util::{bin, clean, k8s_json, kubeconfig_file, pyyaml_json, root, tool};

pub struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    pub fn new(name: &str) -> Helm {
        Helm { bin: tool(name), home: tempfile::tempdir().expect("tmp") }
    }

    pub fn plugins(&self) -> PathBuf {
        self.home.path().join("plugins")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// As `run`, with extra environment variables (KUBECONFIG, SKYHELM_*, …) for Helm and the
    /// post-renderer it starts.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
        self.run_in(&root(), args, env)
    }

    /// As `run_env`, with Helm (and so the post-renderer) started in `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let h = self.home.path();
        clean(&mut Command::new(&self.bin))
            .envs(env.iter().copied())
            .args(args)
            .env("HELM_PLUGINS", self.plugins())
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"))
            .env("HELM_CACHE_HOME", h.join("cache"))
            // skyhelm keeps its last report here (Helm 4 hides the plugin's stderr).
            .env("XDG_STATE_HOME", h.join("state"))
            .current_dir(dir)
            .output()
            .expect("run helm")
    }

    /// `skyhelm last`: the report of the last post-render this Helm ran; its exit code says
    /// whether that run was ok (0) or not (1).
    pub fn last(&self) -> String {
        let out = clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .arg("last")
            .output()
            .expect("skyhelm last");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let ok = text.lines().next().is_some_and(|l| l.contains(" post-render ok at "));
        assert_eq!(out.status.code(), Some(if ok { 0 } else { 1 }), "{text}{}", String::from_utf8_lossy(&out.stderr));
        text
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "helm {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn install_skyhelm_plugin(&self) {
        let out = clean(&mut Command::new(bin()))
            .args(["helm-plugin", "install", "--dir"])
            .arg(self.plugins())
            .output()
            .expect("plugin install");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list = self.ok(&["plugin", "list"]);
        assert!(list.contains("skyhelm") && list.contains("postrenderer/v1"), "{list}");
    }

    /// A plugin that records what Helm 4 sends a post-renderer and passes it on unchanged.
    pub fn install_capture_plugin(&self, file: &Path) {
        let dir = self.plugins().join("capture");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = file.display();
        std::fs::write(
            dir.join("plugin.yaml"),
            format!(
                "apiVersion: v1\ntype: postrenderer/v1\nname: capture\nversion: 0.1.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: /bin/sh\n      args: [\"-c\", \"cat > '{f}'; cat '{f}'\"]\n"
            ),
        )
        .expect("write");
    }
}

pub const CHART: &str = "charts/skypilot";

/// The two forms a post-renderer receives.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// `helm template` output, as Helm 3 passes it.
    Helm3,
    /// What Helm 4 passes a `postrenderer/v1` plugin (re-serialized, annotated, hooks included).
    Helm4,
}

/// Renders the chart with `values` (YAML) and returns what a post-renderer would receive.
pub fn render(form: Form, values: &str) -> String {
    render_chart(form, CHART, values)
}

/// As `render`, for the chart at `chart` (relative to the project, or absolute).
pub fn render_chart(form: Form, chart: &str, values: &str) -> String {
    render_chart_in(form, chart, values, "skypilot")
}

/// The upstream SkyPilot chart, `../shared/fixtures/upstream-chart/skypilot` from the project
/// (or from a folder above it, for a worktree of the project): used in place, never copied
/// into the project. Missing is a failure.
pub fn upstream_chart() -> PathBuf {
    let rel = Path::new("shared/fixtures/upstream-chart/skypilot");
    let found = crate::util::root().ancestors().skip(1).map(|d| d.join(rel)).find(|p| p.join("Chart.yaml").exists());
    found.unwrap_or_else(|| panic!("the upstream chart ../{} is missing", rel.display()))
}

/// As `render_chart`, for a release in `namespace`.
pub fn render_chart_in(form: Form, chart: &str, values: &str, namespace: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let vf = dir.path().join("values.yaml");
    std::fs::write(&vf, values).expect("values");
    let vf = vf.to_str().expect("path").to_string();
    match form {
        Form::Helm3 => Helm::new("helm3").ok(&["template", "sky", chart, "-n", namespace, "-f", &vf]),
        Form::Helm4 => {
            let helm = Helm::new("helm4");
            let captured = dir.path().join("input.yaml");
            helm.install_capture_plugin(&captured);
            helm.ok(&["template", "sky", chart, "-n", namespace, "-f", &vf, "--post-renderer", "capture"]);
            let input = std::fs::read_to_string(&captured).expect("captured Helm 4 input");
            assert!(input.contains("postrenderer.helm.sh/postrender-filename"), "not the Helm 4 form:\n{input}");
            input
        }
    }
}

/// Values that already name the contexts of the test kubeconfig, so only the mount changes.
pub const GOOD_CONFIG: &str = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";

fn values_file(dir: &Path, text: &str) -> String {
    let p = dir.join("values.yaml");
    std::fs::write(&p, text).expect("values");
    p.to_str().expect("path").to_string()
}

fn deployment(docs: &[Value]) -> &Value {
    docs.iter().find(|d| d["kind"] == "Deployment").expect("a Deployment")
}

pub fn config_map(docs: &[Value]) -> Value {
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
    pyyaml_json(cm["data"]["config.yaml"].as_str().expect("config.yaml"))
}

fn api_container(d: &Value) -> &Value {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "skypilot-api")
        .expect("api container")
}

fn mounted_at(d: &Value, path: &str) -> bool {
    api_container(d)["volumeMounts"].as_array().is_some_and(|m| {
        m.iter().any(|m| m["name"] == "kube-config" && m["mountPath"] == path && m["readOnly"] == true)
    }) && d["spec"]["template"]["spec"]["volumes"].as_array().is_some_and(|v| {
        v.iter().any(|v| v["name"] == "kube-config" && v["secret"]["secretName"] == "kube-credentials")
    })
}

pub fn added_by_skyhelm(d: &Value) -> bool {
    d["metadata"]["labels"]["skyhelm.io/added-by"] == "rbac"
}

/// Every document but the Deployment (and the RBAC objects skyhelm adds) means the same with
/// and without skyhelm.
fn others_unchanged(plain: &[Value], rendered: &[Value]) {
    let strip = |v: &[Value]| {
        v.iter()
            .filter(|d| !d.is_null() && d["kind"] != "Deployment" && !added_by_skyhelm(d))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(plain), strip(rendered));
}

/// The chart's own RBAC covers the minimal set: skyhelm adds no RBAC object.
fn nothing_added(rendered: &[Value]) {
    let added: Vec<&Value> = rendered.iter().filter(|d| added_by_skyhelm(d)).collect();
    assert!(added.is_empty(), "{added:?}");
}

#[test]
fn helm3_template_mounts_the_secret_and_changes_nothing_else() {
    let helm = Helm::new("helm3");
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let vf = values_file(dir.path(), GOOD_CONFIG);
    let plain = helm.ok(&["template", "sky", CHART, "-n", "skypilot", "-f", &vf]);
    let b = bin();
    let post = helm.ok(&[
        "template",
        "sky",
        CHART,
        "-n",
        "skypilot",
        "-f",
        &vf,
        "--post-renderer",
        b.to_str().expect("path"),
        "--post-renderer-args",
        &format!("--skypilot-kubeconfig={}", kc.display()),
    ]);
    let (plain_j, post_j) = (k8s_json(&plain), k8s_json(&post));
    others_unchanged(&plain_j, &post_j);
    nothing_added(&post_j);
    let d = deployment(&post_j);
    assert!(mounted_at(d, "/root/.kube"), "{post}");
    let sum = crate::util::run_with_stdin(&mut Command::new("sha256sum"), &std::fs::read(&kc).expect("kc"));
    let sum = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().expect("sum").to_string();
    assert_eq!(d["spec"]["template"]["metadata"]["annotations"]["skyhelm.io/kubeconfig-sha256"], Value::String(sum));
}

#[test]
fn helm3_chart_that_already_mounts_is_untouched() {
    let helm = Helm::new("helm3");
    let dir = tempfile::tempdir().expect("tmp");
    let vf = values_file(dir.path(), GOOD_CONFIG);
    let b = bin();
    for extra in [
        &["--set", "kubernetesCredentials.useKubeconfig=true"][..],
        &["--set", "kubernetesCredentials.useKubeconfig=true", "--set-string", "apiService.sshNodePools=pool: {}"][..],
    ] {
        let mut args = vec!["template", "sky", CHART, "-n", "skypilot", "-f", &vf];
        args.extend_from_slice(extra);
        let plain = helm.ok(&args);
        args.extend_from_slice(&["--post-renderer", b.to_str().expect("path")]);
        let post = helm.ok(&args);
        let post_j = k8s_json(&post);
        nothing_added(&post_j);
        let theirs: Vec<Value> = post_j.into_iter().filter(|d| !added_by_skyhelm(d)).collect();
        assert_eq!(k8s_json(&plain), theirs);
    }
}

#[test]
fn helm3_reports_skyhelm_errors() {
    let helm = Helm::new("helm3");
    let b = bin();
    let out = helm.run(&[
        "template",
        "sky",
        CHART,
        "--post-renderer",
        b.to_str().expect("path"),
        "--post-renderer-args",
        "--container=nope",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Deployment has a container named `nope`"), "{err}");
}

#[test]
fn helm3_and_helm4_write_the_list_that_keeps_in_cluster() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let kc_arg = format!("--skypilot-kubeconfig={}", kc.display());
    let b = bin();
    let h3 = Helm::new("helm3");
    let out3 = h3.ok(&[
        "template",
        "sky",
        CHART,
        "-n",
        "skypilot",
        "--post-renderer",
        b.to_str().expect("path"),
        "--post-renderer-args",
        &kc_arg,
    ]);
    let h4 = Helm::new("helm4");
    h4.install_skyhelm_plugin();
    let out4 = h4.ok(&[
        "template",
        "sky",
        CHART,
        "-n",
        "skypilot",
        "--post-renderer",
        "skyhelm",
        &format!("--post-renderer-args={kc_arg}"),
    ]);
    for out in [out3, out4] {
        assert_eq!(config_map(&k8s_json(&out)), json!({"kubernetes": {"allowed_contexts": ["prod", "in-cluster"]}}));
    }
}

#[test]
fn helm4_template_and_dry_run_install_through_the_plugin() {
    let helm = Helm::new("helm4");
    helm.install_skyhelm_plugin();
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let vf = values_file(dir.path(), GOOD_CONFIG);
    let kc_arg = format!("--post-renderer-args=--skypilot-kubeconfig={}", kc.display());
    let plain = helm.ok(&["template", "sky", CHART, "-n", "skypilot", "-f", &vf]);
    let post = helm.ok(&["template", "sky", CHART, "-n", "skypilot", "-f", &vf, "--post-renderer", "skyhelm", &kc_arg]);
    let (plain_j, post_j) = (k8s_json(&plain), k8s_json(&post));
    others_unchanged(&plain_j, &post_j);
    nothing_added(&post_j);
    assert!(mounted_at(deployment(&post_j), "/root/.kube"), "{post}");

    let install = helm.ok(&[
        "install",
        "sky",
        CHART,
        "-n",
        "skypilot",
        "-f",
        &vf,
        "--dry-run=client",
        "--post-renderer",
        "skyhelm",
        &kc_arg,
    ]);
    let manifest = install.split("MANIFEST:").nth(1).expect("MANIFEST section");
    let install_j = k8s_json(manifest);
    assert!(mounted_at(deployment(&install_j), "/root/.kube"), "{install}");
    let hooks = install.split("HOOKS:").nth(1).and_then(|h| h.split("MANIFEST:").next()).expect("HOOKS section");
    assert!(
        k8s_json(hooks).iter().any(|d| d["kind"] == "Pod"),
        "Helm 4 sends hooks through the post-renderer; they must survive"
    );
    assert!(install.contains("skyhelm.io/kubeconfig-sha256"));

    let out =
        helm.run(&["template", "sky", CHART, "--post-renderer", "skyhelm", "--post-renderer-args=--container=nope"]);
    assert!(!out.status.success(), "Helm 4 must fail when skyhelm fails");
}

#[test]
fn helm4_input_form_keeps_annotations_and_meaning() {
    let input = render(Form::Helm4, GOOD_CONFIG);
    assert!(input.contains("helm.sh/hook"), "Helm 4 sends hooks to the post-renderer");
    let out = crate::util::post_render_ok(&[], &input);
    let (in_docs, out_docs) = (crate::util::docs(&input), crate::util::docs(&out));
    assert_eq!(in_docs.len(), out_docs.len());
    for (a, b) in in_docs.iter().zip(&out_docs) {
        if !a.contains("kind: Deployment") {
            assert_eq!(a, b);
        }
    }
    let d = deployment(&k8s_json(&out)).clone();
    assert!(mounted_at(&d, "/root/.kube"));
    assert!(d["metadata"]["annotations"]["postrenderer.helm.sh/postrender-filename"].is_string());
}

/// Helm tells a post-renderer no release (Helm 3 nothing; Helm 4 only HELM_PLUGIN_NAME and
/// HELM_PLUGIN_DIR, and it starts the plugin in Helm's own folder), so skyhelm keeps one
/// last-run report per working folder: two releases rendered from two folders keep two, and
/// `skyhelm last` shows the newest (exit 1: it failed), `--all` both.
#[test]
fn releases_rendered_from_two_folders_keep_two_last_run_reports() {
    for which in ["helm3", "helm4"] {
        let helm = Helm::new(which);
        let post = if which == "helm4" {
            helm.install_skyhelm_plugin();
            "skyhelm".to_string()
        } else {
            bin().display().to_string()
        };
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b) = (tmp.path().join("release a"), tmp.path().join("release b"));
        let chart = root().join(CHART).display().to_string();
        let kc = format!("--post-renderer-args=--skypilot-kubeconfig={}", kubeconfig_file(tmp.path()).display());
        for (dir, release, extra) in [(&a, "sky-a", None), (&b, "sky-b", Some("--post-renderer-args=--container=nope"))]
        {
            std::fs::create_dir_all(dir).expect("mkdir");
            std::thread::sleep(std::time::Duration::from_millis(30));
            let mut args = vec!["template", release, chart.as_str(), "--post-renderer", post.as_str(), kc.as_str()];
            args.extend(extra);
            let out = helm.run_in(dir, &args, &[]);
            assert_eq!(
                out.status.success(),
                extra.is_none(),
                "{which} {release}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = helm.last();
        assert!(
            text.contains(" post-render failed at ") && text.contains(&format!("(in {})", b.display())),
            "{which}: {text}"
        );
        let out = clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", helm.home.path().join("state"))
            .args(["last", "--all"])
            .output()
            .expect("last --all");
        let all = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{which}: {all}");
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 2, "{which}: {all}");
        assert!(lines[0].contains(" failed at ") && lines[0].ends_with(&format!("(in {})", b.display())), "{all}");
        assert!(lines[1].contains(" ok at ") && lines[1].ends_with(&format!("(in {})", a.display())), "{all}");
    }
}
