//! What a scalar means to Kubernetes: YAML 1.1 resolution as go-yaml v2 does it
//! (sigs.k8s.io/yaml, used by kubectl and Helm). Only plain scalars are resolved; quoted and
//! block scalars, and scalars tagged `!!str`, are strings.

use super::tree::Style;

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar11 {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

const TRUE_WORDS: &[&str] = &["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"];
const FALSE_WORDS: &[&str] = &["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"];
const NULL_WORDS: &[&str] = &["", "~", "null", "Null", "NULL"];

pub fn resolve(value: &str, style: Style, tag: Option<&str>) -> Scalar11 {
    if style != Style::Plain || tag.is_some_and(|t| t.ends_with(":str") || t == "!") {
        return Scalar11::Str;
    }
    resolve_plain(value)
}

/// Resolves the text of a plain scalar.
pub fn resolve_plain(v: &str) -> Scalar11 {
    if NULL_WORDS.contains(&v) {
        return Scalar11::Null;
    }
    if TRUE_WORDS.contains(&v) {
        return Scalar11::Bool(true);
    }
    if FALSE_WORDS.contains(&v) {
        return Scalar11::Bool(false);
    }
    if let Some(i) = parse_int(v) {
        return Scalar11::Int(i);
    }
    if let Some(f) = parse_float(v) {
        return Scalar11::Float(f);
    }
    Scalar11::Str
}

fn parse_int(v: &str) -> Option<i128> {
    let (neg, body) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    let (radix, num) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits.as_str())
    };
    if num.is_empty() || !num.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i128::from_str_radix(num, radix).ok()?;
    Some(if neg { -n } else { n })
}

fn parse_float(v: &str) -> Option<f64> {
    let lower = v.trim_start_matches(['+', '-']);
    if matches!(lower, ".inf" | ".Inf" | ".INF") {
        return Some(if v.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let b = lower.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit() || **c == b'_').count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit() || **c == b'_').count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    v.replace('_', "").parse().ok()
}

/// True when `s` may be written as a plain scalar and still be read back as this exact string,
/// by YAML 1.1 and 1.2 readers alike, in block and in flow context. Deliberately narrow:
/// anything else gets double quotes.
pub fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '/')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && resolve_plain(s) == Scalar11::Str
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_table_from_facts() {
        assert_eq!(resolve_plain("0600"), Scalar11::Int(384));
        assert_eq!(resolve_plain("0755"), Scalar11::Int(493));
        assert_eq!(resolve_plain("0065534"), Scalar11::Int(27484));
        assert_eq!(resolve_plain("0x1F"), Scalar11::Int(31));
        assert_eq!(resolve_plain("1e3"), Scalar11::Float(1000.0));
        for w in ["yes", "y", "on", "True"] {
            assert_eq!(resolve_plain(w), Scalar11::Bool(true), "{w}");
        }
        for w in ["no", "n", "off"] {
            assert_eq!(resolve_plain(w), Scalar11::Bool(false), "{w}");
        }
        assert_eq!(resolve_plain("12:30"), Scalar11::Str);
        assert_eq!(resolve_plain("2001-12-14"), Scalar11::Str);
        assert_eq!(resolve("on", Style::DoubleQuoted, None), Scalar11::Str);
        assert_eq!(resolve_plain("~"), Scalar11::Null);
    }

    #[test]
    fn plain_safe_refuses_what_yaml11_reads_otherwise() {
        for s in ["y", "no", "on", "0600", "1e3", "", "a: b", "x#y z", "-a", ".inf", "null", "12:30"] {
            assert!(!plain_safe(s), "{s}");
        }
        for s in ["kube-config", "/root/.kube", "skyhelm.io"] {
            assert!(plain_safe(s), "{s}");
        }
    }
}
