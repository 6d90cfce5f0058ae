//! Encoders for the packets the proxy writes itself: OK, EOF, ERR, column definitions, text rows.

use mysql_common::io::BufMutExt;

use crate::{CapabilityFlags, ColumnFlags, ColumnType, StatusFlags, UTF8MB4_GENERAL_CI};

/// What an OK packet reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OkInfo {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: StatusFlags,
    pub warnings: u16,
    pub info: Vec<u8>,
}

/// An OK packet payload (header 0x00).
pub fn ok(ok: &OkInfo) -> Vec<u8> {
    ok_with_header(0x00, ok)
}

fn ok_with_header(header: u8, ok: &OkInfo) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + ok.info.len());
    p.push(header);
    p.put_lenenc_int(ok.affected_rows);
    p.put_lenenc_int(ok.last_insert_id);
    p.extend_from_slice(&ok.status.bits().to_le_bytes());
    p.extend_from_slice(&ok.warnings.to_le_bytes());
    if !ok.info.is_empty() {
        p.put_lenenc_str(&ok.info);
    }
    p
}

/// The packet ending a result set: an OK with 0xFE header under CLIENT_DEPRECATE_EOF, else EOF.
pub fn result_terminator(caps: CapabilityFlags, status: StatusFlags, warnings: u16) -> Vec<u8> {
    if caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
        ok_with_header(
            0xFE,
            &OkInfo {
                status,
                warnings,
                ..OkInfo::default()
            },
        )
    } else {
        eof(status, warnings)
    }
}

/// A legacy EOF packet.
pub fn eof(status: StatusFlags, warnings: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(5);
    p.push(0xFE);
    p.extend_from_slice(&warnings.to_le_bytes());
    p.extend_from_slice(&status.bits().to_le_bytes());
    p
}

/// An ERR packet payload.
pub fn err(code: u16, state: &[u8; 5], message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(9 + message.len());
    p.push(0xFF);
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    p.extend_from_slice(state);
    p.extend_from_slice(message.as_bytes());
    p
}

/// A column definition (Protocol::ColumnDefinition41).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub charset: u16,
    pub length: u32,
    pub column_type: ColumnType,
    pub flags: ColumnFlags,
    pub decimals: u8,
}

impl ColumnDef {
    /// A computed VARCHAR column in utf8mb4, as the server describes `SELECT 'text'`.
    pub fn varchar(name: &str) -> Self {
        ColumnDef {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            name: name.to_owned(),
            org_name: String::new(),
            charset: u16::from(UTF8MB4_GENERAL_CI),
            length: 1024,
            column_type: ColumnType::MYSQL_TYPE_VAR_STRING,
            flags: ColumnFlags::empty(),
            decimals: 0x27,
        }
    }

    /// A computed BIGINT column.
    pub fn bigint(name: &str) -> Self {
        ColumnDef {
            charset: 63,
            length: 21,
            column_type: ColumnType::MYSQL_TYPE_LONGLONG,
            flags: ColumnFlags::BINARY_FLAG | ColumnFlags::NUM_FLAG,
            decimals: 0,
            ..ColumnDef::varchar(name)
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(32 + self.name.len() * 2 + self.table.len() * 2);
        p.put_lenenc_str(b"def");
        p.put_lenenc_str(self.schema.as_bytes());
        p.put_lenenc_str(self.table.as_bytes());
        p.put_lenenc_str(self.org_table.as_bytes());
        p.put_lenenc_str(self.name.as_bytes());
        p.put_lenenc_str(self.org_name.as_bytes());
        p.push(0x0C);
        p.extend_from_slice(&self.charset.to_le_bytes());
        p.extend_from_slice(&self.length.to_le_bytes());
        p.push(self.column_type as u8);
        p.extend_from_slice(&self.flags.bits().to_le_bytes());
        p.push(self.decimals);
        p.extend_from_slice(&[0, 0]);
        p
    }
}

/// A text-protocol row: each value length-encoded, NULL as 0xFB.
pub fn text_row<'a>(values: impl IntoIterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    for v in values {
        match v {
            Some(bytes) => p.put_lenenc_str(bytes),
            None => p.push(0xFB),
        }
    }
    p
}

/// A column-count packet.
pub fn column_count(n: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(9);
    p.put_lenenc_int(n);
    p
}

/// Reads a length-encoded integer at the start of `buf`: (value, bytes used).
pub fn read_lenenc_int(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let (n, used) = match first {
        0..=0xFA => return Some((u64::from(first), 1)),
        0xFC => (2, 3),
        0xFD => (3, 4),
        0xFE => (8, 9),
        _ => return None,
    };
    let bytes = buf.get(1..=n)?;
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    Some((v, used))
}

/// Parses an OK packet payload (0x00 or 0xFE header) into its fields; `info` is not kept.
pub fn parse_ok(payload: &[u8]) -> Option<OkInfo> {
    let rest = payload.get(1..)?;
    let (affected_rows, a) = read_lenenc_int(rest)?;
    let (last_insert_id, b) = read_lenenc_int(rest.get(a..)?)?;
    let flags = rest.get(a + b..a + b + 4)?;
    Some(OkInfo {
        affected_rows,
        last_insert_id,
        status: StatusFlags::from_bits_retain(u16::from_le_bytes([flags[0], flags[1]])),
        warnings: u16::from_le_bytes([flags[2], flags[3]]),
        info: Vec::new(),
    })
}

/// Parses an ERR packet payload.
pub fn parse_err(payload: &[u8]) -> Option<crate::ServerErr> {
    if payload.first() != Some(&0xFF) || payload.len() < 3 {
        return None;
    }
    let code = u16::from_le_bytes([payload[1], payload[2]]);
    let (state, msg) = if payload.get(3) == Some(&b'#') && payload.len() >= 9 {
        let mut s = [0u8; 5];
        s.copy_from_slice(&payload[4..9]);
        (s, &payload[9..])
    } else {
        (*b"HY000", &payload[3..])
    };
    Some(crate::ServerErr {
        code,
        state,
        message: String::from_utf8_lossy(msg).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::io::ParseBuf;
    use mysql_common::packets::Column;

    #[test]
    fn column_definition_decodes_with_mysql_common() {
        let mut def = ColumnDef::varchar("email");
        def.schema = "app".into();
        def.table = "u".into();
        def.org_table = "users".into();
        def.org_name = "email".into();
        def.charset = 224;
        def.length = 1020;
        def.flags = ColumnFlags::UNIQUE_KEY_FLAG;
        def.decimals = 0;
        let bytes = def.encode();
        let col: Column = ParseBuf(&bytes).parse(()).unwrap();
        assert_eq!(col.name_str(), "email");
        assert_eq!(col.org_table_str(), "users");
        assert_eq!(col.schema_str(), "app");
        assert_eq!(col.character_set(), 224);
        assert_eq!(col.column_length(), 1020);
        assert_eq!(col.column_type(), ColumnType::MYSQL_TYPE_VAR_STRING);
        assert_eq!(col.flags(), ColumnFlags::UNIQUE_KEY_FLAG);
    }

    #[test]
    fn ok_packet_round_trips() {
        let info = OkInfo {
            affected_rows: 70000,
            last_insert_id: 1 << 40,
            status: StatusFlags::SERVER_STATUS_AUTOCOMMIT | StatusFlags::SERVER_MORE_RESULTS_EXISTS,
            warnings: 3,
            info: Vec::new(),
        };
        assert_eq!(parse_ok(&ok(&info)), Some(info));
    }

    #[test]
    fn err_packet_round_trips() {
        let e = parse_err(&err(1146, b"42S02", "Table 'app.nope' doesn't exist")).unwrap();
        assert_eq!(e.code, 1146);
        assert_eq!(&e.state, b"42S02");
        assert_eq!(e.message, "Table 'app.nope' doesn't exist");
    }

    #[test]
    fn lenenc_ints_of_every_width() {
        for v in [
            0u64,
            250,
            251,
            0xFFFF,
            0x10000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            b.put_lenenc_int(v);
            assert_eq!(read_lenenc_int(&b), Some((v, b.len())));
        }
        assert_eq!(read_lenenc_int(&[0xFC, 1]), None);
        assert_eq!(read_lenenc_int(&[0xFF]), None);
    }
}
