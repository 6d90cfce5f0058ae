//! The OK packet of an INSERT whose ids the proxy generated reports the statement's first
//! generated id, as MariaDB's does for ids it generates, in place of what the shard reported
//! for the ids it was given.

use mysql_common::io::BufMutExt;

use crate::packets::read_lenenc_int;

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
    out.put_lenenc_int(id);
    out.extend_from_slice(&payload[1 + a + b..]);
    Some(out)
}

/// Appends the physical packets in `bytes` to `out`, the last one (an answer's OK) reporting
/// `id` as its last insert id.
pub(crate) fn copy_with_insert_id(out: &mut bytes::BytesMut, bytes: &[u8], id: u64) {
    let mut pos = 0;
    let mut last = None;
    while let Some((len, _)) = crate::conn::frame_header(&bytes[pos..]) {
        last = Some(pos);
        pos += 4 + len;
    }
    let Some(at) = last else {
        out.extend_from_slice(bytes);
        return;
    };
    let (len, seq) = crate::conn::frame_header(&bytes[at..]).expect("framed above");
    match with_insert_id(&bytes[at + 4..at + 4 + len], id) {
        Some(payload) if payload.len() < crate::MAX_CHUNK => {
            out.extend_from_slice(&bytes[..at]);
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
            out.extend_from_slice(&[seq]);
            out.extend_from_slice(&payload);
        }
        _ => out.extend_from_slice(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packets::{ok, parse_ok, OkInfo};
    use crate::StatusFlags;

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
    fn the_packet_keeps_its_sequence_id() {
        let payload = ok(&OkInfo::default());
        let mut bytes = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        bytes.push(1);
        bytes.extend_from_slice(&payload);
        let mut out = bytes::BytesMut::new();
        copy_with_insert_id(&mut out, &bytes, 300);
        let (len, seq) = crate::conn::frame_header(&out).unwrap();
        assert_eq!((len, seq), (out.len() - 4, 1));
        assert_eq!(parse_ok(&out[4..]).unwrap().last_insert_id, 300);
    }
}
