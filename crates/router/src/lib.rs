//! SQL to [`Plan`]: parses a statement, finds the tables and shard-key values it names, and
//! decides where it runs. Pure: no I/O, no async.

mod colocated;
mod error;
mod last_insert_id;
pub mod lex;
mod plan;
mod plan_cache;
mod planner;
mod prune;
mod reduce;
mod rewrite;
mod scatter;
mod scatter_plan;
mod session;
mod set_statement;
mod shard_key;
mod split;
mod sql_prepare;
mod syntax;
mod text;

pub use error::RouteError;
pub use last_insert_id::{reads_last_insert_id, set_last_insert_id};
pub use plan::{DeferredRoute, Plan, Route, SessionVar, StatementKind, TxnCommand};
pub use plan_cache::{templatize, PlanCache};
pub use planner::{plan_sql, plan_statement};
pub use scatter_plan::{AggregateSpec, ColumnOrigin, MergeSpec, ScatterPlan};
pub use set_statement::set_statement_body;
pub use shard_key::{KeySource, OwnedKey};
pub use split::{next_statement, split_statements, Piece};
pub use sql_prepare::{sql_prepared_statement, PrepareSource, SqlPrepared, StatementName};
pub use syntax::{SqlMode, Syntax};
pub use text::{diagnostics_statement, DiagnosticsStatement};
