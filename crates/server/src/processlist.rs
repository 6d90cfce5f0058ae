//! `SHOW [FULL] PROCESSLIST`: the proxy's own client sessions, in the columns and types of
//! MariaDB 10.11's answer. Statements are shown as digests (literals replaced), never as sent.
//! An admin user sees every session; others see their own user's, as a MariaDB account without
//! the PROCESS privilege does.

use shardgate_protocol::{ColumnFlags, ColumnType};
use shardgate_wire::column_definition::ColumnDef;

use crate::runtime::Runtime;
use crate::session::{Session, Step};
use crate::sessions::ProcessRow;

/// The binary collation id (numbers).
const BINARY: u16 = 63;

/// MariaDB's column definitions of `SHOW [FULL] PROCESSLIST`.
fn columns(full: bool) -> Vec<ColumnDef> {
    let text = |name: &str, length: u32, not_null: bool| ColumnDef {
        length,
        flags: if not_null {
            ColumnFlags::NOT_NULL_FLAG
        } else {
            ColumnFlags::empty()
        },
        ..ColumnDef::varchar(name)
    };
    let number = |name: &str, column_type: ColumnType, decimals: u8| ColumnDef {
        charset: BINARY,
        length: if column_type == ColumnType::MYSQL_TYPE_LONGLONG {
            11
        } else {
            7
        },
        column_type,
        flags: ColumnFlags::NOT_NULL_FLAG | ColumnFlags::BINARY_FLAG,
        decimals,
        ..ColumnDef::varchar(name)
    };
    let info = match full {
        true => ColumnDef {
            column_type: ColumnType::MYSQL_TYPE_LONG_BLOB,
            ..text("Info", 201_326_592, false)
        },
        false => text("Info", 400, false),
    };
    vec![
        number("Id", ColumnType::MYSQL_TYPE_LONGLONG, 0),
        text("User", 512, true),
        text("Host", 256, true),
        text("db", 256, false),
        text("Command", 64, true),
        number("Time", ColumnType::MYSQL_TYPE_LONG, 0),
        text("State", 120, false),
        info,
        number("Progress", ColumnType::MYSQL_TYPE_DOUBLE, 3),
    ]
}

/// One row as text-protocol cells.
fn cells(row: &ProcessRow) -> [Option<String>; 9] {
    [
        Some(row.id.to_string()),
        Some(row.user.clone()),
        Some(row.host.clone()),
        row.database.clone(),
        Some(row.command.to_owned()),
        Some(row.seconds.to_string()),
        Some(row.state.to_owned()),
        row.info.clone(),
        Some("0.000".to_owned()),
    ]
}

impl Session {
    /// Answers `SHOW [FULL] PROCESSLIST`, in binary-protocol rows with `binary` (a prepared
    /// statement's execution).
    pub(crate) async fn process_list(
        &mut self,
        runtime: &Runtime,
        full: bool,
        binary: bool,
    ) -> Step {
        let admin = self.is_admin(runtime);
        let user = self.user().to_owned();
        let rows = (self.proxy.sessions).rows(|owner| admin || owner == user, full);
        let cells: Vec<[Option<String>; 9]> = rows.iter().map(cells).collect();
        self.send_proxy_rows(&columns(full), &cells, binary).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use shardgate_merge::{BinaryRowEncoder, ColumnMeta};

    #[test]
    fn columns_are_mariadb_s() {
        let names: Vec<String> = columns(true).into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["Id", "User", "Host", "db", "Command", "Time", "State", "Info", "Progress"]
        );
        let info = &columns(false)[7];
        assert_eq!(
            (info.column_type, info.length),
            (ColumnType::MYSQL_TYPE_VAR_STRING, 400)
        );
        // Every definition reads back as the merge reads a server's.
        for definition in columns(true) {
            ColumnMeta::from_definition(&definition.encode()).unwrap();
        }
    }

    #[test]
    fn rows_encode_in_both_protocols() {
        let row = ProcessRow {
            id: 7,
            user: "app".into(),
            host: "127.0.0.1:5000".into(),
            database: None,
            command: "Sleep",
            seconds: 3,
            state: "",
            info: None,
        };
        let text = shardgate_wire::text_row::text_row(
            cells(&row).iter().map(|c| c.as_deref().map(str::as_bytes)),
        );
        let metas: Vec<ColumnMeta> = columns(true)
            .iter()
            .map(|c| ColumnMeta::from_definition(&c.encode()).unwrap())
            .collect();
        let mut binary = Vec::new();
        BinaryRowEncoder::new(&metas)
            .encode(&Bytes::from(text), &mut binary)
            .unwrap();
        // Header, NULL bitmap with db and Info NULL, then the Id as 8 bytes.
        assert_eq!(binary[0], 0);
        assert_eq!(&binary[3..11], &7u64.to_le_bytes());
    }
}
