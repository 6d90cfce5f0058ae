//! `DROP DATABASE` of the session's current database. MariaDB leaves such a session without a
//! database, flags the OK with SERVER_STATUS_DB_DROPPED (the `mariadb` client then asks which
//! database it is in) and reports the change to clients that track the session's schema. So
//! does the proxy: the session's database is none (`""`), and the connections that serve it
//! are taken there (`SessionState::sync_database`; the connections that ran the DROP are
//! there already).

use shardgate_protocol::{CapabilityFlags, StatusFlags};
use shardgate_wire::packets::{schema_change, OkInfo};

use crate::session::{Session, Step};

impl Session {
    /// Answers a DDL that dropped the session's current database (a backend flagged its OK
    /// with SERVER_STATUS_DB_DROPPED): the session has no database now.
    pub(crate) async fn send_database_dropped(
        &mut self,
        affected_rows: u64,
        warnings: u16,
    ) -> Step {
        self.state.database.clear();
        self.slot.set_database(&self.state.database);
        let session_state = match self
            .capabilities
            .contains(CapabilityFlags::CLIENT_SESSION_TRACK)
        {
            true => schema_change(self.state.database.as_bytes()),
            false => Vec::new(),
        };
        self.write_ok(OkInfo {
            affected_rows,
            warnings,
            status: StatusFlags::SERVER_STATUS_DB_DROPPED,
            session_state,
            ..OkInfo::default()
        })
        .await
    }
}
