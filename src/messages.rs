//! Wording shared by several messages, and messages of third-party libraries made fit for
//! users: parser libraries sometimes append advice meant for the programmer who calls them
//! ("set DuplicateKeyPolicy in Options", "use Option<String>"); a skyhelm user can act on none
//! of it.

/// ` (did you mean `a` or `b`?)` for names close to a misspelt one; empty when there are none.
pub fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    let names: Vec<String> = suggestions.iter().map(|n| format!("`{n}`")).collect();
    format!(" (did you mean {}?)", names.join(" or "))
}

/// The programmer-facing advice serde-saphyr (pinned in Cargo.toml) appends to its messages.
const LIBRARY_HINTS: &[&str] = &[
    ", set DuplicateKeyPolicy in Options if acceptable",
    " If you just use !!binary for documentation/annotation, set ignore_binary_tag_for_string in Options",
    "; use Option<char>",
    "; use Option<String>",
    "; use from_str_multiple or from_str_multiple_with_options",
    "; use from_str_multidoc",
];

/// `message` without the parser library's advice to its caller (on every line: some messages
/// repeat themselves under a source snippet).
pub fn without_library_hints(message: &str) -> String {
    let mut out = message.to_string();
    for hint in LIBRARY_HINTS {
        out = out.replace(hint, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_quotes_and_joins_names() {
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(did_you_mean(&["train".into()]), " (did you mean `train`?)");
        assert_eq!(did_you_mean(&["a".into(), "b".into()]), " (did you mean `a` or `b`?)");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct S {
        name: String,
    }

    /// Real errors of the pinned serde-saphyr, so that a new version's wording is noticed.
    #[test]
    fn serde_saphyr_hints_are_removed() {
        for text in ["name: a\nname: b\n", "name: ~\n", "name: !!binary /w==\n", "name: a\n---\nname: b\n"] {
            let e = serde_saphyr::from_str::<S>(text).unwrap_err().to_string();
            let clean = without_library_hints(&e);
            assert!(!clean.contains("Option"), "{text:?}: {clean}");
            assert!(!clean.contains("from_str"), "{text:?}: {clean}");
        }
        let e = serde_saphyr::from_str::<S>("name: a\nname: b\n").unwrap_err().to_string();
        assert!(e.contains("DuplicateKeyPolicy"), "the library changed its wording: {e}");
        assert!(without_library_hints(&e).contains("duplicate mapping key: name"), "{e}");
    }
}
