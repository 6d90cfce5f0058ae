//! `INSERT INTO t VALUES (…)` without a column list on a sharded table (what `mariadb-dump`
//! writes): the shard key is found by its position among the table's columns; and `INSERT
//! INTO t SELECT …` without one whose SELECT reads several shards (run by its rows). The
//! session asks the server for the columns, in order, at the time of the statement (never
//! from a cache a concurrent ALTER could have made stale), and plans the statement with them
//! written in.

use sqlparser::tokenizer::Token;

use crate::Syntax;

/// The statement whose result's columns are those an INSERT without a column list writes, in
/// order: `SELECT *` of `table` (on the session's current database), no row. It leaves out
/// INVISIBLE columns as MariaDB's INSERT does, and sees the session's TEMPORARY tables, which
/// `information_schema` does not list.
pub fn columns_query(table: &str) -> String {
    format!("SELECT * FROM `{}` LIMIT 0", table.replace('`', "``"))
}

/// `sql` (an INSERT or REPLACE without a column list) with `columns` written in after the
/// table name; `None` when its head cannot be read.
pub fn with_column_list(sql: &str, syntax: Syntax, columns: &[String]) -> Option<String> {
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut offsets = crate::rewrite::Offsets::new(sql);
    let words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect::<Vec<_>>();
    let keyword = |i: usize, k: &str| {
        matches!(&words.get(i)?.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
            .then_some(())
    };
    let mut i = 0;
    keyword(0, "insert").or_else(|| keyword(0, "replace"))?;
    i += 1;
    while ["low_priority", "delayed", "high_priority", "ignore", "into"]
        .iter()
        .any(|k| keyword(i, k).is_some())
    {
        i += 1;
    }
    // The table name: `t`, or `db`.`t`.
    let mut last = i;
    while matches!(words.get(last + 1).map(|t| &t.token), Some(Token::Period)) {
        last += 2;
    }
    let Token::Word(_) = &words.get(last)?.token else {
        return None;
    };
    let end = offsets.at(words.get(last + 1)?.span.start)?;
    let list: Vec<String> = columns
        .iter()
        .map(|c| format!("`{}`", c.replace('`', "``")))
        .collect();
    let head = sql[..end].trim_end();
    Some(format!("{head} ({}) {}", list.join(", "), &sql[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_column_list_goes_after_the_table_name() {
        let d = Syntax::DEFAULT;
        assert_eq!(
            with_column_list("INSERT INTO `users` VALUES (1,'a')", d, &cols(&["id", "e"]))
                .as_deref(),
            Some("INSERT INTO `users` (`id`, `e`) VALUES (1,'a')")
        );
        assert_eq!(
            with_column_list("replace low_priority app.t values (1)", d, &cols(&["id"])).as_deref(),
            Some("replace low_priority app.t (`id`) values (1)")
        );
        assert_eq!(
            with_column_list("INSERT IGNORE t\nVALUES\n(1)", d, &cols(&["a`b"])).as_deref(),
            Some("INSERT IGNORE t (`a``b`) VALUES\n(1)")
        );
        assert_eq!(with_column_list("SELECT 1", d, &cols(&["id"])), None);
    }

    #[test]
    fn the_columns_query_quotes_the_name() {
        assert_eq!(columns_query("o'k`s"), "SELECT * FROM `o'k``s` LIMIT 0");
    }
}
