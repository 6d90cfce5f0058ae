//! The packets the proxy writes itself (OK, EOF, ERR, a column count) and the fields it reads
//! from the servers' (an OK's counts, flags and session state; an ERR).

use crate::lenenc::{
    lenenc_str, lenenc_str_end, read_lenenc_int, write_lenenc_int, write_lenenc_str,
};
use crate::{CapabilityFlags, StatusFlags};

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
    write_lenenc_str(&mut entry, name);
    let mut block = Vec::with_capacity(entry.len() + 10);
    block.push(SESSION_TRACK_SCHEMA);
    write_lenenc_str(&mut block, &entry);
    block
}

/// An OK packet payload (header 0x00).
pub fn ok(ok: &OkInfo) -> Vec<u8> {
    ok_with_header(0x00, ok)
}

fn ok_with_header(header: u8, ok: &OkInfo) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + ok.info.len());
    p.push(header);
    write_lenenc_int(&mut p, ok.affected_rows);
    write_lenenc_int(&mut p, ok.last_insert_id);
    let mut status = ok.status;
    if !ok.session_state.is_empty() {
        status |= StatusFlags::SERVER_SESSION_STATE_CHANGED;
    }
    p.extend_from_slice(&status.bits().to_le_bytes());
    p.extend_from_slice(&ok.warnings.to_le_bytes());
    // As MariaDB writes it: the info only when there is some or a state block follows it.
    if !ok.info.is_empty() || !ok.session_state.is_empty() {
        write_lenenc_str(&mut p, &ok.info);
    }
    if !ok.session_state.is_empty() {
        write_lenenc_str(&mut p, &ok.session_state);
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

/// A column-count packet.
pub fn column_count(n: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(9);
    write_lenenc_int(&mut p, n);
    p
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

/// `payload` (an OK packet, header 0x00) reporting `id` as its last insert id, everything
/// else kept; `None` when it is no OK packet.
pub fn with_insert_id(payload: &[u8], id: u64) -> Option<Vec<u8>> {
    if payload.first() != Some(&0x00) {
        return None;
    }
    let (_, a) = read_lenenc_int(payload.get(1..)?)?;
    let (_, b) = read_lenenc_int(payload.get(1 + a..)?)?;
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&payload[..1 + a]);
    write_lenenc_int(&mut out, id);
    out.extend_from_slice(&payload[1 + a + b..]);
    Some(out)
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
    fn only_the_id_changes() {
        let info = OkInfo {
            affected_rows: 3,
            last_insert_id: 7,
            status: StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            warnings: 2,
            info: b"Records: 3  Duplicates: 0  Warnings: 2".to_vec(),
            session_state: Vec::new(),
        };
        let payload = ok(&info);
        let rewritten = with_insert_id(&payload, 1 << 40).unwrap();
        let parsed = parse_ok(&rewritten).unwrap();
        assert_eq!(parsed.last_insert_id, 1 << 40);
        assert_eq!(parsed.affected_rows, 3);
        assert_eq!(parsed.warnings, 2);
        assert_eq!(parsed.status, info.status);
        assert!(rewritten.ends_with(b"Warnings: 2"));
        assert_eq!(with_insert_id(&[0xFF, 1, 2], 5), None);
    }

    #[test]
    fn err_packet_round_trips() {
        let e = parse_err(&err(1146, b"42S02", "Table 'app.nope' doesn't exist")).unwrap();
        assert_eq!(e.code, 1146);
        assert_eq!(&e.state, b"42S02");
        assert_eq!(e.message, "Table 'app.nope' doesn't exist");
    }
}
