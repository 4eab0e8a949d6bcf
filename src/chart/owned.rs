//! What `generate` owns in a folder: the files it wrote, listed in [`OWNED_FILE`]. A rerun
//! rewrites or removes only those; `Chart.lock`, `charts/*.tgz` and files the user added are
//! never touched. Pure: the caller reads the old list and does the writing and removing.

use std::collections::BTreeMap;

/// The list of generated files, in each generated folder.
pub const OWNED_FILE: &str = ".skyhelm-generated";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OwnedError {
    #[error("{file}, line {line}: `{path}` is not a plain relative path inside the folder; refusing to touch it")]
    UnsafePath { file: String, line: usize, path: String },
}

/// A relative path of normal components only (`a/b.yaml`): no `..`, no root, no `.`, no
/// backslash, no empty component.
pub fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The comment line of a list that names the environments file's `name:` it was generated for.
const OWNER_LINE: &str = "# Generated for `name: ";

/// The text of the list for these generated files (the list itself excluded), generated from
/// `source` for the environments file's `name`.
pub fn render(source: &str, name: &str, files: &BTreeMap<String, String>) -> String {
    let mut s = format!(
        "# Files `skyhelm generate` wrote in this folder (from {source}); a rerun rewrites or removes\n# only these. Chart.lock, charts/ and files you add are left alone.\n{OWNER_LINE}{name}`: a run for another name never removes this folder.\n"
    );
    for name in files.keys().filter(|n| n.as_str() != OWNED_FILE) {
        s.push_str(name);
        s.push('\n');
    }
    s
}

/// Reads a list written by [`render`] (`file` names it in errors).
pub fn parse(file: &str, text: &str) -> Result<Vec<String>, OwnedError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !is_plain_relative(line) || line == OWNED_FILE {
            return Err(OwnedError::UnsafePath { file: file.into(), line: i + 1, path: line.into() });
        }
        out.push(line.to_string());
    }
    Ok(out)
}

/// The `name:` a list was generated for; None for a list written before lists named it.
pub fn owner(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix(OWNER_LINE)).and_then(|rest| rest.split('`').next())
}

/// Files listed before that are no longer generated: a rerun removes them.
pub fn stale(previous: &[String], files: &BTreeMap<String, String>) -> Vec<String> {
    previous.iter().filter(|p| !files.contains_key(p.as_str())).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refuses_paths_out_of_the_folder() {
        let files = BTreeMap::from([("a.yaml".to_string(), String::new()), ("t/b.txt".to_string(), String::new())]);
        let text = render("envs.yaml", "sky", &files);
        assert_eq!(parse("x", &text).unwrap(), vec!["a.yaml", "t/b.txt"]);
        assert_eq!(owner(&text), Some("sky"));
        assert_eq!(owner("# Files `skyhelm generate` wrote in this folder\na.yaml\n"), None);
        for bad in ["../x", "/etc/passwd", "a/../../b", "./a", "a//b", OWNED_FILE, "a\\..\\b"] {
            assert!(parse("x", &format!("{bad}\n")).is_err(), "{bad}");
        }
        assert_eq!(stale(&["gone.yaml".into(), "a.yaml".into()], &files), vec!["gone.yaml"]);
    }
}
