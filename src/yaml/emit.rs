//! Writes the YAML text of values skyhelm adds (never of values it read). Strings that a
//! YAML 1.1 reader could take for anything else are double-quoted; `name` comes first in a
//! mapping, as kubectl and Helm users are used to.

use serde_json::{Map, Value};

use super::scalar::plain_safe;

/// How new block content is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Columns from a mapping key to the `-` of a block sequence under it (0: `key:\n- a`).
    pub seq_offset: usize,
    pub nl: &'static str,
}

pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain_safe(s) => s.clone(),
        // serde_json writes C1 controls and direction marks raw: YAML forbids the first in
        // its text, and neither may reach a terminal that shows a diff.
        Value::String(s) => crate::messages::escape_hidden_json(&serde_json::to_string(s).unwrap_or_default()),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        other => flow(other),
    }
}

/// A number as YAML 1.1 readers read it back: a float in exponent form gets a dot and a signed
/// exponent (`1.0e+300`), as PyYAML's float needs (it reads `1e300` as a string).
fn number(n: &serde_json::Number) -> String {
    let s = n.to_string();
    match s.split_once('e') {
        Some((mantissa, exp)) if n.is_f64() => {
            let dot = if mantissa.contains('.') { "" } else { ".0" };
            let sign = if exp.starts_with(['-', '+']) { "" } else { "+" };
            format!("{mantissa}{dot}e{sign}{exp}")
        }
        _ => s,
    }
}

/// `name` first, then `namespace`, then the rest in order.
fn ordered(map: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    const FIRST: [&str; 2] = ["name", "namespace"];
    FIRST.iter().filter_map(|k| map.get_key_value(*k)).chain(map.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())))
}

/// Flow style, for insertion into `[...]` or `{...}`.
pub fn flow(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> =
                ordered(m).map(|(k, v)| format!("{}: {}", scalar(&Value::String(k.clone())), flow(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        other => scalar(other),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// Block mapping entries with keys at column `indent`.
pub fn block_map(map: &Map<String, Value>, indent: usize, l: Layout, out: &mut String) {
    map_in(map, indent, l, false, out);
}

/// [`block_map`]; with `literals`, multi-line strings as literal block scalars ([`literal`]).
fn map_in(map: &Map<String, Value>, indent: usize, l: Layout, literals: bool, out: &mut String) {
    for (k, v) in ordered(map) {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(&Value::String(k.clone())));
        out.push(':');
        value_in(v, indent, l, literals, out);
    }
}

/// The rest of a `key:` line and the lines under it.
pub fn block_value(v: &Value, key_col: usize, l: Layout, out: &mut String) {
    value_in(v, key_col, l, false, out);
}

fn value_in(v: &Value, key_col: usize, l: Layout, literals: bool, out: &mut String) {
    match v {
        Value::Object(m) if is_block(v) => {
            out.push_str(l.nl);
            map_in(m, key_col + 2, l, literals, out);
        }
        Value::Array(a) if is_block(v) => {
            out.push_str(l.nl);
            seq_in(a, key_col + l.seq_offset, l, literals, out);
        }
        Value::String(s) if literals && literal_safe(s) => {
            out.push(' ');
            literal(s, key_col + 2, l, out);
        }
        other => {
            out.push(' ');
            out.push_str(&flow(other));
            out.push_str(l.nl);
        }
    }
}

/// Block sequence items with `-` at column `dash`.
pub fn block_seq(items: &[Value], dash: usize, l: Layout, out: &mut String) {
    seq_in(items, dash, l, false, out);
}

fn seq_in(items: &[Value], dash: usize, l: Layout, literals: bool, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(dash));
        out.push_str("- ");
        match item {
            Value::Object(m) if is_block(item) => {
                let mut inner = String::new();
                map_in(m, dash + 2, l, literals, &mut inner);
                out.push_str(&inner[dash + 2..]);
            }
            Value::String(s) if literals && literal_safe(s) => literal(s, dash + 2, l, out),
            other => {
                out.push_str(&flow(other));
                out.push_str(l.nl);
            }
        }
    }
}

/// A string a literal block scalar (`|`) carries exactly: more than one line, its first line
/// neither empty nor starting with a space or tab (no indentation indicator needed), and only
/// printable characters besides `\n` and tab (no `\r`, NEL, line or paragraph separators,
/// BOM, which YAML readers take for line breaks or drop).
fn literal_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && s.chars().all(|c| {
            c == '\n' || c == '\t' || !(c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{85}'))
        })
}

/// A literal block scalar ([`literal_safe`]) with its lines at column `indent` (at least 1),
/// from its header (`|`, `|-` or `|+` for the final line breaks) to its last line. Empty lines
/// are written empty.
fn literal(s: &str, indent: usize, l: Layout, out: &mut String) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push('|');
    out.push_str(match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    });
    out.push_str(l.nl);
    let pad = " ".repeat(indent.max(1));
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push_str(l.nl);
    }
    for _ in 1..trailing {
        out.push_str(l.nl);
    }
}

/// The object with `first` keys first, in that order, and no null values (for new objects
/// built from k8s-openapi or kube types, which serialize fields alphabetically).
pub fn keys_first(value: Value, first: &[&str]) -> Value {
    let Value::Object(mut m) = value else { return value };
    m.retain(|_, x| !x.is_null());
    let mut out = Map::new();
    for k in first {
        if let Some(x) = m.remove(*k) {
            out.insert((*k).to_string(), x);
        }
    }
    out.extend(m);
    Value::Object(out)
}

/// A whole new document (a mapping at column 0).
pub fn document(value: &Value, l: Layout) -> String {
    let mut s = String::new();
    if let Value::Object(m) = value {
        block_map(m, 0, l, &mut s);
    }
    s
}

/// [`document`] with every multi-line string that a literal block scalar carries exactly
/// written as one (`key: |` and its lines), so that a change to it is a readable diff.
pub fn document_with_literals(value: &Value, l: Layout) -> String {
    let mut s = String::new();
    if let Value::Object(m) = value {
        map_in(m, 0, l, true, &mut s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_item_puts_name_first_and_quotes_risky_strings() {
        let l = Layout { seq_offset: 0, nl: "\n" };
        let mut out = String::new();
        block_seq(
            &[json!({"secret": {"secretName": "on", "defaultMode": 384}, "name": "kube-config"})],
            4,
            l,
            &mut out,
        );
        assert_eq!(
            out,
            "    - name: kube-config\n      secret:\n        secretName: \"on\"\n        defaultMode: 384\n"
        );
        assert_eq!(flow(&json!({"readOnly": true, "name": "a:b"})), "{name: \"a:b\", readOnly: true}");
    }

    /// PyYAML reads `1e300` as a string; its float needs a dot and a signed exponent.
    #[test]
    fn floats_in_exponent_form_read_back_as_floats_in_pyyaml() {
        assert_eq!(scalar(&json!(1.5e300)), "1.5e+300");
        assert_eq!(scalar(&json!(1e-7)), "1.0e-7");
        assert_eq!(scalar(&json!(1000.0)), "1000.0");
        assert_eq!(scalar(&json!(12)), "12");
        for v in [json!(1.5e300), json!(1e-7)] {
            assert_eq!(
                crate::yaml::scalar::resolve_plain_pyyaml(&scalar(&v)),
                crate::yaml::PyScalar::Float(v.as_f64().unwrap())
            );
        }
    }

    /// Multi-line strings become literal block scalars that read back as the same string;
    /// strings a literal cannot carry stay double-quoted.
    #[test]
    fn literals_read_back_as_the_same_strings() {
        let l = Layout { seq_offset: 0, nl: "\n" };
        let v = json!({"a": {"config": "k:\n  - x\n"}, "b": "one\ntwo", "c": "x\n\n", "d": " lead\n", "e": "a\r\nb", "f": "plain", "g": ["p\nq\n"]});
        let text = document_with_literals(&v, l);
        assert!(text.contains("  config: |\n    k:\n      - x\n"), "{text}");
        assert!(text.contains("b: |-\n  one\n  two\n"), "{text}");
        assert!(text.contains("c: |+\n  x\n\n"), "{text}");
        assert!(text.contains("d: \" lead\\n\""), "{text}");
        assert!(text.contains("- |\n  p\n  q\n"), "{text}");
        let tree = crate::yaml::Tree::parse(&text, &crate::yaml::Limits::default()).unwrap();
        assert_eq!(tree.to_json_as(tree.root().unwrap(), crate::yaml::Reader::PyYaml), v);
        assert_eq!(document(&json!({"b": "one\ntwo"}), l), "b: \"one\\ntwo\"\n");
    }
}
