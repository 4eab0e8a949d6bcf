//! Issue 22 §2 and the `values:` key of §3: what post-render would add reaches the cluster
//! through the upstream chart's values (the rollout annotation, least-privilege RBAC), and each
//! environment's own chart values, merged over the defaults', go into every format. Checked on
//! the real upstream chart (../shared/fixtures/upstream-chart) rendered by real Helm, read with
//! the Kubernetes YAML reader.

use std::path::Path;

use serde_json::{Value, json};

use crate::gitops::{EXAMPLE_ENVS, FORMATS, deployments, generate_to};
use crate::helm::{Helm, upstream_chart};
use crate::util::{k8s_json, pyyaml_json, root, skyhelm};

const ANNOTATION: &str = "skyhelm.io/kubeconfig-sha256";

/// `helm template` of the upstream chart with `values` (JSON): the documents as Kubernetes
/// reads them.
fn render(helm: &str, release: &str, namespace: &str, values: &Value, dir: &Path) -> (String, Vec<Value>) {
    let file = dir.join(format!("values-{release}-{namespace}.json"));
    std::fs::write(&file, values.to_string()).expect("values");
    let chart = upstream_chart();
    let text = Helm::new(helm).ok(&[
        "template",
        release,
        chart.to_str().expect("p"),
        "-n",
        namespace,
        "-f",
        file.to_str().expect("p"),
    ]);
    let docs = k8s_json(&text).into_iter().filter(|d| !d.is_null()).collect();
    (text, docs)
}

fn api_deployment(docs: &[Value]) -> &Value {
    docs.iter()
        .find(|d| {
            d["kind"] == "Deployment" && d["metadata"]["name"].as_str().is_some_and(|n| n.ends_with("-api-server"))
        })
        .expect("the API server Deployment")
}

/// The `*` verbs of every Role and ClusterRole: (kind/name, resources).
fn wildcard_rules(docs: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for d in docs.iter().filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole") {
        for r in d["rules"].as_array().into_iter().flatten() {
            if r["verbs"].as_array().is_some_and(|v| v.contains(&json!("*"))) {
                out.push(format!("{}/{}: {}", d["kind"], d["metadata"]["name"], r["resources"]));
            }
        }
    }
    out
}

/// The examples' `team` environment (a contexts file, `rbac: tighten`): in every
/// format, the upstream chart rendered with its values by Helm 3 and Helm 4 carries the pod
/// annotation with the contexts file's configSha256 and no `*` verb in any Role or
/// ClusterRole; `dev` (`rbac: add`) gets its namespace and cluster rules with explicit verbs.
/// Before, the values had neither: the annotation came only from post-render, which no GitOps
/// engine runs, and the chart rendered its `*` rules.
#[test]
fn examples_deploy_the_rollout_annotation_and_least_privilege_rbac_through_values() {
    let tmp = tempfile::tempdir().expect("tmp");
    let contexts =
        pyyaml_json(&std::fs::read_to_string(root().join("examples/gitops/team.contexts.yaml")).expect("cf"));
    let sha = contexts["configSha256"].as_str().expect("configSha256");
    for format in FORMATS {
        // Generated afresh (the committed copies are checked against these in gitops.rs).
        let out = tmp.path().join(format);
        let (code, _, err) = generate_to(&root().join("examples/gitops/environments.yaml"), format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        let all = deployments(format, &out, EXAMPLE_ENVS);
        let team = all.iter().find(|d| d.namespace == "skypilot-team").expect("team");
        assert_eq!(team.values["apiService"]["annotations"][ANNOTATION], sha, "{format}");
        for helm in ["helm3", "helm4"] {
            let (_, docs) = render(helm, &team.release, &team.namespace, &team.values, tmp.path());
            let pod = &api_deployment(&docs)["spec"]["template"];
            assert_eq!(pod["metadata"]["annotations"][ANNOTATION], sha, "{format} {helm}");
            assert_eq!(api_deployment(&docs)["spec"]["replicas"], 1, "{format} {helm}: values.apiService.replicas");
            assert_eq!(wildcard_rules(&docs), Vec::<String>::new(), "{format} {helm}");
            assert!(
                !docs
                    .iter()
                    .any(|d| d["metadata"]["namespace"] == "skypilot-system"
                        || d["metadata"]["name"] == "skypilot-system"),
                "{format} {helm}: manageSystemComponents is off"
            );
        }
        let dev = all.iter().find(|d| d.namespace == "skypilot-dev").expect("dev");
        assert!(dev.values["apiService"].get("annotations").is_none(), "{format}: no contexts file, no annotation");
        for key in ["namespaceRules", "clusterRules"] {
            let rules = dev.values["rbac"][key].as_array().expect(key);
            assert!(!rules.is_empty(), "{format} {key}");
            assert!(rules.iter().all(|r| !r["verbs"].as_array().expect("verbs").contains(&json!("*"))), "{format}");
        }
    }
}

/// `values:` of the defaults and of an environment, merged (maps key by key, lists replaced
/// whole), go into the HelmRelease, the Application, helmfile's release and the wrapper chart's
/// values, and reach the rendered chart. Before, `values` was an unknown field.
#[test]
fn environment_values_merge_over_the_defaults_in_every_format() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky
defaults:
  repository: https://helm.skypilot.co
  allowedContexts: [in-cluster]
  mountKubeconfig: false
  rbac: audit
  values:
    apiService:
      replicas: 2
      resources: {requests: {cpu: '8', memory: 16Gi}}
    ingress: {enabled: false}
    global: {imagePullSecrets: [{name: a}, {name: b}]}
environments:
  - name: a
    values:
      apiService:
        resources: {limits: {memory: 32Gi}}
      global: {imagePullSecrets: [{name: c}]}
      rbac: {create: false}
  - name: b
    release: sky-b
",
    )
    .expect("envs");
    let want_a = json!({
        "replicas": 2,
        "resources": {"requests": {"cpu": "8", "memory": "16Gi"}, "limits": {"memory": "32Gi"}},
    });
    for format in FORMATS {
        let out = dir.path().join(format);
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        let ds = deployments(format, &out, &["sky-a", "sky-b"]);
        let (a, b) = (&ds[0].values, &ds[1].values);
        assert_eq!(a["apiService"]["replicas"], want_a["replicas"], "{format}");
        assert_eq!(a["apiService"]["resources"], want_a["resources"], "{format}");
        assert_eq!(a["global"]["imagePullSecrets"], json!([{"name": "c"}]), "{format}: lists replaced whole");
        assert_eq!(a["rbac"]["create"], false, "{format}");
        assert_eq!(a["ingress"]["enabled"], false, "{format}");
        assert!(a["apiService"]["config"].is_string() && a["apiService"]["image"].is_string(), "{format}");
        assert_eq!(b["global"]["imagePullSecrets"], json!([{"name": "a"}, {"name": "b"}]), "{format}");
        assert_eq!(b["rbac"]["create"], true, "{format}");
        if format == "flux" {
            let (_, docs) = render("helm3", &ds[0].release, &ds[0].namespace, a, dir.path());
            let d = api_deployment(&docs);
            assert_eq!(d["spec"]["replicas"], 2);
            assert_eq!(d["spec"]["template"]["spec"]["imagePullSecrets"], json!([{"name": "c"}]));
            assert!(!docs.iter().any(|d| d["kind"] == "Role"), "rbac.create: false renders no Role");
            let out = skyhelm(
                &["diff", "--config", ds[0].settings.to_str().expect("p")],
                render("helm3", &ds[0].release, &ds[0].namespace, a, dir.path()).0.as_bytes(),
            );
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    // The wrapper chart: the same values under `skypilot:`, as YAML 1.1 readers read them.
    let out = dir.path().join("charts");
    let (code, _, err) = generate_to(&envs, "chart", &out, &[]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(out.join("sky-a/values.yaml")).expect("values.yaml");
    for v in [pyyaml_json(&text), k8s_json(&text).remove(0)] {
        let s = &v["skypilot"];
        assert_eq!(s["apiService"]["replicas"], 2, "{text}");
        assert_eq!(s["apiService"]["resources"], want_a["resources"], "{text}");
        assert_eq!(s["global"]["imagePullSecrets"], json!([{"name": "c"}]), "{text}");
        assert_eq!(s["rbac"]["create"], false, "{text}");
        assert_eq!(s["kubernetesCredentials"]["useKubeconfig"], false, "{text}");
        assert!(s["apiService"]["config"].as_str().is_some_and(|c| c.contains("in-cluster")), "{text}");
    }
}

/// Keys skyhelm writes are refused in `values:` (defaults' or an environment's), each naming
/// the setting to use; nothing is written. Before, `values` was an unknown field.
#[test]
fn skyhelm_managed_keys_in_values_are_refused_with_the_setting_to_use() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        (
            "kubernetesCredentials: {useKubeconfig: false}",
            "add",
            "values.kubernetesCredentials is written by skyhelm; set inCluster, mountKubeconfig",
        ),
        ("apiService: {config: 'a: 1'}", "add", "values.apiService.config is written by skyhelm; set config"),
        ("apiService: {image: x}", "add", "values.apiService.image is written by skyhelm; set image"),
        (
            "apiService: {annotations: {skyhelm.io/kubeconfig-sha256: x}}",
            "add",
            "values.apiService.annotations.skyhelm.io/kubeconfig-sha256 is written by skyhelm; set contexts",
        ),
        ("rbac: {namespaceRules: []}", "tighten", "values.rbac.namespaceRules is written by skyhelm for rbac: tighten"),
        ("rbac: {clusterRules: []}", "add", "values.rbac.clusterRules is written by skyhelm for rbac: add"),
        ("rbac: x", "off", "values.rbac is not a map"),
    ];
    for (values, rbac, want) in cases {
        for (i, format) in ["chart", "flux", "argocd", "helmfile"].into_iter().enumerate() {
            let envs = dir.path().join("envs.yaml");
            // In the defaults for one format, in the environment for the others.
            let (defaults, env) = if i == 0 {
                (format!("  values: {{{values}}}\n"), String::new())
            } else {
                (String::new(), format!("    values: {{{values}}}\n"))
            };
            std::fs::write(
                &envs,
                format!("name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  rbac: {rbac}\n{defaults}environments:\n  - name: a\n{env}"),
            )
            .expect("envs");
            let out = dir.path().join(format!("out-{format}"));
            let (code, _, err) = generate_to(&envs, format, &out, &[]);
            assert_eq!(code, 1, "{format} {values}: {err}");
            assert!(err.contains(&format!("environment `a`: {want}")), "{format} {values}: {err}");
            assert!(!out.exists(), "{format}: nothing written");
        }
    }
    // Under audit and off skyhelm writes no rules: the admin's are kept.
    let envs = dir.path().join("envs.yaml");
    std::fs::write(&envs, "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  rbac: audit\nenvironments:\n  - name: a\n    values: {rbac: {namespaceRules: [{apiGroups: [''], resources: [pods], verbs: [get]}]}}\n").expect("envs");
    let out = dir.path().join("audit");
    let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
    assert_eq!(code, 0, "{err}");
    let d = deployments("flux", &out, &["sky-a"]).remove(0).values;
    assert_eq!(d["rbac"]["namespaceRules"], json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]));
}

/// Where values cannot express the RBAC mode, the GitOps formats refuse that environment with
/// the reason (the wrapper chart, post-rendered, does not): tighten while the chart's
/// skypilot-system Role keeps `*` verbs, add/tighten when `rbac.create: false` leaves the
/// minimal set to a post-renderer. Before, both were generated and deployed the chart's
/// wildcards or no RBAC at all.
#[test]
fn rbac_modes_values_cannot_express_are_refused_in_gitops_formats() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    let cases = [
        ("rbac: tighten", "rbac: tighten cannot be expressed in values while rbac.manageSystemComponents is on"),
        (
            "rbac: add\n    values: {rbac: {create: false}}",
            "rbac: add cannot be expressed in values with values.rbac.create: false",
        ),
    ];
    for (settings, want) in cases {
        std::fs::write(
            &envs,
            format!("name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\nenvironments:\n  - name: a\n    {settings}\n"),
        )
        .expect("envs");
        for format in FORMATS {
            let out = dir.path().join(format);
            let (code, _, err) = generate_to(&envs, format, &out, &[]);
            assert_eq!(code, 1, "{format}: {err}");
            assert!(err.contains(&format!("environment `a`: {want}")), "{format}: {err}");
            assert!(err.contains(&format!("under {format}")), "{format}: {err}");
            assert!(!out.exists());
        }
        let (code, _, err) = generate_to(&envs, "chart", &dir.path().join("charts"), &[]);
        assert_eq!(code, 0, "chart: post-render runs there: {err}");
    }
    // Without the in-cluster context add adds nothing: rbac.create: false is expressible.
    std::fs::write(&envs, "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  mountKubeconfig: false\n  inCluster: false\n  allowedContexts: []\nenvironments:\n  - name: a\n    values: {rbac: {create: false}}\n").expect("envs");
    let (code, _, err) = generate_to(&envs, "flux", &dir.path().join("noin"), &[]);
    assert_eq!(code, 0, "{err}");
}

/// A `values:` scalar that Helm (YAML 1.1, the Kubernetes reader) and the environments file
/// reader read apart is refused with its path and both readings: `fsGroup: 0600` is 384 for
/// Helm, and generate would have written 600. Scalars both read alike are written as read.
#[test]
fn values_helm_reads_differently_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  values:\n    podSecurityContext: {fsGroup: 0600}\nenvironments:\n  - name: a\n    values:\n      x: {b: y, d: \"0600\", e: 2001-12-14, f: 12:30, h: on}\n",
    )
    .expect("envs");
    let out = dir.path().join("flux");
    let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("environment `defaults`: values.podSecurityContext.fsGroup: Helm (YAML 1.1) reads 384 here"),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(!out.exists());
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  values:\n    podSecurityContext: {fsGroup: 384}\nenvironments:\n  - name: a\n    values:\n      x: {b: y, d: \"0600\", e: 2001-12-14, f: 12:30, h: on}\n",
    )
    .expect("envs");
    let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
    assert_eq!(code, 0, "{err}");
    let v = deployments("flux", &out, &["sky-a"]).remove(0).values;
    assert_eq!(v["podSecurityContext"]["fsGroup"], 384);
    assert_eq!(v["x"], json!({"b": true, "d": "0600", "e": "2001-12-14", "f": "12:30", "h": true}));
}

/// With a contexts file and nothing else, the values alone roll the pods: the upstream chart
/// rendered by Helm 3 and Helm 4 carries the annotation, and post-render (the gate) has nothing
/// to add. Before, the annotation came only from post-render, which no GitOps engine runs (the
/// gate exited 2).
#[test]
fn contexts_file_annotation_reaches_the_pod_through_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let contexts = root().join("examples/gitops/team.contexts.yaml");
    let sha = pyyaml_json(&std::fs::read_to_string(&contexts).expect("cf"))["configSha256"]
        .as_str()
        .expect("sha")
        .to_string();
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        format!(
            "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\nenvironments:\n  - name: a\n    contexts: {}\n    allowedContexts: [prod-eu]\n",
            contexts.display()
        ),
    )
    .expect("envs");
    for format in FORMATS {
        let out = dir.path().join(format);
        let (code, _, err) = generate_to(&envs, format, &out, &[]);
        assert_eq!(code, 0, "{format}: {err}");
        let d = deployments(format, &out, &["sky-a"]).remove(0);
        for helm in ["helm3", "helm4"] {
            let (text, docs) = render(helm, &d.release, &d.namespace, &d.values, dir.path());
            let pod = &api_deployment(&docs)["spec"]["template"];
            assert_eq!(pod["metadata"]["annotations"][ANNOTATION], sha.as_str(), "{format} {helm}");
            let gate =
                skyhelm(&["diff", "--config", d.settings.to_str().expect("p"), "--color", "never"], text.as_bytes());
            assert_eq!(gate.status.code(), Some(0), "{format} {helm}: {}", String::from_utf8_lossy(&gate.stdout));
        }
    }
}

/// The RBAC variants the examples do not show pass the gate on the upstream chart with both
/// Helms: add without the in-cluster context, tighten with the chart's RBAC management off
/// (no `*` left, none written), audit (the chart's rules as they are).
#[test]
fn rbac_variants_pass_the_gate_on_the_upstream_chart() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    std::fs::write(
        &envs,
        "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  mountKubeconfig: false\n  allowedContexts: [in-cluster]\nenvironments:\n  - name: noin\n    inCluster: false\n    allowedContexts: []\n  - name: nomgmt\n    release: sky-nomgmt\n    rbac: tighten\n    values: {rbac: {manageSystemComponents: false, manageRbacPolicies: false}}\n  - name: audit\n    release: sky-audit\n    rbac: audit\n",
    )
    .expect("envs");
    let out = dir.path().join("flux");
    let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
    assert_eq!(code, 0, "{err}");
    for d in deployments("flux", &out, &["sky-noin", "sky-nomgmt", "sky-audit"]) {
        for helm in ["helm3", "helm4"] {
            let (text, docs) = render(helm, &d.release, &d.namespace, &d.values, dir.path());
            if d.namespace == "sky-nomgmt" {
                assert_eq!(wildcard_rules(&docs), Vec::<String>::new(), "{helm}");
                assert!(!text.contains("escalate"), "{helm}: RBAC management is off");
            }
            let gate =
                skyhelm(&["diff", "--config", d.settings.to_str().expect("p"), "--color", "never"], text.as_bytes());
            assert_eq!(
                gate.status.code(),
                Some(0),
                "{} {helm}: {}",
                d.namespace,
                String::from_utf8_lossy(&gate.stdout)
            );
        }
    }
}

/// A Flux `valuesFrom` whose targetPath lands on (or above) a key skyhelm writes would replace
/// what skyhelm checked: refused naming the reference, the path and the setting to use; a
/// targetPath beside them, or the rules under rbac: audit, are the admin's.
#[test]
fn flux_values_from_target_paths_onto_managed_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let envs = dir.path().join("envs.yaml");
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "apiService.config",
            "add",
            Some(
                "flux.valuesFrom ConfigMap extra: targetPath `apiService.config` would replace values.apiService.config, which skyhelm writes; set config",
            ),
        ),
        ("apiService", "add", Some("targetPath `apiService` would replace values.apiService.config")),
        (
            "kubernetesCredentials.useKubeconfig",
            "add",
            Some("would replace values.kubernetesCredentials, which skyhelm writes; set inCluster"),
        ),
        (
            "apiService.annotations.skyhelm\\.io/kubeconfig-sha256",
            "add",
            Some("targetPath `apiService.annotations.skyhelm.io/kubeconfig-sha256` would replace"),
        ),
        ("rbac.namespaceRules", "tighten", Some("would replace values.rbac.namespaceRules")),
        ("rbac.namespaceRules", "audit", None),
        ("apiService.replicas", "add", None),
        ("apiService.annotations.other", "add", None),
    ];
    for (target, rbac, refused) in cases {
        let text = format!(
            "name: sky\ndefaults:\n  repository: https://helm.skypilot.co\n  allowedContexts: [in-cluster]\n  mountKubeconfig: false\n  rbac: {rbac}\n  values: {{rbac: {{manageSystemComponents: false}}}}\nenvironments:\n  - name: a\n    flux:\n      valuesFrom:\n      - {{kind: ConfigMap, name: extra, valuesKey: v, targetPath: '{target}'}}\n"
        );
        std::fs::write(&envs, &text).expect("envs");
        let out = dir.path().join("out");
        let (code, _, err) = generate_to(&envs, "flux", &out, &[]);
        match refused {
            Some(want) => {
                assert_eq!(code, 1, "{target}: {err}");
                assert!(err.contains("environment `a`") && err.contains(want), "{target}: {err}");
                assert!(!out.exists());
            }
            None => {
                assert_eq!(code, 0, "{target}: {err}");
                let hr = std::fs::read_to_string(out.join("sky-a/deploy/helmrelease-sky-a.yaml")).expect("hr");
                assert_eq!(k8s_json(&hr)[0]["spec"]["valuesFrom"][0]["targetPath"], json!(target), "{hr}");
                std::fs::remove_dir_all(&out).expect("rm");
            }
        }
    }
}
