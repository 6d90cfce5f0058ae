//! `GROUP_CONCAT([DISTINCT] a, b … [ORDER BY … ASC|DESC] [SEPARATOR s])` over the raw values
//! of every shard.
//!
//! A group holds its values (bounded by the operator's [`MemoryLimit`]; 1038 past it), sorts
//! them by the ORDER BY keys under their collations, joins each row's argument texts (as the
//! shards printed them) with the separator, and cuts the result at `group_concat_max_len`
//! bytes on a character boundary, reporting the row it cut in (MariaDB's warning 1260,
//! "Row N was cut by GROUP_CONCAT()"). Rows with a NULL argument are skipped; a group without
//! a row gives NULL. DISTINCT compares the argument tuples under their collations and keeps
//! the first.
//!
//! The column, as MariaDB 10.11 describes it, in the connection's character set: `VAR_STRING`
//! of `max_len × mbmaxlen` bytes up to 512 characters, `BLOB` beyond, of `max_len` × the
//! arguments' `mbmaxlen` (numbers: the connection's) × the connection's `mbmaxlen` bytes; when
//! MariaDB sorts grouped results by an aggregate, the BLOB of the temporary table that held
//! them (`BLOB_FLAG`, the capacity of the smallest BLOB type for `max_len × mbmaxlen`).

use std::collections::HashSet;

use bytes::Bytes;
use mysql_common::constants::{ColumnFlags, ColumnType};

use crate::column::{ColumnMeta, ValueKind};
use crate::compare::{compare_values, value_key, SortKey};
use crate::error::{MergeError, Result};
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::row::TextRow;
use crate::value::Value;

/// MariaDB's `CONVERT_IF_BIGGER_TO_BLOB`: longer results are BLOBs.
const MAX_VARCHAR_CHARS: u64 = 512;

/// What a `GROUP_CONCAT` call concatenates, over shard columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConcatSpec {
    /// The argument columns, concatenated per row.
    pub args: Vec<usize>,
    pub distinct: bool,
    /// ORDER BY inside the call, over shard columns.
    pub order: Vec<SortKey>,
    pub separator: Vec<u8>,
}

impl GroupConcatSpec {
    pub(crate) fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.args
            .iter()
            .copied()
            .chain(self.order.iter().map(|k| k.column))
    }
}

fn mbmaxlen(charset: u16) -> u64 {
    let c = mysql_common::collations::Collation::resolve(
        mysql_common::collations::CollationId::from(charset),
    );
    u64::from(c.max_len()).max(1)
}

/// The result column of `spec` over `inputs`, for `max_len` = `group_concat_max_len` and the
/// connection's result collation `charset`. `materialized`: the grouped results pass through
/// a temporary table (MariaDB sorts them by an aggregate), whose BLOB field describes them.
/// The result's collation is its string arguments' (the connection's, `connection_binsort`,
/// for numbers only): MariaDB flags it BINARY when that collation sorts by binary (`_bin`).
pub fn group_concat_meta(
    spec: &GroupConcatSpec,
    inputs: &[ColumnMeta],
    max_len: u64,
    charset: u16,
    materialized: bool,
    connection_binsort: bool,
) -> ColumnMeta {
    let result_mb = mbmaxlen(charset);
    // The item's own length is in its arguments' character set (numbers: the connection's).
    let argument_mb = spec
        .args
        .iter()
        .filter_map(|&c| inputs.get(c))
        .filter(|m| m.kind() == ValueKind::Bytes)
        .map(|m| mbmaxlen(m.charset))
        .max()
        .unwrap_or(result_mb);
    let item_bytes = max_len * argument_mb;
    let (column_type, flags, bytes) = if max_len <= MAX_VARCHAR_CHARS {
        (
            ColumnType::MYSQL_TYPE_VAR_STRING,
            ColumnFlags::empty(),
            max_len * result_mb,
        )
    } else if materialized {
        (
            ColumnType::MYSQL_TYPE_BLOB,
            ColumnFlags::BLOB_FLAG,
            blob_capacity(item_bytes) * result_mb,
        )
    } else {
        (
            ColumnType::MYSQL_TYPE_BLOB,
            ColumnFlags::empty(),
            item_bytes * result_mb,
        )
    };
    let strings: Vec<&ColumnMeta> = (spec.args.iter())
        .filter_map(|&c| inputs.get(c))
        .filter(|m| m.kind() == ValueKind::Bytes)
        .collect();
    let binsort = match strings.is_empty() {
        true => connection_binsort,
        false => strings
            .iter()
            .any(|m| m.charset != 63 && m.flags.contains(ColumnFlags::BINARY_FLAG)),
    };
    let flags = match binsort {
        true => flags | ColumnFlags::BINARY_FLAG,
        false => flags,
    };
    ColumnMeta::new(column_type)
        .with_flags(flags)
        .with_charset(charset)
        .with_length(u32::try_from(bytes).unwrap_or(u32::MAX))
}

/// The capacity of the smallest BLOB type that holds `bytes`: what a temporary table's field
/// reports.
fn blob_capacity(bytes: u64) -> u64 {
    [255, 65_535, 16_777_215, 4_294_967_295]
        .into_iter()
        .find(|&max| bytes <= max)
        .unwrap_or(4_294_967_295)
}

/// One row of a group: its ORDER BY key values and its argument texts joined.
#[derive(Debug, Clone)]
struct Entry {
    keys: Vec<Value>,
    text: Bytes,
}

/// A group's rows.
#[derive(Debug, Clone)]
pub(crate) struct Concat {
    entries: Vec<Entry>,
    seen: HashSet<Vec<u8>>,
    budget: Budget,
}

/// A finished `GROUP_CONCAT`: the text (`None`: NULL) and the row it was cut in, if cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Concatenated {
    pub(crate) text: Option<Vec<u8>>,
    pub(crate) cut_in_row: Option<u64>,
}

impl Concat {
    pub(crate) fn new(limit: MemoryLimit) -> Concat {
        Concat {
            entries: Vec::new(),
            seen: HashSet::new(),
            budget: Budget::new("GROUP_CONCAT", limit),
        }
    }

    /// Adds `row` (with `inputs` columns) to the group.
    pub(crate) fn add(
        &mut self,
        spec: &GroupConcatSpec,
        row: &TextRow,
        inputs: &[ColumnMeta],
    ) -> Result<()> {
        let mut text = Vec::new();
        let mut key = Vec::new();
        for &c in &spec.args {
            let Some(cell) = row.cell(c) else {
                return Ok(());
            };
            if spec.distinct {
                let v = row.value(c, &inputs[c])?;
                value_key(&v, inputs[c].collation(), &mut key);
            }
            text.extend_from_slice(cell);
        }
        if spec.distinct && self.seen.contains(&key) {
            return Ok(());
        }
        let keys = spec
            .order
            .iter()
            .map(|k| row.value(k.column, &inputs[k.column]))
            .collect::<Result<Vec<_>>>()?;
        let held = text.len() as u64 + 2 * key.len() as u64 + 16 * keys.len() as u64;
        self.budget.charge(1, held + ENTRY_OVERHEAD)?;
        if spec.distinct {
            self.seen.insert(key);
        }
        self.entries.push(Entry {
            keys,
            text: Bytes::from(text),
        });
        Ok(())
    }

    /// Approximate bytes held.
    pub(crate) fn size(&self) -> u64 {
        self.budget.bytes()
    }

    /// The group's text, sorted, joined and cut at `max_len` bytes.
    pub(crate) fn finish(
        &self,
        spec: &GroupConcatSpec,
        inputs: &[ColumnMeta],
        max_len: u64,
    ) -> Result<Concatenated> {
        if self.entries.is_empty() {
            return Ok(Concatenated {
                text: None,
                cut_in_row: None,
            });
        }
        let mut order: Vec<&Entry> = self.entries.iter().collect();
        if !spec.order.is_empty() {
            order.sort_by(|a, b| {
                for (i, k) in spec.order.iter().enumerate() {
                    let o = compare_values(&a.keys[i], &b.keys[i], inputs[k.column].collation());
                    let o = if k.descending { o.reverse() } else { o };
                    if o.is_ne() {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let max = usize::try_from(max_len).map_err(|_| {
            MergeError::Unsupported("group_concat_max_len beyond this platform's memory".into())
        })?;
        let mut out: Vec<u8> = Vec::new();
        for (i, e) in order.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(&spec.separator);
            }
            out.extend_from_slice(&e.text);
            if out.len() > max {
                out.truncate(char_boundary(&out, max));
                return Ok(Concatenated {
                    text: Some(out),
                    cut_in_row: Some(i as u64 + 1),
                });
            }
        }
        Ok(Concatenated {
            text: Some(out),
            cut_in_row: None,
        })
    }
}

/// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 character.
fn char_boundary(s: &[u8], max: usize) -> usize {
    let mut end = max.min(s.len());
    while end > 0 && end < s.len() && (s[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::encode_text_row;

    fn rows(values: &[(&str, i64)]) -> Vec<TextRow> {
        values
            .iter()
            .map(|(s, i)| {
                let v = if *s == "NULL" {
                    Value::Null
                } else {
                    Value::bytes(s.to_string())
                };
                TextRow::parse(Bytes::from(encode_text_row(&[v, Value::Int(*i)])), 2).unwrap()
            })
            .collect()
    }

    fn metas() -> Vec<ColumnMeta> {
        vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        ]
    }

    fn run(spec: &GroupConcatSpec, values: &[(&str, i64)], max_len: u64) -> Concatenated {
        let mut c = Concat::new(MemoryLimit::UNLIMITED);
        for r in rows(values) {
            c.add(spec, &r, &metas()).unwrap();
        }
        c.finish(spec, &metas(), max_len).unwrap()
    }

    #[test]
    fn orders_dedupes_and_cuts_like_mariadb() {
        let spec = GroupConcatSpec {
            args: vec![0],
            distinct: false,
            order: vec![SortKey::desc(1)],
            separator: b";".to_vec(),
        };
        let got = run(&spec, &[("a", 1), ("NULL", 5), ("c", 3), ("b", 2)], 100);
        assert_eq!(got.text.as_deref(), Some(&b"c;b;a"[..]));
        assert_eq!(got.cut_in_row, None);

        // group_concat_max_len = 4: '1,2,3,4' is cut to '1,2,' in row 3.
        let ids = GroupConcatSpec {
            args: vec![1],
            distinct: false,
            order: vec![SortKey::asc(1)],
            separator: b",".to_vec(),
        };
        let got = run(&ids, &[("x", 4), ("x", 2), ("x", 1), ("x", 3)], 4);
        assert_eq!(got.text.as_deref(), Some(&b"1,2,"[..]));
        assert_eq!(got.cut_in_row, Some(3));

        // Cut on a character boundary: 'é,é' is 5 bytes, 4 allowed: 'é,'.
        let got = run(
            &GroupConcatSpec {
                order: vec![],
                ..spec.clone()
            },
            &[("é", 1), ("é", 2)],
            4,
        );
        assert_eq!(got.text.as_deref(), Some("é;".as_bytes()));
        assert_eq!(got.cut_in_row, Some(2));

        let distinct = GroupConcatSpec {
            args: vec![0],
            distinct: true,
            order: vec![SortKey::asc(0)],
            separator: b",".to_vec(),
        };
        let got = run(&distinct, &[("b", 1), ("a", 2), ("A", 3), ("b", 4)], 100);
        assert_eq!(got.text.as_deref(), Some(&b"a,b"[..]));
        assert_eq!(run(&distinct, &[("NULL", 1)], 100).text, None);
    }

    #[test]
    fn describes_the_column_like_mariadb() {
        let m = metas();
        let strings = GroupConcatSpec {
            args: vec![0],
            distinct: false,
            order: vec![],
            separator: b",".to_vec(),
        };
        let numbers = GroupConcatSpec {
            args: vec![1],
            ..strings.clone()
        };
        let shape = |spec: &GroupConcatSpec, max: u64| {
            let c = group_concat_meta(spec, &m, max, 45, false, false);
            (c.column_type, c.length)
        };
        let sorted = |spec: &GroupConcatSpec, max: u64| {
            let c = group_concat_meta(spec, &m, max, 45, true, false);
            (c.column_type, c.length, c.flags)
        };
        use ColumnType::*;
        assert_eq!(shape(&strings, 100), (MYSQL_TYPE_VAR_STRING, 400));
        assert_eq!(shape(&numbers, 512), (MYSQL_TYPE_VAR_STRING, 2048));
        assert_eq!(shape(&numbers, 513), (MYSQL_TYPE_BLOB, 8208));
        assert_eq!(shape(&strings, 600), (MYSQL_TYPE_BLOB, 9600));
        assert_eq!(shape(&numbers, 1_048_576), (MYSQL_TYPE_BLOB, 16_777_216));
        let latin1 = vec![m[0].with_charset(8), m[1]];
        assert_eq!(
            group_concat_meta(&strings, &latin1, 1_048_576, 45, false, false).length,
            4_194_304
        );
        assert_eq!(
            group_concat_meta(&numbers, &m, 1_048_576, 33, false, false).length,
            9_437_184
        );
        // BINARY when the result's collation sorts by binary: the connection's for numbers, a
        // string argument's otherwise.
        let binary = ColumnFlags::BINARY_FLAG;
        let flags = |spec: &GroupConcatSpec, inputs: &[ColumnMeta], binsort: bool| {
            group_concat_meta(spec, inputs, 100, 45, false, binsort).flags
        };
        assert_eq!(flags(&numbers, &m, true), binary);
        assert_eq!(flags(&numbers, &m, false), ColumnFlags::empty());
        let bin_strings = vec![m[0].with_flags(binary), m[1]];
        assert_eq!(flags(&strings, &bin_strings, false), binary);
        assert_eq!(flags(&strings, &m, true), ColumnFlags::empty());
        let blob = ColumnFlags::BLOB_FLAG;
        assert_eq!(sorted(&numbers, 600), (MYSQL_TYPE_BLOB, 262_140, blob));
        assert_eq!(
            sorted(&numbers, 20_000),
            (MYSQL_TYPE_BLOB, 67_108_860, blob)
        );
        assert_eq!(
            sorted(&strings, 100),
            (MYSQL_TYPE_VAR_STRING, 400, ColumnFlags::empty())
        );
    }

    #[test]
    fn holds_rows_under_the_memory_limit() {
        let spec = GroupConcatSpec {
            args: vec![0],
            distinct: false,
            order: vec![],
            separator: b",".to_vec(),
        };
        let mut c = Concat::new(MemoryLimit::rows(1));
        let r = rows(&[("a", 1), ("b", 2)]);
        c.add(&spec, &r[0], &metas()).unwrap();
        assert!(matches!(
            c.add(&spec, &r[1], &metas()),
            Err(MergeError::MemoryLimit { .. })
        ));
    }
}
