//! The OK packet of an INSERT whose ids the proxy generated reports the statement's first
//! generated id, as MariaDB's does for ids it generates, in place of what the shard reported
//! for the ids it was given.

use shardgate_wire::packets::with_insert_id;

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
    use shardgate_wire::packets::{ok, parse_ok, OkInfo};

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
