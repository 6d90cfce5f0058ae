//! Merging scatter results into the answer one MariaDB would give.
//!
//! A `SELECT` on a sharded table without a shard key goes to every shard; each answers
//! with a text-protocol result set. This crate is the pure part of putting them together:
//!
//! - **Rows** stay raw payloads ([`bytes::Bytes`]) while an operator passes them through
//!   unchanged; [`TextRow`] reads single cells, [`decode_text_row`] / [`encode_text_row`]
//!   convert whole rows, and computed rows are written as MariaDB would print them
//!   (`DECIMAL` at its scale, `DOUBLE` in MariaDB's shortest form, see [`format_double`]).
//! - **Order** is MariaDB's: [`compare_values`] (NULL first, numbers across types,
//!   strings by [`Collation`], negative `TIME`), [`RowOrder`] over [`SortKey`]s.
//! - **Operators**, each a small state machine the executor drives: [`MergeSort`] (k-way
//!   merge of sorted shard streams), then single-input [`RowOperator`]s chained in a
//!   [`Pipeline`]: [`Limit`], [`SortedDistinct`] / [`HashDistinct`], [`OrderedAggregate`] /
//!   [`HashAggregate`] over partial [`Aggregate`]s (and raw values, for DISTINCT aggregates,
//!   `GROUP_CONCAT` and the `STDDEV`/`VARIANCE` family; `BIT_*` either way), [`Window`]
//!   (ranks and running aggregates of one window), [`Filter`] (HAVING), [`Sort`],
//!   [`Project`]; joins of two streams, [`HashJoin`] and [`BatchedLookup`] (`join.rs`).
//!   Operators that hold rows do so under a [`MemoryLimit`] and fail with
//!   [`MergeError::MemoryLimit`] past it.
//!
//! No I/O and no async runtime here: the executor owns the sockets.

mod aggregate;
mod binary_row;
mod bit_aggregate;
mod collation_ids;
mod column;
mod compare;
mod decimal;
mod distinct;
mod distinct_aggregate;
mod error;
mod expr;
mod float_text;
mod group_concat;
mod hash_aggregate;
mod having;
mod join;
mod limit;
mod memory;
mod merge_sort;
mod ordered_aggregate;
mod pipeline;
mod project;
mod row;
mod set_operation;
mod sort;
mod temporal;
mod temporary_table;
mod value;
mod variance;
mod widen;
mod window;

pub use aggregate::{
    avg_meta_from_sum, avg_result_meta, count_meta, extreme_meta, sum_result_meta, Aggregate,
    AggregateSettings,
};
pub use binary_row::BinaryRowEncoder;
pub use bit_aggregate::{bit_meta, BitOp};
pub use collation_ids::{charset_is, collation_id, compares_exactly, utf8_or_binary};
pub use column::{ColumnMeta, ValueKind};
pub use compare::{compare_values, value_key, RowOrder, SortKey};
pub use decimal::{Decimal, MAX_PRECISION, MAX_SCALE};
pub use distinct::{HashDistinct, SortedDistinct};
pub use error::{LimitUnit, MergeError, Result};
pub use expr::{arith, negate, sql_compare, truth, ArithOp, CompareOp, Expr, ResultType};
pub use float_text::{format_double, format_float, parse_double, NOT_FIXED_DEC};
pub use group_concat::{group_concat_meta, GroupConcatSpec};
pub use hash_aggregate::HashAggregate;
pub use having::Filter;
pub use join::{BatchedLookup, HashJoin, JoinKeys, JoinKind};
pub use limit::Limit;
pub use memory::MemoryLimit;
pub use merge_sort::MergeSort;
pub use ordered_aggregate::OrderedAggregate;
pub use pipeline::{MergeWarning, Pipeline, RowOperator};
pub use project::{Project, ProjectItem};
pub use row::{decode_text_row, encode_text_row, RowWriter, TextRow};
pub use set_operation::{combine, SetOperator, SetRows};
pub use shardgate_collation::{exact_collation, Collation};
pub use sort::Sort;
pub use temporal::{Date, DateTime, Time};
pub use temporary_table::{ExplainRow, TemporaryTable};
pub use value::Value;
pub use variance::{variance_meta, VarianceKind};
pub use widen::Widening;
pub use window::{RowsFrame, Window, WindowFunction};

/// Re-exported so callers name column types and flags without depending on mysql_common.
pub use mysql_common::constants::{ColumnFlags, ColumnType};
