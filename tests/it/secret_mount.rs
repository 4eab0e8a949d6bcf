//! Issue 20 §3 and §4 through real Helm: the Secret that is mounted is the one that was checked
//! (its name valid for Kubernetes, the contexts file's, whoever mounts it), and what cannot work
//! in the pod fails the render (Helm 4's `install --dry-run=client` through the plugin included).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helm::{Form, Helm, config_map, render, render_chart};
use crate::util::{KUBECONFIG, bin, clean, k8s_json, run_with_stdin, skyhelm};

/// The upstream SkyPilot chart, where the oracle finds it.
fn upstream_chart() -> String {
    crate::skypilot::upstream_chart().display().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// The contexts file of KUBECONFIG packed as Secret `secret` (its `prod` and `train` contexts).
fn contexts_file(dir: &Path, secret: &str) -> String {
    let kc = write(dir, "kc", KUBECONFIG);
    let file = dir.join(format!("contexts-{secret}.yaml")).display().to_string();
    let out = skyhelm(
        &[
            "kubeconfig",
            "pack",
            "--kubeconfig",
            &kc,
            "--context",
            "prod",
            "--context",
            "train",
            "--secret-name",
            secret,
            "--contexts-file",
            &file,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    file
}

fn deployment(docs: &[Value]) -> &Value {
    docs.iter().find(|d| d["kind"] == "Deployment").expect("a Deployment")
}

/// The Secrets the API server pod mounts, as (Secret, mountPath).
fn mounted_secrets(d: &Value) -> Vec<(String, String)> {
    let spec = &d["spec"]["template"]["spec"];
    let vols = spec["volumes"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for c in spec["containers"].as_array().expect("containers") {
        for m in c["volumeMounts"].as_array().cloned().unwrap_or_default() {
            if let Some(s) =
                vols.iter().find(|v| v["name"] == m["name"]).and_then(|v| v["secret"]["secretName"].as_str())
            {
                out.push((s.to_string(), m["mountPath"].as_str().unwrap_or_default().to_string()));
            }
        }
    }
    out
}

fn fails(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
    err
}

/// `--secret-name ''`, an empty SKYHELM_SECRET_NAME (an unset CI variable), `Kube_Creds`, the
/// config file's `secret-name`, and pack's `--secret-name`: errors naming where the name came
/// from, with generate's reason.
#[test]
fn secret_names_kubernetes_refuses_are_errors_naming_their_source() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = render(Form::Helm3, "{}\n");
    let reason =
        "is not a valid Secret name (a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, at most 253)";
    for (flag, shown) in [("", "\"\""), ("Kube_Creds", "Kube_Creds"), ("a b", "\"a b\""), ("-x", "\"-x\"")] {
        let arg = format!("--secret-name={flag}");
        let err = fails(&skyhelm(&["post-render", &arg], input.as_bytes()));
        assert!(err.contains(&format!("skyhelm: error: --secret-name: {shown} {reason}")), "{flag:?}: {err}");
        let mut cmd = Command::new(bin());
        clean(&mut cmd).arg("post-render").env("SKYHELM_SECRET_NAME", flag);
        let err = fails(&run_with_stdin(&mut cmd, input.as_bytes()));
        assert!(err.contains(&format!("skyhelm: error: SKYHELM_SECRET_NAME: {shown} {reason}")), "{flag:?}: {err}");
        let cfg = write(dir.path(), "skyhelm.yaml", &format!("secret-name: '{flag}'\n"));
        let err = fails(&skyhelm(&["post-render", "--config", &cfg], input.as_bytes()));
        assert!(err.contains(&format!("secret-name in the --config file: {shown} {reason}")), "{flag:?}: {err}");
        let kc = write(dir.path(), "kc", KUBECONFIG);
        let err = fails(&skyhelm(&["kubeconfig", "pack", "--kubeconfig", &kc, "--context", "prod", &arg], b""));
        assert!(err.contains(&format!("--secret-name: {shown} {reason}")), "{flag:?}: {err}");
    }
    // A valid name is taken as it is.
    let out = skyhelm(&["post-render", "--secret-name=kube.creds-1", "--allowed-context=in-cluster"], input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        mounted_secrets(deployment(&k8s_json(&String::from_utf8_lossy(&out.stdout))))
            .contains(&("kube.creds-1".into(), "/root/.kube".into()))
    );
}

/// With --contexts-file the Secret mounted is the file's `secretName`; another --secret-name, or
/// a chart that mounts another Secret (upstream `useKubeconfig: true`, with or without
/// --no-mount), is an error naming both.
#[test]
fn the_contexts_files_secret_is_the_one_mounted() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = contexts_file(dir.path(), "sky-kube");
    let values = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod]\n";
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, values);
        for extra in [None, Some("--secret-name=sky-kube")] {
            let mut args = vec!["post-render", "--contexts-file", &file];
            args.extend(extra);
            let out = skyhelm(&args, input.as_bytes());
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let docs = k8s_json(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(mounted_secrets(deployment(&docs)), [("sky-kube".to_string(), "/root/.kube".to_string())]);
        }
        for (args, env) in [
            (vec!["post-render", "--contexts-file", &file, "--secret-name=kube-credentials"], None),
            (vec!["post-render", "--contexts-file", &file], Some("kube-credentials")),
        ] {
            let mut cmd = Command::new(bin());
            clean(&mut cmd).args(&args);
            if let Some(v) = env {
                cmd.env("SKYHELM_SECRET_NAME", v);
            }
            let err = fails(&run_with_stdin(&mut cmd, input.as_bytes()));
            let from = if env.is_some() { "SKYHELM_SECRET_NAME" } else { "--secret-name" };
            assert!(
                err.contains(&format!(
                    "{from} is `kube-credentials`, but the --contexts-file records the contexts of Secret `sky-kube`"
                )),
                "{err}"
            );
        }
    }
    // The upstream chart mounting Secret `other` itself.
    let chart = upstream_chart();
    let own = "kubernetesCredentials:\n  useKubeconfig: true\n  kubeconfigSecretName: other\napiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod]\n";
    for form in [Form::Helm3, Form::Helm4] {
        let input = render_chart(form, &chart, own);
        let err = fails(&skyhelm(&["post-render", "--contexts-file", &file], input.as_bytes()));
        assert!(err.contains("/root/.kube is already mounted from volume `kube-config` (Secret `other`); skyhelm would mount Secret `sky-kube` (secretName in the --contexts-file) there"), "{err}");
        let err = fails(&skyhelm(&["post-render", "--no-mount", "--contexts-file", &file], input.as_bytes()));
        assert!(
            err.contains("the chart mounts Secret `other` at /root/.kube (the kubeconfig SkyPilot reads), but the contexts were checked against Secret `sky-kube` (secretName in the --contexts-file)"),
            "{err}"
        );
        let err = fails(&skyhelm(&["post-render", "--no-mount", "--secret-name=checked"], input.as_bytes()));
        assert!(err.contains("the chart mounts Secret `other` at /root/.kube"), "{err}");
        // The chart's Secret is the contexts file's: nothing to add, the names are checked.
        let same = own.replace("kubeconfigSecretName: other", "kubeconfigSecretName: sky-kube");
        let input = render_chart(form, &chart, &same);
        let out = skyhelm(&["post-render", "--no-mount", "--contexts-file", &file], input.as_bytes());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// `--no-mount` on a chart that mounts the kubeconfig itself (upstream `useKubeconfig: true`,
/// also with SSH node pools, where it sits at /var/skypilot/kubeconfig with KUBECONFIG naming
/// it): the pod has the kubeconfig, so the in-cluster fix applies and the names are checked, as
/// with skyhelm's own mount. A chart that mounts none is left alone. (SkyPilot's code judges the
/// same cases in `skypilot::upstream_no_mount_on_chart_mount`.)
#[test]
fn no_mount_on_a_chart_that_mounts_the_kubeconfig_applies_the_context_rules() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = write(dir.path(), "kc", KUBECONFIG);
    let chart = upstream_chart();
    let list = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod]\n";
    let mounting = format!("kubernetesCredentials:\n  useKubeconfig: true\n{list}");
    let ssh = format!(
        "kubernetesCredentials:\n  useKubeconfig: true\n{}  sshNodePools: |\n    pool: {{hosts: [10.0.0.1]}}\n",
        list
    );
    for form in [Form::Helm3, Form::Helm4] {
        for (name, values, path) in
            [("useKubeconfig", &mounting, "/root/.kube"), ("SSH node pools", &ssh, "/var/skypilot/kubeconfig")]
        {
            let input = render_chart(form, &chart, values);
            assert!(
                mounted_secrets(deployment(&k8s_json(&input))).contains(&("kube-credentials".into(), path.into())),
                "{name}"
            );
            let out = skyhelm(&["post-render", "--no-mount", "--skypilot-kubeconfig", &kc], input.as_bytes());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}: {err}");
            let docs = k8s_json(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(
                config_map(&docs)["kubernetes"]["allowed_contexts"],
                serde_json::json!(["prod", "in-cluster"]),
                "{name}: {err}"
            );
            // A name the kubeconfig lacks is an error, as with skyhelm's mount.
            let input = render_chart(form, &chart, &values.replace("[prod]", "[prdo]"));
            let err = fails(&skyhelm(&["post-render", "--no-mount", "--skypilot-kubeconfig", &kc], input.as_bytes()));
            assert!(err.contains("context `prdo` is not in the kubeconfig"), "{name}: {err}");
        }
        // No kubeconfig in the pod: the list is SkyPilot's to read as it is.
        let input = render_chart(form, &chart, list);
        let out = skyhelm(&["post-render", "--no-mount", "--skypilot-kubeconfig", &kc], input.as_bytes());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let docs = k8s_json(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(config_map(&docs)["kubernetes"]["allowed_contexts"], serde_json::json!(["prod"]));
    }
}

/// Helm 4 through the plugin: `helm install --dry-run=client` fails when an allowed context
/// cannot work in the pod (the message, with the fix, reaches the user), and goes through with
/// `--post-renderer-args=--allow-unusable-contexts`; an invalid Secret name and a contexts file
/// of another Secret fail it too. Helm 3 (`--post-renderer PATH`) likewise.
#[test]
fn helm_install_fails_on_what_would_fail_in_the_pod() {
    let dir = tempfile::tempdir().expect("tmp");
    let loopback = KUBECONFIG.replace("https://c1.example.com", "https://127.0.0.1:6443");
    let kc = write(dir.path(), "loopback-kc", &loopback);
    let vf = write(
        dir.path(),
        "values.yaml",
        "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n",
    );
    let kc_arg = format!("--post-renderer-args=--skypilot-kubeconfig={kc}");
    let file = contexts_file(dir.path(), "sky-kube");
    let cf_arg = format!("--post-renderer-args=--contexts-file={file}");
    let chart = crate::helm::CHART;
    let helm4 = Helm::new("helm4");
    helm4.install_skyhelm_plugin();
    let base = ["install", "sky", chart, "-n", "skypilot", "-f", &vf, "--dry-run=client", "--post-renderer", "skyhelm"];
    let install = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        helm4.run(&args)
    };
    // Helm 4 shows only that the plugin failed; `skyhelm last` has the message.
    let out = install(&[&kc_arg]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plugin \"skyhelm\" exited with error"));
    let err = helm4.last();
    assert!(err.contains("post-render failed at "), "{err}");
    assert!(err.contains("an allowed context cannot work inside the API server pod"), "{err}");
    assert!(
        err.contains("context `prod` (cluster `c1`): server https://127.0.0.1:6443 is a loopback address"),
        "{err}"
    );
    assert!(err.contains("--allow-unusable-contexts"), "{err}");
    let out = install(&[&kc_arg, "--post-renderer-args=--allow-unusable-contexts"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("skyhelm.io/kubeconfig-sha256"));
    for (extra, want) in [
        (vec!["--post-renderer-args=--secret-name=Kube_Creds"], "--secret-name: Kube_Creds is not a valid Secret name"),
        (
            vec![cf_arg.as_str(), "--post-renderer-args=--secret-name=other"],
            "--secret-name is `other`, but the --contexts-file records the contexts of Secret `sky-kube`",
        ),
    ] {
        let out = install(&extra);
        assert!(!out.status.success(), "{extra:?}");
        let err = helm4.last();
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    let out = install(&[&cf_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = String::from_utf8_lossy(&out.stdout).into_owned();
    let manifest = manifest.split("MANIFEST:").nth(1).expect("MANIFEST section");
    assert_eq!(mounted_secrets(deployment(&k8s_json(manifest))), [("sky-kube".to_string(), "/root/.kube".to_string())]);

    let helm3 = Helm::new("helm3");
    let skyhelm_bin = bin().display().to_string();
    let out =
        helm3.run(&["template", "sky", chart, "-n", "skypilot", "-f", &vf, "--post-renderer", &skyhelm_bin, &kc_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("[loopback-server]"), "{err}");
    let out = helm3.run(&[
        "template",
        "sky",
        chart,
        "-n",
        "skypilot",
        "-f",
        &vf,
        "--post-renderer",
        &skyhelm_bin,
        &kc_arg,
        "--post-renderer-args=--allow-unusable-contexts",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// With KUBECONFIG unset the kubernetes client reads `$HOME/.kube/config`: a HOME other than
/// /root on the API container would leave the kubeconfig mounted at /root/.kube unread (SkyPilot
/// then skips every listed context as "not found in kubeconfig"). That is an error naming HOME;
/// with KUBECONFIG naming the mounted file the render passes and SkyPilot uses the contexts.
#[test]
fn a_home_other_than_root_is_refused_unless_kubeconfig_names_the_mount() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(&kc, KUBECONFIG).expect("write");
    let kc_arg = format!("--skypilot-kubeconfig={}", kc.display());
    let values = |env: &str| {
        format!(
            "apiService:\n  extraEnvs:\n{env}  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n"
        )
    };
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, &values("    - name: HOME\n      value: /home/sky\n"));
        let out = skyhelm(&["post-render", &kc_arg], input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{form:?}: {err}");
        assert!(out.stdout.is_empty());
        assert!(
            err.contains("(Deployment skypilot/sky-api-server), line ")
                && err.contains("HOME is set to `/home/sky`")
                && err.contains("/home/sky/.kube/config"),
            "{form:?}: {err}"
        );
        let input = render(
            form,
            &values(
                "    - name: HOME\n      value: /home/sky\n    - name: KUBECONFIG\n      value: /root/.kube/config\n",
            ),
        );
        let out = skyhelm(&["post-render", &kc_arg], input.as_bytes());
        assert!(out.status.success(), "{form:?}: {}", String::from_utf8_lossy(&out.stderr));
        let view = crate::skypilot::skypilot_view(&String::from_utf8_lossy(&out.stdout), Some(&kc));
        assert_eq!(view["global"], serde_json::json!(["prod", "in-cluster"]), "{form:?}: {view}");
    }
}

/// A contexts file without `secretName` (or another required field) is refused naming the
/// field: the message showed `missing field "…"`, since every quoted part was scrubbed.
#[test]
fn a_contexts_file_missing_a_field_names_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = write(
        dir.path(),
        "contexts.yaml",
        "apiVersion: skyhelm.io/v1\nkind: ContextsFile\nconfigSha256: \"9cc8ebf8e1534bfe1452a849ba2e52a8c76e24d0bdc84e1fd6d12b4a802a9e01\"\ncurrentContext: prod\ncontexts:\n- name: prod\n  auth: token\n",
    );
    let out = skyhelm(&["post-render", "--contexts-file", &file], crate::util::API_DEPLOYMENT.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(err.contains("missing field `secretName`"), "{err}");
}
