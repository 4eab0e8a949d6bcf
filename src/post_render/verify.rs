//! Proves each edit: a document skyhelm edited or added is read again, and it must mean exactly
//! the original plus the changes the rules declared ([`Intent`]s), nothing else — as Kubernetes
//! reads YAML for manifests, and as PyYAML reads SkyPilot's config.yaml.

use serde_json::{Map, Value};

use crate::messages;
use crate::rules::change::{Intent, Seg};
use crate::yaml::tree::NodeKind;
use crate::yaml::{Limits, NodeId, ParseError, Reader, Tree};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mismatch {
    #[error("it no longer parses: {0}")]
    Parse(ParseError),
    #[error("it does not mean what the rules declared: `{path}` is {found}, expected {expected}")]
    Differs { path: String, found: String, expected: String },
    #[error("a declared change cannot be applied to the original: {0}")]
    Undeclarable(Undeclarable),
    #[error("PyYAML cannot load it: {0}")]
    PyYamlRefuses(crate::yaml::pyyaml::RefusedTab),
    /// A key written more times in one mapping than the original wrote it: readers keep only
    /// the last entry, so the values alone would not show it.
    #[error("`{}` is written {count} times in one mapping (a reader keeps only the last), which the original does not do", crate::messages::sanitize(.key, &[]))]
    Duplicated { key: String, count: usize },
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
    /// Two keys would become one: the rename must never collapse them.
    #[error("renaming `{}` to `{}`, a key the mapping already has", crate::messages::sanitize(.from, &[]), crate::messages::sanitize(.to, &[]))]
    RenameCollides { from: String, to: String },
}

/// Documents that expand to more nodes than this (alias bombs let through by
/// `--allow-excessive-aliasing`) are not expanded to be compared.
pub const MAX_DECODED_NODES: u64 = 1_000_000;

/// What a document means to a reader, with its keys counted: the value (Null when the document
/// is empty), and each key written more than once in one mapping with all its values (the value
/// keeps only the last). Comparing both compares every mapping's multiset of keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meaning {
    pub value: Value,
    pub duplicates: Vec<(String, Vec<Value>)>,
}

impl Meaning {
    pub fn of(tree: &Tree, reader: Reader) -> Meaning {
        Meaning {
            value: tree.root().map_or(Value::Null, |r| tree.to_json_as(r, reader)),
            duplicates: tree.duplicated_keys(reader),
        }
    }

    /// A value built by a rule (its mappings cannot hold a key twice).
    pub fn value(value: Value) -> Meaning {
        Meaning { value, duplicates: Vec::new() }
    }
}

/// The meaning of a whole document.
pub fn meaning(text: &str, reader: Reader, limits: &Limits) -> Result<Meaning, ParseError> {
    Ok(Meaning::of(&Tree::parse(text, limits)?, reader))
}

/// Checks that `after` means `before` plus `intents`, and writes no key more often than
/// `before` did (a rename that collapses two keys, an entry written twice).
pub fn check(
    before: &Meaning,
    after: &str,
    intents: &[Intent],
    reader: Reader,
    limits: &Limits,
) -> Result<(), Mismatch> {
    check_owned(before.clone(), after, intents, reader, limits)
}

/// [`check`] that takes the original's meaning, to change it into the expected one in place
/// (a huge document's meaning is not copied).
pub fn check_owned(
    before: Meaning,
    after: &str,
    intents: &[Intent],
    reader: Reader,
    limits: &Limits,
) -> Result<(), Mismatch> {
    let Meaning { value: mut expected, duplicates } = before;
    for intent in intents {
        apply(&mut expected, intent).map_err(Mismatch::Undeclarable)?;
    }
    let tree = Tree::parse(after, limits).map_err(Mismatch::Parse)?;
    if reader == Reader::PyYaml
        && let Some(tab) = crate::yaml::pyyaml::refused_tab(after, &tree)
    {
        return Err(Mismatch::PyYamlRefuses(tab));
    }
    // Compared as the tree stands: the re-read document's meaning is not built whole.
    let differs = match tree.root() {
        Some(root) => tree_difference(&tree, root, reader, &expected, &mut String::new()),
        None => first_difference(&Value::Null, &expected, &mut String::new()),
    };
    if let Some((path, found, expected)) = differs {
        return Err(Mismatch::Differs { path, found, expected });
    }
    drop(expected);
    let found_duplicates = tree.duplicated_keys(reader);
    drop(tree);
    no_more_duplicates(&found_duplicates, &duplicates)
}

/// [`check_owned`] of the original's tree: the edited text is compared with it node by node
/// where no change was declared ([`super::expected`]), without building either meaning (and,
/// for plain block text, as it is read, without a tree of it); only when that comparison
/// cannot decide does the whole-meaning check run (and say what differs).
pub fn check_tree(
    before: &Tree,
    after: &str,
    intents: &[Intent],
    reader: Reader,
    limits: &Limits,
) -> Result<(), Mismatch> {
    // Decided only when the edited text writes no key twice: it then has no duplicated keys
    // to compare with the original's.
    if super::expected::matches_text(before, after, intents, reader, limits).is_ok() {
        return Ok(());
    }
    if let Ok(tree) = Tree::parse(after, limits) {
        let refused = reader == Reader::PyYaml && crate::yaml::pyyaml::refused_tab(after, &tree).is_some();
        if !refused && super::expected::matches(before, &tree, intents, reader).is_ok() {
            return no_more_duplicates(&tree.duplicated_keys(reader), &before.duplicated_keys(reader));
        }
    }
    check_owned(Meaning::of(before, reader), after, intents, reader, limits)
}

/// Checks that `found` means `expected` and writes no key more often than `duplicates` (the
/// original's) did.
fn compare(found: &Meaning, expected: &Value, duplicates: &[(String, Vec<Value>)]) -> Result<(), Mismatch> {
    if let Some((path, found, expected)) = first_difference(&found.value, expected, &mut String::new()) {
        return Err(Mismatch::Differs { path, found, expected });
    }
    no_more_duplicates(&found.duplicates, duplicates)
}

/// Checks that `found` writes no key more often than `duplicates` (the original's) did.
fn no_more_duplicates(found: &[(String, Vec<Value>)], duplicates: &[(String, Vec<Value>)]) -> Result<(), Mismatch> {
    let mut allowed: Vec<&(String, Vec<Value>)> = duplicates.iter().collect();
    for dup in found {
        match allowed.iter().position(|b| *b == dup) {
            Some(i) => {
                allowed.swap_remove(i);
            }
            None => return Err(Mismatch::Duplicated { key: dup.0.clone(), count: dup.1.len() }),
        }
    }
    Ok(())
}

/// The list under the root whose items every declared change edits, when they all do
/// (`SetEach` on a list at the root): such an edit can be proven item by item
/// ([`check_items`]).
pub fn item_list<'i>(intents: &[&'i Intent]) -> Option<&'i str> {
    let mut list: Option<&str> = None;
    for intent in intents {
        let Intent::SetEach { path, .. } = intent else { return None };
        let [Seg::Key(key)] = &path[..] else { return None };
        if list.is_some_and(|l| l != key) {
            return None;
        }
        list = Some(key);
    }
    list
}

/// What [`check_items`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemCheck {
    /// The edited document means the original plus the declared changes.
    Proven,
    /// It cannot be read item by item (anchors or aliases, the list's key written twice, PyYAML
    /// as the reader), or something differs: [`check`] decides, and says what differs.
    Undecided,
}

/// As [`check`], for `SetEach` changes of the items of the list under the root's `key` (see
/// [`item_list`]), in memory that does not grow with the list: each item of the original is
/// read as the parser completes it, the declared changes applied to it and a digest of its
/// meaning (its value and its keys written twice) folded into one digest of the list; the
/// edited text is then read the same way and the two lists' digests and counts compared (alike
/// only when every item is, in order), and the rest of the document (everything but the
/// items) compared as `check` compares it.
pub fn check_items(
    before: &str,
    after: &str,
    key: &str,
    intents: &[&Intent],
    reader: Reader,
    limits: &Limits,
) -> ItemCheck {
    if reader == Reader::PyYaml {
        return ItemCheck::Undecided;
    }
    // Each intent's items (ascending) and how far the reading has come in them.
    let mut each: Vec<(&[usize], &str, &Value, usize)> = Vec::new();
    for intent in intents {
        let Intent::SetEach { items, key, value, .. } = intent else { return ItemCheck::Undecided };
        if !items.is_sorted() {
            return ItemCheck::Undecided;
        }
        each.push((items, key, value, 0));
    }
    // The items' digests in order, folded into one (two lists of items are alike when their
    // folds and counts are): nothing is kept per item, however many there are.
    let mut digests = Items::default();
    let mut declarable = true;
    let mut on_before = |t: &Tree, id: crate::yaml::NodeId| {
        let i = digests.count;
        let mut value = t.to_json_as(id, reader);
        for (items, key, set, next) in &mut each {
            if items.get(*next) == Some(&i) {
                *next += 1;
                declarable &= set_key(&mut value, key, set).is_ok();
            }
        }
        digests.push(&digest(&value, &item_duplicates(t, id, reader)));
    };
    let Ok(Some(before_rest)) = Tree::parse_pruning(before, limits, key, &mut on_before) else {
        return ItemCheck::Undecided;
    };
    if !declarable || each.iter().any(|(items, .., next)| *next < items.len()) || count_key(&before_rest, key) > 1 {
        return ItemCheck::Undecided;
    }
    let mut seen = Items::default();
    let mut on_after = |t: &Tree, id: crate::yaml::NodeId| {
        seen.push(&digest(&t.to_json_as(id, reader), &item_duplicates(t, id, reader)));
    };
    let Ok(Some(after_rest)) = Tree::parse_pruning(after, limits, key, &mut on_after) else {
        return ItemCheck::Undecided;
    };
    if seen.finish() != digests.finish() || count_key(&after_rest, key) > 1 {
        return ItemCheck::Undecided;
    }
    let original = Meaning::of(&before_rest, reader);
    match compare(&Meaning::of(&after_rest, reader), &original.value, &original.duplicates) {
        Ok(()) => ItemCheck::Proven,
        Err(_) => ItemCheck::Undecided,
    }
}

/// A list of items' digests folded into one, with their count.
#[derive(Default)]
struct Items {
    count: usize,
    fold: sha2::Sha256,
}

impl Items {
    fn push(&mut self, digest: &[u8; 32]) {
        use sha2::Digest;
        self.fold.update(digest);
        self.count += 1;
    }

    fn finish(self) -> (usize, [u8; 32]) {
        use sha2::Digest;
        (self.count, self.fold.finalize().into())
    }
}

/// How many times the root mapping writes `key`.
fn count_key(tree: &Tree, key: &str) -> usize {
    tree.root().map_or(0, |root| tree.entries(root).iter().filter(|(k, _)| tree.raw(*k) == Some(key)).count())
}

/// The keys written more than once in the mappings of the subtree at `id` (as
/// [`Tree::duplicated_keys`] finds them in a whole tree; a key written `<<` is counted as any
/// other, the same way in the original and the edited text).
fn item_duplicates(t: &Tree, id: crate::yaml::NodeId, reader: Reader) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![id];
    while let Some(n) = stack.pop() {
        stack.extend(t.items(n).iter().rev());
        let entries = t.entries(n);
        for &(_, v) in entries.iter().rev() {
            stack.push(v);
        }
        if entries.len() < 2 {
            continue;
        }
        let keys: Vec<(String, crate::yaml::NodeId)> = entries
            .iter()
            .filter(|(k, _)| t.raw(*k) != Some("<<"))
            .map(|&(k, v)| {
                let text = match t.to_json_as(k, reader) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (text, v)
            })
            .collect();
        let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(keys.len());
        for (k, _) in &keys {
            *count.entry(k).or_default() += 1;
        }
        for (k, _) in &keys {
            // Each duplicated key once, at its first entry.
            if count.insert(k, 0).unwrap_or(0) > 1 {
                out.push((
                    k.clone(),
                    keys.iter().filter(|(o, _)| o == k).map(|&(_, v)| t.to_json_as(v, reader)).collect(),
                ));
            }
        }
    }
    out
}

/// A digest of an item's meaning: its value (mapping keys in sorted order: the comparison of
/// meanings ignores their order) and its keys written twice.
fn digest(value: &Value, duplicates: &[(String, Vec<Value>)]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    feed(&mut h, value);
    h.update((duplicates.len() as u64).to_le_bytes());
    for (k, values) in duplicates {
        feed(&mut h, &Value::String(k.clone()));
        h.update((values.len() as u64).to_le_bytes());
        for v in values {
            feed(&mut h, v);
        }
    }
    h.finalize().into()
}

/// Writes `v` into `h` unambiguously (a tag and a length before each part).
fn feed(h: &mut sha2::Sha256, v: &Value) {
    use sha2::Digest;
    let text = |h: &mut sha2::Sha256, tag: u8, s: &str| {
        h.update([tag]);
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    match v {
        Value::Null => h.update([0]),
        Value::Bool(b) => h.update([1, u8::from(*b)]),
        Value::Number(n) => text(h, 2, &n.to_string()),
        Value::String(s) => text(h, 3, s),
        Value::Array(a) => {
            h.update([4]);
            h.update((a.len() as u64).to_le_bytes());
            for x in a {
                feed(h, x);
            }
        }
        Value::Object(m) => {
            h.update([5]);
            h.update((m.len() as u64).to_le_bytes());
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            for k in keys {
                text(h, 3, k);
                if let Some(x) = m.get(k) {
                    feed(h, x);
                }
            }
        }
    }
}

/// Checks that an added document's text means `value`.
pub fn check_added(value: &Value, text: &str, limits: &Limits) -> Result<(), Mismatch> {
    check(&Meaning::value(value.clone()), text, &[], Reader::Kubernetes, limits)
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

/// [`first_difference`] of the meaning of `node` (as `reader` reads it, [`Tree::to_json_as`])
/// and `b`, reading the tree in place: a mapping without merge keys or keys written twice, a
/// list and a string are compared part by part; anything else (and any difference, to be
/// described) through its meaning built as JSON.
fn tree_difference(
    tree: &Tree,
    node: NodeId,
    reader: Reader,
    b: &Value,
    path: &mut String,
) -> Option<(String, String, String)> {
    let id = tree.resolve(node);
    let whole = |path: &mut String| first_difference(&tree.to_json_as(id, reader), b, path);
    match (tree.kind(id), b) {
        (NodeKind::Map { entries, .. }, Value::Object(y)) => {
            let keys: Vec<(std::borrow::Cow<'_, str>, NodeId)> =
                entries.iter().map(|&(k, v)| (tree.key_name(k, reader), v)).collect();
            let plain = !entries.iter().any(|&(k, _)| tree.is_merge_key(k)) && unique(&keys);
            if !plain {
                return whole(path);
            }
            for (k, v) in &keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let d = match y.get(k.as_ref()) {
                    Some(vb) => tree_difference(tree, *v, reader, vb, path),
                    None => {
                        Some((path.clone(), describe(path, Some(&tree.to_json_as(*v, reader))), describe(path, None)))
                    }
                };
                if d.is_some() {
                    return d;
                }
                path.truncate(len);
            }
            if y.len() == keys.len() {
                return None;
            }
            y.iter()
                .find(|(k, _)| !keys.iter().any(|(o, _)| o == *k))
                .map(|(k, vb)| (join(path, k), describe(k, None), describe(k, Some(vb))))
        }
        (NodeKind::Seq { items, .. }, Value::Array(y)) => {
            for (i, (&va, vb)) in items.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                if let Some(d) = tree_difference(tree, va, reader, vb, path) {
                    return Some(d);
                }
                path.truncate(len);
            }
            (items.len() != y.len()).then(|| (format!("{path} (length)"), items.len().to_string(), y.len().to_string()))
        }
        (NodeKind::Scalar { .. }, Value::String(s)) => {
            let text = match reader {
                Reader::Kubernetes => tree.str(id),
                Reader::PyYaml => tree.py_str(id),
            };
            match text {
                Some(t) if t == s => None,
                _ => whole(path),
            }
        }
        _ => whole(path),
    }
}

/// True when no key is written twice.
fn unique(keys: &[(std::borrow::Cow<'_, str>, NodeId)]) -> bool {
    if keys.len() <= 16 {
        return keys.iter().enumerate().all(|(i, (k, _))| !keys[..i].iter().any(|(o, _)| o == k));
    }
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.iter().all(|(k, _)| seen.insert(k.as_ref()))
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
            *walk(v, path, true)? = Value::clone(value);
            Ok(())
        }
        Intent::RenameKey { path, from, to } => {
            let Value::Object(m) = walk(v, path, false)? else {
                return Err(Undeclarable::RenameInNonMapping);
            };
            if from == to {
                return Ok(());
            }
            if !m.contains_key(from) {
                return Err(Undeclarable::Missing(from.clone()));
            }
            if m.contains_key(to) {
                return Err(Undeclarable::RenameCollides { from: from.clone(), to: to.clone() });
            }
            let renamed: Map<String, Value> =
                std::mem::take(m).into_iter().map(|(k, x)| (if k == *from { to.clone() } else { k }, x)).collect();
            *m = renamed;
            Ok(())
        }
        Intent::SetEach { path, items, key, value } => {
            let Value::Array(list) = walk(v, path, false)? else {
                return Err(Undeclarable::NotAList(path.iter().map(seg_text).collect::<Vec<_>>().join(".")));
            };
            for &i in items {
                set_key(list.get_mut(i).ok_or(Undeclarable::NoItem(i))?, key, value)?;
            }
            Ok(())
        }
    }
}

/// Sets `key` of a mapping (a null becomes one) to `value`.
fn set_key(item: &mut Value, key: &str, value: &Value) -> Result<(), Undeclarable> {
    *walk(item, &[Seg::key(key)], true)? = value.clone();
    Ok(())
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
        apply(&mut v, &Intent::Set { path: keys("kubernetes.allowed_contexts"), value: json!(["a"]).into() }).unwrap();
        assert_eq!(v, json!({"kubernetes": {"allowed_contexts": ["a"]}}));
        apply(&mut v, &Intent::RenameKey { path: vec![], from: "kubernetes".into(), to: "k".into() }).unwrap();
        assert_eq!(v, json!({"k": {"allowed_contexts": ["a"]}}));
    }

    #[test]
    fn undeclarable_changes_say_why() {
        let l = Limits::default();
        let before = Meaning::value(json!({"a": "x", "b": [1]}));
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

    /// Issue 20: two `context_configs` keys renamed to one context. PyYAML keeps the last entry,
    /// so the values alone matched; the proof now refuses the collapse however it is declared.
    #[test]
    fn a_rename_that_collapses_two_keys_never_passes() {
        let l = Limits::default();
        let before_text = "kubernetes:\n  context_configs:\n    DEV-EU: {a: 1}\n    Dev-eu: {a: 1}\n";
        let after = "kubernetes:\n  context_configs:\n    Dev-EU: {a: 1}\n    Dev-EU: {a: 1}\n";
        let before = meaning(before_text, Reader::PyYaml, &l).unwrap();
        let rename = |from: &str| Intent::RenameKey {
            path: keys("kubernetes.context_configs"),
            from: from.into(),
            to: "Dev-EU".into(),
        };
        // Both renames declared: the second one collides with the first one's result.
        let err = check(&before, after, &[rename("DEV-EU"), rename("Dev-eu")], Reader::PyYaml, &l).unwrap_err();
        assert_eq!(
            err,
            Mismatch::Undeclarable(Undeclarable::RenameCollides { from: "Dev-eu".into(), to: "Dev-EU".into() })
        );
        // One rename declared: the other key is missing from what PyYAML reads.
        let err = check(&before, after, &[rename("DEV-EU")], Reader::PyYaml, &l).unwrap_err();
        assert!(
            matches!(err, Mismatch::Differs { ref path, .. } if path == "kubernetes.context_configs.Dev-eu"),
            "{err}"
        );
        // Without counting keys, an entry written twice with the same value would mean the same.
        let err = check(&meaning("a: 1\n", Reader::PyYaml, &l).unwrap(), "a: 1\na: 1\n", &[], Reader::PyYaml, &l)
            .unwrap_err();
        assert_eq!(err, Mismatch::Duplicated { key: "a".into(), count: 2 });
        assert_eq!(
            err.to_string(),
            "`a` is written 2 times in one mapping (a reader keeps only the last), which the original does not do"
        );
        // A key the original already wrote twice may stay so (under a renamed parent too).
        let dup = meaning("P: {a: 1, a: 2}\n", Reader::PyYaml, &l).unwrap();
        let rename_p = [Intent::RenameKey { path: vec![], from: "P".into(), to: "p".into() }];
        assert_eq!(check(&dup, "p: {a: 1, a: 2}\n", &rename_p, Reader::PyYaml, &l), Ok(()));
        assert!(check(&dup, "p: {a: 1, a: 2, a: 3}\n", &rename_p, Reader::PyYaml, &l).is_err());
    }

    /// Issue 20: a config.yaml that PyYAML cannot load (SkyPilot then runs with an empty config)
    /// never passes the proof, even when it means the same to our YAML 1.2 parser.
    #[test]
    fn an_edit_pyyaml_cannot_load_never_passes() {
        let l = Limits::default();
        let before = meaning("a: [x]\n", Reader::PyYaml, &l).unwrap();
        let append = [Intent::Append { path: keys("a"), items: vec![json!("w")] }];
        assert_eq!(check(&before, "a: [x, w]\n", &append, Reader::PyYaml, &l), Ok(()));
        let err = check(&before, "a: [x,\tw]\n", &append, Reader::PyYaml, &l).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PyYAML cannot load it: a tab inside a flow collection at line 1, column 7 (PyYAML: found character '\\t' that cannot start any token)"
        );
        // Kubernetes' reader (go-yaml v2) is not PyYAML: manifests are judged by their meaning.
        let k = meaning("a: [x]\n", Reader::Kubernetes, &l).unwrap();
        assert_eq!(check(&k, "a: [x,\tw]\n", &append, Reader::Kubernetes, &l), Ok(()));
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

    /// Issue 23: the re-read document is compared part by part as its tree stands; every
    /// verdict and message is the one its whole meaning gives (merge keys, aliases, keys written
    /// twice, reordered keys, other types, other lengths, both readers).
    #[test]
    fn the_tree_is_compared_as_its_meaning_would_be() {
        let l = Limits::default();
        let texts = [
            "a: 1\nb: [x, y]\n",
            "a: 1\nb: [x]\n",
            "a: 1\na: 2\n",
            "<<: {a: 1}\nb: [x, y]\n",
            "a: &x {k: v}\nb: *x\n",
            "a: {k: v}\nb: {k: v}\n",
            "a: '1'\nb: [x, y]\n",
            "b: [x, y]\na: 1\n",
            "a: 1\n",
            "c: 1\na: 1\nb: [x, y]\n",
            "a: [1, {k: [v]}]\nb: yes\n",
            "a: null\nb: 'yes'\n",
            "x\n",
            "[1, 2]\n",
            "",
            "? [k]\n: v\na: 1\n",
        ];
        for reader in [Reader::Kubernetes, Reader::PyYaml] {
            for after in texts {
                let tree = Tree::parse(after, &l).unwrap();
                for before in texts {
                    let expected = meaning(before, reader, &l).unwrap().value;
                    let by_tree = match tree.root() {
                        Some(r) => tree_difference(&tree, r, reader, &expected, &mut String::new()),
                        None => first_difference(&Value::Null, &expected, &mut String::new()),
                    };
                    let whole = first_difference(&Meaning::of(&tree, reader).value, &expected, &mut String::new());
                    assert_eq!(by_tree, whole, "{after:?} against {before:?} ({reader:?})");
                }
            }
        }
    }

    /// Issue 21: tighten's narrowed rules are proven item by item, and anything the declared
    /// `SetEach` does not say is not proven that way (the whole check then finds it).
    #[test]
    fn item_by_item_proof_passes_declared_edits_only() {
        let l = Limits::default();
        let before = "kind: Role\nrules:\n- verbs: ['*']\n  resources: [pods]\n- verbs: [get]\n- {verbs: ['*'], resources: [x]}\n";
        let set = |items: Vec<usize>| Intent::SetEach {
            path: keys("rules").into(),
            items,
            key: "verbs".into(),
            value: json!(["get", "list"]).into(),
        };
        let intents = [set(vec![0, 2])];
        let declared: Vec<&Intent> = intents.iter().collect();
        assert_eq!(item_list(&declared), Some("rules"));
        let proven = |after: &str| check_items(before, after, "rules", &declared, Reader::Kubernetes, &l);
        let good = "kind: Role\nrules:\n- verbs: [get, list]\n  resources: [pods]\n- verbs: [get]\n- {verbs: [get, list], resources: [x]}\n";
        assert_eq!(proven(good), ItemCheck::Proven);
        let whole = meaning(before, Reader::Kubernetes, &l).unwrap();
        assert_eq!(check(&whole, good, &intents, Reader::Kubernetes, &l), Ok(()));
        for bad in [
            // An item not declared changed.
            "kind: Role\nrules:\n- verbs: [get, list]\n  resources: [pods]\n- verbs: [list]\n- {verbs: [get, list], resources: [x]}\n",
            // A declared item left as it was.
            "kind: Role\nrules:\n- verbs: [get, list]\n  resources: [pods]\n- verbs: [get]\n- {verbs: ['*'], resources: [x]}\n",
            // An item more, an item fewer.
            "kind: Role\nrules:\n- verbs: [get, list]\n  resources: [pods]\n- verbs: [get]\n- {verbs: [get, list], resources: [x]}\n- {}\n",
            "kind: Role\nrules:\n- verbs: [get, list]\n  resources: [pods]\n- verbs: [get]\n",
            // Outside the list, a key written twice inside an item, `0600` read as a string.
            "kind: Roles\nrules:\n- verbs: [get, list]\n  resources: [pods]\n- verbs: [get]\n- {verbs: [get, list], resources: [x]}\n",
            "kind: Role\nrules:\n- verbs: [get, list]\n  verbs: [get, list]\n  resources: [pods]\n- verbs: [get]\n- {verbs: [get, list], resources: [x]}\n",
        ] {
            assert_eq!(proven(bad), ItemCheck::Undecided, "{bad}");
            assert!(check(&whole, bad, &intents, Reader::Kubernetes, &l).is_err(), "{bad}");
        }
        // Anchors, or a declared item the list does not have: the whole check decides.
        let anchored = "kind: Role\nrules:\n- &a {verbs: ['*']}\n- *a\n";
        let one = [set(vec![0])];
        let one: Vec<&Intent> = one.iter().collect();
        assert_eq!(check_items(anchored, anchored, "rules", &one, Reader::Kubernetes, &l), ItemCheck::Undecided);
        let beyond = [set(vec![7])];
        let beyond: Vec<&Intent> = beyond.iter().collect();
        assert_eq!(check_items(before, before, "rules", &beyond, Reader::Kubernetes, &l), ItemCheck::Undecided);
        // Other intents are not item edits.
        let append = [Intent::Append { path: keys("rules"), items: vec![json!({})] }];
        assert_eq!(item_list(&append.iter().collect::<Vec<_>>()), None);
    }

    #[test]
    fn yaml11_breaks_are_found_with_their_line() {
        assert_eq!(crate::yaml::scalar::yaml11_break("a: b\nc: d\u{2028}e\n"), Some((2, '\u{2028}')));
        assert_eq!(crate::yaml::scalar::yaml11_break("a: b\n"), None);
    }
}
