//! Proves each edit: a document skyhelm edited or added is read again, and it must mean exactly
//! the original plus the changes the rules declared ([`Intent`]s), nothing else — as Kubernetes
//! reads YAML for manifests, and as PyYAML reads SkyPilot's config.yaml.

use serde_json::{Map, Value};

use crate::messages;
use crate::rules::change::{Intent, Seg};
use crate::yaml::{Limits, ParseError, Reader, Tree};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mismatch {
    #[error("it no longer parses: {0}")]
    Parse(ParseError),
    #[error("it does not mean what the rules declared: `{path}` is {found}, expected {expected}")]
    Differs { path: String, found: String, expected: String },
    #[error("a declared change cannot be applied to the original: {0}")]
    Undeclarable(Undeclarable),
}

/// Why a declared change cannot be applied to the meaning of the original.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Undeclarable {
    #[error("`{0}` is missing")]
    Missing(String),
    #[error("no item named `{0}`")]
    NoNamedItem(String),
    #[error("no item {0}")]
    NoItem(usize),
    #[error("cannot follow `{seg}` into {found}")]
    CannotFollow { seg: String, found: String },
    #[error("{0} is not a list")]
    NotAList(String),
    #[error("renaming a key of something that is not a mapping")]
    RenameInNonMapping,
}

/// Documents that expand to more nodes than this (alias bombs let through by
/// `--allow-excessive-aliasing`) are not expanded to be compared.
pub const MAX_DECODED_NODES: u64 = 1_000_000;

/// Characters that YAML 1.1 readers (go-yaml v2, PyYAML) take as line breaks but YAML 1.2
/// parsers (ours) do not: a document holding one means different things to the two.
pub const YAML11_BREAKS: &[char] = &['\u{85}', '\u{2028}', '\u{2029}'];

/// The 1-based line of the first YAML 1.1-only line break in `text`, and the character.
pub fn yaml11_break(text: &str) -> Option<(usize, char)> {
    let (at, c) = text.char_indices().find(|(_, c)| YAML11_BREAKS.contains(c))?;
    Some((memchr::memchr_iter(b'\n', &text.as_bytes()[..at]).count() + 1, c))
}

/// The meaning of a whole document (Null when it is empty).
pub fn meaning(text: &str, reader: Reader, limits: &Limits) -> Result<Value, ParseError> {
    let tree = Tree::parse(text, limits)?;
    Ok(tree.root().map_or(Value::Null, |r| tree.to_json_as(r, reader)))
}

/// Checks that `after` means `before` plus `intents`.
pub fn check(before: &Value, after: &str, intents: &[Intent], reader: Reader, limits: &Limits) -> Result<(), Mismatch> {
    let mut expected = before.clone();
    for intent in intents {
        apply(&mut expected, intent).map_err(Mismatch::Undeclarable)?;
    }
    let found = meaning(after, reader, limits).map_err(Mismatch::Parse)?;
    match first_difference(&found, &expected, &mut String::new()) {
        None => Ok(()),
        Some((path, found, expected)) => Err(Mismatch::Differs { path, found, expected }),
    }
}

/// Checks that an added document's text means `value`.
pub fn check_added(value: &Value, text: &str, limits: &Limits) -> Result<(), Mismatch> {
    check(value, text, &[], Reader::Kubernetes, limits)
}

/// A value for this message, which goes to stderr, `--report-file` and the last-run report:
/// the size only of a credential (a key named like one, a URL with user information) and of an
/// embedded text (config.yaml, which may hold them), else its first 80 characters.
fn describe(path: &str, v: Option<&Value>) -> String {
    let key = path.rsplit(['.', '[']).next().unwrap_or(path);
    match v {
        None => "missing".into(),
        Some(Value::String(s))
            if s.contains('\n') || messages::has_userinfo(s) || messages::credential_key(key).is_some() =>
        {
            messages::redacted(s.len())
        }
        Some(v) if messages::credential_key(key).is_some() || holds_credential(v) => {
            messages::redacted(v.to_string().len())
        }
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s }
        }
    }
}

/// Whether a mapping or list holds a key named like a credential, a URL with user
/// information, or an embedded text, at any depth.
fn holds_credential(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| messages::credential_key(k).is_some() || holds_credential(v)),
        Value::Array(a) => a.iter().any(holds_credential),
        Value::String(s) => s.contains('\n') || messages::has_userinfo(s),
        _ => false,
    }
}

/// The first place where `a` and `b` differ: (path, a's value, b's value).
fn first_difference(a: &Value, b: &Value, path: &mut String) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let d = match y.get(k) {
                    Some(vb) => first_difference(va, vb, path),
                    None => Some((path.clone(), describe(path, Some(va)), describe(path, None))),
                };
                if d.is_some() {
                    return d;
                }
                path.truncate(len);
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, vb)| (join(path, k), describe(k, None), describe(k, Some(vb))))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                if let Some(d) = first_difference(va, vb, path) {
                    return Some(d);
                }
                path.truncate(len);
            }
            (x.len() != y.len()).then(|| (format!("{path} (length)"), x.len().to_string(), y.len().to_string()))
        }
        _ if a == b => None,
        _ => Some((
            if path.is_empty() { "(document)".into() } else { path.clone() },
            describe(path, Some(a)),
            describe(path, Some(b)),
        )),
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() { k.to_string() } else { format!("{path}.{k}") }
}

fn seg_text(s: &Seg) -> String {
    match s {
        Seg::Key(k) => k.clone(),
        Seg::Named(n) => format!("[name={n}]"),
        Seg::Index(i) => format!("[{i}]"),
    }
}

/// Walks `path` from `v`, creating mappings for missing keys (and in place of nulls) when `create`.
fn walk<'v>(mut v: &'v mut Value, path: &[Seg], create: bool) -> Result<&'v mut Value, Undeclarable> {
    for seg in path {
        if create && v.is_null() && matches!(seg, Seg::Key(_)) {
            *v = Value::Object(Map::new());
        }
        v = match (seg, v) {
            (Seg::Key(k), Value::Object(m)) => {
                if create {
                    m.entry(k.clone()).or_insert(Value::Null)
                } else {
                    m.get_mut(k).ok_or_else(|| Undeclarable::Missing(seg_text(seg)))?
                }
            }
            (Seg::Named(n), Value::Array(items)) => items
                .iter_mut()
                .find(|i| i.get("name").and_then(Value::as_str) == Some(n.as_str()))
                .ok_or_else(|| Undeclarable::NoNamedItem(n.clone()))?,
            (Seg::Index(i), Value::Array(items)) => items.get_mut(*i).ok_or(Undeclarable::NoItem(*i))?,
            (seg, other) => {
                return Err(Undeclarable::CannotFollow { seg: seg_text(seg), found: describe("", Some(other)) });
            }
        };
    }
    Ok(v)
}

/// Applies one declared change to a meaning.
pub fn apply(v: &mut Value, intent: &Intent) -> Result<(), Undeclarable> {
    match intent {
        Intent::Append { path, items } => {
            let target = walk(v, path, true)?;
            if target.is_null() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(list) = target else {
                return Err(Undeclarable::NotAList(path.iter().map(seg_text).collect::<Vec<_>>().join(".")));
            };
            list.extend(items.iter().cloned());
            Ok(())
        }
        Intent::Set { path, value } => {
            *walk(v, path, true)? = value.clone();
            Ok(())
        }
        Intent::RenameKey { path, from, to } => {
            let Value::Object(m) = walk(v, path, false)? else {
                return Err(Undeclarable::RenameInNonMapping);
            };
            let renamed: Map<String, Value> =
                std::mem::take(m).into_iter().map(|(k, x)| (if k == *from { to.clone() } else { k }, x)).collect();
            *m = renamed;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::change::keys;
    use serde_json::json;

    #[test]
    fn declared_changes_pass_and_anything_else_fails() {
        let l = Limits::default();
        let before = meaning("a: 0600\nb: [x]\n", Reader::Kubernetes, &l).unwrap();
        let intents = [Intent::Append { path: keys("b"), items: vec![json!("w")] }];
        assert_eq!(check(&before, "a: 0600\nb: [x, w]\n", &intents, Reader::Kubernetes, &l), Ok(()));
        // The octal 0600 (384) became the string "0600": caught.
        let err = check(&before, "a: \"0600\"\nb: [x, w]\n", &intents, Reader::Kubernetes, &l).unwrap_err();
        assert!(matches!(err, Mismatch::Differs { ref path, .. } if path == "a"), "{err}");
        // An undeclared change: caught.
        assert!(check(&before, "a: 0600\nb: [x, w, z]\n", &intents, Reader::Kubernetes, &l).is_err());
    }

    #[test]
    fn set_creates_parents_and_rename_keeps_values() {
        let mut v = Value::Null;
        apply(&mut v, &Intent::Set { path: keys("kubernetes.allowed_contexts"), value: json!(["a"]) }).unwrap();
        assert_eq!(v, json!({"kubernetes": {"allowed_contexts": ["a"]}}));
        apply(&mut v, &Intent::RenameKey { path: vec![], from: "kubernetes".into(), to: "k".into() }).unwrap();
        assert_eq!(v, json!({"k": {"allowed_contexts": ["a"]}}));
    }

    #[test]
    fn undeclarable_changes_say_why() {
        let l = Limits::default();
        let before = json!({"a": "x", "b": [1]});
        let append = [Intent::Append { path: keys("a"), items: vec![json!("w")] }];
        let err = check(&before, "a: x\nb: [1]\n", &append, Reader::Kubernetes, &l).unwrap_err();
        assert_eq!(err.to_string(), "a declared change cannot be applied to the original: a is not a list");
        let rename = [Intent::RenameKey { path: keys("c"), from: "d".into(), to: "e".into() }];
        let err = check(&before, "a: x\nb: [1]\n", &rename, Reader::Kubernetes, &l).unwrap_err();
        assert_eq!(err, Mismatch::Undeclarable(Undeclarable::Missing("c".into())));
        assert_eq!(err.to_string(), "a declared change cannot be applied to the original: `c` is missing");
        let err = check(&before, "a: [\n", &[], Reader::Kubernetes, &l).unwrap_err();
        assert!(matches!(err, Mismatch::Parse(_)) && err.to_string().starts_with("it no longer parses: "), "{err}");
    }

    /// An internal error names the path but shows no credential (it goes to the report files).
    #[test]
    fn mismatches_show_no_credential() {
        let l = Limits::default();
        for (before, after) in [
            ("password: hunter2\n", "password: hunter3\n"),
            ("db: postgresql://u:hunter2@h/x\n", "db: x\n"),
            ("url: postgresql://u:hunter2@h/x\n", "url: x\n"),
            ("c: {token: hunter2}\n", "c: 1\n"),
            ("config.yaml: \"a: 1\\npassword: hunter2\\n\"\n", "config.yaml: x\n"),
        ] {
            let err = check(&meaning(before, Reader::Kubernetes, &l).unwrap(), after, &[], Reader::Kubernetes, &l)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("hunter") && err.contains("(redacted, "), "{err}");
        }
    }

    #[test]
    fn yaml11_breaks_are_found_with_their_line() {
        assert_eq!(yaml11_break("a: b\nc: d\u{2028}e\n"), Some((2, '\u{2028}')));
        assert_eq!(yaml11_break("a: b\n"), None);
    }
}
