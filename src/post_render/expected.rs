//! The expected meaning of an edited document, built only along the declared changes' paths:
//! everywhere else it is the original's tree itself, compared with the re-read tree node by
//! node. A huge document (a config.yaml of 200,000 lines) is then never turned into JSON; the
//! whole-meaning comparison of `verify` runs only when this one cannot decide.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::rules::change::{Intent, Seg};
use crate::yaml::scalar::Style;
use crate::yaml::tree::NodeKind;
use crate::yaml::{NodeId, Reader, Tree};

/// Something this comparison does not decide (a merge key or an alias on a change's path, a
/// change that cannot be applied, any difference): the whole-meaning check decides and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecided;

/// What a node of the edited document must mean.
#[derive(Debug)]
enum Expect<'i> {
    /// What the original means at this node.
    Node(NodeId),
    /// A value the rules declared (borrowed from the change: it may be a whole new
    /// config.yaml), or a part of the original turned into one.
    Value(Cow<'i, Value>),
    /// A mapping of the original opened along a change's path: its keys in order, each once.
    Map(Vec<(String, Expect<'i>)>),
    /// A list of the original opened along a change's path.
    Seq(Vec<Expect<'i>>),
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
fn apply<'i>(t: &Tree, reader: Reader, v: &mut Expect<'i>, intent: &'i Intent) -> Result<(), Undecided> {
    match intent {
        Intent::Append { path, items } => {
            let target = walk(t, reader, v, path, true)?;
            if is_null(t, reader, target) {
                *target = Expect::Seq(Vec::new());
            }
            let Expect::Seq(list) = open(t, reader, target)? else { return Err(Undecided) };
            list.extend(items.iter().map(|x| Expect::Value(Cow::Borrowed(x))));
        }
        Intent::Set { path, value } => *walk(t, reader, v, path, true)? = Expect::Value(Cow::Borrowed(&**value)),
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
                *walk(t, reader, item, &[Seg::Key(key.to_string())], true)? =
                    Expect::Value(Cow::Borrowed(value.as_ref()));
            }
        }
    }
    Ok(())
}

/// Follows `path` from `v`, opening the original's mappings and lists on the way; with
/// `create`, missing keys (and nulls in place of mappings) become mappings, as `verify::walk`.
fn walk<'e, 'i>(
    t: &Tree,
    reader: Reader,
    mut v: &'e mut Expect<'i>,
    path: &[Seg],
    create: bool,
) -> Result<&'e mut Expect<'i>, Undecided> {
    for seg in path {
        if create && matches!(seg, Seg::Key(_)) && is_null(t, reader, v) {
            *v = Expect::Map(Vec::new());
        }
        v = match (seg, open(t, reader, v)?) {
            (Seg::Key(k), Expect::Map(entries)) => match entries.iter().position(|(e, _)| e == k) {
                Some(i) => &mut entries[i].1,
                None if create => {
                    entries.push((k.clone(), Expect::Value(Cow::Owned(Value::Null))));
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
            matches!(t.kind(t.resolve(*n)), NodeKind::Scalar { .. }) && t.to_json_as(*n, reader).is_null()
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
fn open<'e, 'i>(t: &Tree, reader: Reader, v: &'e mut Expect<'i>) -> Result<&'e mut Expect<'i>, Undecided> {
    match v {
        Expect::Node(n) => {
            let n = t.resolve(*n);
            *v = match t.kind(n) {
                NodeKind::Seq { items, .. } => Expect::Seq(items.iter().map(|&i| Expect::Node(i)).collect()),
                NodeKind::Map { .. } => match plain_entries(t, n, reader) {
                    Some(entries) => {
                        Expect::Map(entries.into_iter().map(|(k, v)| (k.into_owned(), Expect::Node(v))).collect())
                    }
                    None => return Err(Undecided),
                },
                NodeKind::Scalar { .. } => Expect::Value(Cow::Owned(t.to_json_as(n, reader))),
                NodeKind::Alias { .. } => return Err(Undecided),
            };
        }
        // A declared list or mapping (copied only now, when a change goes into it).
        Expect::Value(value) if matches!(**value, Value::Array(_) | Value::Object(_)) => {
            *v = match std::mem::take(value).into_owned() {
                Value::Array(items) => Expect::Seq(items.into_iter().map(|x| Expect::Value(Cow::Owned(x))).collect()),
                Value::Object(m) => {
                    Expect::Map(m.into_iter().map(|(k, x)| (k, Expect::Value(Cow::Owned(x)))).collect())
                }
                other => Expect::Value(Cow::Owned(other)),
            };
        }
        _ => {}
    }
    Ok(v)
}

/// The entries of mapping `n` by key name, when it has no merge key and writes no key twice
/// (its meaning is then exactly these entries).
fn plain_entries<'t>(t: &'t Tree<'_>, n: NodeId, reader: Reader) -> Option<Vec<(Cow<'t, str>, NodeId)>> {
    Some(plain_map(t, n, reader)?.iter().map(|&(k, v)| (t.key_name(k, reader), v)).collect())
}

/// The entries of mapping `n` when it has no merge key and writes no key twice; a small
/// mapping is checked without allocating (a config.yaml of 100,000 two-key mappings).
fn plain_map<'t>(t: &'t Tree<'_>, n: NodeId, reader: Reader) -> Option<&'t [(NodeId, NodeId)]> {
    let NodeKind::Map { entries, .. } = t.kind(n) else { return None };
    // Each key named once, as `reader` reads it; None for a merge key.
    let name = |k: NodeId| match t.kind(t.resolve(k)) {
        NodeKind::Scalar { value, style, .. } if style == Style::Plain && t.text(value) == "<<" => None,
        NodeKind::Scalar { value, style, tag } => Some(crate::yaml::tree::key_name(t.text(value), style, tag, reader)),
        _ => Some(t.key_name(k, reader)),
    };
    if entries.len() <= 16 {
        let mut names: [Option<Cow<'t, str>>; 16] = Default::default();
        for (i, &(k, _)) in entries.iter().enumerate() {
            let k = name(k)?;
            if names[..i].iter().any(|o| o.as_ref() == Some(&k)) {
                return None;
            }
            names[i] = Some(k);
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        for &(k, _) in entries {
            if !seen.insert(name(k)?) {
                return None;
            }
        }
    }
    Some(entries)
}

/// Whether `a` of the re-read tree means `e`.
fn compare(before: &Tree, after: &Tree, a: NodeId, e: &Expect, reader: Reader) -> Result<(), Undecided> {
    let same = match e {
        Expect::Node(b) => return same_meaning(before, *b, after, a, reader),
        // A declared string (a whole new config.yaml, say) compared in place, not copied.
        Expect::Value(v) if reader == Reader::Kubernetes && v.as_str().is_some_and(|s| after.str(a) == Some(s)) => true,
        Expect::Value(v) => after.to_json_as(a, reader) == **v,
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
            let NodeKind::Seq { items: found, .. } = after.kind(a) else { return Err(Undecided) };
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
        let same = match (bt.kind(b), at.kind(a)) {
            (
                NodeKind::Scalar { value: vb, style: sb, tag: tb },
                NodeKind::Scalar { value: va, style: sa, tag: ta },
            ) if bt.text(vb) == at.text(va) && sb == sa && tb == ta => true,
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

/// [`matches`] without a tree of the edited text: `after` is read once, each node compared as
/// the parser completes it, so a huge edited document (a config.yaml of 200,000 lines, a
/// Deployment of 100,000 env entries) is never held twice as a tree. Ok only when it surely
/// means `before` plus `intents` and writes no key twice (so the caller has no duplicated keys
/// to compare) and no merge key. Anything else is undecided: text the fast reader does not take
/// whole (flow collections, anchors, aliases, tags, ...), a tab that PyYAML may refuse, keys out
/// of place, any difference; the caller then parses `after` and compares trees.
pub fn matches_text(
    before: &Tree,
    after: &str,
    intents: &[Intent],
    reader: Reader,
    limits: &crate::yaml::Limits,
) -> Result<(), Undecided> {
    // Which tabs PyYAML refuses takes a tree to say (`pyyaml::refused_tab`).
    if reader == Reader::PyYaml && memchr::memchr(b'\t', after.as_bytes()).is_some() {
        return Err(Undecided);
    }
    let root = before.root().ok_or(Undecided)?;
    let mut expect = Expect::Node(root);
    for intent in intents {
        apply(before, reader, &mut expect, intent)?;
    }
    let mut step = Lockstep {
        t: before,
        reader,
        max_depth: limits.max_depth,
        stack: Vec::new(),
        root: Some(Want::of(&expect)),
        done: false,
        decided: Ok(()),
    };
    let read = crate::yaml::tree::read_plain(after, limits, &mut |event| step.event(event));
    step.decided?;
    if read && step.done && step.stack.is_empty() { Ok(()) } else { Err(Undecided) }
}

/// What the next node of the edited text must mean.
#[derive(Clone, Copy)]
enum Want<'a> {
    /// What the original means at this node.
    Node(NodeId),
    /// A declared value (or part of one).
    Value(&'a Value),
    /// A mapping or list of the original opened along a change's path.
    Opened(&'a Expect<'a>),
}

impl<'a> Want<'a> {
    fn of(e: &'a Expect<'a>) -> Want<'a> {
        match e {
            Expect::Node(n) => Want::Node(*n),
            Expect::Value(v) => Want::Value(v),
            Expect::Map(_) | Expect::Seq(_) => Want::Opened(e),
        }
    }
}

/// The items a list of the edited text must have.
enum Items<'a> {
    Node(&'a [NodeId]),
    Opened(&'a [Expect<'a>]),
    Value(&'a [Value]),
}

impl<'a> Items<'a> {
    fn len(&self) -> usize {
        match self {
            Items::Node(i) => i.len(),
            Items::Opened(i) => i.len(),
            Items::Value(i) => i.len(),
        }
    }

    fn get(&self, i: usize) -> Option<Want<'a>> {
        match self {
            Items::Node(items) => items.get(i).map(|&n| Want::Node(n)),
            Items::Opened(items) => items.get(i).map(Want::of),
            Items::Value(items) => items.get(i).map(Want::Value),
        }
    }
}

/// The entries a mapping of the edited text must have, each key once.
enum Entries<'a> {
    /// A mapping of the original ([`plain_map`]), its keys named as `reader` reads them.
    Node(&'a Tree<'a>, &'a [(NodeId, NodeId)], Reader),
    Opened(&'a [(String, Expect<'a>)]),
    Value(&'a serde_json::Map<String, Value>),
}

impl<'a> Entries<'a> {
    fn len(&self) -> usize {
        match self {
            Entries::Node(_, e, _) => e.len(),
            Entries::Opened(e) => e.len(),
            Entries::Value(e) => e.len(),
        }
    }

    /// What the value of the entry at `i` must mean (its key not named).
    fn want(&self, i: usize) -> Option<Want<'a>> {
        match *self {
            Entries::Node(_, e, _) => e.get(i).map(|&(_, n)| Want::Node(n)),
            Entries::Opened(e) => e.get(i).map(|(_, x)| Want::of(x)),
            Entries::Value(e) => e.values().nth(i).map(Want::Value),
        }
    }

    /// The entry at `i`: its key and what its value must mean.
    fn get(&self, i: usize) -> Option<(Cow<'a, str>, Want<'a>)> {
        match *self {
            Entries::Node(t, e, reader) => e.get(i).map(|&(k, n)| (t.key_name(k, reader), Want::Node(n))),
            Entries::Opened(e) => e.get(i).map(|(k, x)| (Cow::Borrowed(k.as_str()), Want::of(x))),
            Entries::Value(e) => e.iter().nth(i).map(|(k, v)| (Cow::Borrowed(k.as_str()), Want::Value(v))),
        }
    }
}

/// Which entries of a mapping were written: bits of one word for up to 64 (no allocation per
/// mapping), else a flag each.
enum Used {
    Few(u64),
    Many(Vec<bool>),
}

impl Used {
    fn new(len: usize) -> Used {
        if len <= 64 { Used::Few(0) } else { Used::Many(vec![false; len]) }
    }

    /// Marks entry `i` written; true when it already was.
    fn set(&mut self, i: usize) -> bool {
        match self {
            Used::Few(bits) => {
                let bit = 1u64 << (i % 64);
                std::mem::replace(bits, *bits | bit) & bit != 0
            }
            Used::Many(flags) => flags.get_mut(i).is_none_or(|f| std::mem::replace(f, true)),
        }
    }

    /// Whether all of `len` entries were written.
    fn all(&self, len: usize) -> bool {
        match self {
            Used::Few(bits) => len <= 64 && *bits == u64::MAX.checked_shr(64 - len as u32).unwrap_or(0),
            Used::Many(flags) => flags.len() == len && flags.iter().all(|&u| u),
        }
    }
}

/// A collection of the edited text being read.
enum Frame<'a> {
    Seq {
        items: Items<'a>,
        next: usize,
    },
    Map {
        entries: Entries<'a>,
        /// Which entries the text has written so far (a key written twice is undecided).
        used: Used,
        /// Where the next key is looked for first: keys usually come in the original's order.
        next: usize,
        /// The entries by key, made at the first key out of order in a large mapping.
        index: Option<HashMap<String, usize>>,
        /// What the value of the key just read must mean.
        value: Option<Want<'a>>,
    },
}

/// The comparison of the edited text's events with the expected meaning.
struct Lockstep<'a> {
    t: &'a Tree<'a>,
    reader: Reader,
    max_depth: usize,
    stack: Vec<Frame<'a>>,
    root: Option<Want<'a>>,
    done: bool,
    decided: Result<(), Undecided>,
}

impl<'a> Lockstep<'a> {
    fn event(&mut self, event: crate::yaml::tree::PlainEvent<'_>) -> bool {
        if self.decided.is_ok() {
            self.decided = self.step(event);
        }
        self.decided.is_ok()
    }

    fn step(&mut self, event: crate::yaml::tree::PlainEvent<'_>) -> Result<(), Undecided> {
        use crate::yaml::tree::PlainEvent;
        match event {
            PlainEvent::Scalar { text, style, tagged: false } => {
                if let Some(Frame::Map { value: None, .. }) = self.stack.last() {
                    return self.key(&text, style);
                }
                let want = self.want()?;
                if !self.same_scalar(want, &text, style) {
                    return Err(Undecided);
                }
                self.completed();
                Ok(())
            }
            PlainEvent::Literal(block) => {
                if let Some(Frame::Map { value: None, .. }) = self.stack.last() {
                    return self.key(&block.decode(), Style::Literal);
                }
                let want = self.want()?;
                if !self.same_literal(want, &block) {
                    return Err(Undecided);
                }
                self.completed();
                Ok(())
            }
            PlainEvent::SequenceStart { tagged: false } | PlainEvent::MappingStart { tagged: false } => {
                let is_map = matches!(event, PlainEvent::MappingStart { .. });
                if self.stack.len() >= self.max_depth
                    || matches!(self.stack.last(), Some(Frame::Map { value: None, .. }))
                {
                    return Err(Undecided);
                }
                let frame = self.open(self.want()?, is_map)?;
                self.stack.push(frame);
                Ok(())
            }
            PlainEvent::End => {
                let whole = match self.stack.pop().ok_or(Undecided)? {
                    Frame::Seq { items, next } => next == items.len(),
                    Frame::Map { used, value, entries, .. } => value.is_none() && used.all(entries.len()),
                };
                if !whole {
                    return Err(Undecided);
                }
                self.completed();
                Ok(())
            }
            _ => Err(Undecided),
        }
    }

    /// What the node starting now must mean.
    fn want(&self) -> Result<Want<'a>, Undecided> {
        match self.stack.last() {
            None if !self.done => self.root.ok_or(Undecided),
            None => Err(Undecided),
            Some(Frame::Seq { items, next }) => items.get(*next).ok_or(Undecided),
            Some(Frame::Map { value, .. }) => value.ok_or(Undecided),
        }
    }

    /// A node is complete: its parent moves on to the next item or key.
    fn completed(&mut self) {
        match self.stack.last_mut() {
            None => self.done = true,
            Some(Frame::Seq { next, .. }) => *next += 1,
            Some(Frame::Map { value, .. }) => *value = None,
        }
    }

    /// A key of the innermost mapping: the entry it names, written once.
    fn key(&mut self, text: &str, style: Style) -> Result<(), Undecided> {
        if style == Style::Plain && text == "<<" {
            return Err(Undecided);
        }
        let t = self.t;
        let Some(Frame::Map { entries, used, next, index, value }) = self.stack.last_mut() else {
            return Err(Undecided);
        };
        // The original's next key written the same (text and style, no tag) is the same key:
        // nothing to resolve on either side.
        let same_as_written = match entries {
            Entries::Node(_, e, _) => e.get(*next).is_some_and(|&(k, _)| {
                matches!(t.kind(t.resolve(k)), NodeKind::Scalar { value, style: s, tag: None } if s == style && t.text(value) == text)
            }),
            _ => false,
        };
        let found = if same_as_written {
            Some(*next)
        } else {
            let name = crate::yaml::tree::key_name(text, style, None, self.reader);
            match entries.get(*next) {
                Some((k, _)) if k == name => Some(*next),
                _ if entries.len() <= 16 => {
                    (0..entries.len()).find(|&i| entries.get(i).is_some_and(|(k, _)| k == name))
                }
                _ => index
                    .get_or_insert_with(|| {
                        (0..entries.len()).filter_map(|i| entries.get(i).map(|(k, _)| (k.to_string(), i))).collect()
                    })
                    .get(name.as_ref())
                    .copied(),
            }
        };
        let i = found.ok_or(Undecided)?;
        if used.set(i) {
            return Err(Undecided);
        }
        *next = i + 1;
        *value = Some(entries.want(i).ok_or(Undecided)?);
        Ok(())
    }

    /// The frame of a collection of the edited text that must mean `want`.
    fn open(&self, want: Want<'a>, is_map: bool) -> Result<Frame<'a>, Undecided> {
        let (t, reader) = (self.t, self.reader);
        let map = |entries: Entries<'a>| Frame::Map {
            used: Used::new(entries.len()),
            entries,
            next: 0,
            index: None,
            value: None,
        };
        let seq = |items: Items<'a>| Frame::Seq { items, next: 0 };
        Ok(match (want, is_map) {
            (Want::Node(n), _) => {
                let n = t.resolve(n);
                match (t.kind(n), is_map) {
                    (NodeKind::Seq { items, .. }, false) => seq(Items::Node(items)),
                    (NodeKind::Map { .. }, true) => {
                        map(Entries::Node(t, plain_map(t, n, reader).ok_or(Undecided)?, reader))
                    }
                    _ => return Err(Undecided),
                }
            }
            (Want::Opened(Expect::Seq(items)), false) => seq(Items::Opened(items)),
            (Want::Opened(Expect::Map(entries)), true) => map(Entries::Opened(entries)),
            (Want::Value(Value::Array(items)), false) => seq(Items::Value(items)),
            (Want::Value(Value::Object(entries)), true) => map(Entries::Value(entries)),
            _ => return Err(Undecided),
        })
    }

    /// Whether a scalar of the edited text means `want`: the original's scalar written the same
    /// (text and style, no tag), or the same meaning.
    /// As [`Self::same_scalar`] for a literal block scalar, compared in place where the value
    /// it must be is a string: an untagged block scalar is a string to both readers.
    fn same_literal(&self, want: Want<'a>, block: &crate::yaml::fast::Literal<'_>) -> bool {
        debug_assert!(crate::yaml::scalar::forced_str(Style::Literal, None));
        let t = self.t;
        match want {
            Want::Value(Value::String(s)) => block.equals(s),
            Want::Node(b) => match t.kind(t.resolve(b)) {
                NodeKind::Scalar { value, style: Style::Literal, tag: None } => block.equals(t.text(value)),
                _ => self.same_scalar(want, &block.decode(), Style::Literal),
            },
            _ => self.same_scalar(want, &block.decode(), Style::Literal),
        }
    }

    fn same_scalar(&self, want: Want<'a>, text: &str, style: Style) -> bool {
        let (t, reader) = (self.t, self.reader);
        match want {
            Want::Node(b) => {
                let b = t.resolve(b);
                match t.kind(b) {
                    NodeKind::Scalar { value, style: s, tag: None } if s == style && t.text(value) == text => true,
                    NodeKind::Scalar { .. } => {
                        t.to_json_as(b, reader) == crate::yaml::tree::scalar_json(text, style, None, reader)
                    }
                    _ => false,
                }
            }
            // A declared string (a whole new config.yaml, say) compared in place, not copied.
            Want::Value(Value::String(s)) => {
                crate::yaml::tree::scalar_str(text, style, None, reader) == Some(s.as_str())
            }
            Want::Value(v) => crate::yaml::tree::scalar_json(text, style, None, reader) == *v,
            Want::Opened(_) => false,
        }
    }
}

#[cfg(test)]
mod used_tests {
    use super::Used;

    /// Written entries are counted exactly, in a word or in flags: each once, all or not.
    #[test]
    fn used_marks_each_entry_once() {
        for len in [0usize, 1, 2, 63, 64, 65, 200] {
            let mut used = Used::new(len);
            assert_eq!(used.all(len), len == 0);
            for i in (0..len).rev() {
                assert!(!used.set(i), "{len} {i}");
                assert!(used.set(i), "{len} {i} twice");
                assert_eq!(used.all(len), i == 0, "{len} {i}");
            }
        }
    }
}
