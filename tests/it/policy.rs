//! Issue 11: a context policy that never widens, judged as SkyPilot (PyYAML) and Kubernetes read
//! the text, `--strict`, and refusals of what two readers would read differently. Every case runs
//! on input rendered by real Helm 3 (`helm template`) and Helm 4 (what its post-renderer plugin
//! receives), through the binary.

use serde_json::{Value, json};

use crate::helm::{Form, config_map, render};
use crate::util::{docs, k8s_json, kubeconfig_file, pyyaml_json};

const FORMS: [Form; 2] = [Form::Helm3, Form::Helm4];

pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub report: String,
}

pub fn run(input: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path()).display().to_string();
    let report = dir.path().join("report.txt");
    let mut args = vec!["post-render".to_string(), format!("--report-file={}", report.display())];
    if !extra.contains(&"--no-kubeconfig") {
        args.push(format!("--skypilot-kubeconfig={kc}"));
    }
    args.extend(extra.iter().filter(|a| **a != "--no-kubeconfig").map(|s| s.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = std::process::Command::new(crate::util::bin());
    crate::util::clean(&mut cmd).args(&argv);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = crate::util::run_with_stdin(&mut cmd, input.as_bytes());
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report: std::fs::read_to_string(&report).unwrap_or_default(),
    }
}

fn config(values: &str) -> String {
    format!("apiService:\n  config: |\n{}", values.lines().map(|l| format!("    {l}\n")).collect::<String>())
}

/// Expects a refusal: exit 1, nothing on stdout, every `want` in the message (stderr and report).
pub fn refused(r: &Run, label: &str, want: &[&str]) {
    assert_eq!(r.code, Some(1), "{label}: expected exit 1: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{label}: stdout must stay empty");
    for w in want {
        assert!(r.stderr.contains(w), "{label}: stderr lacks {w:?}:\n{}", r.stderr);
        assert!(r.report.contains(w), "{label}: report lacks {w:?}:\n{}", r.report);
    }
}

pub fn config_of(stdout: &str) -> Value {
    config_map(&k8s_json(stdout))
}

#[test]
fn workspace_lists_are_never_widened_and_get_an_info_note() {
    let values = config(
        "kubernetes:\n  allowed_contexts: [prod]\nworkspaces:\n  team-a:\n    kubernetes:\n      allowed_contexts: [TRAIN, ssh-gpu]\n  team-b:\n    kubernetes:\n      allowed_contexts: [train, in-cluster]\n  team-c: {}\n",
    );
    for form in FORMS {
        let r = run(&render(form, &values), &[], &[]);
        assert!(r.ok, "{form:?}: {}", r.stderr);
        assert_eq!(
            config_of(&r.stdout),
            json!({
                "kubernetes": {"allowed_contexts": ["prod", "in-cluster"]},
                "workspaces": {
                    "team-a": {"kubernetes": {"allowed_contexts": ["train"]}},
                    "team-b": {"kubernetes": {"allowed_contexts": ["train", "in-cluster"]}},
                    "team-c": {}
                }
            }),
            "{form:?}"
        );
        assert!(r.report.contains("`TRAIN` corrected to `train`"), "{}", r.report);
        assert!(r.report.contains("`ssh-gpu` removed"), "{}", r.report);
        assert!(
            r.report.contains("workspaces.team-a.kubernetes.allowed_contexts does not name `in-cluster`: workspace `team-a` cannot use the API server's own cluster"),
            "{}",
            r.report
        );
        assert!(!r.report.contains("workspace `team-b` cannot"), "{}", r.report);
        assert!(!r.report.contains("team-c"), "a workspace without its own list inherits: {}", r.report);
    }
}

#[test]
fn empty_lists_stay_empty() {
    let values = config(
        "kubernetes:\n  allowed_contexts: []\nworkspaces:\n  team-a:\n    kubernetes:\n      allowed_contexts: []\n",
    );
    for form in FORMS {
        let input = render(form, &values);
        let r = run(&input, &[], &[]);
        assert!(r.ok, "{form:?}: {}", r.stderr);
        let cm = |s: &str| docs(s).into_iter().find(|d| d.contains("kind: ConfigMap")).expect("cm");
        assert_eq!(cm(&r.stdout), cm(&input), "{form:?}: `[]` must stay `[]`");
        assert_eq!(
            config_of(&r.stdout),
            json!({"kubernetes": {"allowed_contexts": []}, "workspaces": {"team-a": {"kubernetes": {"allowed_contexts": []}}}})
        );
    }
}

#[test]
fn names_are_judged_as_pyyaml_reads_them_and_every_bad_one_is_reported() {
    let values = config(
        "kubernetes:\n  allowed_contexts: [prod, 0123, yes, trian]\nworkspaces:\n  w:\n    kubernetes:\n      allowed_contexts: [1:30, nope]\n",
    );
    for form in FORMS {
        let r = run(&render(form, &values), &[], &[]);
        refused(
            &r,
            &format!("{form:?}"),
            &[
                "5 problems in the SkyPilot config",
                "kubernetes.allowed_contexts: item 2 is `0123`, which SkyPilot's YAML reader (PyYAML) reads as the integer 83, not a context name; quote it: '0123'",
                "item 3 is `yes`, which SkyPilot's YAML reader (PyYAML) reads as the boolean True",
                "workspaces.w.kubernetes.allowed_contexts: item 1 is `1:30`, which SkyPilot's YAML reader (PyYAML) reads as the integer 90",
                "kubernetes.allowed_contexts: context `trian` is not in the kubeconfig",
                "workspaces.w.kubernetes.allowed_contexts: context `nope` is not in the kubeconfig",
                "ConfigMap skypilot/sky-config",
            ],
        );
        // The names PyYAML reads as strings are checked too, in the same run... once the
        // non-strings of their list are fixed; the quoted forms pass and `1e3` is a string.
        let quoted = config("kubernetes:\n  allowed_contexts: [prod, '0123', trian, nope]\n");
        let r = run(&render(form, &quoted), &[], &[]);
        refused(
            &r,
            &format!("{form:?} quoted"),
            &[
                "context `trian` is not in the kubeconfig (did you mean `train`?)",
                "context `nope` is not in the kubeconfig",
                "available contexts: prod, Dev-EU, train, in-cluster",
            ],
        );
    }
    // PyYAML itself agrees on what these are (the independent check of our reading).
    assert_eq!(pyyaml_json("[0123, yes, 1:30, 1e3, y]"), json!([83, true, 90, "1e3", "y"]));
}

#[test]
fn renamed_in_cluster_context_is_named_when_the_old_name_is_used() {
    let values = "apiService:\n  extraEnvs:\n  - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME\n    value: home\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";
    for form in FORMS {
        let r = run(&render(form, values), &[], &[]);
        refused(
            &r,
            &format!("{form:?}"),
            &[
                "context `in-cluster` is not in the kubeconfig (the in-cluster context is named `home` here: SKYPILOT_IN_CLUSTER_CONTEXT_NAME renames it)",
                "available contexts: prod, Dev-EU, train, home",
            ],
        );
    }
}

#[test]
fn context_configs_keys_are_corrected_or_refused_and_remote_identity_patterns_warned() {
    let good = config(
        "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n  context_configs:\n    PROD:\n      provision_timeout: 10\n    in-cluster: {}\n  remote_identity:\n    'prod*': sa-a\n    'staging-*': sa-b\n",
    );
    let bad = config("kubernetes:\n  allowed_contexts: [prod, in-cluster]\n  context_configs:\n    prdo: {}\n");
    for form in FORMS {
        let r = run(&render(form, &good), &[], &[]);
        assert!(r.ok, "{form:?}: {}", r.stderr);
        assert_eq!(
            config_of(&r.stdout)["kubernetes"]["context_configs"],
            json!({"prod": {"provision_timeout": 10}, "in-cluster": {}}),
            "{form:?}"
        );
        assert!(r.report.contains("kubernetes.context_configs: key `PROD` corrected to `prod`"), "{}", r.report);
        assert!(
            r.report.contains(
                "warning [allowed-contexts]: kubernetes.remote_identity: pattern `staging-*` matches no context"
            ),
            "{}",
            r.report
        );
        assert!(!r.report.contains("pattern `prod*`"), "{}", r.report);
        let r = run(&render(form, &bad), &[], &[]);
        refused(
            &r,
            &format!("{form:?}"),
            &["kubernetes.context_configs: context `prdo` is not in the kubeconfig (did you mean `prod`?)"],
        );
    }
}

#[test]
fn duplicate_keys_that_skyhelm_reads_are_refused_with_both_lines() {
    let values = config("kubernetes:\n  allowed_contexts: [prod]\nkubernetes:\n  allowed_contexts: [train]\n");
    let r = run(&render(Form::Helm3, &values), &[], &[]);
    refused(&r, "config.yaml", &["`kubernetes` appears twice in config.yaml (lines 1 and 3 of config.yaml)"]);

    let input = render(Form::Helm3, &config("kubernetes:\n  allowed_contexts: [prod, in-cluster]\n"));
    // The ConfigMap's data holds config.yaml twice: Kubernetes keeps the second.
    let twice = input.replacen("data:\n  config.yaml: |-\n", "data:\n  config.yaml: \"{}\"\n  config.yaml: |-\n", 1);
    assert_ne!(twice, input);
    let r = run(&twice, &[], &[]);
    refused(&r, "data", &["`config.yaml` appears twice (lines 24 and 25)"]);
    // The pod spec has `volumes` twice: an added volume would land in the one readers ignore.
    let first_volumes = input.find("      volumes:\n").expect("volumes");
    let mut twice = input.clone();
    twice.insert_str(first_volumes, "      volumes: []\n");
    let r = run(&twice, &[], &[]);
    refused(&r, "pod spec", &["`volumes` appears twice", "Deployment skypilot/sky-api-server"]);
}

#[test]
fn yaml11_line_breaks_are_refused_with_their_line() {
    // Helm's own reader breaks the line there, so no chart renders one: inserted into the
    // rendered config (raw in Helm 3's block, escaped in Helm 4's double-quoted string).
    let values = config("kubernetes:\n  allowed_contexts: [prod]\n# a comment\n");
    for form in FORMS {
        let input = render(form, &values);
        for (c, name) in [('\u{2028}', "2028"), ('\u{85}', "0085"), ('\u{2029}', "2029")] {
            let with = if input.contains("config.yaml: |") {
                input.replacen("# a comment", &format!("# a comment {c} here"), 1)
            } else {
                input.replacen("# a comment", &format!("# a comment \\u{name} here"), 1)
            };
            assert_ne!(with, input);
            let r = run(&with, &[], &[]);
            refused(&r, &format!("{form:?} U+{name}"), &[&format!("config.yaml line 3 holds U+{name}")]);
        }
    }
}

#[test]
fn null_config_is_written_as_a_proper_string_and_non_strings_are_refused() {
    let input = |form| render(form, &config("kubernetes:\n  allowed_contexts: [prod, in-cluster]\n"));
    for form in FORMS {
        let base = input(form);
        let key = base.find("data:\n  config.yaml:").expect("config.yaml") + "data:\n  ".len();
        // The value: the rest of the key's line and any more-indented lines (a block scalar).
        let mut value_end = base[key..].find('\n').expect("eol") + key;
        while base[value_end + 1..].starts_with("    ") {
            value_end = base[value_end + 1..].find('\n').expect("eol") + value_end + 1;
        }
        for null in ["", " ~", " !!null ''"] {
            let nulled = format!("{}config.yaml:{null}{}", &base[..key], &base[value_end..]);
            let r = run(&nulled, &[], &[]);
            assert!(r.ok, "{form:?} {null:?}: {}", r.stderr);
            let cm = docs(&r.stdout).into_iter().find(|d| d.contains("kind: ConfigMap")).expect("cm");
            match form {
                Form::Helm3 => assert!(cm.contains("config.yaml: |"), "{cm}"),
                Form::Helm4 => assert!(cm.contains("config.yaml: \""), "{cm}"),
            }
            assert_eq!(
                config_of(&r.stdout),
                json!({"kubernetes": {"allowed_contexts": ["prod", "in-cluster"]}}),
                "{form:?} {null:?}"
            );
        }
        let number = format!("{}config.yaml: 5{}", &base[..key], &base[value_end..]);
        refused(
            &run(&number, &[], &[]),
            "number",
            &["`data.config.yaml` is a number; the SkyPilot config must be a string"],
        );
    }
}

#[test]
fn unset_list_with_a_current_context_that_names_no_context_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(&kc, crate::util::KUBECONFIG.replace("current-context: prod", "current-context: gone")).expect("kc");
    for form in FORMS {
        let r =
            run(&render(form, "{}\n"), &["--no-kubeconfig", &format!("--skypilot-kubeconfig={}", kc.display())], &[]);
        refused(&r, &format!("{form:?}"), &["the kubeconfig's current-context `gone` names no context in it"]);
    }
}

#[test]
fn strict_turns_corrections_and_warnings_into_errors() {
    let needs_fix = config("kubernetes:\n  allowed_contexts: [PROD]\n");
    let clean = config("kubernetes:\n  allowed_contexts: [prod, in-cluster]\n");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("skyhelm.yaml");
    std::fs::write(&cfg, "strict: true\n").expect("config");
    for form in FORMS {
        let input = render(form, &needs_fix);
        for (args, env) in [
            (vec!["--strict"], vec![]),
            (vec![], vec![("SKYHELM_STRICT", "true")]),
            (vec![cfg.to_str().expect("path")], vec![]),
        ] {
            let args: Vec<String> = if args.first().is_some_and(|a| a.ends_with("skyhelm.yaml")) {
                vec![format!("--config={}", args[0])]
            } else {
                args.iter().map(|s| s.to_string()).collect()
            };
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = run(&input, &argv, &env);
            refused(
                &r,
                &format!("{form:?} {args:?} {env:?}"),
                &[
                    "--strict: 2 corrections and 0 warnings (nothing was written; fix these at the source)",
                    "fix: document",
                    "`PROD` corrected to `prod`",
                    "`in-cluster` appended",
                ],
            );
        }
        // Mounting the kubeconfig is the tool's job, not a correction: a clean config passes.
        let r = run(&render(form, &clean), &["--strict"], &[]);
        assert!(r.ok, "{form:?}: {}", r.stderr);
        assert!(r.stdout.contains("kube-credentials"), "{form:?}: the mount is still added");
        // A warning is an error under --strict.
        let warn = config("kubernetes:\n  allowed_contexts: [prod, in-cluster]\n  remote_identity:\n    'x-*': sa\n");
        let r = run(&render(form, &warn), &["--strict"], &[]);
        refused(
            &r,
            &format!("{form:?} warning"),
            &[
                "0 corrections and 1 warning",
                "warning: [allowed-contexts] kubernetes.remote_identity: pattern `x-*` matches no context",
            ],
        );
    }
}

#[test]
fn kubeconfig_env_without_the_mounted_file_is_refused() {
    let values = "apiService:\n  extraEnvs:\n  - name: KUBECONFIG\n    value: /etc/other/config\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";
    for form in FORMS {
        let r = run(&render(form, values), &[], &[]);
        refused(
            &r,
            &format!("{form:?}"),
            &["KUBECONFIG is set to `/etc/other/config`, which does not include /root/.kube/config"],
        );
    }
}

#[test]
fn allowed_context_all_sets_all() {
    for form in FORMS {
        let r = run(
            &render(form, &config("kubernetes:\n  allowed_contexts: [prod]\n")),
            &["--allowed-context", "all"],
            &[],
        );
        assert!(r.ok, "{form:?}: {}", r.stderr);
        assert_eq!(config_of(&r.stdout), json!({"kubernetes": {"allowed_contexts": "all"}}), "{form:?}");
        assert!(r.report.contains("kubernetes.allowed_contexts set to `all` from --allowed-context"), "{}", r.report);
    }
}

/// Found by a hostile pass: keys PyYAML reads as one, tags, emptied workspace lists, the
/// in-cluster name set twice or through valueFrom.
#[test]
fn hostile_config_shapes_are_refused_or_warned() {
    let cases: &[(&str, &str)] = &[
        (
            "workspaces:\n  a:\n    kubernetes:\n      allowed_contexts: [PROD]\n  \"a\":\n    kubernetes:\n      allowed_contexts: [train]\n",
            "`a` appears twice in config.yaml (lines 2 and 5 of config.yaml)",
        ),
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n  context_configs:\n    \"prod\": {}\n    prod: {}\n",
            "`prod` appears twice in config.yaml (lines 4 and 5 of config.yaml)",
        ),
        (
            "kubernetes:\n  allowed_contexts: [!foo prod]\n",
            "config.yaml line 2 has the tag `!foo`, which PyYAML's safe loader",
        ),
        (
            "kubernetes:\n  allowed_contexts: [prod, [x]]\n",
            "kubernetes.allowed_contexts: item 2 is a list, not a context name",
        ),
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n  context_configs:\n    PROD: {}\n    prod: {}\n",
            "keys `PROD` and `prod` name the same context `prod`",
        ),
        // Issue 20: two keys that would both be corrected to `Dev-EU`. Before, both were
        // renamed and PyYAML kept only the second one's settings (provision_timeout 20).
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n  context_configs:\n    DEV-EU:\n      provision_timeout: 10\n    dev-eu:\n      provision_timeout: 20\n",
            "kubernetes.context_configs: keys `DEV-EU` and `dev-eu` name the same context `Dev-EU` (case ignored); keep one",
        ),
        (
            "workspaces:\n  w:\n    kubernetes:\n      context_configs:\n        dev-eu: {}\n        Dev-EU: {}\n",
            "workspaces.w.kubernetes.context_configs: keys `dev-eu` and `Dev-EU` name the same context `Dev-EU`",
        ),
    ];
    for form in FORMS {
        for (cfg, want) in cases {
            let r = run(&render(form, &config(cfg)), &[], &[]);
            refused(&r, &format!("{form:?} {cfg:?}"), &[want]);
        }
        let emptied = config(
            "kubernetes:\n  allowed_contexts: [prod]\nworkspaces:\n  c:\n    kubernetes:\n      allowed_contexts: [ssh-x]\n",
        );
        let r = run(&render(form, &emptied), &[], &[]);
        assert!(r.ok, "{}", r.stderr);
        assert!(r.report.contains("workspaces.c.kubernetes.allowed_contexts is now empty"), "{}", r.report);
        let twice = "apiService:\n  extraEnvs:\n  - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME\n    value: home\n  - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME\n    value: other\n  config: |\n    kubernetes:\n      allowed_contexts: [prod]\n";
        refused(
            &run(&render(form, twice), &[], &[]),
            &format!("{form:?} env twice"),
            &["`SKYPILOT_IN_CLUSTER_CONTEXT_NAME` appears twice"],
        );
        let from = "apiService:\n  extraEnvs:\n  - name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME\n    valueFrom:\n      configMapKeyRef: {name: x, key: y}\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n";
        let r = run(&render(form, from), &[], &[]);
        assert!(r.ok, "{}", r.stderr);
        assert!(
            // `y` is a boolean to Kubernetes' YAML 1.1 reader, not a key name.
            r.report.contains("SKYPILOT_IN_CLUSTER_CONTEXT_NAME comes from `valueFrom.configMapKeyRef` with a `name` or `key` that is not a string, which cannot be known at render time"),
            "{}",
            r.report
        );
    }
    // A tagged config.yaml (Kubernetes would reject the edited `!!binary` text).
    let base = render(Form::Helm3, &config("kubernetes:\n  allowed_contexts: [prod, in-cluster]\n"));
    let tagged = base.replacen("config.yaml: |-", "config.yaml: !!binary |-", 1);
    assert_ne!(tagged, base);
    refused(&run(&tagged, &[], &[]), "binary", &["`data.config.yaml` carries the tag"]);
}

/// Whether PyYAML loads each text, with both of SkyPilot's loaders (`yaml.CSafeLoader`, libyaml,
/// when PyYAML has its C extension; `yaml.SafeLoader` otherwise): for each, None when both load
/// it, else the 1-based line of the first loader's error.
fn pyyaml_refusals(texts: &[String]) -> Vec<Option<usize>> {
    let script = r#"
import json, sys, yaml
assert yaml.__with_libyaml__, "PyYAML without libyaml: CSafeLoader is missing"
out = []
for text in json.load(sys.stdin):
    line = None
    for loader in (yaml.SafeLoader, yaml.CSafeLoader):
        try:
            yaml.load(text, Loader=loader)
        except yaml.YAMLError as e:
            line = line or e.problem_mark.line + 1
    out.append(line)
print(json.dumps(out))
"#;
    let out = crate::util::run_with_stdin(
        std::process::Command::new(crate::util::python()).args(["-c", script]),
        serde_json::to_string(texts).expect("json").as_bytes(),
    );
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// A tag on a mapping or a list of config.yaml is judged as PyYAML (SkyPilot's reader) judges
/// it: what it cannot construct is refused, naming the tag's line as PyYAML does; `!!map` on a
/// mapping, `!!seq` on a list and `!` pass untouched; `!!set`, `!!omap` and `!!pairs` (which
/// PyYAML makes a set or pairs of, not what skyhelm reads) are refused too. Before, the tree
/// kept no collection's tag and every one passed, `!!python/object` included.
#[test]
fn a_tagged_collection_in_config_is_judged_as_pyyaml_judges_it() {
    let cases = [
        ("kubernetes: !!python/object:os.system\n  allowed_contexts: [prod, in-cluster]\n", Some("cannot construct")),
        ("kubernetes: !!python/object/apply:os.system\n  - ls\n", Some("cannot construct")),
        ("kubernetes:\n  allowed_contexts: [prod, in-cluster]\na: !custom\n  - b\n", Some("cannot construct")),
        ("kubernetes:\n  allowed_contexts: [prod, in-cluster]\na: !!str {b: c}\n", Some("cannot construct")),
        ("kubernetes:\n  allowed_contexts: [prod, in-cluster]\na: !!map [b]\n", Some("cannot construct")),
        ("kubernetes: !!map\n  allowed_contexts: !!seq [prod, in-cluster]\n", None),
        ("kubernetes:\n  allowed_contexts: [prod, in-cluster]\na: ! {b: c}\n", None),
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\na: !!set {b, c}\n",
            Some("a Python set or ordered pairs"),
        ),
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\na: !!omap [{b: 1}]\n",
            Some("a Python set or ordered pairs"),
        ),
        // PyYAML merges the mapping under `<<` without constructing it by its tag.
        ("kubernetes:\n  allowed_contexts: [prod, in-cluster]\nx:\n  <<: !foo {a: 1}\n  b: 2\n", None),
        // Unless an alias elsewhere makes PyYAML construct it.
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\nx:\n  <<: &M !foo {a: 1}\ny: *M\n",
            Some("cannot construct"),
        ),
        // The line PyYAML names: the tag's (a comment below it naming the tag aside), or the
        // anchor's when the anchor comes first.
        (
            "kubernetes:\n  allowed_contexts: [prod, in-cluster]\nx: !foo\n  # !foo here\n  a: 1\n",
            Some("cannot construct"),
        ),
        ("kubernetes:\n  allowed_contexts: [prod, in-cluster]\nx: &A\n  !foo\n  a: 1\n", Some("cannot construct")),
    ];
    let mut inputs: Vec<(Form, String, String, Option<&str>)> = Vec::new();
    for form in FORMS {
        for (case, want) in cases {
            let input = render(form, &config(case));
            let cm = k8s_json(&input).into_iter().find(|d| d["kind"] == "ConfigMap").expect("cm");
            inputs.push((form, input, cm["data"]["config.yaml"].as_str().expect("config.yaml").to_string(), want));
        }
    }
    let texts: Vec<String> = inputs.iter().map(|(_, _, t, _)| t.clone()).collect();
    let refusals = pyyaml_refusals(&texts);
    for ((form, input, text, want), pyyaml) in inputs.iter().zip(&refusals) {
        let label = format!("{form:?} {text:?}");
        let r = run(input, &[], &[]);
        match want {
            None => {
                assert_eq!(*pyyaml, None, "{label}: PyYAML must load it");
                assert!(r.ok, "{label}: PyYAML loads it, skyhelm refused: {}", r.stderr);
                let cm = |s: &str| docs(s).into_iter().find(|d| d.contains("kind: ConfigMap")).expect("cm");
                assert_eq!(cm(&r.stdout), cm(input), "{label}: the ConfigMap must stay as it is");
            }
            Some(why) => {
                refused(&r, &label, &["has the tag", why]);
                match (pyyaml, *why == "cannot construct") {
                    (Some(line), true) => {
                        assert!(
                            r.stderr.contains(&format!("config.yaml line {line} has the tag")),
                            "{label}: {}",
                            r.stderr
                        )
                    }
                    (None, false) => {}
                    (p, _) => panic!("{label}: PyYAML says {p:?}, skyhelm: {}", r.stderr),
                }
            }
        }
    }
}

/// Issue 20: a config.yaml PyYAML cannot load (SkyPilot logs a syntax error and runs with an
/// empty config) is refused, with the line and PyYAML's reason; what both of SkyPilot's loaders
/// load passes untouched. Every case is judged by PyYAML itself (SafeLoader and CSafeLoader),
/// and skyhelm must name the line PyYAML names. Before, every case our YAML 1.2 parser reads
/// (a tab after `:`, before a comment, inside a flow list, …) passed as a valid config.
#[test]
fn a_config_pyyaml_cannot_load_is_refused_with_the_line_pyyaml_names() {
    const HEAD: &str = "kubernetes:\n  allowed_contexts: [prod, in-cluster]\n";
    let cases = [
        "a:\tb\n",
        "a: \tb\n",
        "a:\t\nb: c\n",
        "a: b\t\n",
        "a: b\t# c\n",
        "a: b \t# c\n",
        "x:\n-\ta\n",
        "x:\n- \ta\n",
        "a:\n  -\tb\n",
        "a:\n  \tb: c\n",
        "a: b\n\t\nc: d\n",
        "a: [b,\tc]\n",
        "a: [\tb]\n",
        "a: [b\t]\n",
        "a: {b:\tc}\n",
        "a: {\tb: c}\n",
        "a: b\tc\n",
        "a: \"b\tc\"\n",
        "a: 'b\tc'\n",
        "a\t: b\n",
        "a \t: b\n",
        "a:\t[b]\n",
        "a: |\n  x\ty\n",
        "a: |\n  x\n\ty\n",
        "a: |\t\n  x\n",
        "a: b\n\t# c\nd: e\n",
        "a: b\n  \tc\n",
        "a: &x\tb\n",
        "a: !!str\tb\n",
        "a: [b,\n\tc]\n",
        "\"a\"\t: b\n",
        "a:\t\"b\"\n",
        "x:\n-\t\"b\"\n",
        "a: [b]\t# c\n",
        "a:\n  b:\t\n  c: d\n",
        "a: |\n  \tx\n",
        "a: |\n  x\n  \ty\n",
        "a: >\n  x\n  \ty\n",
        "a: b # c\td\n",
        "# a\tb\na: c\n",
        "a: | # x\ty\n  z\n",
        "a: \"b\n\tc\"\n",
        "a: 'b\n\tc'\n",
        "\"a\tb\": c\n",
        "a: b\n  c\td\n",
        "a: [b]\t\n",
        "a: {b: c,\n  \td: e}\n",
        "a: |2\n   \tx\n",
        "a: |\n  x\n  \t\n  y\n",
        "a: |\n  x\n \t\n  y\n",
        "x:\n- a:\tb\n",
    ];
    // Rendered by real Helm from values; PyYAML judges the config.yaml the pod would get.
    let mut inputs: Vec<(Form, String, String)> = Vec::new();
    for form in FORMS {
        for case in cases {
            let input = render(form, &config(&format!("{HEAD}{case}")));
            let cm = k8s_json(&input).into_iter().find(|d| d["kind"] == "ConfigMap").expect("cm");
            let text = cm["data"]["config.yaml"].as_str().expect("config.yaml").to_string();
            inputs.push((form, input, text));
        }
    }
    let texts: Vec<String> = inputs.iter().map(|(_, _, t)| t.clone()).collect();
    let refusals = pyyaml_refusals(&texts);
    assert!(refusals.iter().any(Option::is_none) && refusals.iter().any(Option::is_some));
    // SkyPilot itself (the oracle, PyYAML as SkyPilot 0.14.1 loads it: CSafeLoader here): every
    // config it cannot load is one PyYAML refuses above; the Python loader refuses more. Judged
    // on Helm 3's inputs (a SkyPilot view costs a fork).
    let dir = tempfile::tempdir().expect("tmp");
    let kc = kubeconfig_file(dir.path());
    let helm3 = &inputs[..cases.len()];
    let jobs: Vec<(&str, Option<&std::path::Path>)> =
        helm3.iter().map(|(_, input, _)| (input.as_str(), Some(kc.as_path()))).collect();
    let views = crate::skypilot::skypilot_views(&jobs);
    let mut skypilot_refuses = 0;
    for ((view, refusal), (form, _, text)) in views.iter().zip(&refusals).zip(helm3) {
        if !view["yaml_error"].is_null() {
            skypilot_refuses += 1;
            assert!(refusal.is_some(), "{form:?} {text:?}: SkyPilot cannot load it: {}", view["yaml_error"]);
        }
    }
    assert!(skypilot_refuses > 0, "SkyPilot loaded every case");
    for ((form, input, text), refusal) in inputs.iter().zip(&refusals) {
        let r = run(input, &[], &[]);
        let label = format!("{form:?} {text:?}");
        match refusal {
            None => {
                assert!(r.ok, "{label}: PyYAML loads it, skyhelm refused: {}", r.stderr);
                let cm = |s: &str| docs(s).into_iter().find(|d| d.contains("kind: ConfigMap")).expect("cm");
                assert_eq!(cm(&r.stdout), cm(input), "{label}: the ConfigMap must stay as it is");
            }
            Some(line) => {
                let at = format!("at line {line}, column");
                let parse = format!("(line {line} of config.yaml)");
                refused(&r, &label, &[]);
                assert!(
                    (r.stderr.contains("PyYAML (SkyPilot's reader) cannot load config.yaml, which has a tab ")
                        && r.stderr.contains(&at))
                        || (r.stderr.contains(&format!("line {line} holds a tab")) && r.stderr.contains(&parse)),
                    "{label}: PyYAML refuses it at line {line}: {}",
                    r.stderr
                );
            }
        }
    }
    // Through real Helm from values, with the reason PyYAML gives.
    for form in FORMS {
        let r = run(&render(form, &config("kubernetes:\n  allowed_contexts: [prod,\tin-cluster]\n")), &[], &[]);
        refused(
            &r,
            &format!("{form:?} values"),
            &[
                "PyYAML (SkyPilot's reader) cannot load config.yaml, which has a tab inside a flow collection at line 2, column 27 (PyYAML: found character '\\t' that cannot start any token); SkyPilot would log a syntax error and run with an empty config. Use spaces",
            ],
        );
    }
}
