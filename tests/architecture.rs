//! The layers of src/lib.rs's module map, kept: every module refers only to modules of its own
//! layer or below, and no modules refer to each other in a circle (two files, or two top-level
//! modules). The layers are read from lib.rs itself (its `//! - layer N ...` lines), so the map
//! and this check cannot drift apart. References are `crate::…` and `super::…` paths (in `use`
//! lists too, nested groups expanded), comments excluded, test code included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`rules::rbac`) → source text.
type Sources = BTreeMap<String, String>;

fn read_sources(dir: &Path, prefix: &[String], out: &mut Sources) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_string();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(name);
            read_sources(&path, &p, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut p = prefix.to_vec();
            if stem != "mod" {
                p.push(stem.to_string());
            }
            if p.is_empty() || p == ["lib"] || p == ["main"] {
                continue;
            }
            out.insert(p.join("::"), std::fs::read_to_string(&path).expect("read"));
        }
    }
}

/// The text without comments (`//…` to the end of the line, `/* … */`); string literals are
/// blanked so that a path inside a message is not a reference.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r'
            && (b[i + 1..].starts_with(b"\"") || b[i + 1..].starts_with(b"#"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < b.len() && b[j] == b'"' {
                let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = (j + close.len()).min(b.len());
                out.push_str("\"\"");
            } else {
                out.push('r');
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('"', '\n', '\''); lifetimes ('a) are left as they are.
            let mut j = i + 1;
            if b[j] == b'\\' {
                j += 2;
            }
            while j < b.len() && b[j] != b'\'' {
                j += 1;
            }
            i = j + 1;
            out.push_str("' '");
        } else {
            let c = src[i..].chars().next().expect("char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn ident_at(s: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..i]).into_owned(), i)
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The paths of a use tree (or a plain path) starting at `i`, each prefixed with `base`.
fn paths_at(s: &[u8], mut i: usize, base: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = base.to_vec();
    loop {
        i = skip_ws(s, i);
        if i < s.len() && s[i] == b'{' {
            i += 1;
            loop {
                i = skip_ws(s, i);
                if i >= s.len() {
                    return i;
                }
                if s[i] == b'}' {
                    return i + 1;
                }
                if s[i] == b',' {
                    i += 1;
                    continue;
                }
                let before = i;
                i = paths_at(s, i, &path, out);
                if i == before {
                    i += 1;
                }
            }
        }
        let (ident, next) = ident_at(s, i);
        if ident.is_empty() {
            out.push(path);
            return i;
        }
        i = next;
        if ident != "self" {
            path.push(ident);
        }
        let j = skip_ws(s, i);
        if s[j..].starts_with(b"::") {
            i = j + 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// Every module path a module's code names through `crate::` or `super::`.
fn references(module: &str, src: &str) -> Vec<Vec<String>> {
    let code = code_only(src);
    let s = code.as_bytes();
    let here: Vec<String> = module.split("::").map(str::to_string).collect();
    // `super` of `a::b` is `a`, whether `b` is a file or a folder with mod.rs.
    let parent: Vec<String> = here[..here.len() - 1].to_vec();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let boundary = i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_' || s[i - 1] == b':');
        if boundary && s[i..].starts_with(b"crate::") {
            i = paths_at(s, i + 7, &[], &mut out);
        } else if boundary && s[i..].starts_with(b"super::") {
            let mut base = parent.clone();
            let mut j = i + 7;
            while s[j..].starts_with(b"super::") {
                base.pop();
                j += 7;
            }
            i = paths_at(s, j, &base, &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// Module → modules it refers to (the longest known module prefix of each path; references
/// to itself and to its own ancestors are not edges).
fn edges(sources: &Sources) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, src) in sources {
        let entry = out.entry(module.clone()).or_default();
        for path in references(module, src) {
            let target = (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|p| sources.contains_key(p));
            if let Some(t) = target
                && t != *module
                && !module.starts_with(&format!("{t}::"))
            {
                entry.insert(t);
            }
        }
    }
    out
}

/// Circles in a graph (strongly connected components of more than one node).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability by repeated search: the graphs are small (a few dozen modules).
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for m in graph.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|k| (k, reach(k))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for a in graph.keys() {
        if done.contains(a) || !reaches[a].contains(a) {
            continue;
        }
        let comp: Vec<String> =
            graph.keys().filter(|b| reaches[a].contains(*b) && reaches[*b].contains(a)).cloned().collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

/// The layers of lib.rs's module map: top-level module → layer number (1 is the top).
fn layers(lib_rs: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(rest) = line.strip_prefix("//! - layer ") else { continue };
        let (n, rest) = rest.split_once(' ').expect("layer N");
        let n: usize = n.parse().expect("layer number");
        let names = rest.split_once(':').map_or(rest, |(names, _)| names);
        for name in names.split(',') {
            out.insert(name.trim().trim_matches('`').to_string(), n);
        }
    }
    out
}

/// Every breach of the layering, as sentences.
fn breaches(sources: &Sources, layer_of: &BTreeMap<String, usize>) -> Vec<String> {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let graph = edges(sources);
    let mut out = Vec::new();
    for module in sources.keys().map(|m| top(m)).collect::<BTreeSet<_>>() {
        if !layer_of.contains_key(&module) {
            out.push(format!("module `{module}` is in no layer of lib.rs's module map"));
        }
    }
    let mut top_graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &graph {
        for to in tos {
            let (a, b) = (top(from), top(to));
            if a == b {
                continue;
            }
            top_graph.entry(a.clone()).or_default().insert(b.clone());
            if let (Some(la), Some(lb)) = (layer_of.get(&a), layer_of.get(&b))
                && lb < la
            {
                out.push(format!("`{from}` (layer {la}) refers to `{to}` (layer {lb}), a higher layer"));
            }
        }
    }
    // The clap types stand on the shared vocabulary alone (issue 26): `cli` refers only to
    // modules of the bottom layer, so parsing a command line never reaches the engine.
    let bottom = layer_of.values().copied().max().unwrap_or(0);
    for (from, tos) in graph.iter().filter(|(from, _)| top(from) == "cli") {
        for to in tos.iter().filter(|to| top(to) != "cli") {
            if layer_of.get(&top(to)).is_some_and(|&l| l != bottom) {
                out.push(format!("`{from}` refers to `{to}`: cli may refer only to the bottom layer (layer {bottom})"));
            }
        }
    }
    for c in circles(&graph) {
        out.push(format!("these modules refer to each other in a circle: {}", c.join(", ")));
    }
    for c in circles(&top_graph) {
        out.push(format!("these top-level modules refer to each other in a circle: {}", c.join(", ")));
    }
    out
}

fn project() -> (Sources, BTreeMap<String, usize>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Sources::new();
    read_sources(&src, &[], &mut sources);
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    (sources, layers(&lib))
}

#[test]
fn modules_follow_the_layers_of_the_module_map() {
    let (sources, layer_of) = project();
    assert!(layer_of.len() >= 10, "lib.rs's module map names too few layers: {layer_of:?}");
    assert!(sources.len() > 40, "found too few modules under src/: {}", sources.len());
    let found = breaches(&sources, &layer_of);
    assert!(found.is_empty(), "the layers of lib.rs are not kept:\n{}", found.join("\n"));
}

/// The check itself finds what it is for: an upward `use`, a reference in an expression, a
/// nested use list, two files referring to each other, and a module in no layer. Each is
/// added to the real sources, so a check that found nothing would fail here.
#[test]
fn the_check_catches_upward_references_and_circles() {
    let (sources, layer_of) = project();
    let add = |module: &str, code: &str| {
        let mut s = sources.clone();
        s.entry(module.to_string()).or_default().push_str(code);
        breaches(&s, &layer_of)
    };
    let upward = add("yaml::tree", "\nuse crate::rules::rbac::RbacError;\n");
    assert!(upward.iter().any(|b| b.contains("`yaml::tree`") && b.contains("`rules::rbac`")), "{upward:?}");
    let expr = add("cli", "\nfn f() { let _ = crate::settings::Settings::default(); }\n");
    assert!(expr.iter().any(|b| b.contains("`cli`") && b.contains("`settings`")), "{expr:?}");
    let below = add("cli", "\nuse crate::yaml::limits::Limits;\n");
    assert!(
        below.iter().any(|b| b.contains("`cli` refers to `yaml::limits`") && b.contains("bottom layer")),
        "{below:?}"
    );
    let nested = add("policy::grants", "\nuse crate::{stream, rules::{change::Note, rbac}};\n");
    assert!(nested.iter().any(|b| b.contains("`rules::change`")), "{nested:?}");
    assert!(nested.iter().any(|b| b.contains("`rules::rbac`")), "{nested:?}");
    let circle = add("yaml::scalar", "\nuse super::tree::Tree;\n");
    assert!(
        circle.iter().any(|b| b.contains("circle") && b.contains("yaml::scalar") && b.contains("yaml::tree")),
        "{circle:?}"
    );
    let comment =
        add("yaml::tree", "\n// use crate::rules::rbac::RbacError;\nconst S: &str = \"crate::rules::rbac\";\n");
    assert_eq!(comment, breaches(&sources, &layer_of), "comments and strings are not references");
    let mut extra = sources.clone();
    extra.insert("newtop".into(), String::new());
    assert!(breaches(&extra, &layer_of).iter().any(|b| b.contains("`newtop` is in no layer")));
}
