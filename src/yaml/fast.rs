//! A fast reader for the plain block YAML that Helm renders, giving exactly the events (and
//! the spans) granit-parser gives for the same text.
//!
//! It takes a narrow subset: ASCII text of block mappings and sequences, one-line plain and
//! quoted scalars (no escapes), and literal block scalars. Anything else (flow collections,
//! anchors, aliases, tags, multi-line plain or quoted scalars, folded scalars, tabs, comments in
//! a few places, a second document, …) and anything it is unsure of gives [`Unsupported`], and
//! the caller parses the text with granit-parser from the start: this reader never decides
//! what a document means where the full parser could decide otherwise, and never reports an
//! error itself. `tests` below and the `fast_yaml` fuzz target compare both on every input.

use std::borrow::Cow;

use granit_parser::{Event, ScalarStyle, StructureStyle};

/// Where an event is: byte offsets in the text, 1-based line and 0-based column of `start`
/// (granit-parser's spans, as the tree builder takes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct At {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) line: usize,
    pub(super) col: usize,
}

/// The text is outside the subset: parse it with the full parser.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported;

type R<T> = Result<T, Unsupported>;

/// Deeper than this, the full parser takes the document (it also keeps this reader's recursion
/// shallow).
const MAX_DEPTH: usize = 64;

/// YAML's limit on an implicit key's length: granit-parser measures it from the key's start to
/// its `:` (spaces before the `:` count).
const MAX_KEY: usize = 1024;

/// Feeds the events of `text` to `sink` (which answers false to stop: the full parser then
/// runs and says why). `Err(Unsupported)` after some events were fed means: discard them.
pub(super) fn parse<'a>(text: &'a str, sink: &mut dyn FnMut(Event<'a>, At) -> bool) -> R<()> {
    parse_with(text, sink, None)
}

/// As [`parse`], but a literal block scalar goes to `literal`, undecoded (a reader that only
/// compares a 16 MB config.yaml with what it must be need not copy it first).
pub(super) fn parse_lazily<'a>(
    text: &'a str,
    sink: &mut dyn FnMut(Event<'a>, At) -> bool,
    literal: &mut dyn FnMut(Literal<'a>, At) -> bool,
) -> R<()> {
    parse_with(text, sink, Some(literal))
}

fn parse_with<'a, 's>(
    text: &'a str,
    sink: &'s mut dyn FnMut(Event<'a>, At) -> bool,
    literal: Option<&'s mut dyn FnMut(Literal<'a>, At) -> bool>,
) -> R<()> {
    let b = text.as_bytes();
    // Control characters (a tab, a CR, …) are left to the full parser; checked a block at a
    // time without stopping early, which the compiler turns into vector instructions.
    let control = |block: &[u8]| block.iter().fold(false, |seen, &c| seen | ((c < 0x20) & (c != b'\n')) | (c == 0x7f));
    if !text.is_ascii() || b.chunks(4096).any(control) {
        return Err(Unsupported);
    }
    let mut r = Reader { text, b, sink, literal, depth: 0 };
    r.document()
}

/// What the tree builder takes from an event, as text: the event with the spans it reads
/// (a block collection's end is found from its last child, a document start is only counted).
fn builder_view(event: &Event<'_>, at: At) -> Option<String> {
    match event {
        Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
        Event::DocumentStart(..) => Some("document".to_string()),
        Event::SequenceEnd | Event::MappingEnd => Some(format!("{event:?}")),
        _ => Some(format!("{event:?} {}..{} line {} col {}", at.start, at.end, at.line, at.col)),
    }
}

/// Compares this reader with granit-parser on `text`: `Ok(true)` when this reader took the
/// text and gave the same events, `Ok(false)` when it left the text to the full parser, and
/// the first difference otherwise (for the tests and the `fast_yaml` fuzz target).
pub fn compare_with_full_parser(text: &str) -> Result<bool, String> {
    let mut fast = Vec::new();
    if parse(text, &mut |event, at| {
        fast.extend(builder_view(&event, at));
        true
    })
    .is_err()
    {
        return Ok(false);
    }
    let mut options = granit_parser::Options::default();
    options.block_scalar_eof_without_line_feed = true;
    options.emit_comments = false;
    let mut parser = granit_parser::Parser::new_from_str_with_options(text, options);
    let mut full = Vec::new();
    let mut literals = Vec::new();
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(|e| format!("the full parser refused what the fast reader took: {e}"))?;
        let start = span.start.byte_offset().unwrap_or(0);
        let at =
            At { start, end: span.end.byte_offset().unwrap_or(start), line: span.start.line(), col: span.start.col() };
        if let Event::Scalar(value, ScalarStyle::Literal, ..) = &event {
            literals.push(value.to_string());
        }
        full.extend(builder_view(&event, at));
    }
    // Read lazily, each literal block compares as the full parser's value, and nothing else.
    let mut lazy = Vec::new();
    let lazily = parse_lazily(text, &mut |_, _| true, &mut |block, _| {
        lazy.push(block);
        true
    });
    if lazily.is_err() || lazy.len() != literals.len() {
        return Err(format!("read lazily: {lazily:?}, {} literal blocks of {}", lazy.len(), literals.len()));
    }
    for (block, value) in lazy.iter().zip(&literals) {
        let shorter = value.get(..value.len().saturating_sub(1)).filter(|_| !value.is_empty());
        if block.decode() != *value
            || !block.equals(value)
            || block.equals(&format!("{value}x"))
            || block.equals(&format!("x{value}"))
            || shorter.is_some_and(|s| block.equals(s))
        {
            return Err(format!("literal block {block:?}: the full parser reads {value:?}"));
        }
    }
    match fast.iter().zip(&full).position(|(a, b)| a != b) {
        Some(i) => Err(format!("event {i}: fast reader {:?}, full parser {:?}", fast[i], full[i])),
        None if fast.len() != full.len() => {
            Err(format!("the fast reader gave {} events, the full parser {}", fast.len(), full.len()))
        }
        None => Ok(true),
    }
}

/// One line: `start` its first byte, `end` its `\n`, `indent` its leading spaces, `no` 1-based.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    indent: usize,
    no: usize,
}

impl Line {
    /// Byte offset of the first character after the indentation.
    fn content(self) -> usize {
        self.start + self.indent
    }
}

struct Reader<'a, 's> {
    text: &'a str,
    b: &'a [u8],
    sink: &'s mut dyn FnMut(Event<'a>, At) -> bool,
    /// Where literal block scalars go undecoded, if anywhere ([`parse_lazily`]).
    literal: Option<&'s mut dyn FnMut(Literal<'a>, At) -> bool>,
    depth: usize,
}

impl<'a> Reader<'a, '_> {
    fn emit(&mut self, event: Event<'a>, at: At) -> R<()> {
        if (self.sink)(event, at) { Ok(()) } else { Err(Unsupported) }
    }

    fn at(&self, line: Line, start: usize, end: usize) -> At {
        At { start, end, line: line.no, col: start - line.start }
    }

    /// The line starting at `start` (which must be the start of a line inside the text).
    fn line_at(&self, start: usize, no: usize) -> Line {
        let end = memchr::memchr(b'\n', &self.b[start..]).map_or(self.b.len(), |i| start + i);
        let indent = self.b[start..end].iter().take_while(|&&c| c == b' ').count();
        Line { start, end, indent, no }
    }

    /// The line after `line`, or None at the end of the text.
    fn next_line(&self, line: Line) -> Option<Line> {
        let start = line.end + 1;
        (start < self.b.len()).then(|| self.line_at(start, line.no + 1))
    }

    /// Whether `line` holds nothing but spaces or a comment.
    fn is_blank_or_comment(&self, line: Line) -> bool {
        line.content() == line.end || self.b[line.content()] == b'#'
    }

    /// The next line after `line` with content (not blank, not only a comment); a document
    /// marker is outside the subset.
    fn next_content(&self, mut line: Line) -> R<Option<Line>> {
        while let Some(next) = self.next_line(line) {
            if !self.is_blank_or_comment(next) {
                return self.not_a_marker(next).map(Some);
            }
            line = next;
        }
        Ok(None)
    }

    fn not_a_marker(&self, line: Line) -> R<Line> {
        let s = &self.b[line.start..line.end];
        if line.indent == 0 && (s.starts_with(b"---") || s.starts_with(b"...")) {
            return Err(Unsupported);
        }
        Ok(line)
    }

    fn document(&mut self) -> R<()> {
        let mut line = self.line_at(0, 1);
        let mut explicit = false;
        loop {
            if self.is_blank_or_comment(line) {
            } else if line.indent == 0 && self.b[line.start..line.end].starts_with(b"---") && !explicit {
                let rest = &self.b[line.start + 3..line.end];
                let after = rest.iter().take_while(|&&c| c == b' ').count();
                if !(after == rest.len() || (after > 0 && rest[after] == b'#')) {
                    return Err(Unsupported);
                }
                explicit = true;
            } else {
                break;
            }
            line = self.next_line(line).ok_or(Unsupported)?;
        }
        let line = self.not_a_marker(line)?;
        self.emit(Event::DocumentStart(explicit, None), At { start: 0, end: 0, line: 1, col: 0 })?;
        let rest = self.block_node(line)?;
        if rest.is_some() { Err(Unsupported) } else { Ok(()) }
    }

    /// A block collection whose first line is `line` (at its indentation).
    fn block_node(&mut self, line: Line) -> R<Option<Line>> {
        if self.is_entry(line, line.content()) {
            self.sequence(line, line.content(), false)
        } else {
            self.mapping(line, line.content())
        }
    }

    /// Whether a sequence entry (`-` then a space or the line's end) starts at `at`.
    fn is_entry(&self, line: Line, at: usize) -> bool {
        self.b[at] == b'-' && (at + 1 == line.end || self.b[at + 1] == b' ')
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(Unsupported) } else { Ok(()) }
    }

    /// A block mapping whose first key starts at `key` on `line`; returns the first content
    /// line after it.
    fn mapping(&mut self, mut line: Line, mut key: usize) -> R<Option<Line>> {
        self.enter()?;
        let col = key - line.start;
        self.emit(Event::MappingStart(StructureStyle::Block, 0, None), self.at(line, key, key))?;
        let next = loop {
            let after_colon = self.key(line, key)?;
            match self.value(line, after_colon, col)? {
                Some(l) if l.indent == col && !self.is_entry(l, l.content()) => {
                    line = l;
                    key = l.content();
                }
                Some(l) if l.indent < col => break Some(l),
                Some(_) => return Err(Unsupported),
                None => break None,
            }
        };
        self.emit(Event::MappingEnd, self.at(line, line.end, line.end))?;
        self.depth -= 1;
        Ok(next)
    }

    /// A block sequence whose first `-` is at `dash` on `line`; `indentless` when it is a
    /// mapping's value at the mapping's own indentation. Returns the first content line after it.
    fn sequence(&mut self, mut line: Line, mut dash: usize, indentless: bool) -> R<Option<Line>> {
        self.enter()?;
        let col = dash - line.start;
        let start = if indentless { self.skip_spaces(line, dash + 1) } else { dash };
        self.emit(Event::SequenceStart(StructureStyle::Block, 0, None), self.at(line, start, start))?;
        let next = loop {
            let at = self.skip_spaces(line, dash + 1);
            let next = if at == line.end {
                match self.next_content(line)? {
                    Some(l) if l.indent > col => self.block_node(l)?,
                    next => {
                        self.emit(
                            Event::Scalar(Cow::Borrowed("~"), ScalarStyle::Plain, 0, None),
                            self.at(line, at, at),
                        )?;
                        next
                    }
                }
            } else if self.is_entry(line, at) {
                self.sequence(line, at, false)?
            } else if self.b[at] == b'#' {
                return Err(Unsupported);
            } else if self.has_key(line, at)? {
                self.mapping(line, at)?
            } else {
                self.scalar(line, at, col)?
            };
            match next {
                Some(l) if l.indent == col && self.is_entry(l, l.content()) => {
                    line = l;
                    dash = l.content();
                }
                Some(l) if l.indent < col || (indentless && l.indent == col) => break Some(l),
                Some(_) => return Err(Unsupported),
                None => break None,
            }
        };
        self.emit(Event::SequenceEnd, self.at(line, line.end, line.end))?;
        self.depth -= 1;
        Ok(next)
    }

    fn skip_spaces(&self, line: Line, mut at: usize) -> usize {
        while at < line.end && self.b[at] == b' ' {
            at += 1;
        }
        at
    }

    /// Whether a mapping key starts at `at`: a one-line quoted scalar or a plain one followed by
    /// `:` and a space or the line's end.
    fn has_key(&self, line: Line, at: usize) -> R<bool> {
        match self.b[at] {
            b'"' | b'\'' => {
                let (_, close, _) = self.quoted(line, at)?;
                let after = self.skip_spaces(line, close);
                Ok(after < line.end && self.b[after] == b':' && self.value_colon(line, after))
            }
            _ => Ok(matches!(self.plain_end(line, at)?, (_, Stop::Colon(_)))),
        }
    }

    /// Whether the `:` at `at` is a value indicator (a space or the line's end follows).
    fn value_colon(&self, line: Line, at: usize) -> bool {
        at + 1 == line.end || self.b[at + 1] == b' '
    }

    /// Emits the key starting at `at`; returns the offset just past its `:`.
    fn key(&mut self, line: Line, at: usize) -> R<usize> {
        match self.b[at] {
            b'"' | b'\'' => {
                let (value, close, style) = self.quoted(line, at)?;
                let colon = self.skip_spaces(line, close);
                if !(colon < line.end && self.b[colon] == b':' && self.value_colon(line, colon)) || colon - at > MAX_KEY
                {
                    return Err(Unsupported);
                }
                self.emit(Event::Scalar(value, style, 0, None), self.at(line, at, close))?;
                Ok(colon + 1)
            }
            _ => {
                self.plain_start(line, at)?;
                let (end, Stop::Colon(colon)) = self.plain_end(line, at)? else { return Err(Unsupported) };
                if colon - at > MAX_KEY {
                    return Err(Unsupported);
                }
                self.emit(
                    Event::Scalar(Cow::Borrowed(&self.text[at..end]), ScalarStyle::Plain, 0, None),
                    self.at(line, at, end),
                )?;
                Ok(colon + 1)
            }
        }
    }

    /// The value after a key's `:` (at `after_colon`) of the mapping at column `col`; returns
    /// the first content line after it.
    fn value(&mut self, line: Line, after_colon: usize, col: usize) -> R<Option<Line>> {
        let at = self.skip_spaces(line, after_colon);
        if at == line.end {
            return match self.next_content(line)? {
                Some(l) if l.indent > col => self.block_node(l),
                Some(l) if l.indent == col && self.is_entry(l, l.content()) => self.sequence(l, l.content(), true),
                next => {
                    // granit-parser places a missing value at its key's `:`.
                    let a = self.at(line, after_colon - 1, after_colon - 1);
                    self.emit(Event::Scalar(Cow::Borrowed("~"), ScalarStyle::Plain, 0, None), a)?;
                    Ok(next)
                }
            };
        }
        if at == after_colon {
            return Err(Unsupported);
        }
        self.scalar(line, at, col)
    }

    /// A scalar starting at `at` (a mapping's value or a sequence's item) inside the block
    /// collection at column `col`; returns the first content line after it.
    fn scalar(&mut self, line: Line, at: usize, col: usize) -> R<Option<Line>> {
        match self.b[at] {
            b'|' => return self.literal(line, at, col),
            b'[' | b'{' => {
                let close = self.flow(line, at)?;
                self.line_ends(line, close)?;
            }
            b'"' | b'\'' => {
                let (value, close, style) = self.quoted(line, at)?;
                self.line_ends(line, close)?;
                self.emit(Event::Scalar(value, style, 0, None), self.at(line, at, close))?;
            }
            _ => {
                self.plain_start(line, at)?;
                let (end, Stop::LineEnd) = self.plain_end(line, at)? else { return Err(Unsupported) };
                self.emit(
                    Event::Scalar(Cow::Borrowed(&self.text[at..end]), ScalarStyle::Plain, 0, None),
                    self.at(line, at, end),
                )?;
            }
        }
        // A more indented line would continue the scalar (or be an error).
        match self.next_content(line)? {
            Some(l) if l.indent > col => Err(Unsupported),
            next => Ok(next),
        }
    }

    /// A flow collection on one line opening at `at`: an empty mapping, or a sequence of
    /// one-line scalars without `:` or `#`. Returns the offset past its closing bracket.
    fn flow(&mut self, line: Line, at: usize) -> R<usize> {
        let b = &self.b[..line.end];
        if b[at] == b'{' {
            let close = self.skip_spaces(line, at + 1);
            if b.get(close) != Some(&b'}') {
                return Err(Unsupported);
            }
            self.emit(Event::MappingStart(StructureStyle::Flow, 0, None), self.at(line, at, at + 1))?;
            self.emit(Event::MappingEnd, self.at(line, close, close + 1))?;
            return Ok(close + 1);
        }
        self.emit(Event::SequenceStart(StructureStyle::Flow, 0, None), self.at(line, at, at + 1))?;
        let mut i = self.skip_spaces(line, at + 1);
        if b.get(i) != Some(&b']') {
            loop {
                match b.get(i) {
                    Some(b'"' | b'\'') => {
                        let (value, close, style) = self.quoted(line, i)?;
                        self.emit(Event::Scalar(value, style, 0, None), self.at(line, i, close))?;
                        i = close;
                    }
                    Some(_) => {
                        self.plain_start(line, i)?;
                        if b[i] == b'-' && b.get(i + 1).is_none_or(|c| b",[]{}".contains(c)) {
                            return Err(Unsupported);
                        }
                        let len = b[i..].iter().position(|c| b",[]{}:#".contains(c)).ok_or(Unsupported)?;
                        if !matches!(b[i + len], b',' | b']') {
                            return Err(Unsupported);
                        }
                        let mut end = i + len;
                        while b[end - 1] == b' ' {
                            end -= 1;
                        }
                        self.emit(
                            Event::Scalar(Cow::Borrowed(&self.text[i..end]), ScalarStyle::Plain, 0, None),
                            self.at(line, i, end),
                        )?;
                        i += len;
                    }
                    None => return Err(Unsupported),
                }
                i = self.skip_spaces(line, i);
                match b.get(i) {
                    Some(b',') => {
                        i = self.skip_spaces(line, i + 1);
                        if matches!(b.get(i), Some(b']') | None) {
                            return Err(Unsupported);
                        }
                    }
                    Some(b']') => break,
                    _ => return Err(Unsupported),
                }
            }
        }
        self.emit(Event::SequenceEnd, self.at(line, i, i + 1))?;
        Ok(i + 1)
    }

    /// After a quoted scalar (closing at `close`): only spaces and a comment may follow.
    fn line_ends(&self, line: Line, close: usize) -> R<()> {
        let after = self.skip_spaces(line, close);
        if after == line.end || (after > close && self.b[after] == b'#') { Ok(()) } else { Err(Unsupported) }
    }

    /// A plain scalar may start at `at` (no indicator starts it).
    fn plain_start(&self, line: Line, at: usize) -> R<()> {
        let c = self.b[at];
        let next = self.b.get(at + 1).copied().filter(|_| at + 1 < line.end);
        let ok = match c {
            b'-' => next.is_some_and(|n| n != b' '),
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"'
            | b'%' | b'@' | b'`' | b' ' => false,
            _ => true,
        };
        if ok { Ok(()) } else { Err(Unsupported) }
    }

    /// Where a one-line plain scalar starting at `at` ends (trailing spaces excluded), and what
    /// stopped it: a `:` that makes it a key, or the line's end (or a comment).
    fn plain_end(&self, line: Line, at: usize) -> R<(usize, Stop)> {
        let s = &self.b[..line.end];
        let mut i = at;
        let (limit, stop) = loop {
            let Some(k) = memchr::memchr2(b':', b'#', &s[i..]) else { break (line.end, Stop::LineEnd) };
            let j = i + k;
            if s[j] == b':' && self.value_colon(line, j) {
                break (j, Stop::Colon(j));
            }
            if s[j] == b'#' && j > at && s[j - 1] == b' ' {
                break (j, Stop::LineEnd);
            }
            i = j + 1;
        };
        let mut end = limit;
        while end > at && s[end - 1] == b' ' {
            end -= 1;
        }
        Ok((end, stop))
    }

    /// A one-line quoted scalar opening at `at`: its value, the offset past its closing quote,
    /// and its style. Escapes, and a scalar going on to the next line, are outside the subset.
    fn quoted(&self, line: Line, at: usize) -> R<(Cow<'a, str>, usize, ScalarStyle)> {
        let s = &self.b[..line.end];
        if s[at] == b'"' {
            let close = at + 1 + memchr::memchr(b'"', &s[at + 1..]).ok_or(Unsupported)?;
            if memchr::memchr(b'\\', &s[at + 1..close]).is_some() {
                return Err(Unsupported);
            }
            return Ok((Cow::Borrowed(&self.text[at + 1..close]), close + 1, ScalarStyle::DoubleQuoted));
        }
        let mut i = at + 1;
        let mut doubled = false;
        loop {
            let q = i + memchr::memchr(b'\'', &s[i..]).ok_or(Unsupported)?;
            if s.get(q + 1) == Some(&b'\'') {
                doubled = true;
                i = q + 2;
                continue;
            }
            let inner = &self.text[at + 1..q];
            let value = if doubled { Cow::Owned(inner.replace("''", "'")) } else { Cow::Borrowed(inner) };
            return Ok((value, q + 1, ScalarStyle::SingleQuoted));
        }
    }

    /// A literal block scalar whose `|` is at `at`, inside the block collection at column
    /// `col`; returns the first content line after it.
    fn literal(&mut self, line: Line, at: usize, col: usize) -> R<Option<Line>> {
        let mut h = at + 1;
        let chomp = match self.b[..line.end].get(h) {
            Some(b'-') => {
                h += 1;
                Chomp::Strip
            }
            Some(b'+') => {
                h += 1;
                Chomp::Keep
            }
            _ => Chomp::Clip,
        };
        let after = self.skip_spaces(line, h);
        if !(after == line.end || (after > h && self.b[after] == b'#')) {
            return Err(Unsupported);
        }
        // The first line after the header sets the indentation; it must have content.
        let first = self.next_line(line).ok_or(Unsupported)?;
        let n = first.indent;
        if first.content() == first.end || n <= col {
            return Err(Unsupported);
        }
        // First the extent (and whether every line is in the subset), then the value, written
        // once into a string of its final size.
        let mut stop: Option<Line> = None;
        let mut cur = Some(first);
        while let Some(l) = cur {
            if l.content() == l.end {
                if l.indent > n {
                    return Err(Unsupported);
                }
            } else if l.indent < n {
                stop = Some(l);
                break;
            }
            cur = self.next_line(l);
        }
        // At the end of a text without a final line break the last line gets none
        // (`block_scalar_eof_without_line_feed`): left to the full parser.
        if stop.is_none() && self.b.last() != Some(&b'\n') {
            return Err(Unsupported);
        }
        let scanned = stop.map_or(self.b.len(), |l| l.start);
        let block = Literal { lines: &self.text[first.start..scanned], indent: n, chomp };
        let start = first.start + n;
        let end = stop.map_or(self.b.len(), Line::content);
        let a = At { start, end, line: first.no, col: n };
        match self.literal.as_mut() {
            Some(sink) => {
                if !sink(block, a) {
                    return Err(Unsupported);
                }
            }
            None => self.emit(Event::Scalar(Cow::Owned(block.decode()), ScalarStyle::Literal, 0, None), a)?,
        }
        match stop {
            Some(l) if self.is_blank_or_comment(l) => self.next_content(l),
            Some(l) => self.not_a_marker(l).map(Some),
            None => Ok(None),
        }
    }
}

/// What ended a one-line plain scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// A `:` that makes it a key, at this offset.
    Colon(usize),
    /// The line's end or a comment.
    LineEnd,
}

/// A literal block scalar as written: its lines, from the first after the header up to the
/// line that ends it (each ending in a line break; every line with content indented at least
/// `indent`, the blank ones no more), and how its end is chomped.
#[derive(Clone, Copy, Debug)]
pub struct Literal<'a> {
    lines: &'a str,
    indent: usize,
    chomp: Chomp,
}

impl<'a> Literal<'a> {
    /// Hands the scalar's value to `piece`, in order, as slices of the text and line breaks;
    /// false when `piece` stopped it.
    fn pieces(&self, piece: &mut dyn FnMut(&'a str) -> bool) -> bool {
        let mut empties = 0usize;
        let mut first = true;
        let mut line = |line: &'a str| {
            if line.bytes().all(|c| c == b' ') {
                empties += 1;
                return true;
            }
            if !first && !piece("\n") {
                return false;
            }
            first = false;
            for _ in 0..empties {
                if !piece("\n") {
                    return false;
                }
            }
            empties = 0;
            piece(line.get(self.indent..).unwrap_or_default())
        };
        // The lines as `split_terminator('\n')` gives them, found a vector at a time.
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', self.lines.as_bytes()) {
            if !line(&self.lines[start..end]) {
                return false;
            }
            start = end + 1;
        }
        if start < self.lines.len() && !line(&self.lines[start..]) {
            return false;
        }
        let breaks = match self.chomp {
            Chomp::Strip => 0,
            Chomp::Clip => 1,
            Chomp::Keep => empties + 1,
        };
        (0..breaks).all(|_| piece("\n"))
    }

    /// The scalar's value.
    pub fn decode(&self) -> String {
        let mut value = String::with_capacity(self.lines.len() + 1);
        self.decode_into(&mut value);
        value
    }

    /// Appends the scalar's value to `out` (a tree's string of scalars: no copy in between).
    pub fn decode_into(&self, out: &mut String) {
        self.pieces(&mut |p| {
            out.push_str(p);
            true
        });
    }

    /// Whether the scalar's value is `s`, read without copying it.
    pub fn equals(&self, s: &str) -> bool {
        let mut rest = s;
        self.pieces(&mut |p| match rest.strip_prefix(p) {
            Some(r) => {
                rest = r;
                true
            }
            None => false,
        }) && rest.is_empty()
    }
}

#[derive(Clone, Copy, Debug)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}
