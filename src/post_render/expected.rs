//! The expected meaning of an edited document, built only along the declared changes' paths:
//! everywhere else it is the original's tree itself, compared with the re-read tree node by
//! node. A huge document (a config.yaml of 200,000 lines) is then never turned into JSON; the
//! whole-meaning comparison of `verify` runs only when this one cannot decide.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::rules::change::{Intent, Seg};
use crate::yaml::tree::NodeKind;
use crate::yaml::{NodeId, Reader, Tree};

/// Something this comparison does not decide (a merge key or an alias on a change's path, a
/// change that cannot be applied, any difference): the whole-meaning check decides and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecided;

/// What a node of the edited document must mean.
#[derive(Debug)]
enum Expect {
    /// What the original means at this node.
    Node(NodeId),
    /// A value the rules declared (or a part of the original turned into one).
    Value(Value),
    /// A mapping of the original opened along a change's path: its keys in order, each once.
    Map(Vec<(String, Expect)>),
    /// A list of the original opened along a change's path.
    Seq(Vec<Expect>),
}

/// Whether `after` (re-read) means `before` plus `intents`, both read by `reader`: Ok only when
/// it surely does. Keys written twice are not compared here (the caller compares them).
pub fn matches(before: &Tree, after: &Tree, intents: &[Intent], reader: Reader) -> Result<(), Undecided> {
    let (Some(b), Some(a)) = (before.root(), after.root()) else { return Err(Undecided) };
    let mut expect = Expect::Node(b);
    for intent in intents {
        apply(before, reader, &mut expect, intent)?;
    }
    compare(before, after, a, &expect, reader)
}

/// Applies one declared change, as `verify::apply` applies it to a whole meaning.
fn apply(t: &Tree, reader: Reader, v: &mut Expect, intent: &Intent) -> Result<(), Undecided> {
    match intent {
        Intent::Append { path, items } => {
            let target = walk(t, reader, v, path, true)?;
            if is_null(t, reader, target) {
                *target = Expect::Seq(Vec::new());
            }
            let Expect::Seq(list) = open(t, reader, target)? else { return Err(Undecided) };
            list.extend(items.iter().cloned().map(Expect::Value));
        }
        Intent::Set { path, value } => *walk(t, reader, v, path, true)? = Expect::Value(value.clone()),
        Intent::RenameKey { path, from, to } => {
            let Expect::Map(entries) = open(t, reader, walk(t, reader, v, path, false)?)? else {
                return Err(Undecided);
            };
            if from != to {
                if entries.iter().any(|(k, _)| k == to) {
                    return Err(Undecided);
                }
                let (k, _) = entries.iter_mut().find(|(k, _)| k == from).ok_or(Undecided)?;
                k.clone_from(to);
            }
        }
        Intent::SetEach { path, items, key, value } => {
            let Expect::Seq(list) = open(t, reader, walk(t, reader, v, path, false)?)? else {
                return Err(Undecided);
            };
            for &i in items {
                let item = list.get_mut(i).ok_or(Undecided)?;
                *walk(t, reader, item, &[Seg::Key(key.clone())], true)? = Expect::Value(value.clone());
            }
        }
    }
    Ok(())
}

/// Follows `path` from `v`, opening the original's mappings and lists on the way; with
/// `create`, missing keys (and nulls in place of mappings) become mappings, as `verify::walk`.
fn walk<'e>(
    t: &Tree,
    reader: Reader,
    mut v: &'e mut Expect,
    path: &[Seg],
    create: bool,
) -> Result<&'e mut Expect, Undecided> {
    for seg in path {
        if create && matches!(seg, Seg::Key(_)) && is_null(t, reader, v) {
            *v = Expect::Map(Vec::new());
        }
        v = match (seg, open(t, reader, v)?) {
            (Seg::Key(k), Expect::Map(entries)) => match entries.iter().position(|(e, _)| e == k) {
                Some(i) => &mut entries[i].1,
                None if create => {
                    entries.push((k.clone(), Expect::Value(Value::Null)));
                    &mut entries.last_mut().ok_or(Undecided)?.1
                }
                None => return Err(Undecided),
            },
            (Seg::Named(n), Expect::Seq(items)) => {
                let mut found = None;
                for (i, item) in items.iter().enumerate() {
                    if is_named(t, reader, item, n)? {
                        found = Some(i);
                        break;
                    }
                }
                &mut items[found.ok_or(Undecided)?]
            }
            (Seg::Index(i), Expect::Seq(items)) => items.get_mut(*i).ok_or(Undecided)?,
            _ => return Err(Undecided),
        };
    }
    Ok(v)
}

/// Whether `v` means null.
fn is_null(t: &Tree, reader: Reader, v: &Expect) -> bool {
    match v {
        Expect::Node(n) => {
            matches!(t.node(t.resolve(*n)).kind, NodeKind::Scalar { .. }) && t.to_json_as(*n, reader).is_null()
        }
        Expect::Value(value) => value.is_null(),
        Expect::Map(_) | Expect::Seq(_) => false,
    }
}

/// Whether a list item is a mapping whose `name` is the string `n` (as
/// `i.get("name").and_then(Value::as_str) == Some(n)` on its meaning).
fn is_named(t: &Tree, reader: Reader, item: &Expect, n: &str) -> Result<bool, Undecided> {
    let named = |v: NodeId| t.to_json_as(v, reader).as_str() == Some(n);
    Ok(match item {
        Expect::Node(i) => {
            let i = t.resolve(*i);
            if !t.is_map(i) {
                return Ok(false);
            }
            let entries = plain_entries(t, i, reader).ok_or(Undecided)?;
            entries.iter().find(|(k, _)| k == "name").is_some_and(|&(_, v)| named(v))
        }
        Expect::Value(v) => v.get("name").and_then(Value::as_str) == Some(n),
        Expect::Map(entries) => match entries.iter().find(|(k, _)| k == "name").map(|(_, e)| e) {
            Some(Expect::Node(v)) => named(*v),
            Some(Expect::Value(v)) => v.as_str() == Some(n),
            _ => false,
        },
        Expect::Seq(_) => false,
    })
}

/// Turns an original node into a mapping or list one level deep (anything else into its
/// meaning as JSON), so that a change can go into it.
fn open<'e>(t: &Tree, reader: Reader, v: &'e mut Expect) -> Result<&'e mut Expect, Undecided> {
    match v {
        Expect::Node(n) => {
            let n = t.resolve(*n);
            *v = match &t.node(n).kind {
                NodeKind::Seq { items, .. } => Expect::Seq(items.iter().map(|&i| Expect::Node(i)).collect()),
                NodeKind::Map { .. } => match plain_entries(t, n, reader) {
                    Some(entries) => {
                        Expect::Map(entries.into_iter().map(|(k, v)| (k.into_owned(), Expect::Node(v))).collect())
                    }
                    None => return Err(Undecided),
                },
                NodeKind::Scalar { .. } => Expect::Value(t.to_json_as(n, reader)),
                NodeKind::Alias { .. } => return Err(Undecided),
            };
        }
        Expect::Value(Value::Array(items)) => {
            *v = Expect::Seq(std::mem::take(items).into_iter().map(Expect::Value).collect());
        }
        Expect::Value(Value::Object(m)) => {
            *v = Expect::Map(std::mem::take(m).into_iter().map(|(k, x)| (k, Expect::Value(x))).collect());
        }
        _ => {}
    }
    Ok(v)
}

/// The entries of mapping `n` by key name, when it has no merge key and writes no key twice
/// (its meaning is then exactly these entries).
fn plain_entries(t: &Tree, n: NodeId, reader: Reader) -> Option<Vec<(Cow<'_, str>, NodeId)>> {
    let NodeKind::Map { entries, .. } = &t.node(n).kind else { return None };
    if entries.iter().any(|&(k, _)| t.is_merge_key(k)) {
        return None;
    }
    let named: Vec<(Cow<'_, str>, NodeId)> = entries.iter().map(|&(k, v)| (t.key_name(k, reader), v)).collect();
    let unique = if named.len() <= 16 {
        named.iter().enumerate().all(|(i, (k, _))| !named[..i].iter().any(|(o, _)| o == k))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(named.len());
        named.iter().all(|(k, _)| seen.insert(k.as_ref()))
    };
    unique.then_some(named)
}

/// Whether `a` of the re-read tree means `e`.
fn compare(before: &Tree, after: &Tree, a: NodeId, e: &Expect, reader: Reader) -> Result<(), Undecided> {
    let same = match e {
        Expect::Node(b) => return same_meaning(before, *b, after, a, reader),
        Expect::Value(v) => &after.to_json_as(a, reader) == v,
        Expect::Map(entries) => {
            let a = after.resolve(a);
            let found = plain_entries(after, a, reader).ok_or(Undecided)?;
            if found.len() != entries.len() {
                return Err(Undecided);
            }
            let by_key: HashMap<&str, NodeId> = found.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
            for (k, e) in entries {
                compare(before, after, *by_key.get(k.as_str()).ok_or(Undecided)?, e, reader)?;
            }
            true
        }
        Expect::Seq(items) => {
            let a = after.resolve(a);
            let NodeKind::Seq { items: found, .. } = &after.node(a).kind else { return Err(Undecided) };
            if found.len() != items.len() {
                return Err(Undecided);
            }
            for (&f, e) in found.iter().zip(items) {
                compare(before, after, f, e, reader)?;
            }
            true
        }
    };
    if same { Ok(()) } else { Err(Undecided) }
}

/// Whether node `b` of `bt` and node `a` of `at` mean the same to `reader`, read in place
/// (without recursion, whatever the nesting): the same scalar text, style and tag mean the
/// same; plain mappings and lists are compared entry by entry; anything else by its meaning.
fn same_meaning(bt: &Tree, b: NodeId, at: &Tree, a: NodeId, reader: Reader) -> Result<(), Undecided> {
    let mut stack = vec![(b, a)];
    while let Some((b, a)) = stack.pop() {
        let (b, a) = (bt.resolve(b), at.resolve(a));
        let same = match (&bt.node(b).kind, &at.node(a).kind) {
            (
                NodeKind::Scalar { value: vb, style: sb, tag: tb },
                NodeKind::Scalar { value: va, style: sa, tag: ta },
            ) if vb == va && sb == sa && tb == ta => true,
            (NodeKind::Seq { items: ib, .. }, NodeKind::Seq { items: ia, .. }) => {
                if ib.len() != ia.len() {
                    return Err(Undecided);
                }
                stack.extend(ib.iter().copied().zip(ia.iter().copied()));
                true
            }
            (NodeKind::Map { .. }, NodeKind::Map { .. }) => {
                match (plain_entries(bt, b, reader), plain_entries(at, a, reader)) {
                    (Some(kb), Some(ka)) => {
                        if kb.len() != ka.len() {
                            return Err(Undecided);
                        }
                        if kb.iter().zip(&ka).all(|((x, _), (y, _))| x == y) {
                            stack.extend(kb.iter().zip(&ka).map(|((_, x), (_, y))| (*x, *y)));
                        } else {
                            let by_key: HashMap<&str, NodeId> = kb.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
                            for (k, y) in &ka {
                                stack.push((*by_key.get(k.as_ref()).ok_or(Undecided)?, *y));
                            }
                        }
                        true
                    }
                    _ => bt.to_json_as(b, reader) == at.to_json_as(a, reader),
                }
            }
            _ => bt.to_json_as(b, reader) == at.to_json_as(a, reader),
        };
        if !same {
            return Err(Undecided);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post_render::verify::{Meaning, Mismatch, check_owned, check_tree};
    use crate::rules::change::keys;
    use crate::yaml::Limits;
    use serde_json::json;

    const TEXTS: &[&str] = &[
        "a: 1\nb: [x, y]\n",
        "a: 1\nb: [x]\n",
        "a: 1\na: 2\n",
        "<<: {a: 1}\nb: [x, y]\n",
        "a: &x {k: v}\nb: *x\n",
        "a: {k: v}\nb: {k: v}\n",
        "a: '1'\nb: [x, y]\n",
        "a: \"1\"\nb: [x, y]\n",
        "b: [x, y]\na: 1\n",
        "a: 1\n",
        "a: 0600\nb: [x, 'y']\n",
        "a: 384\nb: [x, y]\n",
        "a: yes\nb: [x, y]\n",
        "a: 'yes'\nb: [x, y]\n",
        "c: 1\na: 1\nb: [x, y]\n",
        "a: [1, {k: [v]}]\nb: yes\n",
        "a: null\nb: 'yes'\n",
        "a: ~\nb: ''\n",
        "a:\nb: [x, y, w]\n",
        "a: 1\nb: [x, y, w]\n",
        "z: 1\nb: [x, y]\n",
        "a: 2\nb: [x, y]\n",
        "a: 1\nb: [{name: x, k: 1}, {name: y}]\n",
        "a: 1\nb: [{name: x, k: 2}, {name: y}]\n",
        "a: 1\nb: [{name: x, k: 1}, {name: y, k: 2}]\n",
        "a: 1\nb: [{<<: {name: x}, k: 1}, {name: x}]\n",
        "a: 1\nb: [{name: x, name: y}, {name: x}]\n",
        "a: 1\nb: [{k: 2}, y]\n",
        "a: 1\nb: [{k: 2, k: 2}, y]\n",
        "a: {c: {d: [1, 2]}}\nb: [x, y]\n",
        "a: {c: {d: [1, 2, 3]}}\nb: [x, y]\n",
        "a: {c: null}\nb: [x, y]\n",
        "a: !!str 1\nb: [x, y]\n",
        "a: 1.0\nb: [x, y]\n",
        "x\n",
        "[1, 2]\n",
        "? [k]\n: v\na: 1\n",
    ];

    fn intents() -> Vec<Vec<Intent>> {
        vec![
            vec![],
            vec![Intent::Set { path: keys("a"), value: json!(2) }],
            vec![Intent::Set { path: keys("a"), value: json!(1) }],
            vec![Intent::Set { path: keys("a.c.d"), value: json!([1, 2, 3]) }],
            vec![Intent::Append { path: keys("b"), items: vec![json!("w")] }],
            vec![Intent::Append { path: keys("a"), items: vec![json!("w")] }],
            vec![Intent::RenameKey { path: vec![], from: "a".into(), to: "z".into() }],
            vec![Intent::RenameKey { path: vec![], from: "a".into(), to: "b".into() }],
            vec![Intent::SetEach { path: keys("b"), items: vec![0], key: "k".into(), value: json!(2) }],
            vec![Intent::Set { path: vec![Seg::key("b"), Seg::Named("x".into()), Seg::key("k")], value: json!(2) }],
            vec![Intent::Set { path: vec![Seg::key("b"), Seg::Named("y".into()), Seg::key("k")], value: json!(2) }],
            vec![Intent::Set { path: vec![Seg::key("b"), Seg::Index(1)], value: json!("y") }],
            vec![
                Intent::Set { path: keys("a"), value: json!(1) },
                Intent::Append { path: keys("b"), items: vec![json!("w")] },
            ],
        ]
    }

    /// Every verdict of the node-by-node comparison is the whole-meaning check's: whatever it
    /// passes, the whole check passes, for both readers, every declared change and every pair
    /// of texts (merge keys, aliases, keys written twice, other types, YAML 1.1 scalars). And it
    /// decides the common cases itself (else it would save nothing).
    #[test]
    fn what_the_comparison_passes_the_whole_check_passes() {
        let l = Limits::default();
        let mut decided = 0;
        for reader in [Reader::Kubernetes, Reader::PyYaml] {
            for before in TEXTS {
                let bt = Tree::parse(before, &l).unwrap();
                for intents in intents() {
                    for after in TEXTS {
                        let at = Tree::parse(after, &l).unwrap();
                        let whole = check_owned(Meaning::of(&bt, reader), after, &intents, reader, &l);
                        let case = format!("{before:?} + {intents:?} -> {after:?} ({reader:?})");
                        assert_eq!(check_tree(&bt, after, &intents, reader, &l), whole, "{case}");
                        if matches(&bt, &at, &intents, reader).is_ok() {
                            decided += 1;
                            // Keys written twice are the caller's to compare.
                            assert!(matches!(whole, Ok(()) | Err(Mismatch::Duplicated { .. })), "{case}: {whole:?}");
                        }
                    }
                }
            }
        }
        assert!(decided > 150, "{decided}");
        // The cases the pipeline meets: decided here, never by the whole-meaning check.
        let decides = |before: &str, after: &str, intents: &[Intent]| {
            let (bt, at) = (Tree::parse(before, &l).unwrap(), Tree::parse(after, &l).unwrap());
            matches(&bt, &at, intents, Reader::Kubernetes)
        };
        let env = "spec:\n  containers:\n  - name: api\n    env:\n    - {name: A, value: '1'}\n  - name: b\n";
        let env_after = "spec:\n  containers:\n  - name: api\n    env:\n    - {name: A, value: '1'}\n    - {name: K, value: /k}\n  - name: b\n";
        let path = vec![Seg::key("spec"), Seg::key("containers"), Seg::Named("api".into()), Seg::key("env")];
        let append = [Intent::Append { path, items: vec![json!({"name": "K", "value": "/k"})] }];
        assert_eq!(decides(env, env_after, &append), Ok(()));
        assert_eq!(decides(env, env, &append), Err(Undecided));
        assert_eq!(
            decides("a: 0600\nb: x\n", "a: 0600\nb: w\n", &[Intent::Set { path: keys("b"), value: json!("w") }]),
            Ok(())
        );
        // `y` is YAML 1.1's true.
        assert_eq!(
            decides("a: 0600\nb: x\n", "a: 0600\nb: y\n", &[Intent::Set { path: keys("b"), value: json!("y") }]),
            Err(Undecided)
        );
        assert_eq!(
            decides("a: 0600\nb: x\n", "a: '0600'\nb: w\n", &[Intent::Set { path: keys("b"), value: json!("w") }]),
            Err(Undecided)
        );
        assert_eq!(decides("a: 0600\n", "a: 384\n", &[]), Ok(()));
        assert_eq!(decides("a: 0600\n", "a: '384'\n", &[]), Err(Undecided));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::post_render::verify::{Meaning, Mismatch, check_owned};
    use crate::yaml::Limits;
    use proptest::prelude::*;

    /// A small YAML value written in one of several ways: scalars that YAML 1.1 and PyYAML read
    /// differently, quoted or not; mappings with `name`, merge keys and keys written twice;
    /// block or flow.
    #[derive(Debug, Clone)]
    enum Y {
        S(&'static str),
        Seq(Vec<Y>, bool),
        Map(Vec<(&'static str, Y)>, bool),
    }

    const SCALARS: &[&str] = &[
        "1",
        "'1'",
        "\"1\"",
        "yes",
        "'yes'",
        "y",
        "0600",
        "384",
        "~",
        "null",
        "''",
        "x",
        "w",
        "1.0",
        "!!str 1",
        "on",
        "2001-01-01",
    ];
    const KEYS: &[&str] = &["a", "b", "name", "k", "<<", "'a'", "1"];

    fn y() -> impl Strategy<Value = Y> {
        let leaf = prop::sample::select(SCALARS).prop_map(Y::S);
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..4), any::<bool>()).prop_map(|(v, f)| Y::Seq(v, f)),
                (prop::collection::vec((prop::sample::select(KEYS), inner), 0..4), any::<bool>())
                    .prop_map(|(v, f)| Y::Map(v, f)),
            ]
        })
    }

    /// Writes `v` as the value of a block context indented `indent` (flow inside flow).
    fn write(v: &Y, indent: usize, flow: bool, out: &mut String) {
        let pad = " ".repeat(indent);
        match v {
            Y::S(s) => out.push_str(s),
            Y::Seq(items, f) if *f || flow || items.is_empty() => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(x, indent, true, out);
                }
                out.push(']');
            }
            Y::Map(entries, f) if *f || flow || entries.is_empty() => {
                out.push('{');
                for (i, (k, x)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    write(x, indent, true, out);
                }
                out.push('}');
            }
            Y::Seq(items, _) => {
                for x in items {
                    out.push('\n');
                    out.push_str(&pad);
                    out.push_str("- ");
                    write(x, indent + 2, false, out);
                }
            }
            Y::Map(entries, _) => {
                for (k, x) in entries {
                    out.push('\n');
                    out.push_str(&pad);
                    out.push_str(k);
                    out.push_str(": ");
                    write(x, indent + 2, false, out);
                }
            }
        }
    }

    fn doc(entries: &[(&'static str, Y)]) -> String {
        let mut out = String::new();
        for (k, v) in entries {
            out.push_str(k);
            out.push_str(": ");
            write(v, 2, false, &mut out);
            out.push('\n');
        }
        out
    }

    fn intent() -> impl Strategy<Value = Intent> {
        let key = prop::sample::select(&["a", "b", "k", "name"][..]).prop_map(|k: &str| Seg::Key(k.to_string()));
        let seg = prop_oneof![
            key.clone(),
            prop::sample::select(&["x", "w", "1"][..]).prop_map(|n: &str| Seg::Named(n.to_string())),
            (0usize..3).prop_map(Seg::Index),
        ];
        let path = (key, prop::collection::vec(seg, 0..3)).prop_map(|(k, mut rest)| {
            rest.insert(0, k);
            rest
        });
        let value = prop::sample::select(&["1", "x", "yes", "[w]", "{k: 1}", "null"][..]).prop_map(|v: &str| {
            crate::yaml::Tree::parse(v, &Limits::default()).map(|t| t.to_json(t.root().unwrap())).unwrap()
        });
        prop_oneof![
            (path.clone(), value.clone()).prop_map(|(path, value)| Intent::Set { path, value }),
            (path.clone(), value.clone()).prop_map(|(path, v)| Intent::Append { path, items: vec![v] }),
            (path.clone(), prop::sample::select(&["a", "b", "z"][..]), prop::sample::select(&["a", "z"][..])).prop_map(
                |(path, from, to)| Intent::RenameKey {
                    path: path[..path.len() - 1].to_vec(),
                    from: from.into(),
                    to: to.into()
                }
            ),
            (path, prop::collection::btree_set(0usize..3, 1..3), value).prop_map(|(path, items, value)| {
                Intent::SetEach { path, items: items.into_iter().collect(), key: "k".into(), value }
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000), ..ProptestConfig::default() })]

        /// Whatever the node-by-node comparison passes, the whole-meaning check passes (up to
        /// keys written twice, which the caller compares), for both readers: the original and
        /// the edited text are written independently (so they often mean the same in other
        /// words, or differ in one scalar), with any declared change.
        #[test]
        fn a_pass_is_always_the_whole_checks_pass(
            before in prop::collection::vec((prop::sample::select(KEYS), y()), 1..4),
            after in prop::collection::vec((prop::sample::select(KEYS), y()), 1..4),
            same in any::<bool>(),
            intents in prop::collection::vec(intent(), 0..2),
        ) {
            let l = Limits::default();
            let before_text = doc(&before);
            let after_text = if same { doc(&before) } else { doc(&after) };
            let Ok(bt) = Tree::parse(&before_text, &l) else { return Ok(()) };
            for reader in [Reader::Kubernetes, Reader::PyYaml] {
                // Also the expected meaning itself, written as JSON (which YAML reads as it is).
                let mut expected = Meaning::of(&bt, reader).value;
                let declared = intents.iter().all(|i| crate::post_render::verify::apply(&mut expected, i).is_ok());
                let as_json = serde_json::to_string(&expected).unwrap_or_default();
                let mut texts = vec![after_text.clone()];
                if declared {
                    texts.push(as_json);
                }
                for text in &texts {
                    let Ok(at) = Tree::parse(text, &l) else { continue };
                    if matches(&bt, &at, &intents, reader).is_ok() {
                        let whole = check_owned(Meaning::of(&bt, reader), text, &intents, reader, &l);
                        prop_assert!(
                            matches!(whole, Ok(()) | Err(Mismatch::Duplicated { .. })),
                            "{before_text}\n=> {text}\n{intents:?} {reader:?}: {whole:?}"
                        );
                    }
                }
            }
        }
    }
}
