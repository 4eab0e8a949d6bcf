//! Credentials in the text a report shows: SkyPilot's config.yaml may hold a database URL with
//! its password (`db: postgresql://user:PASSWORD@host/db`), API keys or tokens, and a
//! Deployment's env may carry the same (`SKYPILOT_DB_CONNECTION_URI`, `*_PASSWORD`). Each such
//! value is replaced by `(redacted, N bytes)` as Secret values are (`redact`); its key stays.
//!
//! What is masked is decided on what the document means, as its reader reads it (Kubernetes'
//! YAML 1.1 for manifests, PyYAML for config.yaml), never on the text alone:
//! - the value of a key whose name ends in a credential word (`password`, `db_pass`, `apiKey`,
//!   `client_secret`, `HF_TOKEN`, a connection URI, SkyPilot's `db`): a scalar (not a null or a
//!   boolean: `automountServiceAccountToken: false` stays) or a list's scalars; a mapping there
//!   is a reference (a volume's `secret: {secretName: ...}`) and is read as any other, except
//!   under a plural (`secrets`, `credentials`: `{HF_TOKEN: ..., MY_VAR: ...}`), whose every
//!   value is masked;
//! - the `value` of a list item whose `name` is such a name (container env, `pod_config`);
//! - any string holding a URL with user information (`scheme://user:pass@host`, also inside a
//!   longer string), whatever its key;
//! - the same inside a string that is itself YAML (config.yaml in a ConfigMap's `data`, as Helm
//!   3 writes it in a literal block or Helm 4 in a quoted string);
//! - in comments, which no reader sees, by their text: `# password: old`, `# db: URL`.
//!
//! Masking keeps the text's line count (a value over several lines becomes the label and blank
//! lines), so that hunks line up, and it is linear in the text's size. A text that does not parse
//! is masked line by line: a line holding a URL with user information, or a credential key's
//! value after its `:` or `=`.

use std::collections::HashSet;

use crate::messages::{CredentialKey, credential_key, has_userinfo};
use crate::yaml::edit::{self, Edit, Editor};
use crate::yaml::scalar::Style;
use crate::yaml::tree::NodeKind;
use crate::yaml::{Limits, NodeId, PyScalar, Reader, Scalar11, Tree};

/// How deep strings that are YAML are looked into (a ConfigMap's config.yaml is one level).
const MAX_EMBEDDED: u8 = 2;

/// A manifest (read as Kubernetes reads it) with its credentials masked.
pub fn mask_document(text: &str) -> String {
    masked(text, Reader::Kubernetes)
}

/// SkyPilot's config.yaml (read as PyYAML reads it) with its credentials masked.
pub fn mask_config(text: &str) -> String {
    masked(text, Reader::PyYaml)
}

fn masked(text: &str, reader: Reader) -> String {
    let edits = text_edits(text, reader, 0);
    if edits.is_empty() {
        return text.to_string();
    }
    edit::apply(text, &edits).unwrap_or_else(|_| apply_line_edits(text))
}

/// The label of a masked value of `len` bytes (as Secret values are shown).
fn label(len: usize) -> String {
    crate::messages::redacted(len)
}

/// The edits that mask `text`: by meaning when it parses, line by line when not.
fn text_edits(text: &str, reader: Reader, depth: u8) -> Vec<Edit> {
    match Tree::parse(text, &Limits::default()) {
        Ok(tree) => {
            let mut edits = tree_edits(text, &tree, reader, depth);
            edits.extend(comment_edits(text, &tree));
            edits.sort_by_key(|e| e.at);
            with_comments(text, edits)
        }
        Err(_) => line_edits(text),
    }
}

/// Comments (`#` at a line's start or after a blank, outside every scalar) mean nothing to a
/// reader, so they are masked as text that does not parse (`line_edits`): `# password: old`.
fn comment_edits(text: &str, tree: &Tree) -> Vec<Edit> {
    let mut scalars: Vec<(usize, usize)> =
        tree.nodes().iter().filter(|n| n.is_scalar()).map(|n| (n.start(), n.end())).collect();
    scalars.sort_unstable();
    let bytes = text.as_bytes();
    let (mut edits, mut next, mut past) = (Vec::new(), 0, 0);
    for i in memchr::memchr_iter(b'#', bytes) {
        if i < past || (i > 0 && !matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r')) {
            continue;
        }
        while next < scalars.len() && scalars[next].1 <= i {
            next += 1;
        }
        if scalars.get(next).is_some_and(|&(start, _)| start <= i) {
            continue;
        }
        past = text[i..].find('\n').map_or(text.len(), |n| i + n);
        let body = &text[i + 1..past];
        edits.extend(line_edits(body).into_iter().map(|e| Edit { at: e.at + i + 1, ..e }));
    }
    edits
}

/// `edits` (sorted, not overlapping) plus, for a URL with user information that no edit covers
/// (in a comment: `# db: postgresql://user:pass@host`, which no reader sees), the rest of its
/// line from the start of the URL's word. Linear: the next line break and the next `@` are
/// looked for once and kept until passed.
fn with_comments(text: &str, edits: Vec<Edit>) -> Vec<Edit> {
    let bytes = text.as_bytes();
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    let mut pending = edits.into_iter().peekable();
    let (mut from, mut next_nl, mut next_at) = (0, 0, 0);
    while let Some(i) = memchr::memmem::find(&bytes[from..], b"://").map(|i| from + i) {
        if next_nl <= i {
            next_nl = memchr::memchr(b'\n', &bytes[i..]).map_or(text.len(), |n| i + n);
        }
        if next_at <= i {
            next_at = memchr::memchr(b'@', &bytes[i..]).map_or(text.len(), |n| i + n);
        }
        let line_end = if text[..next_nl].ends_with('\r') { next_nl - 1 } else { next_nl };
        // Edits before this point stand; one covering it masks it already.
        while let Some(e) = pending.next_if(|e| e.at + e.delete <= i) {
            out.push(e);
        }
        let covered = pending.peek().is_some_and(|e| e.at <= i);
        if covered || next_at >= line_end {
            from = i + 3;
            continue;
        }
        let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
        let word = text[..i].rfind(|c: char| c.is_whitespace()).map_or(0, |n| n + 1).max(line_start);
        let start = word.max(out.last().map_or(0, |e| e.at + e.delete));
        // Edits inside the masked rest of the line are replaced by it (and what they masked
        // on later lines is masked with it, its line breaks kept).
        let mut end = line_end;
        while let Some(e) = pending.next_if(|e| e.at < line_end) {
            end = end.max(e.at + e.delete);
        }
        let mut insert = format!("\"{}\"", label(line_end - start));
        insert.push_str(&"\n".repeat(text[line_end..end].matches('\n').count()));
        out.push(Edit { at: start, delete: end - start, insert: insert.into() });
        from = end;
    }
    out.extend(pending);
    out
}

fn apply_line_edits(text: &str) -> String {
    edit::apply(text, &line_edits(text)).unwrap_or_else(|_| label(text.len()))
}

/// One parsed text's masking edits.
fn tree_edits(text: &str, tree: &Tree, reader: Reader, depth: u8) -> Vec<Edit> {
    let Some(root) = tree.root() else { return Vec::new() };
    let read = Read { tree, reader };
    // Scalars masked whole, and strings that are YAML with credentials inside.
    let mut whole: Vec<NodeId> = Vec::new();
    let mut embedded: Vec<(NodeId, Vec<Edit>)> = Vec::new();
    // Nodes already visited under a credential key: each is walked once however many aliases
    // lead to it (an alias bomb stays linear).
    let mut seen: HashSet<NodeId> = HashSet::new();
    let mut stack = vec![(root, Under::Nothing)];
    while let Some((id, under)) = stack.pop() {
        let secret = under != Under::Nothing;
        if secret && !seen.insert(id) {
            continue;
        }
        match tree.kind(id) {
            // Aliases are followed only under a credential key: elsewhere the anchored node is
            // masked (or not) where it is written.
            NodeKind::Alias { .. } => {
                let target = tree.resolve(id);
                if secret && target != id {
                    stack.push((target, under));
                }
            }
            NodeKind::Scalar { .. } if secret => {
                if read.maskable(id) {
                    whole.push(id);
                }
            }
            NodeKind::Scalar { .. } => {
                let Some(s) = read.string(id) else { continue };
                // A string that may be YAML is masked inside (its keys stay shown); any other
                // string with user information whole.
                let inner = match depth < MAX_EMBEDDED && (s.contains('\n') || s.trim_start().starts_with(['{', '['])) {
                    true => text_edits(s, Reader::PyYaml, depth + 1),
                    false => Vec::new(),
                };
                if !inner.is_empty() {
                    embedded.push((id, inner));
                } else if has_userinfo(s) {
                    whole.push(id);
                }
            }
            // A list's scalars are masked like its key's value; a mapping in it (`imagePullSecrets:
            // [{name: ...}]`) is read as any other.
            NodeKind::Seq { items, .. } => {
                let item = if under == Under::Credentials { Under::Credential } else { under };
                stack.extend(items.iter().map(|&i| (i, item)));
            }
            NodeKind::Map { entries, .. } => {
                // `{name: DB_PASSWORD, value: ...}`: an env entry (Kubernetes, SkyPilot's pod_config).
                let env_secret = entries.iter().any(|&(k, v)| {
                    read.string(k) == Some("name") && read.string(v).is_some_and(|n| credential(n).is_some())
                });
                for &(k, v) in entries {
                    let key = read.string(k);
                    // Keys stay shown: only a key that is itself a URL with user info is masked.
                    stack.push((k, Under::Nothing));
                    let value = match (under, key.and_then(credential)) {
                        (Under::Credentials, _) | (_, Some(Under::Credential)) => Under::Credential,
                        (_, Some(Under::Credentials)) => Under::Credentials,
                        _ if env_secret && key == Some("value") => Under::Credential,
                        _ => Under::Nothing,
                    };
                    stack.push((v, value));
                }
            }
        }
    }
    let editor = Editor::new(text, tree);
    let whole_set: HashSet<NodeId> = whole.iter().copied().collect();
    let mut edits: Vec<Edit> =
        whole.iter().map(|&id| editor.replace_for_report(id, &label(tree.raw(id).map_or(0, str::len)))).collect();
    for (id, inner) in embedded {
        if whole_set.contains(&id) {
            continue;
        }
        let Some(value) = tree.raw(id) else { continue };
        let mapped = match tree.kind(id) {
            NodeKind::Scalar { style: Style::Literal, .. } => literal_edits(text, tree.node(id).start(), value, &inner),
            _ => None,
        };
        match mapped {
            Some(m) => edits.extend(m),
            None => {
                let masked_value = edit::apply(value, &inner).unwrap_or_else(|_| label(value.len()));
                edits.push(editor.replace_for_report(id, &masked_value));
            }
        }
    }
    edits.sort_by_key(|e| e.at);
    edits
}

/// Edits of a literal block's decoded `value` mapped onto its lines in `text` (content from the
/// line holding `start`), so that the block keeps its style and every line stays in place.
/// None when the lines are not the value's lines plus indentation (then it is re-quoted).
fn literal_edits(text: &str, start: usize, value: &str, inner: &[Edit]) -> Option<Vec<Edit>> {
    let content = text[..start].rfind('\n').map_or(0, |i| i + 1);
    // Where each decoded line starts in `text`.
    let mut starts = Vec::new();
    let mut raw_lines = text[content..].split('\n');
    let mut at = content;
    let count = value.split('\n').count();
    for (i, line) in value.split('\n').enumerate() {
        // After a final line break: where the next line would start, whatever stands there.
        if i + 1 == count && line.is_empty() {
            starts.push(at);
            break;
        }
        let raw = raw_lines.next()?;
        let bare = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = bare.len().checked_sub(line.len())?;
        if line.is_empty() {
            if !bare.trim_start_matches(' ').is_empty() {
                return None;
            }
            starts.push(at + bare.len());
        } else {
            if !bare.ends_with(line) || !bare[..indent].bytes().all(|b| b == b' ') {
                return None;
            }
            starts.push(at + indent);
        }
        at += raw.len() + 1;
    }
    // Decoded line starts, to find the line of an offset.
    let mut decoded_starts = Vec::with_capacity(starts.len());
    let mut offset = 0;
    for line in value.split('\n') {
        decoded_starts.push(offset);
        offset += line.len() + 1;
    }
    let map = |pos: usize| -> usize {
        let i = decoded_starts.partition_point(|&s| s <= pos).saturating_sub(1);
        starts[i] + (pos - decoded_starts[i])
    };
    Some(
        inner
            .iter()
            .map(|e| {
                let (from, to) = (map(e.at), map(e.at + e.delete));
                Edit { at: from, delete: to - from, insert: e.insert.clone() }
            })
            .collect(),
    )
}

/// Reads scalars as one reader does.
struct Read<'t> {
    tree: &'t Tree<'t>,
    reader: Reader,
}

impl Read<'_> {
    /// The scalar's text when this reader reads it as a string.
    fn string(&self, id: NodeId) -> Option<&str> {
        match self.reader {
            Reader::Kubernetes => self.tree.str(id),
            Reader::PyYaml => self.tree.py_str(id),
        }
    }

    /// Whether a scalar under a credential key carries something to hide: anything but a null or
    /// a boolean (`automountServiceAccountToken: false` stays shown).
    fn maskable(&self, id: NodeId) -> bool {
        match self.reader {
            Reader::Kubernetes => !matches!(self.tree.scalar(id), Some(Scalar11::Null | Scalar11::Bool(_)) | None),
            Reader::PyYaml => !matches!(self.tree.pyyaml(id), Some(PyScalar::Null | PyScalar::Bool(_)) | None),
        }
    }
}

/// What a node is under, on the way down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Under {
    Nothing,
    /// The value of a credential key: its scalars are masked.
    Credential,
    /// The value of a plural credential key (`secrets`): a mapping's values are credentials.
    Credentials,
}

fn credential(name: &str) -> Option<Under> {
    match credential_key(name)? {
        CredentialKey::One => Some(Under::Credential),
        CredentialKey::Many => Some(Under::Credentials),
    }
}

/// Whether a key or variable of this name holds credentials (`messages::credential_key`).
fn secret_name(name: &str) -> bool {
    credential_key(name).is_some()
}

/// Masking for text that does not parse, per line: after the first `:` or `=` (the whole line
/// when there is none) when the line holds a URL with user information or the text before is a
/// credential key (`password=...`, `DB_PASS: ...`).
fn line_edits(text: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut at = 0;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\n', '\r']);
        let sep = line.find([':', '=']).filter(|&i| !line[i..].starts_with("://"));
        let value_at = sep.map_or(0, |i| i + 1);
        let key = sep.map(|i| line[..i].trim().trim_start_matches(['-', ' ']).trim_matches(['"', '\'']));
        let value = line[value_at..].trim();
        if !value.is_empty() && (has_userinfo(line) || key.is_some_and(secret_name)) {
            let start = value_at + (line[value_at..].len() - line[value_at..].trim_start().len());
            edits.push(Edit {
                at: at + start,
                delete: value.len(),
                insert: format!("\"{}\"", label(value.len())).into(),
            });
        }
        at += raw.len();
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_are_masked_keys_and_lines_kept() {
        let config = "db: postgresql://user:hunter2@db/sky\npassword: hunter2\nkubernetes:\n  allowed_contexts: [a]\nsecrets:\n  HF_TOKEN: hf_abcdef\n  empty: null\nkey: |\n  line one\n  line two\nother: 3\n";
        let out = mask_config(config);
        assert_eq!(
            out,
            "db: \"(redacted, 32 bytes)\"\npassword: \"(redacted, 7 bytes)\"\nkubernetes:\n  allowed_contexts: [a]\nsecrets:\n  HF_TOKEN: \"(redacted, 9 bytes)\"\n  empty: null\nkey: |\n  line one\n  line two\nother: 3\n"
        );
        let multi = "api_key: |\n  line one\n  line two\nother: 3\n";
        assert_eq!(mask_config(multi), "api_key: \"(redacted, 18 bytes)\"\n\n\nother: 3\n");
    }

    /// A mapping under a credential key is a reference and stays readable; a plural's values
    /// are credentials.
    #[test]
    fn references_stay_shown() {
        let doc = "volumes:\n- name: kube-config\n  secret:\n    secretName: kube-credentials\n    defaultMode: 384\nimagePullSecrets: [{name: regcred}]\nsecrets: {MY_VAR: hunter2, list: [a1b2c3]}\ntoken: [tok123456]\n";
        assert_eq!(
            mask_document(doc),
            "volumes:\n- name: kube-config\n  secret:\n    secretName: kube-credentials\n    defaultMode: 384\nimagePullSecrets: [{name: regcred}]\nsecrets: {MY_VAR: \"(redacted, 7 bytes)\", list: [\"(redacted, 6 bytes)\"]}\ntoken: [\"(redacted, 9 bytes)\"]\n"
        );
    }

    #[test]
    fn env_entries_and_urls_anywhere() {
        let doc = "kind: Deployment\nspec:\n  containers:\n  - name: api\n    env:\n    - name: SKYPILOT_DB_CONNECTION_URI\n      value: postgresql://sky@db/sky\n    - name: DB_PASS\n      value: \"hunter2\"\n    - name: PLAIN\n      value: visible\n    args: [\"--url=https://u:pw123456@h/x\"]\n    automountServiceAccountToken: false\n";
        let out = mask_document(doc);
        for gone in ["sky@db", "hunter2", "pw123456"] {
            assert!(!out.contains(gone), "{gone}: {out}");
        }
        for kept in ["SKYPILOT_DB_CONNECTION_URI", "DB_PASS", "visible", "automountServiceAccountToken: false"] {
            assert!(out.contains(kept), "{kept}: {out}");
        }
        assert_eq!(out.lines().count(), doc.lines().count());
    }

    #[test]
    fn embedded_config_in_literal_and_quoted_forms() {
        let literal = "kind: ConfigMap\ndata:\n  config.yaml: |-\n    db: postgresql://user:hunter2@db/sky\n    password: hunter2\n    kubernetes:\n      allowed_contexts:\n        - prod\n";
        let out = mask_document(literal);
        assert_eq!(
            out,
            "kind: ConfigMap\ndata:\n  config.yaml: |-\n    db: \"(redacted, 32 bytes)\"\n    password: \"(redacted, 7 bytes)\"\n    kubernetes:\n      allowed_contexts:\n        - prod\n"
        );
        let quoted =
            "kind: ConfigMap\ndata:\n  config.yaml: \"db: postgresql://user:hunter2@db/sky\\npassword: hunter2\\n\"\n";
        let out = mask_document(quoted);
        assert!(!out.contains("hunter2") && out.contains("password: "), "{out}");
        assert_eq!(out.lines().count(), quoted.lines().count());
    }

    #[test]
    fn aliases_to_a_credential_are_masked_where_the_anchor_is() {
        let out = mask_config("shared: &pw hunter2\npassword: *pw\n");
        assert!(!out.contains("hunter2"), "{out}");
        // Nested aliases under a credential key: each node is walked once.
        let mut bomb = String::from("a0: &a0 [x, y]\n");
        for i in 1..8 {
            bomb.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
        }
        bomb.push_str("token: *a7\n");
        let out = mask_config(&bomb);
        assert!(out.starts_with("a0: &a0 [\"(redacted, 1 bytes)\", \"(redacted, 1 bytes)\"]"), "{out}");
    }

    /// Comments have no meaning to mask by: a URL with user information in one is masked with
    /// the rest of its line.
    #[test]
    fn urls_with_user_info_in_comments() {
        let config = "# db: postgresql://user:hunter2@db/sky\nkubernetes:  # was https://tok123456@h\n  allowed_contexts: [a]\nurl: https://h/x  # ok\n";
        let out = mask_config(config);
        assert_eq!(
            out,
            "# db: \"(redacted, 32 bytes)\"\nkubernetes:  # \"(redacted, 23 bytes)\"\n  allowed_contexts: [a]\nurl: https://h/x  # ok\n"
        );
        let literal =
            "kind: ConfigMap\ndata:\n  config.yaml: |\n    # db: postgresql://user:hunter2@db/sky\n    a: 1\n";
        let out = mask_document(literal);
        assert!(!out.contains("hunter2") && out.contains("    a: 1\n"), "{out}");
    }

    /// Comments are masked by their text; a quoted string is no comment; a literal block that
    /// is itself YAML has its own comments masked.
    #[test]
    fn credentials_in_comments() {
        let config = "a: 1  # password: hunter2\n# api_key=hunter2\nb: '# token: not a comment'\nc: |\n  # password: kept, content\n# plain comment: shown\n";
        assert_eq!(
            mask_config(config),
            "a: 1  # password: \"(redacted, 7 bytes)\"\n# api_key=\"(redacted, 7 bytes)\"\nb: '# token: not a comment'\nc: |\n  # password: \"(redacted, 13 bytes)\"\n# plain comment: shown\n"
        );
    }

    /// Many `://` on one long line (a config.yaml Helm 4 sends as one quoted line): linear.
    #[test]
    fn long_lines_stay_linear() {
        let line = "x://y ".repeat(150_000);
        let start = std::time::Instant::now();
        for text in [format!("k: \"{line}\"  # {line}\n"), format!("config.yaml: \"a: {line}\\n# {line}\"\n")] {
            assert_eq!(mask_document(&text), text);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
    }

    #[test]
    fn text_that_does_not_parse_is_masked_by_line() {
        let out = mask_config("db: postgresql://u:hunter2@h/x\npassword=hunter2\n[unclosed\n");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("db: ") && out.contains("password="), "{out}");
        assert_eq!(out.lines().count(), 3);
    }
}
