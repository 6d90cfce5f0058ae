//! Length-encoded integers and strings: one byte below 0xFB, else a 0xFC / 0xFD / 0xFE
//! marker and 2, 3 or 8 little-endian bytes.

/// Reads a length-encoded integer at the start of `buf`: (value, bytes used). `None` for a
/// truncated one and for the markers that are not lengths (0xFB, NULL in a row; 0xFF).
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
    let v = bytes
        .iter()
        .rev()
        .fold(0u64, |v, &b| (v << 8) | u64::from(b));
    Some((v, used))
}

/// Appends a length-encoded integer.
pub fn write_lenenc_int(out: &mut Vec<u8>, v: u64) {
    if v < 0xFB {
        out.push(v as u8);
    } else if v <= 0xFFFF {
        out.push(0xFC);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= 0xFF_FFFF {
        out.push(0xFD);
        out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xFE);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends a length-encoded string.
pub fn write_lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    write_lenenc_int(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// The length-encoded string starting at `at` in `buf`.
pub fn lenenc_str(buf: &[u8], at: usize) -> Option<&[u8]> {
    let (len, used) = read_lenenc_int(buf.get(at..)?)?;
    let start = at + used;
    buf.get(start..start.checked_add(usize::try_from(len).ok()?)?)
}

/// Where the length-encoded string starting at `at` in `buf` ends.
pub fn lenenc_str_end(buf: &[u8], at: usize) -> Option<usize> {
    let (len, used) = read_lenenc_int(buf.get(at..)?)?;
    let end = at
        .checked_add(used)?
        .checked_add(usize::try_from(len).ok()?)?;
    (end <= buf.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::io::BufMutExt;

    #[test]
    fn lenenc_ints_of_every_width_agree_with_mysql_common() {
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
            let mut theirs = Vec::new();
            theirs.put_lenenc_int(v);
            let mut ours = Vec::new();
            write_lenenc_int(&mut ours, v);
            assert_eq!(ours, theirs);
            assert_eq!(read_lenenc_int(&ours), Some((v, ours.len())));
        }
        assert_eq!(read_lenenc_int(&[0xFC, 1]), None);
        assert_eq!(read_lenenc_int(&[0xFB]), None);
        assert_eq!(read_lenenc_int(&[0xFF]), None);
    }

    #[test]
    fn strings_are_found_and_not_read_past_the_end() {
        let mut b = vec![9];
        write_lenenc_str(&mut b, b"abc");
        write_lenenc_str(&mut b, &[7; 300]);
        assert_eq!(lenenc_str(&b, 1), Some(&b"abc"[..]));
        assert_eq!(lenenc_str_end(&b, 1), Some(5));
        assert_eq!(lenenc_str(&b, 5).map(<[u8]>::len), Some(300));
        assert_eq!(lenenc_str_end(&b[..b.len() - 1], 5), None);
        assert_eq!(lenenc_str(&b[..b.len() - 1], 5), None);
    }
}
