//! Issue 20 §2: every setting SkyPilot reads about contexts on the API container, through the
//! binary, on real Helm 3 and Helm 4 renders of the project chart and of the upstream chart.
//!
//! - `SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER` (only `true`/`1`, any case, are true)
//! - `SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS` (an unset list means every context)
//! - `SKYPILOT_IN_CLUSTER_CONTEXT_NAME` from `env`, `envFrom`, `valueFrom` or `$(VAR)`
//!
//! What SkyPilot decides is written as the expectation. Checked by hand with SkyPilot 0.14.1's
//! own code (`Kubernetes.existing_allowed_contexts()`, in a scratch HOME holding the config.yaml
//! at ~/.sky/config.yaml and `util::KUBECONFIG` at ~/.kube/config, the variables set in
//! os.environ, `is_incluster_config_available` patched to True for the pod's token); the
//! results are quoted as "SkyPilot: [...]" (SkyPilot builds `all` from a set: order is not kept).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helm::{Form, render, render_chart};
use crate::policy::{config_of, refused, run};
use crate::util::{k8s_json, skyhelm};

const FORMS: [Form; 2] = [Form::Helm3, Form::Helm4];
const INCLUDES: &str = "SKYPILOT_ALL_KUBERNETES_CONTEXTS_INCLUDES_IN_CLUSTER";
const ALLOW_ALL: &str = "SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS";
const NAME: &str = "SKYPILOT_IN_CLUSTER_CONTEXT_NAME";

/// The upstream SkyPilot chart (../shared/fixtures/upstream-chart/skypilot from the project).
fn upstream() -> String {
    let found = crate::util::root()
        .ancestors()
        .map(|a| a.join("shared/fixtures/upstream-chart/skypilot"))
        .find(|p| p.join("Chart.yaml").is_file());
    let path: PathBuf = found.expect("the upstream chart (../shared/fixtures/upstream-chart/skypilot) is missing");
    path.display().to_string()
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
    for (label, input) in renders(&values(&[(INCLUDES, "false")], "kubernetes:\n  allowed_contexts: [prod]\n")) {
        let r = run(&input, &[], &[]);
        assert!(r.ok, "{label}: {}", r.stderr);
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
        assert!(r.ok, "{label}: {}", r.stderr);
        assert_eq!(global_list(&r.stdout), Value::Null, "{label}: the list stays unset");
    }
}

/// SkyPilot's parse (`.lower() in ('true', '1')`), with `allowed_contexts: all`:
/// `False`, `0`, `yes`, `` → SkyPilot: ["prod", "Dev-EU", "train"] (opted out);
/// `TRUE`, `1` → SkyPilot: ["prod", "Dev-EU", "train", "in-cluster"].
#[test]
fn opt_out_is_parsed_as_skypilot_parses_it() {
    for (value, opted_out) in [("False", true), ("0", true), ("yes", true), ("", true), ("TRUE", false), ("1", false)] {
        for form in FORMS {
            let input = render(form, &values(&[(INCLUDES, value)], "kubernetes:\n  allowed_contexts: [prod]\n"));
            let r = run(&input, &[], &[]);
            assert!(r.ok, "{value:?} {form:?}: {}", r.stderr);
            let want = if opted_out { json!(["prod"]) } else { json!(["prod", "in-cluster"]) };
            assert_eq!(global_list(&r.stdout), want, "{value:?} {form:?}");
        }
    }
}

/// Unset list with SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS=true, before: skyhelm wrote [prod,
/// in-cluster], SkyPilot: ["prod", "in-cluster"] (Dev-EU and train dropped); after: left unset,
/// SkyPilot: ["prod", "Dev-EU", "train", "in-cluster"]. `yes` is not true (SkyPilot: ["prod"]
/// unset; skyhelm still writes [prod, in-cluster]). An explicit list beats the variable
/// (SkyPilot with [prod, in-cluster]: ["prod", "in-cluster"]).
#[test]
fn allow_all_keeps_an_unset_list_unset() {
    for (label, input) in renders(&values(&[(ALLOW_ALL, "true")], "")) {
        let r = run(&input, &[], &[]);
        assert!(r.ok, "{label}: {}", r.stderr);
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
        let r = run(&render(form, &values(&[(ALLOW_ALL, "yes")], "")), &[], &[]);
        assert_eq!(global_list(&r.stdout), json!(["prod", "in-cluster"]), "yes {form:?}: {}", r.stderr);
        let r = run(&render(form, &values(&[(ALLOW_ALL, "1")], "kubernetes:\n  allowed_contexts: [prod]\n")), &[], &[]);
        assert_eq!(global_list(&r.stdout), json!(["prod", "in-cluster"]), "explicit {form:?}: {}", r.stderr);
        // From a ConfigMap not in the stream: either meaning is possible, so the list is left
        // unset with a warning (an error under --strict).
        let input = in_api_container(&render(form, &values(&[], "")), "envFrom:\n- configMapRef: {name: outside}");
        let r = run(&input, &[], &[]);
        assert!(r.ok, "{}", r.stderr);
        assert_eq!(global_list(&r.stdout), Value::Null);
        assert!(
            r.report.contains(&format!("{ALLOW_ALL} comes from `envFrom` ConfigMap `outside` (not in the stream)")),
            "{}",
            r.report
        );
        refused(&run(&input, &["--strict"], &[]), "strict", &[&format!("{ALLOW_ALL} comes from")]);
    }
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
    for (env_from, env, doc, want) in cases {
        for form in FORMS {
            let base = render(form, &values(env, "kubernetes:\n  allowed_contexts: [prod]\n"));
            let input = format!("{}{doc}", in_api_container(&base, env_from));
            let r = run(&input, &[], &[]);
            assert!(r.ok, "{env_from} {env:?} {form:?}: {}", r.stderr);
            assert_eq!(global_list(&r.stdout), json!(["prod", want]), "{env_from} {env:?} {form:?}");
        }
    }
}

/// A kubeconfig whose contexts are `prod` (current) and `in-cluster`.
fn kubeconfig_with_in_cluster(dir: &std::path::Path) -> String {
    let text = crate::util::KUBECONFIG.replace("- name: Dev-EU\n", "- name: in-cluster\n");
    let p = dir.join("kc-in-cluster");
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// A name the stream cannot show. Before: skyhelm appended `in-cluster`, which (the real name
/// being, say, `home`) SkyPilot either drops (SkyPilot: ["prod"]) or, with a kubeconfig context
/// named `in-cluster`, uses that unlisted kubeconfig context (SkyPilot: ["prod", "in-cluster"]:
/// wider than the admin wrote); and it warned of a context shadowed by `in-cluster`. After:
/// nothing appended (SkyPilot: ["prod"]), a warning naming the source, an error under --strict.
#[test]
fn unknown_in_cluster_name_appends_nothing_and_names_its_source() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", kubeconfig_with_in_cluster(dir.path()));
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

        let kc2 = kubeconfig_with_in_cluster(dir.path());
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
    for form in FORMS {
        let r = run(
            &render(form, &values(&[("SKYPILOT_DB_CONNECTION_URI", "")], "kubernetes:\n  allowed_contexts: [PROD]\n")),
            &[],
            &[],
        );
        assert!(r.ok, "{form:?}: {}", r.stderr);
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
        assert!(r.ok, "{form:?}: {}", r.stderr);
        assert!(k8s_json(&r.stdout).iter().any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "kc-env"));
    }
}
