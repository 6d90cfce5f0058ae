//! Rewriting statement text without changing what it says.
//!
//! sqlparser's rendering of a tree parsed the usual way loses string escapes (`'a\\b'` comes
//! back as `'a\b'`), so rewrites either cut the original text at token positions, or render a
//! tree parsed with escapes kept verbatim.

use shardgate_config::Topology;
use shardgate_ring::ShardId;
use sqlparser::ast::{Insert, SetExpr};
use sqlparser::tokenizer::Location;

use crate::shard_key::{base_name, key_source, KeySource};
use crate::RouteError;

/// The byte offset of a (1-based line, 1-based character column) location in `sql`.
fn offset(sql: &str, at: Location) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..at.line {
        line_start += sql[line_start..].find('\n')? + 1;
    }
    let line = &sql[line_start..];
    let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
    let within = line
        .char_indices()
        .nth(column)
        .map_or(line.len(), |(i, _)| i);
    Some(line_start + within)
}

/// Byte offsets of token locations, walking forward through the text (linear overall).
pub(crate) struct Offsets<'s> {
    sql: &'s str,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'s> Offsets<'s> {
    pub(crate) fn new(sql: &'s str) -> Self {
        Offsets {
            sql,
            line: 1,
            column: 1,
            byte: 0,
        }
    }

    /// The byte offset of a (1-based line, 1-based character column) location.
    pub(crate) fn at(&mut self, at: Location) -> Option<usize> {
        if (at.line, at.column) < (self.line, self.column) {
            *self = Offsets::new(self.sql);
        }
        while (self.line, self.column) < (at.line, at.column) {
            let ch = self.sql[self.byte..].chars().next()?;
            self.byte += ch.len_utf8();
            if ch == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        Some(self.byte)
    }

    /// The text between two offsets.
    pub(crate) fn text(&self, range: std::ops::Range<usize>) -> Option<&'s str> {
        self.sql.get(range)
    }
}

/// One INSERT per shard, each holding the rows whose shard keys map to that shard, cut from
/// the original text (everything but the row list is kept as written).
pub(crate) fn split_insert(
    sql: &str,
    ins: &Insert,
    topology: &Topology,
) -> Result<Option<Vec<(ShardId, String)>>, RouteError> {
    let sqlparser::ast::TableObject::TableName(name) = &ins.table else {
        return Ok(None);
    };
    let Some(rule) = base_name(name).and_then(|t| topology.table(&t)) else {
        return Ok(None);
    };
    let Some(SetExpr::Values(values)) = ins.source.as_deref().map(|q| q.body.as_ref()) else {
        return Ok(None);
    };
    let Some(pos) = ins
        .columns
        .iter()
        .position(|c| base_name(c).is_some_and(|n| n == rule.shard_key))
    else {
        return Ok(None);
    };
    let mut spans = Vec::with_capacity(values.rows.len());
    let mut shards = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let Some(KeySource::Value(key)) = row.content.get(pos).and_then(key_source) else {
            return Ok(None);
        };
        let shard = rule
            .shard_for(&key.as_key())
            .map_err(|source| RouteError::BadKey {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
                source: Box::new(source),
            })?;
        let (Some(start), Some(end)) = (
            offset(sql, row.opening_token.0.span.start),
            offset(sql, row.closing_token.0.span.end),
        ) else {
            return Ok(None);
        };
        spans.push((start, end));
        shards.push(shard);
    }
    let (Some(&(first, _)), Some(&(_, last))) = (spans.first(), spans.last()) else {
        return Ok(None);
    };
    let (head, tail) = (&sql[..first], &sql[last..]);
    let mut order: Vec<ShardId> = shards.clone();
    order.sort_unstable();
    order.dedup();
    let parts = order
        .into_iter()
        .map(|shard| {
            let rows: Vec<&str> = spans
                .iter()
                .zip(&shards)
                .filter(|(_, s)| **s == shard)
                .map(|(&(a, b), _)| &sql[a..b])
                .collect();
            (shard, format!("{head}{}{tail}", rows.join(", ")))
        })
        .collect();
    Ok(Some(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_characters_per_line() {
        let sql = "ab\ncé(x)";
        assert_eq!(offset(sql, Location { line: 1, column: 1 }), Some(0));
        assert_eq!(offset(sql, Location { line: 2, column: 3 }), Some(6));
        assert_eq!(
            &sql[offset(sql, Location { line: 2, column: 3 }).unwrap()..],
            "(x)"
        );
    }

    #[test]
    fn offsets_walk_lines_and_characters() {
        let sql = "ab\ncé(x)";
        let mut o = Offsets::new(sql);
        assert_eq!(o.at(Location { line: 2, column: 3 }), Some(6));
        assert_eq!(o.at(Location { line: 1, column: 2 }), Some(1));
        assert_eq!(o.at(Location { line: 2, column: 6 }), Some(sql.len()));
        assert_eq!(o.at(Location { line: 2, column: 8 }), None);
    }

    #[test]
    fn verbatim_parse_keeps_escapes() {
        let sql = r"SELECT 'a\\b', 'it\'s'";
        let rendered =
            crate::lex::parse_verbatim(sql, crate::Syntax::DEFAULT).unwrap()[0].to_string();
        assert_eq!(rendered, sql);
    }
}
