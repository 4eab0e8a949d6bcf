//! Secret values never appear in a report: each value under `data` and `stringData` is
//! replaced by its size in bytes. No hash, not even a prefix: a hash of a short secret is a
//! fingerprint of it (it confirms a guess).

use base64::Engine;
use serde_json::Value;

use crate::yaml::{Editor, Limits, Tree, edit};

/// The Secret document with every `data`/`stringData` value replaced by `(redacted, N bytes)`.
/// A document that does not parse is replaced whole.
pub fn redact_secret(text: &str) -> String {
    let Ok(tree) = Tree::parse(text, &Limits::default()) else {
        return redact_whole(text);
    };
    let Some(root) = tree.root() else { return text.to_string() };
    let editor = Editor::new(text, &tree);
    let mut edits = Vec::new();
    // Every `data` and `stringData` key, duplicates included (Kubernetes reads the last one).
    let fields = tree.entries(root).iter().filter_map(|&(k, v)| match tree.str(k) {
        Some(f @ ("data" | "stringData")) => Some((f, v)),
        _ => None,
    });
    for (field, map) in fields {
        for &(_, v) in tree.entries(map) {
            let raw = tree.str(v).unwrap_or_default();
            let bytes = if field == "data" {
                base64::engine::general_purpose::STANDARD.decode(raw.trim()).unwrap_or_else(|_| raw.as_bytes().to_vec())
            } else {
                raw.as_bytes().to_vec()
            };
            let label = crate::messages::redacted(bytes.len());
            match editor.replace_scalar(v, &Value::String(label)) {
                Ok(e) => edits.push(e),
                Err(_) => return redact_whole(text),
            }
        }
    }
    edit::apply(text, &edits).unwrap_or_else(|_| redact_whole(text))
}

/// A Secret document that cannot be redacted value by value: replaced whole by its size.
fn redact_whole(text: &str) -> String {
    format!("(redacted Secret, {} bytes)\n", text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_by_their_size_only() {
        let doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  config: aHVudGVyMg==\nstringData:\n  token: |\n    hunter2\n";
        let out = redact_secret(doc);
        assert!(!out.contains("aHVudGVyMg") && !out.contains("hunter2") && !out.contains("sha256"), "{out}");
        assert!(out.contains("config: \"(redacted, 7 bytes)\"\n"), "{out}");
        assert!(out.contains("token: \"(redacted, 8 bytes)\"\n"), "{out}");
    }

    /// base64 `data` counts the decoded bytes; text that is not base64 counts as it stands.
    #[test]
    fn data_counts_decoded_bytes() {
        let out = redact_secret("kind: Secret\ndata:\n  a: \"\"\n  b: not base64!\n");
        assert!(out.contains("a: \"(redacted, 0 bytes)\"") && out.contains("b: \"(redacted, 11 bytes)\""), "{out}");
    }

    #[test]
    fn a_document_that_does_not_parse_is_replaced_whole() {
        let doc = "kind: Secret\ndata: [unclosed\n";
        assert_eq!(redact_secret(doc), format!("(redacted Secret, {} bytes)\n", doc.len()));
    }

    #[test]
    fn duplicated_data_keys_are_all_redacted() {
        let doc = "kind: Secret\ndata:\n  a: Zmlyc3Q=\ndata:\n  b: aHVudGVyMg==\nstringData: {x: one}\nstringData: {y: hunter3}\n";
        let out = redact_secret(doc);
        for v in ["Zmlyc3Q", "aHVudGVyMg", "one", "hunter3"] {
            assert!(!out.contains(v), "{v}: {out}");
        }
    }
}
