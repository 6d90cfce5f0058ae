//! The MySQL wire format's bytes, in one home: length-encoded integers and strings
//! ([`lenenc`]), column definitions ([`column_definition`]), text-protocol row cells
//! ([`text_row`]) and the packets the proxy writes or reads itself ([`packets`]: OK, EOF,
//! ERR). Pure: no I/O. `shardgate-protocol` frames and exchanges these packets,
//! `shardgate-merge` reads and writes rows with them.

pub mod column_definition;
pub mod error;
pub mod lenenc;
pub mod packets;
pub mod text_row;

pub use error::{MalformedCell, ServerErr};
pub use mysql_common::constants::{CapabilityFlags, ColumnFlags, ColumnType, StatusFlags};

/// The collation id of `utf8mb4_general_ci`.
pub const UTF8MB4_GENERAL_CI: u8 = 45;
