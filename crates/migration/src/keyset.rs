//! The statements a copy, a verify and a cancel run over one table: pages read in
//! primary-key order by keyset (`WHERE key > last ORDER BY key LIMIT n`, never `OFFSET`, so
//! each page costs its own rows whatever its position), idempotent batched writes and deletes
//! by primary key. Values are bound as parameters (binary protocol): strings, doubles,
//! temporal and BIT values go to the new owner exactly as they were read.

use mysql_common::value::Value;

/// One table's columns and primary key, and the condition every read adds.
#[derive(Debug, Clone, PartialEq)]
pub struct KeysetQuery {
    /// The table, qualified and quoted.
    pub table: String,
    /// Every column, in table order.
    pub columns: Vec<String>,
    /// The primary key's columns, in key order.
    pub key: Vec<String>,
    /// A condition pushed to the server (a `range` table's moving key ranges), if any.
    pub filter: Option<String>,
}

/// `name` quoted as an identifier.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `(a > ?) OR (a = ? AND b > ?) …`: the rows after (or, `upper`, up to and including) a
/// key, by the lexicographic order of the key's columns, written so that the server can
/// use the index as a range (MariaDB does not for a row constructor `(a, b) > (?, ?)`).
/// The parameters are the key's values, `key_params` repeats them as the text needs.
fn lexicographic(key: &[String], upper: bool) -> String {
    let terms: Vec<String> = (0..key.len())
        .map(|i| {
            let mut parts: Vec<String> = key[..i]
                .iter()
                .map(|c| format!("{} = ?", quoted(c)))
                .collect();
            let last = i + 1 == key.len();
            let op = match (upper, last) {
                (false, _) => ">",
                (true, false) => "<",
                (true, true) => "<=",
            };
            parts.push(format!("{} {op} ?", quoted(&key[i])));
            format!("({})", parts.join(" AND "))
        })
        .collect();
    format!("({})", terms.join(" OR "))
}

/// The values `lexicographic` binds for `key`: its first value, its first two, and so on.
fn key_params(key: &[Value]) -> Vec<Value> {
    (1..=key.len())
        .flat_map(|i| key[..i].iter().cloned())
        .collect()
}

/// `(k >= a AND k < b) OR …` over the integer shard key `column` for the key ranges
/// `[start, end)` (`None` unbounded).
pub fn key_range_filter(column: &str, ranges: &[(Option<i128>, Option<i128>)]) -> String {
    let column = quoted(column);
    let pieces: Vec<String> = ranges
        .iter()
        .map(|(start, end)| {
            let mut parts = Vec::new();
            if let Some(s) = start {
                parts.push(format!("{column} >= {s}"));
            }
            if let Some(e) = end {
                parts.push(format!("{column} < {e}"));
            }
            match parts.is_empty() {
                true => "TRUE".to_owned(),
                false => format!("({})", parts.join(" AND ")),
            }
        })
        .collect();
    match pieces.is_empty() {
        true => "FALSE".to_owned(),
        false => format!("({})", pieces.join(" OR ")),
    }
}

impl KeysetQuery {
    fn select_list(&self) -> String {
        let list: Vec<String> = self.columns.iter().map(|c| quoted(c)).collect();
        list.join(", ")
    }

    fn order(&self) -> String {
        let list: Vec<String> = self.key.iter().map(|c| quoted(c)).collect();
        list.join(", ")
    }

    /// The conditions of a read: the filter, after `after`, up to `upto`.
    fn conditions(&self, after: Option<&[Value]>, upto: Option<&[Value]>) -> (String, Vec<Value>) {
        let mut parts = Vec::new();
        let mut params = Vec::new();
        if let Some(filter) = &self.filter {
            parts.push(filter.clone());
        }
        if let Some(after) = after {
            parts.push(lexicographic(&self.key, false));
            params.extend(key_params(after));
        }
        if let Some(upto) = upto {
            parts.push(lexicographic(&self.key, true));
            params.extend(key_params(upto));
        }
        let text = match parts.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", parts.join(" AND ")),
        };
        (text, params)
    }

    /// The next page of at most `limit` rows after `after` (from the start with `None`): every
    /// column, in key order.
    pub fn page(&self, after: Option<&[Value]>, limit: u64) -> (String, Vec<Value>) {
        let (conditions, params) = self.conditions(after, None);
        let sql = format!(
            "SELECT {} FROM {}{conditions} ORDER BY {} LIMIT {limit}",
            self.select_list(),
            self.table,
            self.order()
        );
        (sql, params)
    }

    /// Every row after `after` and up to `upto` (to the end with `None`), in key order: the
    /// part of the other side a verify compares with one page.
    pub fn between(&self, after: Option<&[Value]>, upto: Option<&[Value]>) -> (String, Vec<Value>) {
        let (conditions, params) = self.conditions(after, upto);
        let sql = format!(
            "SELECT {} FROM {}{conditions} ORDER BY {}",
            self.select_list(),
            self.table,
            self.order()
        );
        (sql, params)
    }

    /// An idempotent write of `rows` rows (every column bound): a row already there takes
    /// the values written, so a page copied twice (a resumed copy) changes nothing.
    pub fn upsert(&self, rows: usize) -> String {
        let one = format!("({})", vec!["?"; self.columns.len()].join(", "));
        let updates: Vec<String> = (self.columns.iter())
            .map(|c| format!("{0} = VALUES({0})", quoted(c)))
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES {} ON DUPLICATE KEY UPDATE {}",
            self.table,
            self.select_list(),
            vec![one; rows].join(", "),
            updates.join(", ")
        )
    }

    /// Deletes `rows` rows by their primary keys (bound in key order, row after row).
    pub fn delete(&self, rows: usize) -> String {
        let one: Vec<String> = self
            .key
            .iter()
            .map(|c| format!("{} = ?", quoted(c)))
            .collect();
        let one = format!("({})", one.join(" AND "));
        format!(
            "DELETE FROM {} WHERE {}",
            self.table,
            vec![one; rows].join(" OR ")
        )
    }

    /// The most rows one statement of `upsert` may bind (the protocol's 65,535 parameters).
    pub fn max_rows_per_write(&self) -> usize {
        (u16::MAX as usize / self.columns.len().max(1)).max(1)
    }

    /// Where each key column is in `columns`.
    pub fn key_positions(&self) -> Vec<usize> {
        (self.key.iter())
            .map(|k| {
                (self.columns.iter())
                    .position(|c| c.eq_ignore_ascii_case(k))
                    .unwrap_or(0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(key: &[&str]) -> KeysetQuery {
        KeysetQuery {
            table: "`app`.`t`".into(),
            columns: vec!["a".into(), "b".into(), "v".into()],
            key: key.iter().map(|k| k.to_string()).collect(),
            filter: None,
        }
    }

    #[test]
    fn the_first_page_reads_from_the_start_and_never_by_offset() {
        let (sql, params) = query(&["a"]).page(None, 100);
        assert_eq!(
            sql,
            "SELECT `a`, `b`, `v` FROM `app`.`t` ORDER BY `a` LIMIT 100"
        );
        assert!(params.is_empty());
        assert!(!sql.contains("OFFSET"));
    }

    #[test]
    fn a_composite_key_pages_lexicographically() {
        let last = [Value::Int(1), Value::Bytes(b"x".to_vec())];
        let (sql, params) = query(&["a", "b"]).page(Some(&last), 10);
        assert_eq!(
            sql,
            "SELECT `a`, `b`, `v` FROM `app`.`t` WHERE ((`a` > ?) OR (`a` = ? AND `b` > ?)) ORDER BY `a`, `b` LIMIT 10"
        );
        assert_eq!(params, [last[0].clone(), last[0].clone(), last[1].clone()]);
    }

    #[test]
    fn a_verify_range_is_after_one_key_and_up_to_another() {
        let mut q = query(&["a"]);
        q.filter = Some(key_range_filter(
            "a",
            &[(Some(100), Some(200)), (None, Some(5))],
        ));
        let (sql, params) = q.between(Some(&[Value::Int(1)]), Some(&[Value::Int(9)]));
        assert_eq!(
            sql,
            "SELECT `a`, `b`, `v` FROM `app`.`t` WHERE ((`a` >= 100 AND `a` < 200) OR (`a` < 5)) AND ((`a` > ?)) AND ((`a` <= ?)) ORDER BY `a`"
        );
        assert_eq!(params, [Value::Int(1), Value::Int(9)]);
    }

    #[test]
    fn writes_and_deletes_bind_every_value() {
        let q = query(&["a", "b"]);
        assert_eq!(
            q.upsert(2),
            "INSERT INTO `app`.`t` (`a`, `b`, `v`) VALUES (?, ?, ?), (?, ?, ?) ON DUPLICATE KEY UPDATE `a` = VALUES(`a`), `b` = VALUES(`b`), `v` = VALUES(`v`)"
        );
        assert_eq!(
            q.delete(2),
            "DELETE FROM `app`.`t` WHERE (`a` = ? AND `b` = ?) OR (`a` = ? AND `b` = ?)"
        );
        assert_eq!(q.key_positions(), [0, 1]);
        assert_eq!(q.max_rows_per_write(), 21845);
    }

    #[test]
    fn quoting_doubles_backticks() {
        assert_eq!(
            key_range_filter("we`ird", &[(Some(1), None)]),
            "((`we``ird` >= 1))"
        );
        assert_eq!(key_range_filter("k", &[]), "FALSE");
    }
}
