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
    /// Session state changes (CLIENT_SESSION_TRACK), as the block MariaDB sends after `info`:
    /// only for clients that asked for them. Non-empty sets SERVER_SESSION_STATE_CHANGED.
    pub session_state: Vec<u8>,
}

/// The session-state block (CLIENT_SESSION_TRACK) reporting that the current database is now
/// `name`: one SESSION_TRACK_SCHEMA entry, as MariaDB writes it after a `USE` or after
/// dropping the current database.
pub fn schema_change(name: &[u8]) -> Vec<u8> {
    const SESSION_TRACK_SCHEMA: u8 = 1;
    let mut entry = Vec::with_capacity(name.len() + 9);
    entry.put_lenenc_str(name);
    let mut block = Vec::with_capacity(entry.len() + 10);
    block.push(SESSION_TRACK_SCHEMA);
    block.put_lenenc_str(&entry);
    block
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
    let mut status = ok.status;
    if !ok.session_state.is_empty() {
        status |= StatusFlags::SERVER_SESSION_STATE_CHANGED;
    }
    p.extend_from_slice(&status.bits().to_le_bytes());
    p.extend_from_slice(&ok.warnings.to_le_bytes());
    // As MariaDB writes it: the info only when there is some or a state block follows it.
    if !ok.info.is_empty() || !ok.session_state.is_empty() {
        p.put_lenenc_str(&ok.info);
    }
    if !ok.session_state.is_empty() {
        p.put_lenenc_str(&ok.session_state);
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
pub fn err(code: u16, state: &[u8; 5], message: impl AsRef<[u8]>) -> Vec<u8> {
    let message = message.as_ref();
    let mut p = Vec::with_capacity(9 + message.len());
    p.push(0xFF);
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    p.extend_from_slice(state);
    p.extend_from_slice(message);
    p
}

/// An ERR packet sent in place of the greeting (too many connections, a blocked host), as
/// MariaDB sends it: the client's capabilities are not known yet, so no SQLSTATE.
pub fn err_before_handshake(code: u16, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(3 + message.len());
    p.push(0xFF);
    p.extend_from_slice(&code.to_le_bytes());
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

    /// The definition as a client reads it: with MARIADB_CLIENT_EXTENDED_METADATA
    /// (`extended_metadata`), an empty one for the proxy's plain columns.
    pub fn encode_for(&self, extended_metadata: bool) -> Vec<u8> {
        match extended_metadata {
            true => with_extended_metadata(&self.encode(), b""),
            false => self.encode(),
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
        session_state: Vec::new(),
    })
}

/// The session state changes an OK packet payload carries (from a connection with
/// CLIENT_SESSION_TRACK): the block after `info`, empty without SERVER_SESSION_STATE_CHANGED.
pub fn ok_session_state(payload: &[u8]) -> Option<&[u8]> {
    let rest = payload.get(1..)?;
    let (_, a) = read_lenenc_int(rest)?;
    let (_, b) = read_lenenc_int(rest.get(a..)?)?;
    let flags = rest.get(a + b..a + b + 2)?;
    let status = StatusFlags::from_bits_retain(u16::from_le_bytes([flags[0], flags[1]]));
    if !status.contains(StatusFlags::SERVER_SESSION_STATE_CHANGED) {
        return Some(&[]);
    }
    let after_info = lenenc_str_end(rest, a + b + 4)?;
    lenenc_str(rest, after_info)
}

/// The length-encoded string starting at `at` in `buf`.
fn lenenc_str(buf: &[u8], at: usize) -> Option<&[u8]> {
    let (len, used) = read_lenenc_int(buf.get(at..)?)?;
    let start = at + used;
    buf.get(start..start.checked_add(usize::try_from(len).ok()?)?)
}

/// Where the length-encoded string starting at `at` in `buf` ends.
fn lenenc_str_end(buf: &[u8], at: usize) -> Option<usize> {
    let (len, used) = read_lenenc_int(buf.get(at..)?)?;
    let end = at
        .checked_add(used)?
        .checked_add(usize::try_from(len).ok()?)?;
    (end <= buf.len()).then_some(end)
}

/// The name a column definition gives its column (the fifth of its strings), with or without
/// MariaDB's extended metadata after them.
pub fn column_name(definition: &[u8]) -> Option<&[u8]> {
    let at = (0..4).try_fold(0, |at, _| lenenc_str_end(definition, at))?;
    lenenc_str(definition, at)
}

/// Where the six strings of a column definition (catalog, schema, table, org_table, name,
/// org_name) end: the extended metadata or the fixed-length fields start there.
fn column_names_end(definition: &[u8]) -> Option<usize> {
    (0..6).try_fold(0, |at, _| lenenc_str_end(definition, at))
}

/// Splits a column definition sent under MARIADB_CLIENT_EXTENDED_METADATA into the plain
/// protocol-4.1 definition and its extended type information (`\x00\x04uuid`, `\x01\x04json`,
/// empty for most columns), which the plain definition lacks.
pub fn split_extended_metadata(definition: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let names_end = column_names_end(definition)?;
    let metadata = lenenc_str(definition, names_end)?.to_vec();
    let metadata_end = lenenc_str_end(definition, names_end)?;
    let mut plain = Vec::with_capacity(definition.len() - (metadata_end - names_end));
    plain.extend_from_slice(&definition[..names_end]);
    plain.extend_from_slice(&definition[metadata_end..]);
    Some((plain, metadata))
}

/// A plain protocol-4.1 column definition with extended type information `metadata` added,
/// as a client that asked for MARIADB_CLIENT_EXTENDED_METADATA reads it.
pub fn with_extended_metadata(definition: &[u8], metadata: &[u8]) -> Vec<u8> {
    let names_end = column_names_end(definition).unwrap_or(definition.len());
    let mut out = Vec::with_capacity(definition.len() + 9 + metadata.len());
    out.extend_from_slice(&definition[..names_end]);
    out.put_lenenc_str(metadata);
    out.extend_from_slice(&definition[names_end..]);
    out
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
    let (message, raw_message) = match std::str::from_utf8(msg) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => (String::from_utf8_lossy(msg).into_owned(), Some(msg.into())),
    };
    Some(crate::ServerErr {
        code,
        state,
        message,
        raw_message,
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn schema_change_is_one_schema_entry() {
        assert_eq!(schema_change(b"app"), [1, 4, 3, b'a', b'p', b'p']);
    }

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
    fn a_column_name_is_read_with_or_without_extended_metadata() {
        let def = ColumnDef::varchar("email").encode();
        assert_eq!(column_name(&def), Some(&b"email"[..]));
        let extended = with_extended_metadata(&def, b"\x01\x04json");
        assert_eq!(column_name(&extended), Some(&b"email"[..]));
        assert_eq!(column_name(&[0xfc]), None);
    }

    #[test]
    fn ok_packet_round_trips() {
        let info = OkInfo {
            affected_rows: 70000,
            last_insert_id: 1 << 40,
            status: StatusFlags::SERVER_STATUS_AUTOCOMMIT | StatusFlags::SERVER_MORE_RESULTS_EXISTS,
            warnings: 3,
            info: Vec::new(),
            session_state: Vec::new(),
        };
        assert_eq!(parse_ok(&ok(&info)), Some(info));
    }

    /// `SET character_set_client = latin1` answered by MariaDB 10.11 to a client with
    /// CLIENT_SESSION_TRACK.
    const TRACKED_OK: &str =
        "00000002400000001e001c146368617261637465725f7365745f636c69656e74066c6174696e31";

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn session_state_is_read_from_mariadbs_ok_and_written_back_the_same() {
        let wire = unhex(TRACKED_OK);
        let state = ok_session_state(&wire).unwrap();
        assert_eq!(state.len(), 0x1e);
        assert_eq!(&state[..3], &[0x00, 0x1c, 0x14]);
        let rebuilt = ok(&OkInfo {
            status: StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            session_state: state.to_vec(),
            ..OkInfo::default()
        });
        assert_eq!(rebuilt, wire);
        // Without the flag there is nothing to read; a cut packet is not read past its end.
        assert_eq!(ok_session_state(&ok(&OkInfo::default())), Some(&[][..]));
        assert_eq!(ok_session_state(&wire[..wire.len() - 1]), None);
    }

    #[test]
    fn extended_metadata_comes_out_and_goes_back_in() {
        let plain = ColumnDef::varchar("u").encode();
        let extended = with_extended_metadata(&plain, b"\x00\x04uuid");
        assert_ne!(extended, plain);
        let (back, metadata) = split_extended_metadata(&extended).unwrap();
        assert_eq!(back, plain);
        assert_eq!(metadata, b"\x00\x04uuid");
        let (_, none) = split_extended_metadata(&with_extended_metadata(&plain, b"")).unwrap();
        assert!(none.is_empty());
        assert_eq!(split_extended_metadata(&plain[..5]), None);
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
