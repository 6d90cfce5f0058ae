//! SQL to [`Plan`]: parses a statement, finds the tables and shard-key values it names, and
//! decides where it runs. Pure: no I/O, no async.

mod administrative;
mod aggregate_fn;
mod assigning_select;
mod auto_increment;
mod block_scope;
mod colocated;
mod colocated_semijoin;
mod column_list;
mod column_owner;
mod connection_id;
mod connection_state;
mod copy_narrowing;
mod copy_sql;
mod create_from_select;
mod decorrelate;
mod delete_returning;
mod derived_rows;
mod do_statement;
mod error;
mod exact_fallback;
mod explain;
mod foreign_syntax;
mod given_ids;
mod group_by_direction;
mod implied;
mod insert_select;
mod join_columns;
mod join_plan;
mod key_expression;
mod key_placement;
mod last_insert_id;
mod last_insert_id_key;
mod legacy_literals;
pub mod lex;
mod limited_write;
mod load_data;
mod lookup;
mod maintenance;
mod materialize;
mod merge_output;
mod moving_update;
mod null_extended;
mod omitted_key;
mod placement;
mod plan;
mod plan_cache;
mod plan_tree;
mod planner;
mod previous_statement;
mod prune;
mod pushable;
mod pushdown;
mod reduce;
mod reference_semijoin;
mod rewrite;
mod row_conditions;
mod rownum;
mod scatter;
mod scatter_plan;
mod seeded_rand;
mod select_into;
mod select_list;
mod session;
mod set_operation;
mod set_statement;
mod shard_key;
mod split;
mod sql_prepare;
mod star;
mod statement_traits;
mod stored_program;
mod subquery_values;
mod syntax;
#[cfg(test)]
mod test_topology;
mod text;
mod transaction_end;
pub mod utf8;
mod views;
mod write_subqueries;

pub use administrative::{Kill, KillTarget, ROLE_SETTING};
pub use assigning_select::{Assigned, AssigningSelect};
pub use auto_increment::{GeneratedIds, RowId};
pub use column_list::{columns_query, with_column_list};
pub use connection_id::{reads_connection_id, set_connection_id};
pub use connection_state::{ConnectionState, HandlerAction, NamedLockCalls};
pub use copy_narrowing::Narrowing;
pub use copy_sql::{string_literal, temporary_definition, Transport};
pub use create_from_select::CreateFromSelect;
pub use derived_rows::{DerivedRows, OverDerived};
pub use error::RouteError;
pub use exact_fallback::{materialized, plan_over_copies};
pub use given_ids::{given_ids, GivenIds};
pub use insert_select::InsertFromSelect;
pub use join_plan::{JoinPlan, JoinSide, JoinStrategy, LOOKUP_BATCH};
pub use key_placement::loose_keys;
pub use last_insert_id::{
    fails_before_rows, inserts_one_row, reads_last_insert_id, reads_last_insert_id_value,
    set_last_insert_id,
};
pub use last_insert_id_key::with_last_insert_id_keys;
pub use legacy_literals::ascii_literals;
pub use limited_write::LimitedWrite;
pub use lookup::{LookupEntry, LookupPlan, LookupRead, LookupWrite, RowsToLocate};
pub use maintenance::Maintenance;
pub use materialize::{quote as quote_identifier, MaterializePlan, TableCopy};
pub use merge_output::{MergeOutput, MergeSettings, ResultSource};
pub use moving_update::{MovingUpdate, NamedRow};
pub use plan::{DeferredRoute, Explained, Plan, Route, SessionVar, StatementKind, TxnCommand};
pub use plan_cache::{templatize, PlanCache};
pub use plan_tree::{PlanLine, PlanRow, PlanTree};
pub use planner::{plan_sql, plan_statement};
pub use previous_statement::{
    mentions_previous_statement, with_previous_statement, writes_selected_rows, PreviousStatement,
};
pub use rewrite::insert_row_shards;
pub use scatter::column_names::parameter_item_names;
pub use scatter_plan::{
    AggregateSpec, ColumnOrigin, MergeSpec, ScatterPlan, StarCheck, WindowSpec,
};
pub use select_into::IntoVariables;
pub use select_list::dividing_items;
pub use set_operation::{OrderTarget, SetNode, SetOperationPlan, WholeOrderKey};
pub use set_statement::set_statement_body;
pub use shard_key::{KeySource, OwnedKey};
pub use split::{next_statement, split_statements, Piece};
pub use sql_prepare::{
    prepared_on_server, sql_prepared_statement, PrepareSource, SqlPrepared, StatementName,
};
pub use statement_traits::{
    after_comments, returns_rows, starts_insert, SelectKind, StatementTraits,
};
pub use syntax::{SqlMode, Syntax};
pub use text::{diagnostics_statement, DiagnosticsStatement};
pub use views::{bodies_over_sharded, may_change_views};
pub use write_subqueries::{SubqueriesFirst, SubqueryUse, WriteSubquery};
