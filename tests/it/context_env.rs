//! Issue 20 §2: every setting SkyPilot reads about contexts on the API container, through the
//! binary, on real Helm 3 and Helm 4 renders of the project chart and of the upstream chart.
//!
//! - `SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER` (only `true`/`1`, any case, are true)
//! - `SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS` (an unset list means every context)
//! - `SKYPILOT_IN_CLUSTER_CONTEXT_NAME` from `env`, `envFrom`, `valueFrom` or `$(VAR)`
//!
//! What SkyPilot decides is written as the expectation, first checked by hand with SkyPilot
//! 0.14.1's own code (`Kubernetes.existing_allowed_contexts()`, in a scratch HOME holding the
//! config.yaml at ~/.sky/config.yaml and `util::KUBECONFIG` at ~/.kube/config, the variables set
//! in os.environ, `is_incluster_config_available` patched to True for the pod's token) and
//! quoted as "SkyPilot: [...]" (SkyPilot builds `all` from a set: order is not kept). Every
//! post-render run is also judged by the oracle (`crate::skypilot`: SkyPilot's own code on the
//! pod the input and the output describe): never wider, nothing lost, and the output's global
//! contexts are the quoted ones.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helm::{Form, render, render_chart};
use crate::policy::{Run, config_of, refused, run};
use crate::skypilot::{assert_never_wider_nothing_lost, skypilot_views, upstream_chart};
use crate::util::{k8s_json, skyhelm};

const FORMS: [Form; 2] = [Form::Helm3, Form::Helm4];
const INCLUDES: &str = "SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER";
const ALLOW_ALL: &str = "SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS";
const NAME: &str = "SKYPILOT_IN_CLUSTER_CONTEXT_NAME";

/// The upstream SkyPilot chart (../shared/fixtures/upstream-chart/skypilot from the project).
fn upstream() -> String {
    upstream_chart().display().to_string()
}

/// Post-render runs that SkyPilot's own code judges together (one start of SkyPilot).
struct Judge {
    kubeconfig: PathBuf,
    runs: Vec<(String, String, String)>,
}

impl Judge {
    /// Runs judged with `kubeconfig` as the file the Secret holds (`policy::run` mounts
    /// `util::KUBECONFIG`).
    fn new(kubeconfig: &Path) -> Judge {
        Judge { kubeconfig: kubeconfig.to_path_buf(), runs: Vec::new() }
    }

    /// Records a successful run of `input`.
    fn add(&mut self, label: &str, input: &str, r: &Run) {
        assert!(r.ok, "{label}: {}", r.stderr);
        self.runs.push((label.to_string(), input.to_string(), r.stdout.clone()));
    }

    /// Asserts that no output is wider than its input allows, loses nothing or breaks SkyPilot's
    /// schema; returns the contexts SkyPilot uses globally with each output, sorted.
    fn verdicts(&self) -> Vec<Vec<String>> {
        let kc = Some(self.kubeconfig.as_path());
        let jobs: Vec<(&str, Option<&Path>)> =
            self.runs.iter().flat_map(|(_, i, o)| [(i.as_str(), kc), (o.as_str(), kc)]).collect();
        let views = skypilot_views(&jobs);
        let mut out = Vec::new();
        for (k, (label, _, _)) in self.runs.iter().enumerate() {
            assert_never_wider_nothing_lost(label, &views[2 * k], &views[2 * k + 1]);
            out.push(sorted(&views[2 * k + 1]["global"]));
        }
        out
    }
}

fn sorted(v: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default();
    names.sort();
    names
}

fn set(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Chart values: `env` as the API container's extra variables (YAML list items), `config` as
/// its config.yaml. Both charts take `apiService.extraEnvs` and `apiService.config`.
fn values(env: &[(&str, &str)], config: &str) -> String {
    let mut v = String::from("apiService:\n");
    if !env.is_empty() {
        v.push_str("  extraEnvs:\n");
        for (k, val) in env {
            v.push_str(&format!("  - name: {k}\n    value: {}\n", serde_json::to_string(val).expect("json")));
        }
    }
    v.push_str("  config: |\n");
    for l in config.lines() {
        v.push_str(&format!("    {l}\n"));
    }
    if config.is_empty() {
        v.push_str("    {}\n");
    }
    v
}

/// Both charts, both forms.
fn renders(vals: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for form in FORMS {
        out.push((format!("chart {form:?}"), render(form, vals)));
        out.push((format!("upstream {form:?}"), render_chart(form, &upstream(), vals)));
    }
    out
}

/// `stream` with `yaml` (keys of a container, e.g. `envFrom: [...]`) added to the API
/// container, at the column of its `name:` key (Helm 4 sorts the keys, Helm 3 does not).
fn in_api_container(stream: &str, yaml: &str) -> String {
    let start = stream.find("kind: Deployment").expect("a Deployment");
    let mut offset = start;
    for line in stream[start..].split_inclusive('\n') {
        let body = line.trim_start();
        let body_at = line.len() - body.len();
        let (key_col, rest) = match body.strip_prefix("- ") {
            Some(r) => (body_at + 2, r),
            None => (body_at, body),
        };
        if rest.trim_end() == "name: skypilot-api" {
            let pad = " ".repeat(key_col);
            let added: String = yaml.lines().map(|l| format!("{pad}{l}\n")).collect();
            let end = offset + line.len();
            return format!("{}{added}{}", &stream[..end], &stream[end..]);
        }
        offset += line.len();
    }
    panic!("no API container in the stream")
}

/// A ConfigMap (or Secret, with `stringData`) in the release namespace.
fn env_doc(kind: &str, name: &str, data: &[(&str, &str)]) -> String {
    let field = if kind == "Secret" { "stringData" } else { "data" };
    let entries: String =
        data.iter().map(|(k, v)| format!("  {k}: {}\n", serde_json::to_string(v).expect("json"))).collect();
    format!("---\napiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: skypilot\n{field}:\n{entries}")
}

fn global_list(stdout: &str) -> Value {
    config_of(stdout)["kubernetes"]["allowed_contexts"].clone()
}

/// Before: skyhelm appended `in-cluster` to `[prod]`, SkyPilot: ["prod", "in-cluster"] (an
/// explicit list is used as written, the opt-out is not applied to it). After: `[prod]` stays,
/// SkyPilot: ["prod"]. Unset list, before: skyhelm wrote [prod, in-cluster] (SkyPilot: ["prod",
/// "in-cluster"]); after: left unset, SkyPilot: ["prod"].
#[test]
fn opt_out_of_in_cluster_adds_it_to_no_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut judge = Judge::new(&crate::util::kubeconfig_file(dir.path()));
    for (label, input) in renders(&values(&[(INCLUDES, "false")], "kubernetes:\n  allowed_contexts: [prod]\n")) {
        let r = run(&input, &[], &[]);
        judge.add(&label, &input, &r);
        assert_eq!(global_list(&r.stdout), json!(["prod"]), "{label}");
        assert!(
            r.report.contains(&format!("{INCLUDES} is false: the in-cluster context was opted out")),
            "{label}: {}",
            r.report
        );
        // An info note: --strict still passes.
        assert!(run(&input, &["--strict"], &[]).ok, "{label}");
    }
    for (label, input) in renders(&values(&[(INCLUDES, "false")], "")) {
        let r = run(&input, &[], &[]);
        judge.add(&format!("{label} unset"), &input, &r);
        assert_eq!(global_list(&r.stdout), Value::Null, "{label}: the list stays unset");
    }
    for global in judge.verdicts() {
        assert_eq!(global, set(&["prod"]));
    }
}

/// SkyPilot's parse (`.lower() in ('true', '1')`), with `allowed_contexts: all`:
/// `False`, `0`, `yes`, `` → SkyPilot: ["prod", "Dev-EU", "train"] (opted out);
/// `TRUE`, `1` → SkyPilot: ["prod", "Dev-EU", "train", "in-cluster"].
#[test]
fn opt_out_is_parsed_as_skypilot_parses_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut judge = Judge::new(&crate::util::kubeconfig_file(dir.path()));
    let mut wants = Vec::new();
    for (value, opted_out) in [("False", true), ("0", true), ("yes", true), ("", true), ("TRUE", false), ("1", false)] {
        for form in FORMS {
            let input = render(form, &values(&[(INCLUDES, value)], "kubernetes:\n  allowed_contexts: [prod]\n"));
            let r = run(&input, &[], &[]);
            judge.add(&format!("{value:?} {form:?}"), &input, &r);
            let want = if opted_out { json!(["prod"]) } else { json!(["prod", "in-cluster"]) };
            assert_eq!(global_list(&r.stdout), want, "{value:?} {form:?}");
            wants.push(if opted_out { set(&["prod"]) } else { set(&["prod", "in-cluster"]) });
        }
    }
    assert_eq!(judge.verdicts(), wants);
}

/// Unset list with SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS=true, before: skyhelm wrote [prod,
/// in-cluster], SkyPilot: ["prod", "in-cluster"] (Dev-EU and train dropped); after: left unset,
/// SkyPilot: ["prod", "Dev-EU", "train", "in-cluster"]. `yes` is not true (SkyPilot: ["prod"]
/// unset; skyhelm still writes [prod, in-cluster]). An explicit list beats the variable
/// (SkyPilot with [prod, in-cluster]: ["prod", "in-cluster"]).
#[test]
fn allow_all_keeps_an_unset_list_unset() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut judge = Judge::new(&crate::util::kubeconfig_file(dir.path()));
    let mut wants = Vec::new();
    for (label, input) in renders(&values(&[(ALLOW_ALL, "true")], "")) {
        let r = run(&input, &[], &[]);
        judge.add(&label, &input, &r);
        wants.push(set(&["prod", "Dev-EU", "train", "in-cluster"]));
        assert_eq!(global_list(&r.stdout), Value::Null, "{label}");
        assert!(
            r.report.contains(&format!(
                "{ALLOW_ALL} is true and kubernetes.allowed_contexts is unset: SkyPilot uses every context"
            )),
            "{label}: {}",
            r.report
        );
    }
    for form in FORMS {
        let input = render(form, &values(&[(ALLOW_ALL, "yes")], ""));
        let r = run(&input, &[], &[]);
        judge.add(&format!("yes {form:?}"), &input, &r);
        wants.push(set(&["prod", "in-cluster"]));
        assert_eq!(global_list(&r.stdout), json!(["prod", "in-cluster"]), "yes {form:?}");
        let input = render(form, &values(&[(ALLOW_ALL, "1")], "kubernetes:\n  allowed_contexts: [prod]\n"));
        let r = run(&input, &[], &[]);
        judge.add(&format!("explicit {form:?}"), &input, &r);
        wants.push(set(&["prod", "in-cluster"]));
        assert_eq!(global_list(&r.stdout), json!(["prod", "in-cluster"]), "explicit {form:?}");
        // From a ConfigMap not in the stream: either meaning is possible, so the list is left
        // unset with a warning (an error under --strict). SkyPilot without the variable: ["prod"].
        let input = in_api_container(&render(form, &values(&[], "")), "envFrom:\n- configMapRef: {name: outside}");
        let r = run(&input, &[], &[]);
        judge.add(&format!("outside {form:?}"), &input, &r);
        wants.push(set(&["prod"]));
        assert_eq!(global_list(&r.stdout), Value::Null);
        assert!(
            r.report.contains(&format!("{ALLOW_ALL} comes from `envFrom` ConfigMap `outside` (not in the stream)")),
            "{}",
            r.report
        );
        refused(&run(&input, &["--strict"], &[]), "strict", &[&format!("{ALLOW_ALL} comes from")]);
    }
    assert_eq!(judge.verdicts(), wants);
}

/// (envFrom YAML, extra `env` variables, an extra document, the name expected appended)
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

/// The in-cluster name as the kubelet resolves it. SkyPilot with the name `home` and [prod,
/// home]: ["prod", "home"].
#[test]
fn in_cluster_name_from_env_from_and_references() {
    let cases: &[Case] = &[
        // (envFrom, extra env, extra document, expected appended name)
        ("envFrom:\n- configMapRef: {name: ctx-env}", &[], &env_doc("ConfigMap", "ctx-env", &[(NAME, "home")]), "home"),
        (
            "envFrom:\n- prefix: SKYPILOT_\n  configMapRef: {name: ctx-env}",
            &[],
            &env_doc("ConfigMap", "ctx-env", &[("IN_CLUSTER_CONTEXT_NAME", "home")]),
            "home",
        ),
        (
            "envFrom:\n- configMapRef: {name: ctx-env}",
            &[(NAME, "over")],
            &env_doc("ConfigMap", "ctx-env", &[(NAME, "home")]),
            "over",
        ),
        ("envFrom: []", &[("BASE", "home"), (NAME, "$(BASE)-x")], "", "home-x"),
        ("envFrom: []", &[("BASE", "home"), (NAME, "$$(BASE)")], "", "$(BASE)"),
        (
            "envFrom:\n- configMapRef: {name: ctx-env}",
            &[(NAME, "$(BASE)")],
            &env_doc("ConfigMap", "ctx-env", &[("BASE", "home")]),
            "home",
        ),
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let mut judge = Judge::new(&crate::util::kubeconfig_file(dir.path()));
    let mut wants = Vec::new();
    for (env_from, env, doc, want) in cases {
        for form in FORMS {
            let base = render(form, &values(env, "kubernetes:\n  allowed_contexts: [prod]\n"));
            let input = format!("{}{doc}", in_api_container(&base, env_from));
            let r = run(&input, &[], &[]);
            judge.add(&format!("{env_from} {env:?} {form:?}"), &input, &r);
            assert_eq!(global_list(&r.stdout), json!(["prod", want]), "{env_from} {env:?} {form:?}");
            wants.push(set(&["prod", want]));
        }
    }
    assert_eq!(judge.verdicts(), wants);
}

/// A kubeconfig whose contexts are `prod` (current) and `in-cluster`.
fn kubeconfig_with_in_cluster(dir: &Path) -> PathBuf {
    let text = crate::util::KUBECONFIG.replace("- name: Dev-EU\n", "- name: in-cluster\n");
    let p = dir.join("kc-in-cluster");
    std::fs::write(&p, text).expect("write");
    p
}

/// A name the stream cannot show. Before: skyhelm appended `in-cluster`, which (the real name
/// being, say, `home`) SkyPilot either drops (SkyPilot: ["prod"]) or, with a kubeconfig context
/// named `in-cluster`, uses that unlisted kubeconfig context (SkyPilot: ["prod", "in-cluster"]:
/// wider than the admin wrote); and it warned of a context shadowed by `in-cluster`. After:
/// nothing appended (SkyPilot: ["prod"]), a warning naming the source, an error under --strict.
#[test]
fn unknown_in_cluster_name_appends_nothing_and_names_its_source() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc_file = kubeconfig_with_in_cluster(dir.path());
    let kc = format!("--skypilot-kubeconfig={}", kc_file.display());
    let mut judge = Judge::new(&kc_file);
    let cases: &[(&str, String, &str)] = &[
        (
            "envFrom:\n- configMapRef: {name: outside}",
            String::new(),
            "`envFrom` ConfigMap `outside` (not in the stream)",
        ),
        (
            "envFrom:\n- secretRef: {name: ctx-secret}",
            env_doc("Secret", "ctx-secret", &[(NAME, "home")]),
            "`envFrom` Secret `ctx-secret` (key `SKYPILOT_IN_CLUSTER_CONTEXT_NAME`)",
        ),
        (
            "envFrom:\n- prefix: SKYPILOT_IN_\n  configMapRef: {name: outside}",
            String::new(),
            "`envFrom` ConfigMap `outside` with prefix `SKYPILOT_IN_` (not in the stream)",
        ),
        ("", String::new(), "`valueFrom.secretKeyRef` (Secret `ctx-secret`, key `name`)"),
    ];
    let config = "kubernetes:\n  allowed_contexts: [prod]\n";
    // The charts write extraEnvs as given: a valueFrom entry.
    let value_from = values(&[], config).replacen(
        "apiService:\n",
        &format!("apiService:\n  extraEnvs:\n  - name: {NAME}\n    valueFrom:\n      secretKeyRef: {{name: ctx-secret, key: name}}\n"),
        1,
    );
    for (env_from, doc, source) in cases {
        let vals = if env_from.is_empty() { value_from.clone() } else { values(&[], config) };
        for (label, base) in renders(&vals) {
            let input = if env_from.is_empty() { base } else { format!("{}{doc}", in_api_container(&base, env_from)) };
            let r = run(&input, &["--no-kubeconfig", &kc], &[]);
            assert!(r.ok, "{label} {env_from}: {}", r.stderr);
            assert_eq!(global_list(&r.stdout), json!(["prod"]), "{label} {env_from}");
            // The oracle reads a Secret in the stream (its value is there); skyhelm does not read
            // Secret values (they may be replaced at deploy time, and are never shown).
            if !doc.contains("kind: Secret") {
                judge.add(&format!("{label} {env_from}"), &input, &r);
            }
            assert!(
                r.report.contains(&format!("{NAME} comes from {source}, which cannot be known at render time")),
                "{label}: {}",
                r.report
            );
            assert!(!r.report.contains("named like the in-cluster context"), "{label}: {}", r.report);
            refused(
                &run(&input, &["--no-kubeconfig", &kc, "--strict"], &[]),
                &label,
                &[&format!("{NAME} comes from {source}")],
            );
        }
    }
    for global in judge.verdicts() {
        assert_eq!(global, set(&["prod"]));
    }
}

/// `doctor --manifests` reads the same settings. Unset list with ALLOW_ALL=true: SkyPilot uses
/// every context, so no context is "not allowed" (before: Dev-EU and train were). An unknown
/// in-cluster name: no shadowed-context warning for the kubeconfig's `in-cluster`, a warning
/// naming the source instead.
#[test]
fn doctor_manifests_agrees() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path()).display().to_string();
    for form in FORMS {
        let m = dir.path().join("m.yaml");
        std::fs::write(&m, render(form, &values(&[(ALLOW_ALL, "true")], ""))).expect("write");
        let out = skyhelm(
            &["doctor", "--kubeconfig", &kc, "--manifests", m.to_str().expect("path"), "--output", "json"],
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("context-not-allowed"), "{form:?}: {text}");
        std::fs::write(&m, render(form, &values(&[(ALLOW_ALL, "false")], ""))).expect("write");
        let out = skyhelm(
            &["doctor", "--kubeconfig", &kc, "--manifests", m.to_str().expect("path"), "--output", "json"],
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("context-not-allowed"), "{form:?}: the check still runs without the variable: {text}");

        let kc2 = kubeconfig_with_in_cluster(dir.path()).display().to_string();
        let input = in_api_container(
            &render(form, &values(&[], "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n")),
            "envFrom:\n- configMapRef: {name: outside}",
        );
        std::fs::write(&m, input).expect("write");
        let out = skyhelm(
            &["doctor", "--kubeconfig", &kc2, "--manifests", m.to_str().expect("path"), "--output", "json"],
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("shadowed-context"), "{form:?}: {text}");
        assert!(text.contains("in-cluster-name-unknown"), "{form:?}: {text}");
        assert!(text.contains("`envFrom` ConfigMap `outside` (not in the stream)"), "{form:?}: {text}");
    }
}

/// The other variables skyhelm reads go through the same resolver. An empty
/// SKYPILOT_DB_CONNECTION_URI is no database (SkyPilot: `if db_url:`): the list is checked
/// (before: left alone as if a database held the config). KUBECONFIG from a ConfigMap in the
/// stream is judged like a `value:` (before: invisible, and the mounted kubeconfig unread).
#[test]
fn db_uri_and_kubeconfig_through_the_resolver() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut judge = Judge::new(&crate::util::kubeconfig_file(dir.path()));
    for form in FORMS {
        let input =
            render(form, &values(&[("SKYPILOT_DB_CONNECTION_URI", "")], "kubernetes:\n  allowed_contexts: [PROD]\n"));
        let r = run(&input, &[], &[]);
        judge.add(&format!("empty DB URI {form:?}"), &input, &r);
        assert_eq!(global_list(&r.stdout), json!(["prod", "in-cluster"]), "{form:?}");
        let input = format!(
            "{}{}",
            in_api_container(
                &render(form, &values(&[], "kubernetes:\n  allowed_contexts: [prod]\n")),
                "envFrom:\n- configMapRef: {name: kc-env}"
            ),
            env_doc("ConfigMap", "kc-env", &[("KUBECONFIG", "/etc/other/config")])
        );
        refused(
            &run(&input, &[], &[]),
            &format!("{form:?}"),
            &["KUBECONFIG is set to `/etc/other/config`, which does not include /root/.kube/config"],
        );
        // The documents skyhelm left alone keep their meaning (read by Kubernetes' own reader).
        let ok = input.replace("/etc/other/config", "/root/.kube/config");
        let r = run(&ok, &[], &[]);
        judge.add(&format!("KUBECONFIG from envFrom {form:?}"), &ok, &r);
        assert!(k8s_json(&r.stdout).iter().any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "kc-env"));
    }
    for global in judge.verdicts() {
        assert_eq!(global, set(&["prod", "in-cluster"]));
    }
    // SKYPILOT_IN_CLUSTER_NAMESPACE from `fieldRef: metadata.namespace` is the Deployment's
    // namespace: known, so --strict has no warning to refuse (another fieldRef would be one).
    let from_field = |path: &str| {
        values(&[], "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n").replacen(
            "apiService:\n",
            &format!("apiService:\n  extraEnvs:\n  - name: SKYPILOT_IN_CLUSTER_NAMESPACE\n    valueFrom: {{fieldRef: {{fieldPath: {path}}}}}\n"),
            1,
        )
    };
    for form in FORMS {
        let r = run(&render(form, &from_field("metadata.namespace")), &["--strict"], &[]);
        assert!(r.ok, "{form:?}: {}", r.stderr);
        refused(
            &run(&render(form, &from_field("metadata.name")), &["--strict"], &[]),
            &format!("{form:?}"),
            &["SKYPILOT_IN_CLUSTER_NAMESPACE comes from `valueFrom.fieldRef` (`metadata.name`)"],
        );
    }
}
