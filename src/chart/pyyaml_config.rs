//! An environment's `config:` is SkyPilot config: generate writes it into config.yaml, which
//! SkyPilot reads with PyYAML. The environments file itself is read by serde (serde-saphyr), and
//! the two readers disagree on some plain scalars: `0123` is 123 for serde and 83 for PyYAML,
//! `y` is true for serde and the string "y" for PyYAML, `1e3` is 1000 for serde and a string for
//! PyYAML, `2001-12-14` a string for serde and a date for PyYAML; a key `yes` is the string
//! "yes" for serde and True for PyYAML. generate would write serde's reading, which is not what
//! the admin would get by writing the same text into config.yaml.
//!
//! Every such scalar or key is refused, with the environment, the key path and the spelling that
//! both readers read alike. (Reading the config with skyhelm's own PyYAML reader instead would
//! still leave values JSON cannot carry, such as dates, so a refusal is needed either way; one
//! rule is simpler to state.)

use serde_json::Value;

use super::{EnvironmentsFile, GenerateError};
use crate::messages::sanitize;
use crate::yaml::tree::NodeKind;
use crate::yaml::{Limits, NodeId, Reader, Tree};

/// Every place where serde's reading of a `config:` (the defaults' and each environment's)
/// differs from PyYAML's, as one error each. `text` is the environments file `file` was read from.
pub fn disagreements(text: &str, file: &EnvironmentsFile) -> Vec<GenerateError> {
    let Ok(tree) = Tree::parse(text, &Limits::default()) else { return Vec::new() };
    let Some(root) = tree.root() else { return Vec::new() };
    let mut out = Vec::new();
    let mut check = |label: String, node: Option<NodeId>, serde: Option<&serde_json::Map<String, Value>>| {
        if let (Some(node), Some(serde)) = (node, serde) {
            let mut found = Vec::new();
            walk(&tree, node, &Value::Object(serde.clone()), "config", &mut found);
            out.extend(found.into_iter().map(|message| GenerateError::Invalid { env: label.clone(), message }));
        }
    };
    check("defaults".into(), tree.path(root, &["defaults", "config"]), file.defaults.config.as_ref());
    let items = tree.get(root, "environments").map(|e| tree.items(e).to_vec()).unwrap_or_default();
    for (item, entry) in items.into_iter().zip(&file.environments) {
        check(entry.name.clone(), tree.get(item, "config"), entry.settings.config.as_ref());
    }
    out
}

/// Compares the node with serde's value of it, recording each scalar and key they read apart.
fn walk(tree: &Tree, node: NodeId, serde: &Value, path: &str, out: &mut Vec<String>) {
    let node = tree.resolve(node);
    match tree.kind(node) {
        NodeKind::Map { entries, .. } => {
            if entries.iter().any(|&(k, _)| tree.raw(k) == Some("<<")) {
                // Merge keys: compare what the mapping means as a whole.
                if !same(&tree.to_json_as(node, Reader::PyYaml), serde) {
                    out.push(format!("{path}: PyYAML (SkyPilot's reader) reads this mapping (it has a `<<` merge key) differently from the environments file reader; write it out without `<<`"));
                }
                return;
            }
            for &(k, v) in entries {
                let Some(raw) = tree.raw(k) else {
                    out.push(format!("{path}: a key that is a collection; SkyPilot's config has string keys"));
                    continue;
                };
                let child = format!("{path}.{}", sanitize(raw, &[]));
                if tree.py_str(k).is_none() {
                    let reads = tree.pyyaml(k).map_or_else(String::new, |p| p.describe(raw));
                    out.push(format!(
                        "{child}: the key `{}` is {reads} for SkyPilot (PyYAML), the string `{0}` for the environments file reader; quote it: '{0}'",
                        sanitize(raw, &[])
                    ));
                }
                if let Some(value) = serde.get(raw) {
                    walk(tree, v, value, &child, out);
                }
            }
        }
        NodeKind::Seq { items, .. } => {
            for (i, (&item, value)) in items.iter().zip(serde.as_array().into_iter().flatten()).enumerate() {
                walk(tree, item, value, &format!("{path}[{i}]"), out);
            }
        }
        NodeKind::Scalar { value, .. } => {
            let raw = tree.text(value);
            let py = tree.to_json_as(node, Reader::PyYaml);
            if !same(&py, serde) {
                let reads = tree.pyyaml(node).map_or_else(String::new, |p| p.describe(raw));
                let as_py = match &py {
                    Value::Number(_) | Value::Bool(_) | Value::Null => format!(", or `{py}` for {reads}"),
                    _ => String::new(),
                };
                out.push(format!(
                    "{path}: `{}` is {reads} for SkyPilot (PyYAML), {} for the environments file reader; write '{0}' for the string{as_py}",
                    sanitize(raw, &[]),
                    serde_reading(serde)
                ));
            }
        }
        NodeKind::Alias { .. } => {}
    }
}

/// Equal meanings; numbers compare by value (serde reads `1.0` and `1` alike).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

fn serde_reading(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{}\"", sanitize(s, &[])),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
