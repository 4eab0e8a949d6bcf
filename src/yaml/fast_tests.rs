//! The fast reader against granit-parser: every text it takes must give the full parser's
//! events, spans included (`fast::compare_with_full_parser`), on hand-written cases, on every
//! YAML file of the project and of the upstream chart's renders, and on generated documents
//! with and without random damage.

use super::fast::compare_with_full_parser;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'p>(&mut self, items: &[&'p str]) -> &'p str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Scalars in the fast reader's subset, and then others (picked one time in eight).
const GOOD: &[&str] = &[
    "a",
    "x y",
    "1",
    "-1",
    "a:b",
    "a#b",
    "a # c",
    "~",
    "null",
    "yes",
    "on",
    "0600",
    "http://x:80/p",
    "'q'",
    "\"q\"",
    "'it''s'",
    "''",
    "\"\"",
    "x   ",
    "a - b",
    "a,b",
    "a]",
    "-x",
    "--flag=1",
    "'a' # c",
    "\"a\"  # c",
    "a  b",
    "---",
    "...",
    "a{b}",
    "[]",
    "{}",
    "[ ]",
    "{ }",
    "[a]",
    "[ \"x\" , y,z ,'w' ]",
    "[a b, c-d, \"e\"]",
    "[-1, 'it''s']",
];

const SCALARS: &[&str] = &[
    "a",
    "x y",
    "1",
    "-1",
    "a:b",
    "a#b",
    "a # c",
    "~",
    "null",
    "yes",
    "on",
    "0600",
    "http://x:80/p",
    "a: b",
    "[x]",
    "{a: b}",
    "&a x",
    "*a",
    "!t x",
    "'q'",
    "\"q\"",
    "'it''s'",
    "''",
    "\"\"",
    "\"a\\nb\"",
    "\"a",
    "'a",
    "-",
    "- a",
    "? x",
    ": x",
    "---",
    "...",
    "%x",
    "@x",
    "`x`",
    ">",
    "|2",
    "x   ",
    "a - b",
    "a,b",
    "a]",
    "-x",
    "--flag=1",
    "\"a\" b",
    "[a, ]",
    "[a,,b]",
    "[a: b]",
    "[a #b]",
    "{a: b}",
    "[[a]]",
    "[a",
    "[a]x",
    "[ - a]",
    "['a]",
    "'a' # c",
    "\"a\"  # c",
    "x:",
    "é",
    "a  b",
    "#x",
];

const GOOD_KEYS: &[&str] =
    &["a", "name", "b c", "-k", "\"q\"", "'s'", "'i''j'", "k ", "<<", "1", "a#b", "a:b", "x.y/z"];

const KEYS: &[&str] =
    &["a", "name", "b c", "-k", "\"q\"", "'s'", "'i''j'", "k ", "<<", "1", "a#b", "a:b", "x.y/z", "? k", "[k]", "&a k"];

fn scalar(r: &mut Rng) -> &'static str {
    if r.chance(8) { r.pick(SCALARS) } else { r.pick(GOOD) }
}

fn key(r: &mut Rng) -> &'static str {
    if r.chance(8) { r.pick(KEYS) } else { r.pick(GOOD_KEYS) }
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Blank and comment lines that may come between two lines of content.
fn filler(r: &mut Rng, out: &mut String) {
    while r.chance(5) {
        if r.chance(3) {
            indent(out, r.below(6));
            out.push('\n');
        } else {
            indent(out, r.below(8));
            out.push_str("# note\n");
        }
    }
}

/// The rest of a line after `key:` or `-`: a value on this line, or one on the lines below.
fn value(r: &mut Rng, out: &mut String, col: usize, depth: usize, in_map: bool) {
    let choice = if depth > 4 { r.below(3) } else { r.below(8) };
    match choice {
        0 | 1 => {
            out.push(' ');
            out.push_str(scalar(r));
            if r.chance(6) {
                out.push_str("  # c");
            }
            out.push('\n');
        }
        2 => {
            // Nothing: null, perhaps with spaces or a comment.
            out.push_str(r.pick(&["", " ", "   ", " # c"]));
            out.push('\n');
        }
        3 => literal(r, out, col),
        4 | 5 => {
            out.push_str(r.pick(&["", " "]));
            out.push('\n');
            filler(r, out);
            let step = [1, 2, 2, 4][r.below(4)];
            map(r, out, col + step, depth + 1);
        }
        _ => {
            out.push('\n');
            filler(r, out);
            let indentless = in_map && r.chance(2);
            let c = if indentless { col } else { col + 2 };
            seq(r, out, c, depth + 1);
        }
    }
}

fn literal(r: &mut Rng, out: &mut String, col: usize) {
    out.push(' ');
    out.push_str(if r.chance(8) {
        r.pick(&["|2", ">", "|-x", "|#"])
    } else {
        r.pick(&["|", "|-", "|+", "| # c", "|-  "])
    });
    out.push('\n');
    let n = col + 1 + r.below(3);
    for _ in 0..1 + r.below(4) {
        match r.below(5) {
            0 => {
                let extra = if r.chance(8) { 3 } else { 1 };
                indent(out, r.below(n + extra));
                out.push('\n');
            }
            1 => {
                indent(out, n + r.below(3));
                out.push_str("# not a comment\n");
            }
            _ => {
                indent(out, n + if r.chance(5) { 1 } else { 0 });
                out.push_str(r.pick(&["text", "a: b", "x  ", "- y", "\"q\""]));
                out.push('\n');
            }
        }
    }
    if r.chance(3) {
        indent(out, r.below(n + 2));
        out.push('\n');
    }
}

fn map(r: &mut Rng, out: &mut String, col: usize, depth: usize) {
    for _ in 0..1 + r.below(3) {
        indent(out, col);
        out.push_str(key(r));
        out.push(':');
        value(r, out, col, depth, true);
        filler(r, out);
    }
}

fn seq(r: &mut Rng, out: &mut String, col: usize, depth: usize) {
    for _ in 0..1 + r.below(3) {
        indent(out, col);
        out.push('-');
        match r.below(5) {
            0 if depth < 5 => {
                // A compact mapping: its first key on the dash's line.
                let spaces = 1 + r.below(2);
                indent(out, spaces);
                out.push_str(key(r));
                out.push(':');
                value(r, out, col + 1 + spaces, depth + 1, true);
                if r.chance(2) {
                    map(r, out, col + 1 + spaces, depth + 1);
                }
            }
            1 if depth < 5 => {
                out.push(' ');
                let inner = col + 2;
                out.push('-');
                out.push(' ');
                out.push_str(scalar(r));
                out.push('\n');
                if r.chance(2) {
                    seq(r, out, inner, depth + 1);
                }
            }
            _ => value(r, out, col, depth, false),
        }
        filler(r, out);
    }
}

fn document(r: &mut Rng) -> String {
    let mut out = String::new();
    if r.chance(3) {
        out.push_str("# Source: chart/templates/x.yaml\n");
    }
    if r.chance(2) {
        out.push_str(r.pick(&["---\n", "--- # c\n", "---  \n"]));
    }
    filler(r, &mut out);
    if r.chance(5) {
        seq(r, &mut out, 0, 0)
    } else {
        map(r, &mut out, 0, 0)
    }
    // A text cut from a larger one (config.yaml from a `|-` scalar) may end without a break.
    if r.chance(4) {
        out.pop();
    }
    out
}

fn damage(r: &mut Rng, text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    for _ in 0..1 + r.below(3) {
        let at = r.below(b.len().max(1));
        let c = *r
            .pick(&[" ", "\n", ":", "#", "-", "|", "\"", "'", "a", "  ", ": ", "- ", "\\"])
            .as_bytes()
            .first()
            .unwrap_or(&b' ');
        match r.below(3) {
            0 if !b.is_empty() => {
                let last = b.len() - 1;
                b[at.min(last)] = c;
            }
            1 if !b.is_empty() => {
                b.remove(at.min(b.len() - 1));
            }
            _ => b.insert(at.min(b.len()), c),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn check(text: &str) -> bool {
    match compare_with_full_parser(text) {
        Ok(taken) => taken,
        Err(e) => panic!("the fast reader differs from granit-parser: {e}\n--- text ---\n{text}--- end ---"),
    }
}

#[test]
fn generated_documents_read_as_the_full_parser_reads_them() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut taken, mut total) = (0, 0);
    let cases = std::env::var("FAST_YAML_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let seed = std::env::var("FAST_YAML_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
    r.0 = seed;
    for _ in 0..cases {
        let doc = document(&mut r);
        taken += usize::from(check(&doc));
        total += 1;
        check(&damage(&mut r, &doc));
    }
    // The reader must take a good share of them, or this test would prove nothing.
    eprintln!("taken {taken} of {total}");
    assert!(taken * 5 > total, "the fast reader took only {taken} of {total} generated documents");
}

#[test]
fn helm_shaped_documents_are_taken() {
    let texts = [
        "---\n# Source: x\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  config.yaml: |-\n    kubernetes:\n      allowed_contexts:\n        - a\n\n    x: 'y'\n",
        "a:\nb: 2\nc:   v w   # x\nd: |+\n  x\n\n# c\ne:\n- \n- l\nf:\n  - a\n  -   b\n  - c: 1\n\n    d:\n  -\n    e: 2\n  - - z\n",
        "spec:\n  containers:\n  - name: x\n    env:\n    - name: A\n      value: \"1\"\n    args: ['it''s', \"b\"]\n    resources: {}\n",
        "a: &x 1\nb: *x\n",
    ];
    for (i, t) in texts.iter().enumerate() {
        // The last has an anchor: left to the full parser.
        assert_eq!(check(t), i != 3, "{t}");
    }
}

/// Found by review: granit-parser counts a key's length up to its `:`, spaces included.
#[test]
fn a_key_whose_colon_is_past_1024_characters_is_left_to_the_full_parser() {
    let x = |n| "x".repeat(n);
    for text in [
        format!("{} : v\n", x(1024)),
        format!("{}{}: v\n", x(1000), " ".repeat(25)),
        format!("\"{}\" : v\n", x(1022)),
        format!("'{}' : v\n", x(1022)),
        format!("- a: 1\n  {} :\n", x(1024)),
        format!("- {}  : v\n", x(1024)),
    ] {
        assert!(!check(&text), "taken: {text}");
    }
    // The colon at 1,024 characters: still a key for both.
    assert!(check(&format!("{} : v\n", x(1023))));
}

#[test]
fn the_projects_and_the_upstream_charts_yaml_reads_as_the_full_parser_reads_it() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests/fixtures"), root.join("examples"), root.join("charts")];
    dirs.push(root.join("../shared/fixtures/upstream-skypilot"));
    let (mut files, mut taken) = (0, 0);
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                files += 1;
                for doc in text.split("\n---") {
                    let doc = if doc.ends_with('\n') { doc.to_string() } else { format!("{doc}\n") };
                    taken += usize::from(check(&doc));
                }
            }
        }
    }
    eprintln!("{files} files, {taken} documents taken");
    assert!(files > 20 && taken > 20, "{files} files, {taken} documents taken");
}

/// Every file of the folder `FAST_YAML_DIR` names, whole (for trying inputs by hand:
/// `FAST_YAML_DIR=… cargo test --lib fast_yaml_dir`); without it, the fuzz fixtures.
#[test]
fn files_of_fast_yaml_dir_read_as_the_full_parser_reads_them() {
    let dir = std::env::var_os("FAST_YAML_DIR")
        .map_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz"), Into::into);
    let (mut read, mut taken) = (0, 0);
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path()) {
            read += 1;
            taken += usize::from(check(&text));
        }
    }
    eprintln!("{read} files, {taken} taken");
    assert!(read > 0, "no file read in {}", dir.display());
}
