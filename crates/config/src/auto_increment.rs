//! Checking a table's `auto_increment = { column, sequence, cache }`.

use std::collections::HashMap;

use toml::Spanned;

use crate::error::Diagnostics;
use crate::schema::{AutoIncrementSchema, TableSchema};
use crate::{AutoIncrement, DEFAULT_SEQUENCE_CACHE};

/// The most ids one reservation may take: a crashed proxy loses at most its unused block.
pub const MAX_SEQUENCE_CACHE: u64 = 1_000_000_000;

/// MariaDB's longest identifier.
const MAX_IDENTIFIER_LEN: usize = 64;

/// Checks `auto_increment` of the table at `key` (whose shard key is `shard_key`, if valid).
pub(crate) fn auto_increment(
    schema: &Spanned<AutoIncrementSchema>,
    key: &str,
    d: &mut Diagnostics<'_>,
) -> Option<AutoIncrement> {
    let (span, ai) = (schema.span(), schema.get_ref());
    let key = format!("{key}.auto_increment");
    let mut name = |field: &Option<Spanned<String>>, what: &str, example: &str| match field {
        None => {
            let message = format!("missing {what}, e.g. auto_increment = {{ column = \"id\", sequence = \"users_seq\" }}");
            d.at(span.clone(), format!("{key}.{example}"), message);
            None
        }
        Some(value) => match identifier_problem(value.get_ref()) {
            Some(problem) => {
                let message = format!("{what} {:?} {problem}", value.get_ref());
                d.at(value.span(), format!("{key}.{example}"), message);
                None
            }
            None => Some(value.get_ref().clone()),
        },
    };
    let column = name(
        &ai.column,
        "column (the column the proxy fills with generated ids)",
        "column",
    );
    let sequence = name(
        &ai.sequence,
        "sequence (the table on the default shard the ids come from)",
        "sequence",
    );
    let cache = match &ai.cache {
        None => Some(DEFAULT_SEQUENCE_CACHE),
        Some(cache) => match u64::try_from(*cache.get_ref()) {
            Ok(n @ 1..=MAX_SEQUENCE_CACHE) => Some(n),
            _ => {
                let message = format!(
                    "cache must be between 1 and {MAX_SEQUENCE_CACHE} (ids reserved at a time), got {}",
                    cache.get_ref()
                );
                d.at(cache.span(), format!("{key}.cache"), message);
                None
            }
        },
    };
    Some(AutoIncrement {
        column: column?.to_ascii_lowercase(),
        sequence: sequence?,
        cache: cache?,
    })
}

/// A sequence table lives on the default shard: it must not be one of the configured tables
/// (`tables`: their lower-cased names).
pub(crate) fn sequences_apart_from_tables(
    items: &[Option<Spanned<TableSchema>>],
    tables: &HashMap<String, usize>,
    d: &mut Diagnostics<'_>,
) {
    for (i, item) in items.iter().enumerate() {
        let sequence = item
            .as_ref()
            .and_then(|t| t.get_ref().auto_increment.as_ref())
            .and_then(|ai| ai.get_ref().sequence.as_ref());
        let Some(sequence) = sequence else { continue };
        if tables.contains_key(&sequence.get_ref().to_ascii_lowercase()) {
            let message = format!(
                "sequence {:?} names a configured table: the sequence is a table of its own on the default shard (e.g. \"{}_seq\")",
                sequence.get_ref(),
                sequence.get_ref()
            );
            d.at(
                sequence.span(),
                format!("tables[{i}].auto_increment.sequence"),
                message,
            );
        }
    }
}

/// Why `name` cannot be written unquoted as a MariaDB identifier, if it cannot.
pub(crate) fn identifier_problem(name: &str) -> Option<&'static str> {
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    let rest_ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_IDENTIFIER_LEN {
        Some("is longer than 64 characters")
    } else if !first_ok || !rest_ok {
        Some("is not a plain identifier (letters, digits, `_` and `$`, not starting with a digit)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_only() {
        assert_eq!(identifier_problem("users_seq"), None);
        assert_eq!(identifier_problem("_s$1"), None);
        assert!(identifier_problem("").is_some());
        assert!(identifier_problem("1seq").is_some());
        assert!(identifier_problem("users-seq").is_some());
        assert!(identifier_problem("a`b").is_some());
        assert!(identifier_problem(&"s".repeat(65)).is_some());
    }
}
