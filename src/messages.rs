//! Wording shared by several messages, and text from outside made fit for users: parser
//! libraries sometimes append advice meant for the programmer who calls them ("set
//! DuplicateKeyPolicy in Options", "use Option<String>"), which a skyhelm user can act on none
//! of; servers and kubeconfigs may hold control characters and credentials (`sanitize`).

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

/// For a serde-saphyr reading (kubeconfig, contexts file, `--config` file, environments file)
/// refused for its nesting: what happened and where, in words (before: `budget breached:
/// Depth { depth: 65 }`, or "too many aliases, or too large" for a kubeconfig). These readers
/// take at most [`serde_saphyr::Budget`]'s default depth (64); only the manifests skyhelm
/// edits go to `--max-depth`.
pub fn too_deep(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let inner = e.without_snippet();
    let deep = matches!(inner, serde_saphyr::Error::Budget { breach: BudgetBreach::Depth { .. }, .. })
        || inner.to_string().contains("recursion limit exceeded");
    if !deep {
        return None;
    }
    let most = serde_saphyr::Budget::default().max_depth;
    let at = e.location().map(|l| format!(" (line {}, column {})", l.line(), l.column())).unwrap_or_default();
    Some(format!("nested deeper than {most} levels, the most this file may hold{at}"))
}

/// The most of such text that is shown.
pub const MAX_MESSAGE_CHARS: usize = 300;
/// A run this long of any credential's characters is removed even when the rest is not there
/// (a server that echoes part of a token, or all of it in pieces: 8-character chunks got past
/// a 12-character window).
pub const MIN_FRAGMENT: usize = 6;

/// Text from outside (a server's answer, a name from a kubeconfig or contexts file, an error
/// that may quote them), made safe to show on a terminal: control characters (escape sequences,
/// newlines) and invisible direction marks become spaces, every value in `credentials` and any
/// long fragment of one is replaced by `[redacted]`, and the length is capped.
/// A character a terminal acts on or hides instead of showing: control characters (escape
/// sequences, line breaks) and invisible direction marks.
pub fn hides_text(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `line` with the characters of [`hides_text`] written escaped (`\u{1b}`, `\n`, as `DocRef`
/// shows them), for lines that name what the stream holds and go to a terminal or a report.
pub fn escaped(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else if hides_text(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Text of several lines (an error, a report) with the characters of [`hides_text`] written
/// escaped as [`escaped`] writes them, except the line breaks and tabs that lay it out: what
/// goes to a terminal, a report file or the last-run file never holds a raw escape sequence,
/// whichever message a name from the stream reached.
pub fn escaped_lines(text: &str) -> String {
    if !text.chars().any(|c| hides_text(c) && c != '\n' && c != '\t') {
        return text.to_string();
    }
    text.split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(l) => escaped(l).replace("\\t", "\t") + "\n",
            None => escaped(l).replace("\\t", "\t"),
        })
        .collect()
}

/// JSON (or YAML double-quoted) text with the characters of [`hides_text`] that serde_json
/// writes raw (C1 controls, DEL, direction marks) written as `\uXXXX` escapes: the same
/// strings, none of them raw. Such characters occur only inside strings, where the escape
/// means them; C0 controls are already escaped by serde_json.
pub fn escape_hidden_json(text: &str) -> String {
    // C0 controls are JSON's own layout outside strings, and escaped inside them.
    let raw = |c: char| hides_text(c) && u32::from(c) >= 0x7f;
    if !text.chars().any(raw) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if raw(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn sanitize(message: &str, credentials: &[String]) -> String {
    sanitize_capped(message, credentials, MAX_MESSAGE_CHARS)
}

/// [`sanitize`] with another cap on the characters shown (for a sentence of skyhelm's own
/// that quotes outside text, such as a doctor finding).
pub fn sanitize_capped(message: &str, credentials: &[String], max_chars: usize) -> String {
    // Bound the work before anything else; the cap below is far shorter.
    let head: String = message.chars().take(max_chars * 8).collect();
    let clean: String = head.chars().map(|c| if hides_text(c) { ' ' } else { c }).collect();
    let chars: Vec<char> = clean.chars().collect();
    let mut hidden = vec![false; chars.len()];
    for cred in credentials {
        let c: Vec<char> = cred.chars().collect();
        let window = c.len().min(MIN_FRAGMENT);
        if window == 0 || chars.len() < window {
            continue;
        }
        let fragments: std::collections::HashSet<&[char]> = c.windows(window).collect();
        for i in 0..=chars.len() - window {
            if fragments.contains(&chars[i..i + window]) {
                hidden[i..i + window].iter_mut().for_each(|h| *h = true);
            }
        }
    }
    let mut out = String::new();
    let mut shown = 0;
    let mut i = 0;
    while i < chars.len() && shown < max_chars {
        if hidden[i] {
            out.push_str("[redacted]");
            while i < chars.len() && hidden[i] {
                i += 1;
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
        shown += 1;
    }
    let mut out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if i < chars.len() || head.len() < message.len() {
        out.push('…');
    }
    out
}

/// How a credential is shown: its size only (no hash, not even a prefix: a hash of a short
/// secret is a fingerprint of it, which confirms a guess).
pub fn redacted(len: usize) -> String {
    format!("(redacted, {len} bytes)")
}

/// The words of a key or variable name, lowercase: split at anything but letters and digits and
/// where camelCase starts a word (`apiKey`, `APIKey`, `api_key`, `API-KEY` are `api key`).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase() || p.is_numeric() || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// What a key or variable named so holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKey {
    /// A credential (`password`, `HF_TOKEN`).
    One,
    /// Credentials by name (`secrets`, `credentials`: a mapping of them).
    Many,
}

/// Whether a key or variable of this name holds a credential: its last word says so
/// (`password`, `token`, `secret`, ...; `key` after `api`, `private`, `secret`, `access`, ...;
/// a connection `uri`/`url`/`string`), or it is SkyPilot's `db` (the database URL) or
/// `SKYPILOT_DB_CONNECTION_URI`. Names of references stay shown: `secretName`, `tokenFile`,
/// `credentials_file`, `secretKeyRef` end in another word. Digits ending a word are not part
/// of it.
pub fn credential_key(name: &str) -> Option<CredentialKey> {
    // Numbered names are the same names: `password2`, `DB_PASSWORD_1`, `apiKey0`.
    let w: Vec<String> = words(name)
        .into_iter()
        .map(|w| w.trim_end_matches(|c: char| c.is_numeric()).to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let last = w.last().map(String::as_str)?;
    let before = w.len().checked_sub(2).map(|i| w[i].as_str());
    let one = match last {
        "secrets" | "credentials" | "tokens" | "passwords" => return Some(CredentialKey::Many),
        "password" | "passwd" | "passphrase" | "pass" | "secret" | "token" | "credential" | "apikey" | "dsn" | "db" => {
            true
        }
        "key" => matches!(
            before,
            Some("api" | "private" | "secret" | "access" | "signing" | "encryption" | "session" | "master" | "auth")
        ),
        "uri" | "url" | "string" => w.iter().any(|x| matches!(x.as_str(), "connection" | "database" | "db")),
        // Run together: `PGPASSWORD`, `apitoken`, `clientsecret`.
        _ => ["password", "passwd", "secret", "token", "apikey"].iter().any(|s| last.ends_with(s)),
    };
    one.then_some(CredentialKey::One)
}

/// Whether `s` holds a URL with a credential: user information, `://` followed on the same line
/// by an `@` (`postgresql://user:pass@host`, `https://token@host`), or a query parameter named
/// like a credential ([`credential_key`]: `https://h/hook?token=…`, `?api_key=…`,
/// `X-Amz-Credential=…`). Generous on purpose: a password may hold `/`, `#` or a space where a
/// lenient reader (SQLAlchemy's URL pattern) still takes it.
///
/// Linear: only a line's first `://` is looked after (an `@` or a query after a later one is
/// after it too).
pub fn has_userinfo(s: &str) -> bool {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&s.as_bytes()[from..], b"://").map(|i| from + i) {
        let line_end = memchr::memchr(b'\n', &s.as_bytes()[i..]).map_or(s.len(), |n| i + n);
        let line = &s[i..line_end];
        if memchr::memchr(b'@', line.as_bytes()).is_some() {
            return true;
        }
        if let Some((_, query)) = line.split_once('?')
            && query
                .split(['&', ';', '?'])
                .filter_map(|param| param.split_once('=').map(|(name, _)| name))
                .any(|name| credential_key(name).is_some())
        {
            return true;
        }
        from = line_end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_controls_and_credentials_and_caps() {
        let creds = vec!["s3cr3t-token-abcdefghijklmnop".to_string(), "pw".to_string()];
        let msg =
            "Unauthorized: \u{1b}[31mBearer s3cr3t-token-abcdefghijklmnop\u{1b}[0m\nand s3cr3t-token-abcdefgh half";
        let out = sanitize(msg, &creds);
        assert!(!out.contains("s3cr3t") && !out.contains('\u{1b}') && !out.contains('\n'), "{out}");
        assert!(out.starts_with("Unauthorized: [31mBearer [redacted] [0m and [redacted] half"), "{out}");
        let long = "x".repeat(10_000);
        let out = sanitize(&long, &creds);
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn escaped_lines_and_json_keep_layout_and_meaning() {
        let text = "a\u{1b}]0;t\u{7}\tb\n\u{9b}2J\u{202e}c\n";
        assert_eq!(escaped_lines(text), "a\\u{1b}]0;t\\u{7}\tb\n\\u{9b}2J\\u{202e}c\n");
        let json =
            serde_json::to_string_pretty(&serde_json::json!({"n": "x\u{1b}\u{9b}\u{7f}\u{202e}\u{2066}y"})).unwrap();
        let safe = escape_hidden_json(&json);
        assert!(!safe.chars().any(|c| hides_text(c) && c != '\n'), "{safe}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        );
    }

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

    #[test]
    fn names() {
        for yes in [
            "password",
            "PASSWORD",
            "db_password",
            "dbPass",
            "api_key",
            "apiKey",
            "APIKey",
            "x-api-key",
            "HF_TOKEN",
            "service_account_token",
            "client_secret",
            "secrets",
            "credentials",
            "AWS_SECRET_ACCESS_KEY",
            "SKYPILOT_DB_CONNECTION_URI",
            "DATABASE_URL",
            "connection_string",
            "db",
            "privateKey",
            "password0",
            "DB_PASSWORD_2",
            "apiKey1",
            "s3_secret",
            "PGPASSWORD",
            "apitoken",
        ] {
            assert!(credential_key(yes).is_some(), "{yes}");
        }
        for no in [
            "secretName",
            "secretKeyRef",
            "tokenFile",
            "credentials_file",
            "AWS_ACCESS_KEY_ID",
            "key",
            "name",
            "endpoint",
            "automountServiceAccountTokenx",
            "keys",
            "",
        ] {
            assert!(credential_key(no).is_none(), "{no}");
        }
    }

    #[test]
    fn userinfo() {
        for yes in [
            "postgresql://u:p@h/db",
            "https://tok@github.com/x",
            "run psql postgres://a:b c@h",
            "x://@h",
            "https://hooks.example.com/x?token=abc",
            "https://h/p?a=1&api_key=abc#f",
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=AK%2F1&X-Amz-Signature=ff",
            "postgresql://h/db?sslmode=require&password=pw",
        ] {
            assert!(has_userinfo(yes), "{yes}");
        }
        for no in [
            "https://host/path",
            "me@example.com",
            "https://h/\n@x",
            "a:b@c",
            "https://h/p?page=2&sort=name",
            "https://h/p?token",
            "no url ?token=x",
            "https://h/p\n?token=x",
        ] {
            assert!(!has_userinfo(no), "{no}");
        }
    }
}
