//! What the proxy knows of the shards' tables: each sharded or reference table's columns, in
//! order, with their types and collations, as last read from `information_schema.COLUMNS`;
//! and the views over sharded tables, as `information_schema.VIEWS` defines them.
//! Pure: the server loads it (`server/src/schema_loader.rs`), the router plans with it.
//!
//! The cache is an aid to planning, never the last word: a plan built from it states what it
//! expects (`SELECT *`'s column names), and the executor checks that against the column
//! definitions the shards send, refusing the answer when they differ.

mod cell;
mod default;
mod disagreement;
mod model;
mod views;

pub use cell::{LoadTicket, SchemaCell, SchemaStatus};
pub use default::ColumnDefault;
pub use disagreement::{disagreements, Disagreement};
pub use model::{Column, ColumnRow, Schema, TableColumns};
pub use views::{ViewBodies, ViewsCell, ViewsKnown, ViewsTicket};
