//! SkyPilot's own code as the judge of contexts: tests/tools/skypilot_view.py, run with the venv
//! scripts/install-tools.sh makes (skypilot[kubernetes] 0.14.1), builds the API server pod's
//! view from a manifest stream and asks `Kubernetes.existing_allowed_contexts()` which contexts
//! the pod would use, globally and per workspace, and validates config.yaml with SkyPilot's
//! schema. `skypilot_view`/`skypilot_views` run it; `violations` and
//! `assert_never_wider_nothing_lost` compare a post-render input's view with its output's.
//!
//! The cases render the upstream chart (shared/fixtures/upstream-chart/skypilot, found from the
//! project root upwards, used in place) with real Helm 3 and Helm 4.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helm::{Form, render_chart};
use crate::util::{KUBECONFIG, root, run_with_stdin, skyhelm, tool};

/// The view of the pod a manifest stream describes, as SkyPilot sees it (see the header of
/// tests/tools/skypilot_view.py for the fields). `kubeconfig`: the file the Secret holds.
pub fn skypilot_view(stream: &str, kubeconfig: Option<&Path>) -> Value {
    skypilot_views(&[(stream, kubeconfig)]).pop().expect("one view")
}

/// Several views with one start of SkyPilot (its import takes seconds; each view is a fork).
pub fn skypilot_views(jobs: &[(&str, Option<&Path>)]) -> Vec<Value> {
    let python = tool("skypilot-venv").join("bin").join("python");
    assert!(python.exists(), "{} is missing: run scripts/install-tools.sh", python.display());
    let request: Vec<Value> = jobs
        .iter()
        .map(|(stream, kc)| json!({"stream": stream, "kubeconfig": kc.map(|p| p.display().to_string())}))
        .collect();
    let out = run_with_stdin(
        Command::new(python).arg(root().join("tests/tools/skypilot_view.py")).arg("--batch"),
        Value::Array(request).to_string().as_bytes(),
    );
    assert!(out.status.success(), "skypilot_view failed: {}", String::from_utf8_lossy(&out.stderr));
    let views: Vec<Value> = serde_json::from_slice(&out.stdout).expect("skypilot_view prints JSON");
    assert_eq!(views.len(), jobs.len());
    views
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// SkyPilot's boolean env options: only `true`/`1`, any case.
fn env_flag(view: &Value, name: &str, default: bool) -> bool {
    view["env"][name].as_str().map_or(default, |v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"))
}

/// What the admin's `configured` value allows, in the admin's order (the bool: whether order
/// counts), among the contexts the admin provided: the kubeconfig's (mounted or not: an output
/// that fails to mount it loses them) and the in-cluster one when the output's pod gets a token.
/// Listed names match exactly, else the one context that differs only in case; `all` or the
/// allow-all variable: every context; unset: SkyPilot's fallback, the kubeconfig's
/// current-context (the in-cluster one without a kubeconfig).
fn admitted(configured: &Value, out: &Value) -> (Vec<String>, bool) {
    let in_cluster = out["in_cluster_name"].as_str().unwrap_or("in-cluster").to_string();
    let mut exist: Vec<String> = names(&out["kubeconfig_contexts"]);
    if out["token"] == true && !exist.contains(&in_cluster) {
        exist.push(in_cluster.clone());
    }
    exist.retain(|c| !c.starts_with("ssh-"));
    let opted_out = !env_flag(out, "SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER", true);
    let derived = |mut v: Vec<String>| {
        if opted_out {
            v.retain(|c| *c != in_cluster);
        }
        v
    };
    match configured {
        Value::Array(list) => {
            let mut got = Vec::new();
            for l in list.iter().filter_map(Value::as_str) {
                let hit = exist.iter().find(|c| *c == l).or_else(|| {
                    let fold: Vec<&String> = exist.iter().filter(|c| c.eq_ignore_ascii_case(l)).collect();
                    (fold.len() == 1).then(|| fold[0])
                });
                if let Some(c) = hit
                    && !got.contains(c)
                {
                    got.push(c.clone());
                }
            }
            (got, true)
        }
        Value::String(s) if s == "all" => (derived(exist), false),
        Value::Null if env_flag(out, "SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS", false) => (derived(exist), false),
        Value::Null => {
            let current = match out["kubeconfig_current_context"].as_str() {
                Some(c) => Some(c).filter(|c| !c.starts_with("ssh-")),
                None => (out["token"] == true).then_some(in_cluster.as_str()),
            };
            (derived(current.map(|c| vec![c.to_string()]).unwrap_or_default()), true)
        }
        other => panic!("allowed_contexts SkyPilot resolved to {other}"),
    }
}

/// Whether the documented in-cluster fix applies to a scope whose admin value is `configured`:
/// the kubeconfig is mounted, the pod gets a token, the admin has not opted out of the
/// in-cluster context, its name is known at render time, and the list is unset or names
/// something other than SSH node pools.
fn fix_applies(configured: &Value, out: &Value) -> bool {
    let list_ok = match configured {
        Value::Null => true,
        Value::Array(l) => l.iter().filter_map(Value::as_str).any(|n| !n.starts_with("ssh-")),
        _ => false,
    };
    out["kubeconfig_mounted"] == true
        && out["token"] == true
        && env_flag(out, "SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER", true)
        && in_cluster_name_known(out)
        && list_ok
}

/// Whether the render shows the in-cluster name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME neither comes
/// from a source outside the stream (`valueFrom`) nor may come from an `envFrom` source that is
/// not in the stream. Otherwise no name may be appended (issue 20 §2).
fn in_cluster_name_known(out: &Value) -> bool {
    !out["unresolved_env"]
        .as_array()
        .is_some_and(|u| u.iter().any(|e| e["name"] == "SKYPILOT_IN_CLUSTER_CONTEXT_NAME" || e["name"] == "*"))
}

/// Every way the output's view breaks the contract against the input's view (empty: none).
/// The kubeconfig given to the oracle is taken as the one the admin means the pod to have: an
/// output that does not mount it loses its contexts.
/// Per scope (global, each workspace of the input): never wider than what the admin's config
/// allows in the output's pod (names case-fixed), except the in-cluster name in the global list
/// (and workspaces that inherit it) when the fix applies; nothing the admin allowed is lost, in
/// the admin's order; the in-cluster name present where the fix applies; no listed name
/// SkyPilot skips as "not found in kubeconfig"; the output loads and passes SkyPilot's schema
/// whenever the input did.
pub fn violations(input: &Value, output: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for key in ["yaml_error", "schema_error", "load_error"] {
        if input[key].is_null() && !output[key].is_null() {
            v.push(format!("{key} in the output only: {}", output[key]));
        }
    }
    if !output["load_error"].is_null() {
        return v;
    }
    let in_cluster = output["in_cluster_name"].as_str().unwrap_or("in-cluster").to_string();
    let mut scopes =
        vec![("global".to_string(), input["configured"]["global"].clone(), output["global"].clone(), true)];
    if let Some(ws) = input["configured"]["workspaces"].as_object() {
        for (name, c) in ws {
            let inherits = c["own"] != true;
            scopes.push((name.clone(), c["value"].clone(), output["workspaces"][name].clone(), inherits));
        }
    }
    for (scope, configured, used, gets_fix) in scopes {
        let used = names(&used);
        let (allowed, ordered) = admitted(&configured, output);
        let fix = gets_fix && fix_applies(&configured, output);
        let wider: Vec<&String> = used.iter().filter(|c| !(allowed.contains(c) || fix && **c == in_cluster)).collect();
        if !wider.is_empty() {
            v.push(format!("{scope}: wider than the admin's {configured}: {wider:?} (SkyPilot uses {used:?})"));
        }
        let lost: Vec<&String> = allowed.iter().filter(|c| !used.contains(c)).collect();
        if !lost.is_empty() {
            v.push(format!("{scope}: lost {lost:?} of the admin's {configured} (SkyPilot uses {used:?})"));
        } else if ordered {
            let kept: Vec<&String> = used.iter().filter(|c| allowed.contains(c)).collect();
            if kept != allowed.iter().collect::<Vec<_>>() {
                v.push(format!("{scope}: order changed: admin {allowed:?}, SkyPilot uses {used:?}"));
            }
        }
        if fix && !used.contains(&in_cluster) {
            v.push(format!("{scope}: the in-cluster fix applies but SkyPilot uses {used:?}"));
        }
    }
    if let Some(skipped) = output["skipped"].as_array().filter(|s| !s.is_empty()) {
        v.push(format!("SkyPilot skips listed names: {skipped:?}"));
    }
    v
}

/// Asserts `violations(input, output)` is empty, naming the case.
pub fn assert_never_wider_nothing_lost(case: &str, input: &Value, output: &Value) {
    let v = violations(input, output);
    assert!(
        v.is_empty(),
        "{case}: SkyPilot judges the output wrong:\n  {}\ninput view: {input}\noutput view: {output}",
        v.join("\n  ")
    );
}

/// The upstream chart: shared/fixtures/upstream-chart/skypilot beside the project root or beside
/// one of its parents (../shared from the main checkout, ../../shared from a worktree).
pub fn upstream_chart() -> PathBuf {
    let root = root();
    root.ancestors()
        .skip(1)
        .map(|a| a.join("shared/fixtures/upstream-chart/skypilot"))
        .find(|p| p.join("Chart.yaml").exists())
        .unwrap_or_else(|| {
            panic!(
                "the upstream chart (../shared/fixtures/upstream-chart/skypilot) is missing above {}",
                root.display()
            )
        })
}

/// A post-render run through the binary; returns stdout, failing on any error.
fn post_render(args: &[String], input: &str, label: &str) -> String {
    let mut all = vec!["post-render"];
    all.extend(args.iter().map(String::as_str));
    let out = skyhelm(&all, input.as_bytes());
    assert!(out.status.success(), "{label}: skyhelm {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// One judged run: the label, the input view and the output view.
pub struct Judged {
    pub label: String,
    pub input: Value,
    pub output: Value,
}

/// Renders the upstream chart with `values` in both Helm forms, post-renders each with
/// `--skypilot-kubeconfig` and `extra` args, and has SkyPilot judge every input and output (one
/// SkyPilot start for the lot).
pub fn judge_upstream(values: &str, kubeconfig: &str, extra: &[&str]) -> Vec<Judged> {
    let chart = upstream_chart();
    let chart = chart.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, kubeconfig).expect("write kubeconfig");
    let mut args = vec![format!("--skypilot-kubeconfig={}", kc.display())];
    args.extend(extra.iter().map(|s| s.to_string()));
    let runs: Vec<(String, String, String)> = [Form::Helm3, Form::Helm4]
        .into_iter()
        .map(|form| {
            let label = std::iter::once(format!("{form:?}"))
                .chain(extra.iter().map(|e| e.to_string()))
                .collect::<Vec<_>>()
                .join(" ");
            let input = render_chart(form, chart, values);
            let output = post_render(&args, &input, &label);
            (label, input, output)
        })
        .collect();
    let jobs: Vec<(&str, Option<&Path>)> = runs
        .iter()
        .flat_map(|(_, input, output)| [(input.as_str(), Some(kc.as_path())), (output.as_str(), Some(kc.as_path()))])
        .collect();
    let mut views = skypilot_views(&jobs).into_iter();
    runs.into_iter()
        .map(|(label, _, _)| Judged {
            label,
            input: views.next().expect("input view"),
            output: views.next().expect("output view"),
        })
        .collect()
}

fn judge_all_ok(case: &str, values: &str, kubeconfig: &str, extra: &[&str]) -> Vec<Judged> {
    let judged = judge_upstream(values, kubeconfig, extra);
    for j in &judged {
        assert_never_wider_nothing_lost(&format!("{case} ({})", j.label), &j.input, &j.output);
    }
    judged
}

fn config(values_config: &str) -> String {
    let mut s = String::from("apiService:\n  config: |\n");
    for l in values_config.lines() {
        s.push_str("    ");
        s.push_str(l);
        s.push('\n');
    }
    s
}

// ------------------------------------------------------------------ the oracle itself

/// The view is built as the kubelet builds the pod: `envFrom` first, later `env` entries
/// override it, `$(VAR)` expands from what came before, `$$` is `$`; the token follows the
/// ServiceAccount when the pod says nothing; the Secret from the stream stands in for the file.
#[test]
fn oracle_builds_the_pod_as_the_kubelet_does() {
    let secret: String = KUBECONFIG.lines().map(|l| format!("    {l}\n")).collect();
    let stream = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: sky-api-server, namespace: sky}}
spec:
  template:
    spec:
      serviceAccountName: sky-api
      containers:
      - name: skypilot-api
        image: img
        envFrom:
        - configMapRef: {{name: names}}
        env:
        - name: BASE
          value: home
        - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME
          value: $(BASE)-$(OVERRIDDEN)-$$(BASE)-$(UNKNOWN)
        volumeMounts:
        - {{name: kc, mountPath: /root/.kube}}
        - {{name: skypilot-config, mountPath: /var/skypilot/config}}
      volumes:
      - {{name: kc, secret: {{secretName: creds}}}}
      - {{name: skypilot-config, configMap: {{name: cfg}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: names, namespace: sky}}
data:
  OVERRIDDEN: from-envfrom
  BASE: from-envfrom
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: sky-api, namespace: sky}}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: sky}}
stringData:
  config: |
{secret}---
apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg, namespace: sky}}
data:
  config.yaml: |
    kubernetes:
      allowed_contexts: [train, prod, nope]
"
    );
    let v = skypilot_view(&stream, None);
    assert_eq!(v["in_cluster_name"], "home-from-envfrom-$(BASE)-$(UNKNOWN)", "{v}");
    assert_eq!(v["token"], false, "{v}");
    assert_eq!(v["kubeconfig_mounted"], true, "{v}");
    assert_eq!(v["kubeconfig_secret"], "creds", "{v}");
    assert_eq!(v["contexts"], json!(["prod", "Dev-EU", "train"]), "{v}");
    assert_eq!(v["global"], json!(["train", "prod"]), "{v}");
    assert_eq!(v["skipped"][0]["names"], json!(["nope"]), "{v}");
    assert!(v["skipped"][0]["log"].as_str().is_some_and(|l| l.contains("not found in kubeconfig")), "{v}");
    // The same pod with the token: SkyPilot adds the in-cluster context under its name.
    let with_token = skypilot_view(
        &stream.replace("automountServiceAccountToken: false", "automountServiceAccountToken: true"),
        None,
    );
    assert_eq!(with_token["token"], true);
    assert_eq!(with_token["contexts"][3], "home-from-envfrom-$(BASE)-$(UNKNOWN)", "{with_token}");
}

/// The judge fails what it must: an output that lists a context the admin did not allow, or
/// drops one, or keeps a name SkyPilot skips, or breaks SkyPilot's schema.
#[test]
fn judge_flags_wider_lost_skipped_and_schema() {
    let values = config("kubernetes:\n  allowed_contexts: [prod, dev-eu]");
    let chart = upstream_chart();
    let input = render_chart(Form::Helm3, chart.to_str().expect("path"), &values);
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let args = [format!("--skypilot-kubeconfig={}", kc.display())];
    let good = post_render(&args, &input, "judge");
    let wider = good.replace("[prod, Dev-EU, in-cluster]", "[prod, Dev-EU, in-cluster, train]");
    let lost = good.replace("[prod, Dev-EU, in-cluster]", "[Dev-EU, in-cluster]");
    let skipped = good.replace("[prod, Dev-EU, in-cluster]", "[prod, Dev-EU, in-cluster, nope]");
    let schema = good.replace("    kubernetes:\n", "    no_such_field: 1\n    kubernetes:\n");
    let unmounted = input.clone();
    for (name, text) in [("wider", &wider), ("lost", &lost), ("skipped", &skipped), ("schema", &schema)] {
        assert_ne!(text, &good, "{name}: the edit did not apply:\n{good}");
    }
    let views = skypilot_views(&[
        (&input, Some(&kc)),
        (&good, Some(&kc)),
        (&wider, Some(&kc)),
        (&lost, Some(&kc)),
        (&skipped, Some(&kc)),
        (&schema, Some(&kc)),
        (&unmounted, Some(&kc)),
    ]);
    let [input_v, good_v, wider_v, lost_v, skipped_v, schema_v, unmounted_v] = &views[..] else { panic!("7 views") };
    assert_eq!(violations(input_v, good_v), Vec::<String>::new());
    let has = |v: &Value, what: &str| {
        let found = violations(input_v, v);
        assert!(found.iter().any(|f| f.contains(what)), "expected {what:?} in {found:?}");
    };
    has(wider_v, "wider than the admin's");
    has(lost_v, "lost [\"prod\"]");
    has(skipped_v, "SkyPilot skips listed names");
    has(schema_v, "schema_error in the output only");
    // Without the mount, SkyPilot has only the in-cluster context: both names are lost.
    has(unmounted_v, "lost [\"prod\", \"Dev-EU\"]");
}

// ------------------------------------------------------------------ upstream chart cases

/// Contexts `prod` (current), `Dev-EU`, `train`, and an SSH node pool `ssh-pool` (SkyPilot
/// never offers `ssh-*` contexts as Kubernetes).
fn kubeconfig_ssh() -> String {
    let ssh = "- name: ssh-pool\n  context: {cluster: c1, user: u1}\nusers:\n";
    let text = KUBECONFIG.replacen("users:\n", ssh, 1);
    assert_ne!(text, KUBECONFIG);
    text
}

/// The chart's default pod (in-cluster only, no kubeconfig) with a list naming only the
/// in-cluster context: skyhelm mounts the Secret, SkyPilot uses exactly `in-cluster`.
#[test]
fn upstream_in_cluster_only() {
    let values = config("kubernetes:\n  allowed_contexts: [in-cluster]");
    for j in judge_all_ok("in-cluster only", &values, KUBECONFIG, &[]) {
        assert_eq!(j.input["kubeconfig_mounted"], false, "{}", j.label);
        assert_eq!(j.input["global"], json!(["in-cluster"]), "{}", j.label);
        assert_eq!(j.output["kubeconfig_mounted"], true, "{}", j.label);
        assert_eq!(j.output["global"], json!(["in-cluster"]), "{}", j.label);
    }
}

/// `useKubeconfig: true` (the chart mounts the Secret itself) and a list without the in-cluster
/// name: the pod keeps the admin's contexts and gets the in-cluster fix.
#[test]
fn upstream_use_kubeconfig_list_without_in_cluster() {
    let values = format!(
        "kubernetesCredentials:\n  useKubeconfig: true\n{}",
        config("kubernetes:\n  allowed_contexts: [train, prod]")
    );
    for j in judge_all_ok("useKubeconfig", &values, KUBECONFIG, &[]) {
        assert_eq!(j.input["kubeconfig_mounted"], true, "{}", j.label);
        assert_eq!(j.input["global"], json!(["train", "prod"]), "{}", j.label);
        assert_eq!(j.output["global"], json!(["train", "prod", "in-cluster"]), "{}", j.label);
    }
}

/// Workspaces with their own lists (`[]` stays empty, a list never gets the in-cluster name,
/// a case slip is fixed), one inheriting the global list, one with a `kubernetes` block but
/// no list.
#[test]
fn upstream_workspaces() {
    let values = config(
        "kubernetes:\n  allowed_contexts: [prod]\nworkspaces:\n  none:\n    kubernetes:\n      allowed_contexts: []\n  team-a:\n    kubernetes:\n      allowed_contexts: [train, dev-eu]\n  inherits: {}\n  ns-only:\n    kubernetes:\n      namespace: team",
    );
    for j in judge_all_ok("workspaces", &values, KUBECONFIG, &[]) {
        let w = &j.output["workspaces"];
        assert_eq!(j.output["global"], json!(["prod", "in-cluster"]), "{}", j.label);
        assert_eq!(w["none"], json!([]), "{}", j.label);
        assert_eq!(w["team-a"], json!(["train", "Dev-EU"]), "{}", j.label);
        assert_eq!(w["inherits"], json!(["prod", "in-cluster"]), "{}", j.label);
        assert_eq!(w["ns-only"], json!(["prod", "in-cluster"]), "{}", j.label);
    }
}

/// The list unset (the chart's default `{}` config): SkyPilot's fallback is the current
/// context; skyhelm writes it with the in-cluster name.
#[test]
fn upstream_list_unset() {
    for j in judge_all_ok("list unset", "{}\n", KUBECONFIG, &[]) {
        assert_eq!(j.input["configured"]["global"], Value::Null, "{}", j.label);
        assert_eq!(j.output["global"], json!(["prod", "in-cluster"]), "{}", j.label);
    }
}

/// A case-slipped name: SkyPilot skips `dev-eu` in the input (the kubeconfig has `Dev-EU`) and
/// uses `Dev-EU` in the output.
#[test]
fn upstream_case_slip() {
    let values = format!(
        "kubernetesCredentials:\n  useKubeconfig: true\n{}",
        config("kubernetes:\n  allowed_contexts: [dev-eu, prod]")
    );
    for j in judge_all_ok("case slip", &values, KUBECONFIG, &[]) {
        assert_eq!(j.input["skipped"][0]["names"], json!(["dev-eu"]), "{}", j.label);
        assert_eq!(j.output["global"], json!(["Dev-EU", "prod", "in-cluster"]), "{}", j.label);
    }
}

/// SSH node pools: the Secret at /var/skypilot/kubeconfig and KUBECONFIG naming both files;
/// chart-mounted (`useKubeconfig: true`) and skyhelm-mounted. `ssh-*` names never count.
#[test]
fn upstream_ssh_node_pools() {
    let pools = "  sshNodePools: |\n    my-pool:\n      hosts: [1.2.3.4]\n";
    let list = config("kubernetes:\n  allowed_contexts: [prod, ssh-pool]");
    for (values, chart_mounts) in [
        (format!("kubernetesCredentials:\n  useKubeconfig: true\n{list}{pools}"), true),
        (format!("{list}{pools}"), false),
    ] {
        for j in judge_all_ok("SSH node pools", &values, &kubeconfig_ssh(), &[]) {
            let label = format!("{} chart_mounts={chart_mounts}", j.label);
            assert_eq!(j.output["kubeconfig_path"], "/var/skypilot/kubeconfig/config", "{label}");
            assert_eq!(j.output["env"]["KUBECONFIG"], "/root/.kube/config:/var/skypilot/kubeconfig/config", "{label}");
            assert_eq!(j.output["global"], json!(["prod", "in-cluster"]), "{label}");
        }
    }
}

/// `useApiServerCluster: false` (no token): a listed in-cluster name is removed and nothing is
/// appended; SkyPilot uses only the kubeconfig's contexts.
#[test]
fn upstream_no_token() {
    let values = format!(
        "kubernetesCredentials:\n  useApiServerCluster: false\n{}",
        config("kubernetes:\n  allowed_contexts: [prod, in-cluster]")
    );
    for j in judge_all_ok("no token", &values, KUBECONFIG, &[]) {
        assert_eq!(j.output["token"], false, "{}", j.label);
        assert_eq!(j.output["global"], json!(["prod"]), "{}", j.label);
    }
}

/// `--no-mount` on a chart that mounts the kubeconfig itself: the pod has the kubeconfig, so the
/// context rules apply as with a mount (issue 20 §3): the names are checked (the case slip is
/// fixed) and the in-cluster fix applies (SkyPilot uses `[train, prod, in-cluster]`, not the
/// chart's `[train, prod]`).
#[test]
fn upstream_no_mount_on_chart_mount() {
    let chart_mounts = "kubernetesCredentials:\n  useKubeconfig: true\n";
    let pools = "  sshNodePools: |\n    my-pool:\n      hosts: [1.2.3.4]\n";
    let mut failed = Vec::new();
    for (case, values, kubeconfig) in [
        (
            "list without in-cluster",
            format!("{chart_mounts}{}", config("kubernetes:\n  allowed_contexts: [train, prod]")),
            KUBECONFIG,
        ),
        (
            "case slip",
            format!("{chart_mounts}{}", config("kubernetes:\n  allowed_contexts: [dev-eu, prod]")),
            KUBECONFIG,
        ),
        (
            "SSH node pools",
            format!("{chart_mounts}{}{pools}", config("kubernetes:\n  allowed_contexts: [prod, ssh-pool]")),
            &kubeconfig_ssh(),
        ),
    ] {
        for j in judge_upstream(&values, kubeconfig, &["--no-mount"]) {
            failed.extend(violations(&j.input, &j.output).into_iter().map(|v| format!("{case} ({}): {v}", j.label)));
        }
    }
    assert!(failed.is_empty(), "SkyPilot judges the output wrong:\n{}", failed.join("\n"));
}

/// `values` with `extra_envs` (YAML list items, indented two spaces) as `apiService.extraEnvs`
/// and `config` as config.yaml.
fn with_envs(extra_envs: &str, config_yaml: &str) -> String {
    format!("{}  extraEnvs:\n{extra_envs}", config(config_yaml))
}

/// Adds `envFrom: [{configMapRef: {name}}]` to the API container of a rendered stream (either
/// form: inserted beside the container's `name: skypilot-api`) and the ConfigMap with `data`
/// (YAML map lines, indented two spaces) as a document of its own. The chart has no value for
/// `envFrom`.
fn with_env_from(stream: &str, name: &str, data: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for line in stream.split_inclusive('\n') {
        out.push_str(line);
        let body = line.trim_start().trim_start_matches("- ");
        if !done && body.trim_end() == "name: skypilot-api" {
            let col = " ".repeat(line.len() - line.trim_start().len() + (line.trim_start().len() - body.len()));
            out.push_str(&format!("{col}envFrom:\n{col}- configMapRef:\n{col}    name: {name}\n"));
            done = true;
        }
    }
    assert!(done, "no API container in:\n{stream}");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    format!(
        "{out}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: skypilot\ndata:\n{data}"
    )
}

/// `violations` of every Helm form's run, labelled; the ignored §2 cases assert it is empty.
fn all_violations(case: &str, judged: &[Judged]) -> Vec<String> {
    judged
        .iter()
        .flat_map(|j| violations(&j.input, &j.output).into_iter().map(move |v| format!("{case} ({}): {v}", j.label)))
        .collect()
}

#[test]
fn upstream_opted_out_of_in_cluster() {
    let values = with_envs(
        "  - {name: SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER, value: 'False'}\n",
        "kubernetes:\n  allowed_contexts: [prod]",
    );
    let judged = judge_upstream(&values, KUBECONFIG, &[]);
    let v = all_violations("opted out", &judged);
    assert!(v.is_empty(), "{}", v.join("\n"));
    for j in &judged {
        assert_eq!(j.output["global"], json!(["prod"]), "{}", j.label);
    }
}

#[test]
fn upstream_allow_all_contexts_list_unset() {
    let values = with_envs("  - {name: SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS, value: 'true'}\n", "jobs: {}");
    let judged = judge_upstream(&values, KUBECONFIG, &[]);
    let v = all_violations("allow all", &judged);
    assert!(v.is_empty(), "{}", v.join("\n"));
}

#[test]
fn upstream_in_cluster_name_by_reference() {
    let values = with_envs(
        "  - {name: BASE, value: home}\n  - {name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME, value: '$(BASE)-cluster'}\n",
        "kubernetes:\n  allowed_contexts: [prod]",
    );
    let judged = judge_upstream(&values, KUBECONFIG, &[]);
    let v = all_violations("$(VAR)", &judged);
    assert!(v.is_empty(), "{}", v.join("\n"));
    for j in &judged {
        assert_eq!(j.output["in_cluster_name"], "home-cluster", "{}", j.label);
        assert_eq!(j.output["global"], json!(["prod", "home-cluster"]), "{}", j.label);
    }
}

#[test]
fn upstream_in_cluster_name_from_value_from() {
    let values = with_envs(
        "  - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME\n    valueFrom: {secretKeyRef: {name: names, key: in-cluster}}\n",
        "kubernetes:\n  allowed_contexts: [prod]",
    );
    let judged = judge_upstream(&values, KUBECONFIG, &[]);
    let v = all_violations("valueFrom", &judged);
    assert!(v.is_empty(), "{}", v.join("\n"));
}

#[test]
fn upstream_in_cluster_name_from_env_from() {
    let chart = upstream_chart();
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let args = [format!("--skypilot-kubeconfig={}", kc.display())];
    let values = config("kubernetes:\n  allowed_contexts: [prod]");
    let mut runs = Vec::new();
    for form in [Form::Helm3, Form::Helm4] {
        let input = with_env_from(
            &render_chart(form, chart.to_str().expect("path"), &values),
            "sky-names",
            "  SKYPILOT_IN_CLUSTER_CONTEXT_NAME: home\n",
        );
        let output = post_render(&args, &input, &format!("{form:?}"));
        runs.push((format!("{form:?}"), input, output));
    }
    let jobs: Vec<(&str, Option<&Path>)> = runs
        .iter()
        .flat_map(|(_, i, o)| [(i.as_str(), Some(kc.as_path())), (o.as_str(), Some(kc.as_path()))])
        .collect();
    let views = skypilot_views(&jobs);
    let mut v = Vec::new();
    for (k, (label, _, _)) in runs.iter().enumerate() {
        assert_eq!(views[2 * k]["in_cluster_name"], "home", "{label}: the oracle reads envFrom");
        v.extend(violations(&views[2 * k], &views[2 * k + 1]).into_iter().map(|x| format!("{label}: {x}")));
    }
    assert!(v.is_empty(), "{}", v.join("\n"));
}

/// A kubeconfig context literally named `all`: the list `[all]` is a list of one name (SkyPilot
/// reads only the plain string `all` as the keyword), so SkyPilot uses `all` and never `train`.
#[test]
fn upstream_context_named_all() {
    let kubeconfig = KUBECONFIG.replace("- name: Dev-EU\n", "- name: all\n");
    let values = config("kubernetes:\n  allowed_contexts: [all]");
    for j in judge_all_ok("context named all", &values, &kubeconfig, &[]) {
        assert_eq!(j.output["configured"]["global"], json!(["all", "in-cluster"]), "{}", j.label);
        assert_eq!(j.output["global"], json!(["all", "in-cluster"]), "{}", j.label);
    }
}

/// A ConfigMap the pod reads that the stream holds without a namespace, beside the chart's
/// namespaced Deployment: Helm puts it in the release namespace, which Helm does not tell a
/// post-renderer. skyhelm does not guess that this is the Deployment's namespace: the warning
/// says the ConfigMap is in the stream without a namespace and names `--release-namespace`
/// (it said "not in the stream"), and nothing is appended; with `--release-namespace` it is
/// read, and SkyPilot uses the in-cluster name it gives. The same for the config ConfigMap.
#[test]
fn upstream_config_maps_without_a_namespace_name_the_release_namespace_flag() {
    let chart = upstream_chart();
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let kc_arg = format!("--skypilot-kubeconfig={}", kc.display());
    let ns_arg = "--release-namespace=skypilot".to_string();
    let flag = "pass --release-namespace=skypilot (with Helm: --post-renderer-args=--release-namespace=skypilot)";
    let values = config("kubernetes:\n  allowed_contexts: [prod]");
    let mut runs = Vec::new();
    for form in [Form::Helm3, Form::Helm4] {
        let label = format!("{form:?}");
        let rendered = render_chart(form, chart.to_str().expect("path"), &values);
        let with_names = with_env_from(&rendered, "sky-names", "  SKYPILOT_IN_CLUSTER_CONTEXT_NAME: home\n");
        let input = with_names.replace("  name: sky-names\n  namespace: skypilot\n", "  name: sky-names\n");
        assert_ne!(input, with_names, "{label}");
        let out = skyhelm(&["post-render", &kc_arg], input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{label}: {err}");
        assert!(
            err.contains(&format!("`envFrom` ConfigMap `sky-names` (in the stream without a namespace, so in the release namespace, which post-render is not told; if that is `skypilot`, {flag})")),
            "{label}: {err}"
        );
        let unflagged = String::from_utf8(out.stdout).expect("utf-8");
        let output = post_render(&[kc_arg.clone(), ns_arg.clone()], &input, &label);
        runs.push((label.clone(), input, unflagged, output));

        // The config ConfigMap itself without a namespace: not checked unless the flag says where.
        let input = rendered.replace("  name: sky-config\n  namespace: skypilot\n", "  name: sky-config\n");
        assert_ne!(input, rendered, "{label}");
        let out = skyhelm(&["post-render", &kc_arg], input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.contains(&format!("ConfigMap `sky-config` (volume `skypilot-config`) is in the stream without a namespace, so in the release namespace, which post-render is not told; if that is `skypilot`, {flag}; allowed_contexts was not checked")),
            "{label}: {err}"
        );
        let out = skyhelm(&["post-render", &kc_arg, &ns_arg], input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.contains("`in-cluster` appended"), "{label}: {err}");
    }
    let jobs: Vec<(&str, Option<&Path>)> = runs
        .iter()
        .flat_map(|(_, i, u, o)| {
            [(i.as_str(), Some(kc.as_path())), (u.as_str(), Some(kc.as_path())), (o.as_str(), Some(kc.as_path()))]
        })
        .collect();
    let views = skypilot_views(&jobs);
    for (k, (label, ..)) in runs.iter().enumerate() {
        let (input, unflagged, output) = (&views[3 * k], &views[3 * k + 1], &views[3 * k + 2]);
        assert_eq!(input["in_cluster_name"], "home", "{label}: the pod reads the ConfigMap in its namespace");
        assert_eq!(unflagged["global"], json!(["prod"]), "{label}: without the flag nothing is appended");
        assert_never_wider_nothing_lost(label, input, output);
        assert_eq!(output["global"], json!(["prod", "home"]), "{label}");
    }
}
