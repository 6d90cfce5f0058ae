//! Online resharding (issue #15), the parts without I/O: the workflow's phases, the keyset
//! pages a copy reads, the cursor it keeps between pages, its progress figures, and the
//! admin statements that drive it. The server crate runs them against MariaDB.

mod cursor;
mod keyset;
mod phase;
mod progress;
mod statement;

pub use cursor::{Cursor, CursorValue};
pub use keyset::{key_range_filter, KeysetQuery};
pub use phase::Phase;
pub use progress::Progress;
pub use statement::{parse_reshard, ReshardStatement, StatementError};
