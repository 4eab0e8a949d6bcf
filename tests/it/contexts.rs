//! Every rule of allowed_contexts normalization, on input rendered by real Helm from the
//! upstream-shaped chart, in both forms a post-renderer receives (Helm 3: `config.yaml: |-`;
//! Helm 4: a double-quoted scalar). The config's meaning is checked with PyYAML (what SkyPilot
//! reads it with), the manifests with the Kubernetes YAML reader.

use serde_json::Value;

use crate::helm::{Form, config_map, render};
use crate::util::{docs, k8s_json, kubeconfig_file, skyhelm};

enum Expect {
    /// The expected config.yaml, as JSON.
    Config(&'static str),
    /// The ConfigMap comes out byte for byte.
    Untouched,
    Error(&'static str),
}

struct Case {
    name: &'static str,
    values: &'static str,
    args: &'static [&'static str],
    with_kubeconfig: bool,
    expect: Expect,
    /// Text that must survive in the output's config.yaml (comments).
    keeps: &'static [&'static str],
    /// Text that must be in the report file (notes).
    report: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "block list without in-cluster gets it appended; comments and other keys kept",
        values: "apiService:\n  config: |\n    kubernetes:\n      # failover order\n      allowed_contexts:\n        - prod\n        - train\n      provision_timeout: 0600\n    jobs:\n      bucket: \"on\"\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Config(
            r#"{"kubernetes": {"allowed_contexts": ["prod", "train", "in-cluster"], "provision_timeout": 384}, "jobs": {"bucket": "on"}}"#,
        ),
        keeps: &["# failover order"],
        report: &["`in-cluster` appended", "first start"],
    },
    Case {
        name: "flow list with a comment: case corrected, ssh- and duplicates removed",
        values: "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [dev-eu, ssh-pool, prod, Dev-EU, in-cluster]  # order matters\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Config(r#"{"kubernetes": {"allowed_contexts": ["Dev-EU", "prod", "in-cluster"]}}"#),
        keeps: &["# order matters"],
        report: &["`dev-eu` corrected to `Dev-EU`", "`ssh-pool` removed", "listed twice"],
    },
    Case {
        name: "unknown name is an error with the nearest names",
        values: "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts:\n        - trian\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Error(
            "context `trian` is not in the kubeconfig (did you mean `train`?); available contexts: prod, Dev-EU, train",
        ),
        keeps: &[],
        report: &[],
    },
    Case {
        name: "unknown name kept with --allow-unknown-contexts",
        values: "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts:\n        - elsewhere\n",
        args: &["--allow-unknown-contexts"],
        with_kubeconfig: true,
        expect: Expect::Config(r#"{"kubernetes": {"allowed_contexts": ["elsewhere", "in-cluster"]}}"#),
        keeps: &[],
        report: &["`elsewhere` is not in the kubeconfig; kept"],
    },
    Case {
        name: "workspaces get the narrowing rules but never the in-cluster name; an unset global list is written",
        values: "apiService:\n  config: |\n    workspaces:\n      team-a:\n        kubernetes:\n          allowed_contexts:\n          - TRAIN\n          - prod\n      team-b: {}\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Config(
            r#"{
            "workspaces": {"team-a": {"kubernetes": {"allowed_contexts": ["train", "prod"]}}, "team-b": {}},
            "kubernetes": {"allowed_contexts": ["prod", "in-cluster"]}
        }"#,
        ),
        keeps: &[],
        report: &[
            "workspaces.team-a.kubernetes.allowed_contexts: `TRAIN` corrected to `train`",
            "it was unset",
            "workspace `team-a` cannot use the API server's own cluster",
        ],
    },
    Case {
        name: "`all` stays as it is",
        values: "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: all\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Untouched,
        keeps: &[],
        report: &[],
    },
    Case {
        name: "empty config, both sources: [current-context, in-cluster]",
        values: "{}\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Config(r#"{"kubernetes": {"allowed_contexts": ["prod", "in-cluster"]}}"#),
        keeps: &[],
        report: &["current-context `prod`"],
    },
    Case {
        name: "unset list without --skypilot-kubeconfig is refused with the options that fix it",
        values: "{}\n",
        args: &[],
        with_kubeconfig: false,
        expect: Expect::Error("Pass --skypilot-kubeconfig"),
        keeps: &[],
        report: &[],
    },
    Case {
        name: "external database: ConfigMap left alone, with a note",
        values: "apiService:\n  dbConnectionString: postgresql://db/sky\n  config: |\n    kubernetes:\n      allowed_contexts: [prod]\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Untouched,
        keeps: &[],
        report: &["SKYPILOT_DB_CONNECTION_URI is set"],
    },
    Case {
        name: "no service-account token: in-cluster removed; unset stays unset",
        values: "kubernetesCredentials:\n  useApiServerCluster: false\napiService:\n  config: |\n    kubernetes:\n      allowed_contexts:\n        - prod\n        - in-cluster\n",
        args: &[],
        with_kubeconfig: true,
        expect: Expect::Config(r#"{"kubernetes": {"allowed_contexts": ["prod"]}}"#),
        keeps: &[],
        report: &["no in-cluster context"],
    },
    Case {
        name: "only the kubeconfig: an unset list stays unset",
        values: "kubernetesCredentials:\n  useApiServerCluster: false\n",
        args: &[],
        with_kubeconfig: false,
        expect: Expect::Untouched,
        keeps: &[],
        report: &[],
    },
    Case {
        name: "--allowed-context sets the global list",
        values: "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts:\n        - prod\n",
        args: &["--allowed-context", "train", "--allowed-context", "in-cluster"],
        with_kubeconfig: true,
        expect: Expect::Config(r#"{"kubernetes": {"allowed_contexts": ["train", "in-cluster"]}}"#),
        keeps: &[],
        report: &["from --allowed-context"],
    },
    Case {
        name: "in-cluster context renamed by SKYPILOT_IN_CLUSTER_CONTEXT_NAME",
        values: "apiService:\n  extraEnvs:\n  - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME\n    value: home\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n",
        args: &["--allow-unknown-contexts"],
        with_kubeconfig: true,
        expect: Expect::Config(r#"{"kubernetes": {"allowed_contexts": ["prod", "in-cluster", "home"]}}"#),
        keeps: &[],
        report: &["`home` appended"],
    },
];

fn config_doc(stream: &str) -> String {
    docs(stream).into_iter().find(|d| d.contains("kind: ConfigMap")).expect("ConfigMap document")
}

fn run_case(case: &Case, form: Form) {
    let input = render(form, case.values);
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path()).display().to_string();
    let report = dir.path().join("report.txt");
    let mut args = vec!["post-render".to_string(), format!("--report-file={}", report.display())];
    if case.with_kubeconfig {
        args.push(format!("--skypilot-kubeconfig={kc}"));
    }
    args.extend(case.args.iter().map(|s| s.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = skyhelm(&argv, input.as_bytes());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let label = format!("{} ({form:?})", case.name);
    let report_text = std::fs::read_to_string(&report).expect("report");
    for r in case.report {
        assert!(report_text.contains(r), "{label}: report lacks {r:?}:\n{report_text}");
    }
    match &case.expect {
        Expect::Error(text) => {
            assert!(!out.status.success() && stdout.is_empty(), "{label}: expected an error");
            assert!(stderr.contains(text), "{label}: {stderr}");
            assert!(
                stderr.contains("ConfigMap skypilot/sky-config"),
                "{label}: error must name the document: {stderr}"
            );
        }
        Expect::Untouched => {
            assert!(out.status.success(), "{label}: {stderr}");
            assert_eq!(config_doc(&stdout), config_doc(&input), "{label}");
        }
        Expect::Config(want) => {
            assert!(out.status.success(), "{label}: {stderr}");
            let parsed = k8s_json(&stdout);
            let want: Value = serde_json::from_str(want).expect("expected json");
            assert_eq!(config_map(&parsed), want, "{label}:\n{}", config_doc(&stdout));
            let text = parsed.iter().find(|d| d["kind"] == "ConfigMap").expect("cm")["data"]["config.yaml"].clone();
            for keep in case.keeps {
                assert!(text.as_str().is_some_and(|t| t.contains(keep)), "{label}: lost {keep:?}: {text}");
            }
            // Idempotent: a second run changes nothing more.
            let again = skyhelm(&argv, stdout.as_bytes());
            assert_eq!(String::from_utf8_lossy(&again.stdout), stdout, "{label}: second run changed the output");
        }
    }
}

#[test]
fn allowed_contexts_rules_helm3_form() {
    for case in CASES {
        run_case(case, Form::Helm3);
    }
}

#[test]
fn allowed_contexts_rules_helm4_form() {
    for case in CASES {
        run_case(case, Form::Helm4);
    }
}

/// Issue 20: a kubeconfig context literally named `all`. SkyPilot's keyword is the string
/// `all`; a list naming it is a list of one name. Checked by hand with SkyPilot 0.14.1
/// (`Kubernetes.existing_allowed_contexts()`, KUBECONFIG with contexts prod, all and train,
/// SKYPILOT_GLOBAL_CONFIG naming the config): `allowed_contexts: [all]` gives ['all'],
/// `allowed_contexts: all` every context. Before, `allowed-contexts: [all]` in the --config
/// file (what generate writes for `allowedContexts: [all]`) became `allowed_contexts: all`.
#[test]
fn a_context_named_all_is_a_name_in_a_list_and_every_context_only_as_the_string() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, crate::util::KUBECONFIG.replace("name: Dev-EU", "name: all")).expect("kubeconfig");
    let kc = format!("--skypilot-kubeconfig={}", kc.display());
    let settings = |text: &str| {
        let p = dir.path().join("skyhelm.yaml");
        std::fs::write(&p, text).expect("settings");
        format!("--config={}", p.display())
    };
    let values = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod]\n";
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, values);
        let list = |args: &[&str], env: &[(&str, &str)]| {
            let mut cmd = std::process::Command::new(crate::util::bin());
            crate::util::clean(&mut cmd).arg("post-render").arg(&kc).args(args);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let out = crate::util::run_with_stdin(&mut cmd, input.as_bytes());
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let stdout = String::from_utf8(out.stdout).expect("utf-8");
            match out.status.code() {
                Some(0) => Ok(crate::util::pyyaml_json(
                    k8s_json(&stdout).iter().find(|d| d["kind"] == "ConfigMap").expect("cm")["data"]["config.yaml"]
                        .as_str()
                        .expect("config"),
                )["kubernetes"]["allowed_contexts"]
                    .clone()),
                code => {
                    assert!(stdout.is_empty(), "{form:?}: stdout on error");
                    Err((code, stderr))
                }
            }
        };
        let names = serde_json::json!(["all", "in-cluster"]);
        for text in ["allowed-contexts: [all]\n", "allowed-contexts:\n  - all\n", "allowed-contexts: ['all']\n"] {
            assert_eq!(list(&[&settings(text)], &[]), Ok(names.clone()), "{form:?} {text:?}");
        }
        assert_eq!(list(&[&settings("allowed-contexts: all\n")], &[]), Ok(Value::from("all")), "{form:?}");
        assert_eq!(
            list(&["--allowed-context=all", "--allowed-context=prod"], &[]),
            Ok(serde_json::json!(["all", "prod", "in-cluster"]))
        );
        // A flag has no list syntax: `all` alone is refused while a context has that name.
        let ambiguous = "--allowed-context: `all` means every context, but a context is named `all`; say which in the --config file: `allowed-contexts: all` (every context) or `allowed-contexts: [all]` (only the context `all`)";
        for (args, env) in
            [(&["--allowed-context=all"][..], &[][..]), (&[][..], &[("SKYHELM_ALLOWED_CONTEXTS", "all")][..])]
        {
            let err = list(args, env).expect_err("ambiguous");
            assert_eq!(err.0, Some(1), "{form:?}: {}", err.1);
            let want = if env.is_empty() {
                ambiguous.to_string()
            } else {
                ambiguous.replace("--allowed-context", "SKYHELM_ALLOWED_CONTEXTS")
            };
            assert!(err.1.contains(&want), "{form:?}: {}", err.1);
        }
        // A list in config.yaml naming `all` is checked as a name and kept a list.
        let written = render(form, "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [all]\n");
        let out = skyhelm(&["post-render", &kc], written.as_bytes());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            crate::helm::config_map(&k8s_json(&String::from_utf8_lossy(&out.stdout)))["kubernetes"]["allowed_contexts"],
            names
        );
    }
}

/// The same through the upstream chart, judged by SkyPilot's own code (the oracle): with
/// skyhelm.yaml saying `allowed-contexts: [all]` (as generate writes it), SkyPilot uses the
/// context `all` and the in-cluster one, nothing wider; with `allowed-contexts: all` it uses
/// every context, as the admin asked.
#[test]
fn skypilot_judges_a_list_naming_all_in_skyhelm_settings() {
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = crate::util::KUBECONFIG.replace("name: Dev-EU", "name: all");
    let values = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [all]\n";
    let settings = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("settings");
        format!("--config={}", p.display())
    };
    let list = settings("list.yaml", "allowed-contexts: [all]\n");
    for j in crate::skypilot::judge_upstream(values, &kubeconfig, &[&list]) {
        crate::skypilot::assert_never_wider_nothing_lost(&j.label, &j.input, &j.output);
        assert_eq!(j.output["global"], serde_json::json!(["all", "in-cluster"]), "{}", j.label);
    }
    let keyword = settings("keyword.yaml", "allowed-contexts: all\n");
    for j in crate::skypilot::judge_upstream(values, &kubeconfig, &[&keyword]) {
        assert_eq!(j.output["configured"]["global"], "all", "{}", j.label);
        let mut used: Vec<String> = j.output["global"]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| v.as_str().expect("name").to_string())
            .collect();
        used.sort();
        assert_eq!(used, ["all", "in-cluster", "prod", "train"], "{}", j.label);
    }
}
