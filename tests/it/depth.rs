//! Nesting depth (issue 24): every depth up to `--max-depth` is handled, one past it is refused
//! cleanly (the document and line named, exit 1, nothing on stdout), never a stack overflow.
//! Depth counts collections, the document's own mapping included: the API server's `args`
//! sits 6 deep (document, spec, template, spec, containers, the container), a config.yaml
//! value under a top-level key 1 deep.

use std::path::Path;
use std::process::{Command, Output};

use crate::helm::{CHART, Helm};
use crate::util::{API_DEPLOYMENT, KUBECONFIG, bin, clean, run_with_stdin, skyhelm, tool};

/// Collections around the API server container's `args` value.
const ARGS_AT: usize = 6;
/// Collections around a config.yaml value under a top-level key.
const CONFIG_AT: usize = 1;

/// A value nested `levels` deep (`levels` collections), in one of four spellings. `indent` is
/// the column of the line it starts on (block mappings need their own lines).
fn nested(shape: Shape, levels: usize, indent: usize) -> String {
    match shape {
        Shape::FlowSeq => format!("{}{}", "[".repeat(levels), "]".repeat(levels)),
        Shape::FlowMap => format!("{}x{}", "{a: ".repeat(levels), "}".repeat(levels)),
        // `- - - x`: block sequences, each an item of the one before, on one line.
        Shape::BlockSeq => format!("\n{}{}x", " ".repeat(indent), "- ".repeat(levels)),
        // Block mappings, one per line (quadratic in size, so the last levels are a flow
        // sequence): the walks are the same for every mapping, block or flow.
        Shape::BlockMap => {
            let maps = levels.min(BLOCK_MAPS);
            let mut s = String::new();
            for i in 0..maps {
                s.push_str(&format!("\n{}k:", " ".repeat(indent + i)));
            }
            let rest = levels - maps;
            format!("{s} {}{}", "[".repeat(rest), "]".repeat(rest))
        }
    }
}

/// Block mappings in [`Shape::BlockMap`] (about 2 MB of indentation).
const BLOCK_MAPS: usize = 2000;

#[derive(Debug, Clone, Copy)]
enum Shape {
    FlowSeq,
    FlowMap,
    BlockSeq,
    BlockMap,
}

const SHAPES: [Shape; 4] = [Shape::FlowSeq, Shape::FlowMap, Shape::BlockSeq, Shape::BlockMap];

/// The API server Deployment with `args` nested `depth` deep in all (see [`ARGS_AT`]).
fn deep_args(shape: Shape, depth: usize) -> String {
    let args = format!("        args: {}\n", nested(shape, depth - ARGS_AT, 9));
    format!("---\n{}", API_DEPLOYMENT.replace("        image: img\n", &format!("        image: img\n{args}")))
}

/// The API server and its ConfigMap, whose config.yaml (a block scalar) holds an
/// allowed_contexts list to clean up and a value nested `depth` deep in all.
fn deep_config(shape: Shape, depth: usize) -> String {
    let config = format!(
        "kubernetes:\n  allowed_contexts: [in-cluster, in-cluster]\nx: {}\n",
        nested(shape, depth - CONFIG_AT, 1)
    );
    let body: String = config.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sky-config\n  namespace: sky\ndata:\n  config.yaml: |\n{body}---\n{API_DEPLOYMENT}"
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The run succeeded; returns stdout.
fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}, stderr: {}",
        out.status.code(),
        text(&out.stderr).chars().take(2000).collect::<String>()
    );
    text(&out.stdout)
}

/// The run was refused cleanly: exit 1, nothing on stdout, the error naming the depth limit,
/// the document and a line.
fn refused(out: &Output, what: &str, limit: usize, doc: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {}", err.chars().take(2000).collect::<String>());
    assert!(out.stdout.is_empty(), "{what}: stdout must be empty");
    assert!(err.contains(&format!("exceeded max depth of {limit}")), "{what}: {err}");
    assert!(err.contains(doc) && err.contains("line "), "{what}: {err}");
}

/// Each document as the Kubernetes reader reads it, one JSON line each, unparsed (serde_json
/// refuses values nested this deep; the lines are compared as text).
fn k8s_lines(yaml: &str) -> Vec<String> {
    let out = run_with_stdin(&mut Command::new(tool("k8syaml")), yaml.as_bytes());
    assert!(out.status.success(), "the Kubernetes YAML reader refused the text: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// The `"args":…` member of the Kubernetes reading of the Deployment's JSON line.
fn args_json(line: &str) -> &str {
    let start = line.find("\"args\":").expect("args");
    let end = line[start..].find(",\"image\"").expect("image after args") + start;
    &line[start..end]
}

#[test]
fn deployment_args_nested_to_the_default_limit_render_and_one_more_level_is_refused() {
    for shape in SHAPES {
        let input = deep_args(shape, 10_000);
        let out = skyhelm(&["post-render"], input.as_bytes());
        let output = ok(&out, &format!("{shape:?} args at the limit"));
        assert!(output.contains("secretName: kube-credentials"), "{shape:?}: the mount was not added");
        // The Kubernetes reader reads the same args before and after (the document was edited).
        let before = k8s_lines(&input);
        let after = k8s_lines(&output);
        let deployment = |lines: &[String]| lines.iter().find(|l| l.contains("\"Deployment\"")).cloned().expect("dep");
        assert_eq!(args_json(&deployment(&after)), args_json(&deployment(&before)), "{shape:?}");

        let out = skyhelm(&["post-render"], deep_args(shape, 10_001).as_bytes());
        refused(&out, &format!("{shape:?} args past the limit"), 10_000, "document 1 (Deployment sky-api-server)");
    }
}

#[test]
fn config_yaml_nested_to_the_default_limit_is_edited_and_one_more_level_is_refused() {
    for shape in SHAPES {
        let input = deep_config(shape, 10_000);
        let out = skyhelm(&["post-render"], input.as_bytes());
        let output = ok(&out, &format!("{shape:?} config.yaml at the limit"));
        // The duplicate was removed (PyYAML-style reading, edit and proof all walked the config);
        // the deep value is kept byte for byte.
        let after = k8s_lines(&output);
        let cm = after.iter().find(|l| l.contains("\"ConfigMap\"")).expect("configmap");
        let cm: serde_json::Value = serde_json::from_str(cm).expect("ConfigMap JSON (config.yaml is a string)");
        let config = cm["data"]["config.yaml"].as_str().expect("config.yaml");
        let x = nested(shape, 10_000 - CONFIG_AT, 1);
        assert_eq!(config, format!("kubernetes:\n  allowed_contexts: [in-cluster]\nx: {x}\n"), "{shape:?}");

        let out = skyhelm(&["post-render"], deep_config(shape, 10_001).as_bytes());
        refused(
            &out,
            &format!("{shape:?} config.yaml past the limit"),
            10_000,
            "document 1 (ConfigMap sky/sky-config)",
        );
    }
}

#[test]
fn diff_reports_documents_nested_to_the_limit() {
    for input in [deep_args(Shape::FlowSeq, 10_000), deep_config(Shape::FlowMap, 10_000)] {
        for output in ["diff", "json"] {
            let out = skyhelm(&["diff", "--output", output], input.as_bytes());
            assert_eq!(out.status.code(), Some(2), "diff --output {output}: {}", text(&out.stderr));
            assert!(text(&out.stdout).contains("kube-credentials"), "diff --output {output}");
        }
    }
}

#[test]
fn max_depth_100000_handles_its_limit() {
    let args = ["post-render", "--max-depth", "100000"];
    let out = skyhelm(&args, deep_args(Shape::FlowSeq, 100_000).as_bytes());
    assert!(ok(&out, "args at 100000").contains("secretName: kube-credentials"));
    let out = skyhelm(&args, deep_args(Shape::FlowSeq, 100_001).as_bytes());
    refused(&out, "args past 100000", 100_000, "document 1 (Deployment sky-api-server)");
    // config.yaml is read with the same limit as the stream.
    let out = skyhelm(&args, deep_config(Shape::BlockSeq, 100_000).as_bytes());
    assert!(ok(&out, "config.yaml at 100000").contains("allowed_contexts: [in-cluster]\n"));
    let out = skyhelm(&args, deep_config(Shape::BlockSeq, 100_001).as_bytes());
    refused(&out, "config.yaml past 100000", 100_000, "document 1 (ConfigMap sky/sky-config)");
}

#[test]
fn max_depth_above_100000_is_refused_from_flag_environment_and_config_file() {
    let input = deep_args(Shape::FlowSeq, 10);
    let out = skyhelm(&["post-render", "--max-depth", "100001"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1), "a usage error exits 1");
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid value '100001' for '--max-depth <N>': 100001 is more than 100000, the deepest nesting skyhelm handles"),
        "{err}"
    );
    let out = run_with_stdin(
        clean(&mut Command::new(bin())).env("SKYHELM_MAX_DEPTH", "1000000").arg("post-render"),
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1), "a usage error exits 1");
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("1000000 is more than 100000"), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("skyhelm.yaml");
    std::fs::write(&config, "max-depth: 100001\n").expect("write");
    let out = skyhelm(&["post-render", "--config", config.to_str().expect("path")], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.contains("max-depth: 100001 is more than 100000") && err.contains("skyhelm.yaml"), "{err}");
    // At the cap, all three are accepted.
    std::fs::write(&config, "max-depth: 100000\n").expect("write");
    let out = skyhelm(&["post-render", "--config", config.to_str().expect("path")], input.as_bytes());
    ok(&out, "max-depth: 100000 in the config file");
}

/// Through real Helm: a config.yaml nested to the limit renders with Helm 3 and Helm 4, and one
/// level more fails with `skyhelm last` telling why (Helm 4 hides the plugin's stderr; the
/// overflow used to leave the previous run's `ok` standing).
#[test]
fn helm3_and_helm4_render_config_yaml_at_the_limit_and_skyhelm_last_tells_one_level_more() {
    let b = bin();
    let h3 = Helm::new("helm3");
    let h4 = Helm::new("helm4");
    h4.install_skyhelm_plugin();
    let dir = tempfile::tempdir().expect("tmp");
    for (depth, renders) in [(10_000, true), (10_001, false), (10_000, true)] {
        let x = nested(Shape::FlowSeq, depth - CONFIG_AT, 1);
        let values = format!(
            "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [in-cluster, in-cluster]\n    x: {x}\n"
        );
        let vf = dir.path().join("values.yaml");
        std::fs::write(&vf, values).expect("values");
        let vf = vf.to_str().expect("path");
        let common = ["template", "sky", CHART, "-n", "skypilot", "-f", vf, "--post-renderer"];
        let out3 = h3.run(&[&common[..], &[b.to_str().expect("path")]].concat());
        let out4 = h4.run(&[&common[..], &["skyhelm"]].concat());
        for (name, helm, out) in [("helm3", &h3, out3), ("helm4", &h4, out4)] {
            let last = helm.last();
            if renders {
                let stdout = ok(&out, &format!("{name} at the limit"));
                assert!(last.contains(" post-render ok at "), "{name}: {last}");
                let lines = k8s_lines(&stdout);
                let cm = lines.iter().find(|l| l.contains("\"ConfigMap\"")).expect("configmap");
                let cm: serde_json::Value = serde_json::from_str(cm).expect("ConfigMap JSON");
                assert!(cm["data"]["config.yaml"].as_str().is_some_and(|c| c.contains(&x)), "{name}");
            } else {
                assert!(!out.status.success(), "{name}: rendered past the limit");
                assert!(
                    last.contains(" post-render failed at ") && last.contains("exceeded max depth of 10000"),
                    "{name}: {last}"
                );
            }
        }
    }
}

/// The files skyhelm reads beside the stream (kubeconfig, contexts file, `--config` file,
/// environments file) are read by serde-saphyr, which takes 64 levels: one more is refused
/// with the limit and the line named (before: "budget breached: Depth { depth: 65 }" from
/// generate, and "too many aliases, or too large" for a kubeconfig), never an abort.
#[test]
fn side_files_take_64_levels_and_name_the_limit_past_it() {
    const NAMED: &str = "nested deeper than 64 levels, the most this file may hold (line ";
    let tmp = tempfile::tempdir().expect("tmp");
    let maps = |levels: usize| format!("{}x{}", "{a: ".repeat(levels), "}".repeat(levels));
    let write = |name: &str, text: String| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("path").to_string()
    };
    let run = |args: &[&str]| {
        let out = run_with_stdin(
            clean(&mut Command::new(bin())).env("XDG_STATE_HOME", tmp.path().join("state")).args(args),
            API_DEPLOYMENT.as_bytes(),
        );
        // doctor prints its findings on stdout.
        (out.status.code(), text(&out.stderr) + &text(&out.stdout))
    };
    for depth in [64, 65] {
        // A kubeconfig with an extension value under a top-level key: 1 + the value's maps.
        let kc = write(&format!("kc{depth}"), format!("{KUBECONFIG}x: {}\n", maps(depth - 1)));
        let config = write(&format!("cfg{depth}.yaml"), format!("allowed-contexts: {}\n", maps(depth - 1)));
        // environments (2), the entry (3), config (4), then the value's maps.
        let envs = write(
            &format!("envs{depth}.yaml"),
            format!(
                "name: s\nenvironments:\n  - name: dev\n    allowedContexts: [in-cluster]\n    config:\n      x: {}\n",
                maps(depth - 4)
            ),
        );
        let out_dir = tmp.path().join(format!("out{depth}"));
        let out_dir = out_dir.to_str().expect("path");
        for args in [
            vec!["doctor", "--kubeconfig", &kc],
            vec!["kubeconfig", "pack", "--kubeconfig", &kc, "--context", "prod"],
            vec!["post-render", "--skypilot-kubeconfig", &kc],
            vec!["post-render", "--config", &config],
            vec!["generate", "--out", out_dir, &envs],
        ] {
            let (code, err) = run(&args);
            if depth == 64 {
                assert!(!err.contains("nested deeper") && !err.contains("failed to parse"), "{args:?}: {err}");
            } else {
                assert_eq!(code, Some(1), "{args:?}: {err}");
                assert!(err.contains(NAMED), "{args:?}: {err}");
                assert!(!err.contains("budget") && !err.contains("aliases"), "{args:?}: {err}");
            }
        }
        if depth == 64 {
            assert!(Path::new(out_dir).join("s-dev").is_dir(), "generate at 64 levels wrote nothing");
        }
    }
}
