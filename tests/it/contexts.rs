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
