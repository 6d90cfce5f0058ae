//! Reading TOML text into a [`Document`], collecting every syntax and schema problem.
//!
//! The text is parsed once into toml's spanned tree (`DeTable`); each section and each
//! array entry is then deserialized on its own. When serde rejects a key (unknown, or of
//! the wrong type) the problem is recorded, the key is dropped and the entry is read again,
//! so a typo does not hide the problems after it.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::error::Diagnostics;
use crate::schema::{Document, TOP_LEVEL_KEYS};

/// Upper bound on re-reads of one entry (each drops one bad key).
const MAX_REREADS: usize = 64;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses `text`; `None` after syntax errors (which are recorded).
pub(crate) fn read(text: &str, diags: &mut Diagnostics<'_>) -> Option<Document> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        report_syntax_errors(syntax_errors, diags);
        return None;
    }
    let mut doc = Document::default();
    for (key, value) in root.get_ref().iter() {
        let name: &str = key.get_ref();
        match name {
            "default_shard" => doc.default_shard = entry(value, name, diags),
            "server" => doc.server = entry(value, name, diags),
            "users" => doc.users = entries(value, name, diags),
            "backend" => doc.backend = entry(value, name, diags),
            "ring" => doc.ring = entry(value, name, diags),
            "replication" => doc.replication = entry(value, name, diags),
            "resharding" => doc.resharding = entry(value, name, diags),
            "shards" => doc.shards = entries(value, name, diags),
            "tables" => doc.tables = entries(value, name, diags),
            _ => diags.at(
                key.span(),
                render_key(name),
                unknown_key(name, TOP_LEVEL_KEYS),
            ),
        }
    }
    Some(doc)
}

/// Cascading recovery errors are noise: keep the first error of each line.
fn report_syntax_errors(mut errors: Vec<toml::de::Error>, diags: &mut Diagnostics<'_>) {
    errors.sort_by_key(|e| e.span().map_or(usize::MAX, |s| s.start));
    let mut last_line = None;
    for error in errors {
        let line = error.span().map(|s| diags.line_of(s.start));
        if line.is_some() && line == last_line {
            continue;
        }
        last_line = line;
        diags.error(
            error.span(),
            "",
            format!("TOML syntax error: {}", error.message()),
        );
    }
}

/// Reads an array of tables (`[[users]]`), each entry on its own.
fn entries<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    name: &str,
    diags: &mut Diagnostics<'_>,
) -> Vec<Option<T>> {
    match value.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| entry(item, &format!("{name}[{i}]"), diags))
            .collect(),
        other => {
            diags.at(
                value.span(),
                name,
                format!(
                    "expected an array of tables ([[{name}]]), found {}",
                    other.type_str()
                ),
            );
            diags.suppress(name.to_owned());
            Vec::new()
        }
    }
}

/// Deserializes one value, re-reading it without each key serde rejects.
fn entry<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    prefix: &str,
    diags: &mut Diagnostics<'_>,
) -> Option<T> {
    let mut value = value.clone();
    for _ in 0..MAX_REREADS {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(parsed) => return Some(parsed),
            Err(error) => error,
        };
        let span = error.span().unwrap_or_else(|| value.span());
        let mut path = Vec::new();
        locate(value.get_ref(), &span, &mut path);
        let key = render_path(prefix, &path);
        diags.at(span, key, describe(error.message()));
        // Drop the innermost key holding the problem and read the entry again.
        let Some(last_key) = path.iter().rposition(|s| matches!(s, Step::Key(_))) else {
            // The entry as a whole is unusable; "missing" complaints about it are noise.
            diags.suppress(prefix.to_owned());
            return None;
        };
        let bad = &path[..=last_key];
        if !remove(value.get_mut(), bad) {
            return None;
        }
        diags.suppress(render_path(prefix, bad));
    }
    None
}

/// Finds the key path under `value` whose key or value span holds `span`, deepest first.
fn locate(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<Step>) -> bool {
    let holds = |outer: Range<usize>| outer.start <= span.start && span.end <= outer.end;
    match value {
        DeValue::Table(table) => {
            for (key, child) in table.iter() {
                path.push(Step::Key(key.get_ref().to_string()));
                // Table headers do not enclose their keys: search children before spans.
                if locate(child.get_ref(), span, path) || holds(key.span()) || holds(child.span()) {
                    return true;
                }
                path.pop();
            }
        }
        DeValue::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Step::Index(i));
                if locate(child.get_ref(), span, path) || holds(child.span()) {
                    return true;
                }
                path.pop();
            }
        }
        _ => {}
    }
    false
}

/// Removes the key at the end of `path`; false when the path no longer exists.
fn remove(value: &mut DeValue<'_>, path: &[Step]) -> bool {
    let Some((Step::Key(last), parents)) = path.split_last() else {
        return false;
    };
    let mut current = value;
    for step in parents {
        current = match (step, current) {
            (Step::Key(key), DeValue::Table(table)) => match table.get_mut(key.as_str()) {
                Some(child) => child.get_mut(),
                None => return false,
            },
            (Step::Index(i), DeValue::Array(items)) => match items.get_mut(*i) {
                Some(child) => child.get_mut(),
                None => return false,
            },
            _ => return false,
        };
    }
    match current {
        DeValue::Table(table) => table.remove(last.as_str()).is_some(),
        _ => false,
    }
}

fn render_path(prefix: &str, path: &[Step]) -> String {
    let mut out = prefix.to_owned();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&render_key(key));
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A key as written in TOML: bare when it can be, quoted otherwise.
fn render_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// Rewords serde's messages in config terms.
fn describe(message: &str) -> String {
    // serde: "unknown field `x`, expected one of `a`, `b`" / "expected `a`" / "there are no fields"
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut quoted = rest.split('`');
        let name = quoted.next().unwrap_or_default();
        let expected: Vec<&str> = quoted.skip(1).step_by(2).collect();
        return unknown_key(name, &expected);
    }
    // serde speaks of Rust types; say TOML's words instead.
    if let Some((head, _)) = message.split_once("expected struct ") {
        return format!("{head}expected a table");
    }
    message.replace("expected a sequence", "expected an array")
}

/// "unknown key", with the closest valid key when one is close enough to be a typo.
pub(crate) fn unknown_key(name: &str, expected: &[&str]) -> String {
    let closest = expected
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .min();
    match closest {
        Some((distance, candidate)) if distance <= 2.max(name.len() / 3) => {
            format!("unknown key (did you mean \"{candidate}\"?)")
        }
        _ if expected.is_empty() => "unknown key".to_owned(),
        _ => format!("unknown key (expected one of: {})", expected.join(", ")),
    }
}

/// Levenshtein distance, for typo suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("shard_kye", "shard_key"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("strategy", "strategy"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(
            unknown_key("shard_kye", &["name", "shard_key"]),
            "unknown key (did you mean \"shard_key\"?)"
        );
        assert_eq!(
            unknown_key("colour", &["name", "shard_key"]),
            "unknown key (expected one of: name, shard_key)"
        );
    }

    #[test]
    fn rewords_unknown_fields() {
        assert_eq!(
            describe("unknown field `nmae`, expected one of `name`, `password`"),
            "unknown key (did you mean \"name\"?)"
        );
        assert_eq!(
            describe("unknown field `x`, there are no fields"),
            "unknown key"
        );
        assert_eq!(
            describe("invalid type: integer `3`, expected a string"),
            "invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            describe("invalid type: integer `5`, expected struct BackendSchema"),
            "invalid type: integer `5`, expected a table"
        );
    }

    #[test]
    fn renders_paths() {
        let path = [
            Step::Key("ranges".into()),
            Step::Index(2),
            Step::Key("a b".into()),
        ];
        assert_eq!(
            render_path("tables[1]", &path),
            "tables[1].ranges[2].\"a b\""
        );
        assert_eq!(render_path("", &[Step::Key("server".into())]), "server");
    }
}
