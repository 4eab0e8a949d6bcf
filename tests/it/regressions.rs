//! Every crash the fuzzers found (tests/fixtures/fuzz/<target>-<what>.yaml), replayed with the
//! fuzz target's own check, and through the binary.

use serde_json::{Value, json};
use skyhelm::yaml::{Editor, Limits, Tree, edit};

use crate::util::{API_DEPLOYMENT, k8s_json, root, skyhelm};

fn cases(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/fixtures/fuzz");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{target}-"))))
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read")))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no regression inputs for {target}");
    out
}

/// What happens to each regression input, stated up front so that a change in any of them fails:
/// `parse-refused` (skyhelm refuses the text: a self-referencing anchor, as go-yaml does; a bare
/// CR line break, on purpose), `kubernetes-refuses` (the Kubernetes reader refuses it, so there
/// is no meaning to keep), `edit-refused` (skyhelm parses it but refuses to insert, e.g. after a
/// block scalar at the end of the input), `meaning-kept` (edited; the Kubernetes reader sees the
/// original plus the new list).
const OUTCOMES: &[(&str, &str)] = &[
    ("anchored-root", "kubernetes-refuses"),
    ("bare-cr", "parse-refused"),
    ("explicit-key-comment", "kubernetes-refuses"),
    ("explicit-key-next-line", "kubernetes-refuses"),
    ("explicit-key", "kubernetes-refuses"),
    ("flow-empty-values", "kubernetes-refuses"),
    ("flow-explicit-key", "kubernetes-refuses"),
    ("folded-at-eof", "edit-refused"),
    ("self-alias", "parse-refused"),
    ("trailing-empty-key", "kubernetes-refuses"),
];

fn k8s_reads(text: &str) -> bool {
    crate::util::run_with_stdin(&mut std::process::Command::new(crate::util::tool("k8syaml")), text.as_bytes())
        .status
        .success()
}

/// The yaml_edit fuzz target's check, with the meaning read by the Kubernetes YAML reader
/// (tests/tools/k8syaml), not ours.
fn edit_outcome(data: &[u8]) -> &'static str {
    let text = std::str::from_utf8(data).expect("regression inputs are UTF-8");
    let Ok(tree) = Tree::parse(text, &Limits::default()) else { return "parse-refused" };
    if !k8s_reads(text) {
        return "kubernetes-refuses";
    }
    let root = tree.root().filter(|&r| tree.is_map(r)).expect("a mapping at the root");
    let editor = Editor::new(text, &tree);
    let item = json!({"name": "kube-config", "secret": {"secretName": "on"}});
    let Ok(edits) = editor.push_to_list(root, "skyhelmFuzzList", &item) else { return "edit-refused" };
    let edited = edit::apply(text, &edits).expect("edits apply");
    let before = k8s_json(text).remove(0);
    let mut now = k8s_json(&edited).remove(0);
    let added = now.as_object_mut().expect("map").remove("skyhelmFuzzList");
    assert_eq!(added, Some(Value::Array(vec![item])), "{edited}");
    assert_eq!(now, before, "{edited}");
    "meaning-kept"
}

#[test]
fn yaml_edit_crashes_stay_fixed() {
    let all = cases("yaml_edit");
    assert_eq!(all.len(), OUTCOMES.len(), "every regression input has an expected outcome");
    for (name, data) in all {
        let stem = name.rsplit("yaml_edit-").next().and_then(|n| n.strip_suffix(".yaml")).expect("name");
        let want = OUTCOMES.iter().find(|(n, _)| *n == stem).map(|(_, o)| *o).expect("listed in OUTCOMES");
        assert_eq!(edit_outcome(&data), want, "{name}");
        let fails_to_parse = want == "parse-refused";
        // Through the binary, next to an API server: the input document comes out byte for byte
        // and the Deployment gets its mount.
        let mut stream = data.clone();
        if !stream.ends_with(b"\n") {
            stream.push(b'\n');
        }
        stream.extend_from_slice(format!("---\n{API_DEPLOYMENT}").as_bytes());
        let out = skyhelm(&["post-render"], &stream);
        if fails_to_parse && out.status.code() == Some(1) {
            // An input that is itself an API server Deployment must be parsed, and is refused.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.stdout.is_empty() && err.contains("document 1"), "{name}: {err}");
            continue;
        }
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.starts_with(&stream[..stream.len() - API_DEPLOYMENT.len()]), "{name}: not byte for byte");
        assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: kube-credentials"), "{name}: no mount");
    }
}
