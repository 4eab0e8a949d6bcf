//! The kind and name of a document that does not parse, for error messages.
//!
//! They are read from the parser's events up to the error, and only where they stand in a
//! Kubernetes object: `kind` as a key of the root mapping, `name` as a key of the root's
//! `metadata` mapping. A line scan would take whatever first looks like `  name:`, which in a
//! malformed Secret can be a secret value (`stringData` before `metadata`).

use granit_parser::{Event, Options, Parser};

/// Longest kind or name shown (a Kubernetes name has at most 253 characters).
const MAX_SHOWN: usize = 253;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Metadata,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Kind,
    Metadata,
    Name,
}

struct Frame {
    map: bool,
    expecting_key: bool,
    role: Role,
    /// What the value after the current key is, when it is one of ours.
    pending: Option<Want>,
}

fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_SHOWN).collect();
    if s.chars().nth(MAX_SHOWN).is_some() {
        out.push('…');
    }
    out
}

/// `(kind, metadata.name)` of the document in `text`, as far as it parses. Later duplicates win,
/// as in Kubernetes' reader.
pub fn head(text: &str, max_depth: usize) -> (Option<String>, Option<String>) {
    let mut options = Options::default();
    options.flow_nesting_limit = max_depth;
    options.block_nesting_limit = max_depth;
    // As the tree's parser: comments are not captured (nor capped in number).
    options.emit_comments = false;
    let mut parser = Parser::new_from_str_with_options(text, options);
    let (mut kind, mut name) = (None, None);
    let mut stack: Vec<Frame> = Vec::new();
    while let Some(Ok((event, _))) = parser.next_event() {
        let collection = match &event {
            Event::Scalar(..) | Event::Alias(..) => None,
            Event::MappingStart(..) => Some(true),
            Event::SequenceStart(..) => Some(false),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                if stack.is_empty() {
                    break;
                }
                continue;
            }
            _ => continue,
        };
        // Where this node stands: the root, a key, or a value (with what its key asked for).
        enum Slot {
            Root,
            Key(Role),
            Value(Option<Want>),
            Item,
        }
        let slot = match stack.last_mut() {
            None => Slot::Root,
            Some(top) if top.map && top.expecting_key => {
                top.expecting_key = false;
                Slot::Key(top.role)
            }
            Some(top) if top.map => {
                top.expecting_key = true;
                Slot::Value(top.pending.take())
            }
            Some(_) => Slot::Item,
        };
        match (&event, slot) {
            (Event::Scalar(value, ..), Slot::Key(role)) => {
                let want = match (role, value.as_ref()) {
                    (Role::Root, "kind") => Some(Want::Kind),
                    (Role::Root, "metadata") => Some(Want::Metadata),
                    (Role::Metadata, "name") => Some(Want::Name),
                    _ => None,
                };
                if let Some(top) = stack.last_mut() {
                    top.pending = want;
                }
            }
            (Event::Scalar(value, ..), Slot::Value(Some(Want::Kind))) => kind = Some(shown(value)),
            (Event::Scalar(value, ..), Slot::Value(Some(Want::Name))) => name = Some(shown(value)),
            (_, slot) => {
                if let Some(map) = collection {
                    if stack.len() >= max_depth {
                        break;
                    }
                    let role = match slot {
                        Slot::Root if map => Role::Root,
                        Slot::Value(Some(Want::Metadata)) if map => Role::Metadata,
                        _ => Role::Other,
                    };
                    stack.push(Frame { map, expecting_key: true, role, pending: None });
                } else if matches!(slot, Slot::Root) {
                    break;
                }
            }
        }
    }
    (kind, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> (Option<String>, Option<String>) {
        head(text, 10_000)
    }

    fn some(k: &str, n: &str) -> (Option<String>, Option<String>) {
        (Some(k.into()), Some(n.into()))
    }

    #[test]
    fn kind_and_metadata_name_at_their_depth_only() {
        assert_eq!(h("kind: Secret\nmetadata:\n  name: a\n"), some("Secret", "a"));
        assert_eq!(h("kind: Secret\nstringData:\n  name: SECRET\nmetadata:\n  name: a\n"), some("Secret", "a"));
        assert_eq!(h("kind: Secret\nstringData:\n  name: SECRET\n  bad: [\n"), (Some("Secret".into()), None));
        assert_eq!(
            h("kind: Secret\nstringData:\n  password: |\n  name: SECRET\nmetadata:\n  name: a\n  x: [\n"),
            some("Secret", "a")
        );
        assert_eq!(h("kind: X\nspec:\n  metadata:\n    name: deep\n  kind: no\n"), (Some("X".into()), None));
        assert_eq!(h("{kind: K, metadata: {labels: {name: l}, name: n}}"), some("K", "n"));
        assert_eq!(h("- kind: K\n  metadata: {name: n}\n"), (None, None));
        assert_eq!(h("metadata: {name: n}\n? [kind]\n: K\n"), (None, Some("n".into())));
        assert_eq!(h("kind: K\nmetadata:\n  ? {name: SECRET}\n  : v\n  name: n\n"), some("K", "n"));
        assert_eq!(h(""), (None, None));
        assert_eq!(h("just text"), (None, None));
    }

    #[test]
    fn long_values_are_cut() {
        let long = "n".repeat(1000);
        let (_, name) = h(&format!("kind: K\nmetadata:\n  name: {long}\n"));
        assert_eq!(name.map(|n| n.chars().count()), Some(MAX_SHOWN + 1));
    }
}
