//! MariaDB binlog for the resharding catch-up (issue #15), without I/O: GTID positions, the
//! events of a binlog dump decoded into row changes, and the statements that apply a row
//! change to the new owner of its shard key.

mod error;
pub mod event;
pub mod gtid;
pub mod literal;
pub mod moves;
pub mod table;

pub use error::BinlogError;
pub use event::{Decoded, Decoder};
pub use gtid::{Gtid, GtidPos};
pub use moves::{new_owner_by, statements_for, NewOwner, Row, RowChange, TargetStatement};
pub use table::{Column, ColumnKind, Table};
