//! Every crash the fuzzers found (tests/fixtures/fuzz/<target>-<what>.yaml), replayed with the
//! fuzz target's own check, and through the binary.

use serde_json::{Value, json};
use skyhelm::yaml::{Editor, Limits, Tree, edit};

use crate::util::{root, skyhelm};

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

/// The yaml_edit fuzz target's check.
fn edit_keeps_meaning(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(tree) = Tree::parse(text, &Limits::default()) else { return };
    let Some(root) = tree.root().filter(|&r| tree.is_map(r)) else { return };
    let editor = Editor::new(text, &tree);
    let item = json!({"name": "kube-config", "secret": {"secretName": "on"}});
    let Ok(edits) = editor.push_to_list(root, "skyhelmFuzzList", &item) else { return };
    let edited = edit::apply(text, &edits).expect("edits apply");
    let after = Tree::parse(&edited, &Limits::default()).expect("edited document parses");
    let mut now = after.to_json(after.root().expect("root"));
    let added = now.as_object_mut().expect("map").remove("skyhelmFuzzList");
    assert_eq!(added, Some(Value::Array(vec![item])), "{edited}");
    assert_eq!(now, tree.to_json(root), "{edited}");
}

#[test]
fn yaml_edit_crashes_stay_fixed() {
    for (name, data) in cases("yaml_edit") {
        edit_keeps_meaning(&data);
        let out = skyhelm(&["post-render"], &data);
        assert!(out.status.code().is_some_and(|c| c == 0 || c == 1), "{name}: {out:?}");
    }
}
