#![no_main]
//! Editing any document that parses: the edit applies, the result parses, and every value the
//! document had still means the same (read back with the tree's YAML 1.1 reading).
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use skyhelm::yaml::{Editor, Limits, Tree, edit};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(tree) = Tree::parse(text, &Limits::default()) else { return };
    let Some(root) = tree.root() else { return };
    if !tree.is_map(root) {
        return;
    }
    let editor = Editor::new(text, &tree);
    let item = json!({"name": "kube-config", "secret": {"secretName": "on"}});
    let Ok(edits) = editor.push_to_list(root, "skyhelmFuzzList", &item) else { return };
    let edited = edit::apply(text, &edits).expect("edits apply");
    let after = Tree::parse(&edited, &Limits::default()).expect("edited document parses");
    let before = tree.to_json(root);
    let mut now = after.to_json(after.root().expect("root"));
    let added = now.as_object_mut().expect("map").remove("skyhelmFuzzList");
    assert_eq!(added, Some(Value::Array(vec![item])), "{edited}");
    assert_eq!(now, before, "{edited}");
});
