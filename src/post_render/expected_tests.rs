//! Tests of [`super::expected`]: its proof agrees with `verify`'s whole-meaning comparison.
//! They live apart from `expected` because `verify` calls `expected`, and a test there that
//! called `verify` back would make the two modules refer to each other in a circle.

mod tests {
    use crate::post_render::expected::*;
    use crate::post_render::verify::{Meaning, Mismatch, check_owned, check_tree};
    use crate::rules::change::keys;
    use crate::rules::change::{Intent, Seg};
    use crate::yaml::Limits;
    use crate::yaml::{Reader, Tree};
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
            vec![Intent::Set { path: keys("a"), value: json!(2).into() }],
            vec![Intent::Set { path: keys("a"), value: json!(1).into() }],
            vec![Intent::Set { path: keys("a.c.d"), value: json!([1, 2, 3]).into() }],
            vec![Intent::Append { path: keys("b"), items: vec![json!("w")] }],
            vec![Intent::Append { path: keys("a"), items: vec![json!("w")] }],
            vec![Intent::RenameKey { path: vec![], from: "a".into(), to: "z".into() }],
            vec![Intent::RenameKey { path: vec![], from: "a".into(), to: "b".into() }],
            vec![Intent::SetEach { path: keys("b").into(), items: vec![0], key: "k".into(), value: json!(2).into() }],
            vec![Intent::Set {
                path: vec![Seg::key("b"), Seg::Named("x".into()), Seg::key("k")],
                value: json!(2).into(),
            }],
            vec![Intent::Set {
                path: vec![Seg::key("b"), Seg::Named("y".into()), Seg::key("k")],
                value: json!(2).into(),
            }],
            vec![Intent::Set { path: vec![Seg::key("b"), Seg::Index(1)], value: json!("y").into() }],
            vec![
                Intent::Set { path: keys("a"), value: json!(1).into() },
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
            decides("a: 0600\nb: x\n", "a: 0600\nb: w\n", &[Intent::Set { path: keys("b"), value: json!("w").into() }]),
            Ok(())
        );
        // `y` is YAML 1.1's true.
        assert_eq!(
            decides("a: 0600\nb: x\n", "a: 0600\nb: y\n", &[Intent::Set { path: keys("b"), value: json!("y").into() }]),
            Err(Undecided)
        );
        assert_eq!(
            decides(
                "a: 0600\nb: x\n",
                "a: '0600'\nb: w\n",
                &[Intent::Set { path: keys("b"), value: json!("w").into() }]
            ),
            Err(Undecided)
        );
        assert_eq!(decides("a: 0600\n", "a: 384\n", &[]), Ok(()));
        assert_eq!(decides("a: 0600\n", "a: '384'\n", &[]), Err(Undecided));
    }

    /// The texts above in block style (what the fast reader takes), with block scalars and
    /// keys out of order.
    const BLOCK: &[&str] = &[
        "a: 1\nb:\n- x\n- y\n",
        "a: 1\nb:\n- x\n",
        "a: 1\na: 2\n",
        "a: 1\nb:\n- x\n- y\na: 1\n",
        "<<: 1\nb:\n- x\n- y\n",
        "a:\n  k: v\nb:\n  k: v\n",
        "a: '1'\nb:\n- x\n- y\n",
        "a: \"1\"\nb:\n- x\n- y\n",
        "b:\n- x\n- y\na: 1\n",
        "a: 1\n",
        "a: 0600\nb:\n- x\n- 'y'\n",
        "a: 384\nb:\n- x\n- y\n",
        "a: yes\nb:\n- x\n- y\n",
        "a: 'yes'\nb:\n- x\n- y\n",
        "c: 1\na: 1\nb:\n- x\n- y\n",
        "a: null\nb: 'yes'\n",
        "a: ~\nb: ''\n",
        "a:\nb:\n- x\n- y\n- w\n",
        "a: 1\nb:\n- x\n- y\n- w\n",
        "a: 1\nb:\n- w\n- y\n- x\n",
        "z: 1\nb:\n- x\n- y\n",
        "a: 2\nb:\n- x\n- y\n",
        "a: 1\nb:\n- name: x\n  k: 1\n- name: y\n",
        "a: 1\nb:\n- k: 1\n  name: x\n- name: y\n",
        "a: 1\nb:\n- name: x\n  k: 2\n- name: y\n",
        "a: 1\nb:\n- name: x\n  k: 1\n- name: y\n  k: 2\n",
        "a: 1\nb:\n- name: x\n  name: y\n- name: x\n",
        "a: 1\nb:\n- k: 2\n- y\n",
        "a: 1\nb:\n- k: 2\n  k: 2\n- y\n",
        "a:\n  c:\n    d:\n    - 1\n    - 2\nb:\n- x\n- y\n",
        "a:\n  c:\n    d:\n    - 1\n    - 2\n    - 3\nb:\n- x\n- y\n",
        "a:\n  c:\nb:\n- x\n- y\n",
        "a: 1.0\nb:\n- x\n- y\n",
        "a: |\n  1\nb:\n- x\n- y\n",
        "a: |-\n  1\nb:\n- x\n- y\n",
        "a: 1\nb:\n- x\n- y\n'a': 1\n",
        "1: 1\n'1': 1\n",
        "x\n",
        "- 1\n- 2\n",
        "a: 1\nb:\n- x\n- y\n---\na: 1\n",
        "a: 1\nb:\n-\tx\n- y\n",
    ];

    /// Reading the edited text as it comes ([`matches_text`]) passes only what the whole
    /// check passes, with no duplicated key left over; and it decides the plain block cases.
    #[test]
    fn what_reading_as_it_comes_passes_the_whole_check_passes() {
        let l = Limits::default();
        let mut decided = 0;
        for reader in [Reader::Kubernetes, Reader::PyYaml] {
            for before in BLOCK.iter().chain(TEXTS) {
                let Ok(bt) = Tree::parse(before, &l) else { continue };
                for intents in intents() {
                    for after in BLOCK.iter().chain(TEXTS) {
                        if matches_text(&bt, after, &intents, reader, &l).is_ok() {
                            decided += 1;
                            let whole = check_owned(Meaning::of(&bt, reader), after, &intents, reader, &l);
                            assert_eq!(whole, Ok(()), "{before:?} + {intents:?} -> {after:?} ({reader:?})");
                        }
                    }
                }
            }
        }
        assert!(decided > 150, "{decided}");
        let decides = |before: &str, after: &str, intents: &[Intent]| {
            matches_text(&Tree::parse(before, &l).unwrap(), after, intents, Reader::Kubernetes, &l)
        };
        let env = "spec:\n  containers:\n  - name: api\n    env:\n    - name: A\n      value: '1'\n  - name: b\n";
        let env_after = "spec:\n  containers:\n  - name: api\n    env:\n    - name: A\n      value: '1'\n    - name: K\n      value: /k\n  - name: b\n";
        let path = vec![Seg::key("spec"), Seg::key("containers"), Seg::Named("api".into()), Seg::key("env")];
        let append = [Intent::Append { path, items: vec![json!({"name": "K", "value": "/k"})] }];
        assert_eq!(decides(env, env_after, &append), Ok(()));
        assert_eq!(decides(env, env, &append), Err(Undecided));
        assert_eq!(decides(env_after, env_after, &[]), Ok(()));
        // A declared string compared in place, literal block or quoted.
        let set = [Intent::Set { path: keys("a"), value: json!("x\ny\n").into() }];
        assert_eq!(decides("a: 1\n", "a: |\n  x\n  y\n", &set), Ok(()));
        assert_eq!(decides("a: 1\n", "a: |\n  x\n  z\n", &set), Err(Undecided));
        assert_eq!(decides("a: 0600\n", "a: 384\n", &[]), Ok(()));
        assert_eq!(decides("a: 0600\n", "a: '384'\n", &[]), Err(Undecided));
        // Keys in another order mean the same; a key written twice is undecided.
        assert_eq!(decides("a: 1\nb: 2\n", "b: 2\na: 1\n", &[]), Ok(()));
        assert_eq!(decides("a: 1\nb: 2\n", "b: 2\na: 1\na: 1\n", &[]), Err(Undecided));
        // A document with nothing after it, or more: undecided.
        assert_eq!(decides("a: 1\n", "", &[]), Err(Undecided));
        assert_eq!(decides("a: 1\n", "a: 1\n---\na: 1\n", &[]), Err(Undecided));
        // Deeper than --max-depth: undecided (the whole check's parse refuses it).
        let shallow = Limits { max_depth: 2, ..Limits::default() };
        let deep = "a:\n  b:\n    c: 1\n";
        assert_eq!(
            matches_text(&Tree::parse(deep, &l).unwrap(), deep, &[], Reader::Kubernetes, &shallow),
            Err(Undecided)
        );
    }
}

mod props {
    use crate::post_render::expected::*;
    use crate::post_render::verify::{Meaning, Mismatch, check_owned};
    use crate::rules::change::{Intent, Seg};
    use crate::yaml::Limits;
    use crate::yaml::{Reader, Tree};
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
            (path.clone(), value.clone()).prop_map(|(path, value)| Intent::Set { path, value: value.into() }),
            (path.clone(), value.clone()).prop_map(|(path, v)| Intent::Append { path, items: vec![v] }),
            (path.clone(), prop::sample::select(&["a", "b", "z"][..]), prop::sample::select(&["a", "z"][..])).prop_map(
                |(path, from, to)| Intent::RenameKey {
                    path: path[..path.len() - 1].to_vec(),
                    from: from.into(),
                    to: to.into()
                }
            ),
            (path, prop::collection::btree_set(0usize..3, 1..3), value).prop_map(|(path, items, value)| {
                Intent::SetEach {
                    path: path.into(),
                    items: items.into_iter().collect(),
                    key: "k".into(),
                    value: value.into(),
                }
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
                    if matches_text(&bt, text, &intents, reader, &l).is_ok() {
                        let whole = check_owned(Meaning::of(&bt, reader), text, &intents, reader, &l);
                        prop_assert_eq!(whole, Ok(()), "{}\n=> {}\n{:?} {:?}", before_text, text, intents, reader);
                    }
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
