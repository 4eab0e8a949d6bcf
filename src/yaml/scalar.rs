//! What a scalar means to Kubernetes: YAML 1.1 resolution as go-yaml v2 does it
//! (sigs.k8s.io/yaml, used by kubectl and Helm). Only plain scalars are resolved; quoted and
//! block scalars, and scalars tagged `!!str`, are strings.

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar11 {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

/// The YAML 1.1 booleans both readers know; go-yaml v2 also reads `y`/`Y` and `n`/`N`.
const TRUE_WORDS: &[&str] = &["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"];
const FALSE_WORDS: &[&str] = &["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"];
const NULL_WORDS: &[&str] = &["", "~", "null", "Null", "NULL"];

/// The core-schema name of an explicit tag (`!!int`, `tag:yaml.org,2002:int` → `int`).
fn tag_name(tag: Option<&str>) -> Option<&str> {
    tag.map(|t| t.rsplit_once(':').map_or(t, |(_, s)| s))
}

/// A scalar both readers take as a string without resolving it: quoted or block, tagged
/// `!!str`, or with the non-specific tag `!`.
pub fn forced_str(style: Style, tag: Option<&str>) -> bool {
    style != Style::Plain || tag.is_some_and(|t| t.ends_with(":str") || t == "!")
}

/// Both readers try numbers only on text that starts like one (go-yaml v2's hint table,
/// PyYAML's first-character patterns): a sign, a dot or a digit.
fn starts_like_number(v: &str) -> bool {
    matches!(v.as_bytes().first(), Some(b'-' | b'+' | b'.' | b'0'..=b'9'))
}

/// A leading sign: (negative, the rest). None for empty text.
fn split_sign(v: &str) -> Option<(bool, &str)> {
    Some(match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    })
}

/// `[-+]?.inf` and `.nan` in their three spellings, the same for both readers.
fn special_float(v: &str) -> Option<f64> {
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    let (neg, body) = split_sign(v)?;
    matches!(body, ".inf" | ".Inf" | ".INF").then_some(if neg { f64::NEG_INFINITY } else { f64::INFINITY })
}

pub fn resolve(value: &str, style: Style, tag: Option<&str>) -> Scalar11 {
    match tag_name(tag) {
        Some("null") => return Scalar11::Null,
        Some("bool") => {
            return match resolve_plain(value) {
                b @ Scalar11::Bool(_) => b,
                _ => Scalar11::Str,
            };
        }
        Some("int") => return parse_int(value).map_or(Scalar11::Str, Scalar11::Int),
        Some("float") => {
            return parse_float(value)
                .or_else(|| parse_int(value).map(|i| i as f64))
                .map_or(Scalar11::Str, Scalar11::Float);
        }
        _ => {}
    }
    if forced_str(style, tag) {
        return Scalar11::Str;
    }
    resolve_plain(value)
}

/// Whether `v` may be one of the words the resolvers know (the null and boolean words of
/// [`resolve_plain`] and [`resolve_pyyaml`]): each is at most five bytes and starts with one of
/// these, so most text is told apart by its length and first byte.
fn may_be_word(v: &str) -> bool {
    v.len() <= 5
        && matches!(
            v.as_bytes().first(),
            None | Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~')
        )
}

/// Resolves the text of a plain scalar.
pub fn resolve_plain(v: &str) -> Scalar11 {
    if !may_be_word(v) {
        return number(v);
    }
    if NULL_WORDS.contains(&v) {
        return Scalar11::Null;
    }
    if matches!(v, "y" | "Y") || TRUE_WORDS.contains(&v) {
        return Scalar11::Bool(true);
    }
    if matches!(v, "n" | "N") || FALSE_WORDS.contains(&v) {
        return Scalar11::Bool(false);
    }
    number(v)
}

/// A plain scalar that is no word: a number when it reads as one, else a string.
fn number(v: &str) -> Scalar11 {
    if !starts_like_number(v) {
        return Scalar11::Str;
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
    let (neg, body) = split_sign(v)?;
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    // Go's strconv.ParseInt with base 0: `0x`, `0b`, `0o` in either case, else a leading `0`.
    let prefixed = |p: &str| digits.get(..2).filter(|h| h.eq_ignore_ascii_case(p)).map(|_| &digits[2..]);
    let (radix, num) = if let Some(h) = prefixed("0x") {
        (16, h)
    } else if let Some(b) = prefixed("0b") {
        (2, b)
    } else if let Some(o) = prefixed("0o") {
        (8, o)
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
    if let Some(f) = special_float(v) {
        return Some(f);
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let (_, unsigned) = split_sign(v)?;
    let b = unsigned.as_bytes();
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

/// Characters that YAML 1.1 readers (go-yaml v2, PyYAML) take as line breaks but YAML 1.2
/// parsers (ours) do not: a document holding one means different things to the two.
pub const YAML11_BREAKS: &[char] = &['\u{85}', '\u{2028}', '\u{2029}'];

/// The 1-based line of the first YAML 1.1-only line break in `text`, and the character.
pub fn yaml11_break(text: &str) -> Option<(usize, char)> {
    // Their UTF-8 forms start with 0xC2 (U+0085) or 0xE2 (U+2028, U+2029): only there is a
    // character decoded.
    let b = text.as_bytes();
    let (at, c) = memchr::memchr2_iter(0xC2, 0xE2, b)
        .filter_map(|i| text.get(i..).and_then(|t| t.chars().next()).map(|c| (i, c)))
        .find(|(_, c)| YAML11_BREAKS.contains(c))?;
    Some((memchr::memchr_iter(b'\n', &b[..at]).count() + 1, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word either resolver knows passes the length-and-first-byte filter; text that
    /// does not pass it reads as a number or a string.
    #[test]
    fn every_word_may_be_a_word() {
        for w in TRUE_WORDS.iter().chain(FALSE_WORDS).chain(NULL_WORDS).chain(&["y", "Y", "n", "N"]) {
            assert!(may_be_word(w), "{w}");
        }
        for w in ["name", "value", "Yesterday", "offset", "nulls", "~~", "Nothing", "truely"] {
            assert!(matches!(resolve_plain(w), Scalar11::Str), "{w}");
            assert_eq!(resolve_plain_pyyaml(w), PyScalar::Str, "{w}");
        }
    }

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
        // Numbers only where go-yaml v2 tries them: text that starts with a sign, dot or digit,
        // and one sign at most (as k8syaml reads them).
        for s in ["_1", "_1.5", "+-.inf", "--.inf", "-+1"] {
            assert_eq!(resolve_plain(s), Scalar11::Str, "{s}");
        }
        assert_eq!(resolve_plain("-_1"), Scalar11::Int(-1));
        assert_eq!(resolve_plain("-.Inf"), Scalar11::Float(f64::NEG_INFINITY));
        assert_eq!(resolve_plain(".5"), Scalar11::Float(0.5));
        // Go's base prefixes, in either case.
        for (s, n) in [("0o17", 15), ("0O17", 15), ("0X1F", 31), ("0B11", 3), ("+0o7", 7), ("0o1_7", 15)] {
            assert_eq!(resolve_plain(s), Scalar11::Int(n), "{s}");
        }
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

/// What a scalar means to PyYAML's `safe_load` (YAML 1.1 with PyYAML's own resolver), which is
/// how SkyPilot reads its config.yaml. It differs from go-yaml v2: `y`/`n` are strings, `1e3` and
/// `1.0e3` are strings (a float needs a dot and a signed exponent), `1:30` is the integer 90,
/// `2001-12-14` is a date.
#[derive(Debug, Clone, PartialEq)]
pub enum PyScalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A date or timestamp (`datetime.date` / `datetime.datetime`), kept as written.
    Timestamp,
    /// `=`: a value PyYAML's safe loader cannot construct.
    Unconstructible,
    Str,
}

impl PyScalar {
    /// How an error message describes what PyYAML reads.
    pub fn describe(&self, text: &str) -> String {
        match self {
            PyScalar::Null => "null (None)".into(),
            PyScalar::Bool(b) => format!("the boolean {}", if *b { "True" } else { "False" }),
            PyScalar::Int(i) => format!("the integer {i}"),
            PyScalar::Float(f) => format!("the float {f:?}"),
            PyScalar::Timestamp => format!("a date/time ({text})"),
            PyScalar::Unconstructible => "a value it cannot construct".into(),
            PyScalar::Str => "a string".into(),
        }
    }
}

pub fn resolve_pyyaml(value: &str, style: Style, tag: Option<&str>) -> PyScalar {
    match tag_name(tag) {
        Some("null") => return PyScalar::Null,
        Some("bool") => {
            return match resolve_plain_pyyaml(value) {
                b @ PyScalar::Bool(_) => b,
                _ => PyScalar::Unconstructible,
            };
        }
        Some("int") => return pyyaml_int(value).map_or(PyScalar::Unconstructible, PyScalar::Int),
        Some("float") => return pyyaml_float(value).map_or(PyScalar::Unconstructible, PyScalar::Float),
        Some("timestamp") => return PyScalar::Timestamp,
        _ => {}
    }
    if forced_str(style, tag) {
        return PyScalar::Str;
    }
    resolve_plain_pyyaml(value)
}

fn all_bytes(s: &str, f: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(f)
}

/// `[0-9][0-9_]*(?::[0-5]?[0-9])+` (the sexagesimal body), returning the value.
fn sexagesimal(s: &str) -> Option<f64> {
    let mut parts = s.split(':');
    let head = parts.next()?;
    if head.is_empty() || !head.as_bytes()[0].is_ascii_digit() || !all_bytes(head, |c| c.is_ascii_digit() || c == b'_')
    {
        return None;
    }
    let mut value: f64 = head.replace('_', "").parse().ok()?;
    let mut any = false;
    for p in parts {
        let ok = match p.as_bytes() {
            [a] => a.is_ascii_digit(),
            [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return None;
        }
        value = value * 60.0 + p.parse::<f64>().ok()?;
        any = true;
    }
    any.then_some(value)
}

fn pyyaml_int(v: &str) -> Option<i128> {
    let (neg, body) = split_sign(v)?;
    let clean = |s: &str| s.replace('_', "");
    let n = if let Some(b) = body.strip_prefix("0b") {
        if b.is_empty() || !all_bytes(b, |c| matches!(c, b'0' | b'1' | b'_')) {
            return None;
        }
        i128::from_str_radix(&clean(b), 2).unwrap_or(0)
    } else if let Some(h) = body.strip_prefix("0x") {
        if h.is_empty() || !all_bytes(h, |c| c.is_ascii_hexdigit() || c == b'_') {
            return None;
        }
        i128::from_str_radix(&clean(h), 16).unwrap_or(0)
    } else if body == "0" {
        0
    } else if let Some(o) = body.strip_prefix('0') {
        if o.is_empty() || !all_bytes(o, |c| (b'0'..=b'7').contains(&c) || c == b'_') {
            return None;
        }
        i128::from_str_radix(&clean(o), 8).unwrap_or(0)
    } else if body.as_bytes().first().is_some_and(|c| (b'1'..=b'9').contains(c)) {
        if all_bytes(body, |c| c.is_ascii_digit() || c == b'_') {
            clean(body).parse().ok()?
        } else {
            #[allow(clippy::cast_possible_truncation)]
            let s = sexagesimal(body)? as i128;
            s
        }
    } else {
        return None;
    };
    Some(if neg { -n } else { n })
}

fn pyyaml_float(v: &str) -> Option<f64> {
    if let Some(f) = special_float(v) {
        return Some(f);
    }
    let (neg, body) = split_sign(v)?;
    let signed = body.len() != v.len();
    // [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
    if let Some((head, frac)) = body.rsplit_once('.')
        && head.contains(':')
        && all_bytes(frac, |c| c.is_ascii_digit() || c == b'_')
    {
        let base = sexagesimal(head)?;
        let f: f64 = format!("0.{}", frac.replace('_', "")).parse().unwrap_or(0.0);
        return Some(if neg { -(base + f) } else { base + f });
    }
    // [0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  |  \.[0-9_]+([eE][-+][0-9]+)? (unsigned only)
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.')?;
    let digits = |s: &str| all_bytes(s, |c| c.is_ascii_digit() || c == b'_');
    let int_ok = !int.is_empty() && int.as_bytes()[0].is_ascii_digit() && digits(int) && digits(frac);
    let dot_ok = int.is_empty() && !signed && !frac.is_empty() && digits(frac);
    if !(int_ok || dot_ok) {
        return None;
    }
    if let Some(e) = exp {
        let b = e.as_bytes();
        if b.len() < 2 || !matches!(b[0], b'+' | b'-') || !b[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    let f: f64 = body.replace('_', "").parse().ok()?;
    Some(if neg { -f } else { f })
}

fn pyyaml_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    // [0-9]{4}-[0-9]{2}-[0-9]{2}
    if b.len() == 10 && (0..4).all(d) && b[4] == b'-' && d(5) && d(6) && b[7] == b'-' && d(8) && d(9) {
        return true;
    }
    // [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?(tz)?
    let mut i = 4;
    if !(0..4).all(d) || b.get(4) != Some(&b'-') {
        return false;
    }
    let num = |i: &mut usize, min: usize, max: usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - s < max {
            *i += 1;
        }
        *i - s >= min
    };
    i += 1;
    if !num(&mut i, 1, 2) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !num(&mut i, 1, 2) {
        return false;
    }
    match b.get(i) {
        Some(b'T' | b't') => i += 1,
        Some(b' ' | b'\t') => {
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        _ => return false,
    }
    if !num(&mut i, 1, 2) || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if !num(&mut i, 2, 2) || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if !num(&mut i, 2, 2) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while d(i) {
            i += 1;
        }
    }
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match b.get(i) {
        None => true,
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i += 1;
            if !num(&mut i, 1, 2) {
                return false;
            }
            if b.get(i) == Some(&b':') {
                i += 1;
                if !num(&mut i, 2, 2) {
                    return false;
                }
            }
            i == b.len()
        }
        _ => false,
    }
}

/// Resolves the text of a plain scalar as PyYAML's resolver does (first character decides which
/// patterns are tried, in PyYAML's order: bool, float, int, merge, null, timestamp, value).
pub fn resolve_plain_pyyaml(v: &str) -> PyScalar {
    let word = may_be_word(v);
    if word && TRUE_WORDS.contains(&v) {
        return PyScalar::Bool(true);
    }
    if word && FALSE_WORDS.contains(&v) {
        return PyScalar::Bool(false);
    }
    if starts_like_number(v) {
        if let Some(f) = pyyaml_float(v) {
            return PyScalar::Float(f);
        }
        if let Some(i) = pyyaml_int(v) {
            return PyScalar::Int(i);
        }
    }
    if word && NULL_WORDS.contains(&v) {
        return PyScalar::Null;
    }
    if pyyaml_timestamp(v) {
        return PyScalar::Timestamp;
    }
    if v == "=" {
        return PyScalar::Unconstructible;
    }
    PyScalar::Str
}

#[cfg(test)]
mod pyyaml_tests {
    use super::*;

    #[test]
    fn pyyaml_table_from_facts() {
        assert_eq!(resolve_plain_pyyaml("0123"), PyScalar::Int(83));
        assert_eq!(resolve_plain_pyyaml("yes"), PyScalar::Bool(true));
        assert_eq!(resolve_plain_pyyaml("y"), PyScalar::Str);
        assert_eq!(resolve_plain_pyyaml("1e3"), PyScalar::Str);
        assert_eq!(resolve_plain_pyyaml("1.0e3"), PyScalar::Str);
        assert_eq!(resolve_plain_pyyaml("1.0e+3"), PyScalar::Float(1000.0));
        assert_eq!(resolve_plain_pyyaml("0o17"), PyScalar::Str);
        assert_eq!(resolve_plain_pyyaml("1:30"), PyScalar::Int(90));
        assert_eq!(resolve_plain_pyyaml("2001-12-14"), PyScalar::Timestamp);
        assert_eq!(resolve_plain_pyyaml("08"), PyScalar::Str);
        assert_eq!(resolve_plain_pyyaml("prod-eu"), PyScalar::Str);
        assert_eq!(resolve_plain_pyyaml("~"), PyScalar::Null);
        assert_eq!(resolve_pyyaml("0123", Style::SingleQuoted, None), PyScalar::Str);
    }
}
