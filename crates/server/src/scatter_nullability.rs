//! A scatter's columns whose nullability the shards describe differently. MariaDB declares an
//! outer join's inner columns NOT NULL when its plan reads that table as a constant one (its
//! one row found by a unique key equal to constants), a plan a shard may take where one server
//! holding every row does not — the shard holding the one row a unique key finds, where the
//! others find nothing (one server finds it too: NOT NULL); a shard sent one value of an IN
//! list the proxy cut (one server reads several values: nullable). So a column the shards
//! disagree on is NOT NULL when every shard that answered rows says so, and nullable when the
//! shards' key lists were cut (one server's plan reads several keys; no constant table) — as
//! is every column of a table an outer join NULL-extends then, whatever the shards say.

use bytes::BytesMut;
use shardgate_merge::ColumnFlags;
use shardgate_wire::column_definition;

/// The columns some shard's definition (`heads`, one per shard) declares NOT NULL and
/// another's does not.
pub(crate) fn disputed(heads: &[Vec<BytesMut>]) -> Vec<usize> {
    let width = heads.first().map_or(0, Vec::len);
    (0..width)
        .filter(|&c| {
            let mut shards = heads.iter().map(|h| not_null(h, c));
            let first = shards.next();
            shards.any(|s| Some(s) != first)
        })
        .collect()
}

/// Settles the `disputed` columns in the first shard's definitions (those the answer is
/// described by): NOT NULL when every shard in `voters` (those that answered rows, or every
/// shard when none did or the key lists were cut) declares it so.
pub(crate) fn settle(heads: &mut [Vec<BytesMut>], disputed: &[usize], voters: &[bool]) {
    for &c in disputed {
        let agreed = (heads.iter().zip(voters))
            .filter(|(_, &votes)| votes)
            .all(|(head, _)| not_null(head, c));
        if let Some(definition) = heads.first_mut().and_then(|h| h.get_mut(c)) {
            set_not_null(definition, agreed);
        }
    }
}

/// Whether column `c` of a shard's definitions `head` is declared NOT NULL.
fn not_null(head: &[BytesMut], c: usize) -> bool {
    (head.get(c))
        .and_then(|d| column_definition::flags(d))
        .is_some_and(|f| f.contains(ColumnFlags::NOT_NULL_FLAG))
}

/// Declares a column definition NOT NULL or nullable, in place.
fn set_not_null(definition: &mut [u8], not_null: bool) {
    if let Some(flags) = column_definition::flags(definition) {
        let flags = match not_null {
            true => flags | ColumnFlags::NOT_NULL_FLAG,
            false => flags - ColumnFlags::NOT_NULL_FLAG,
        };
        column_definition::set_flags(definition, flags);
    }
}

/// Declares nullable, in `head`, the columns of the tables `null_extended` names (lower-cased,
/// as the definitions name them).
pub(crate) fn clear_null_extended(head: &mut [BytesMut], null_extended: &[String]) {
    for definition in head {
        let extended = column_definition::table(definition)
            .is_some_and(|t| (null_extended.iter()).any(|n| n.as_bytes().eq_ignore_ascii_case(t)));
        if extended {
            set_not_null(definition, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardgate_wire::column_definition::ColumnDef;

    fn column(table: &str, not_null: bool) -> BytesMut {
        let plain = ColumnDef::bigint("c");
        let def = ColumnDef {
            table: table.into(),
            flags: match not_null {
                true => plain.flags | ColumnFlags::NOT_NULL_FLAG,
                false => plain.flags,
            },
            ..plain
        };
        BytesMut::from(&def.encode()[..])
    }

    fn head(not_null: &[bool]) -> Vec<BytesMut> {
        not_null.iter().map(|&n| column("u", n)).collect()
    }

    fn not_null(head: &[BytesMut]) -> Vec<bool> {
        (head.iter())
            .map(|d| {
                column_definition::flags(d)
                    .unwrap()
                    .contains(ColumnFlags::NOT_NULL_FLAG)
            })
            .collect()
    }

    #[test]
    fn only_columns_the_shards_disagree_on_are_disputed() {
        let heads = [head(&[true, true, false]), head(&[true, false, false])];
        assert_eq!(disputed(&heads), vec![1]);
        assert!(disputed(&[head(&[true, false])]).is_empty());
    }

    #[test]
    fn a_disputed_column_is_not_null_when_every_voting_shard_says_so() {
        // The shard that found the row says NOT NULL; the one that answered nothing does not vote.
        let mut heads = [head(&[false, false]), head(&[true, true])];
        let disputed_columns = disputed(&heads);
        settle(&mut heads, &disputed_columns, &[false, true]);
        assert_eq!(not_null(&heads[0]), [true, true]);
        // Both vote (cut key lists, or both answered rows): nullable.
        let mut heads = [head(&[true, false]), head(&[false, true])];
        let disputed_columns = disputed(&heads);
        settle(&mut heads, &disputed_columns, &[true, true]);
        assert_eq!(not_null(&heads[0]), [false, false]);
    }

    #[test]
    fn columns_of_null_extended_tables_are_nullable() {
        let mut head = vec![column("F", true), column("u", true)];
        clear_null_extended(&mut head, &["f".to_owned()]);
        assert_eq!(not_null(&head), [false, true]);
    }
}
