//! Text-protocol row payloads: each cell a length-encoded string, or `0xFB` for NULL.

use crate::error::MalformedCell;
use crate::lenenc::{read_lenenc_int, write_lenenc_str};

/// The NULL marker of a text-protocol cell.
pub const NULL_CELL: u8 = 0xFB;

/// Reads cell `column` at `*pos`: `Ok(None)` for NULL, else the byte range of its text;
/// `*pos` moves past it.
pub fn read_cell(
    buf: &[u8],
    pos: &mut usize,
    column: usize,
) -> Result<Option<(usize, usize)>, MalformedCell> {
    let err = |reason| MalformedCell { reason, column };
    let rest = buf.get(*pos..).unwrap_or_default();
    let (len, header) = match rest.first() {
        None => return Err(err("row ends before this column")),
        Some(&NULL_CELL) => {
            *pos += 1;
            return Ok(None);
        }
        Some(0xFF) => return Err(err("0xFF is not a length")),
        Some(_) => read_lenenc_int(rest).ok_or(err("truncated length"))?,
    };
    let start = *pos + header;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= buf.len())
        .ok_or(err("cell runs past the end of the row"))?;
    *pos = end;
    Ok(Some((start, end)))
}

/// The text of cell `column` of a row payload (`None` = NULL), reading no further than it.
pub fn text_cell(payload: &[u8], column: usize) -> Result<Option<&[u8]>, MalformedCell> {
    let mut pos = 0;
    for c in 0..column {
        read_cell(payload, &mut pos, c)?;
    }
    Ok(read_cell(payload, &mut pos, column)?.map(|(s, e)| &payload[s..e]))
}

/// Appends one cell (`None` = NULL).
pub fn write_cell(out: &mut Vec<u8>, cell: Option<&[u8]>) {
    match cell {
        None => out.push(NULL_CELL),
        Some(text) => write_lenenc_str(out, text),
    }
}

/// A row payload of `cells`.
pub fn text_row<'a>(cells: impl IntoIterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
    let mut row = Vec::with_capacity(64);
    for cell in cells {
        write_cell(&mut row, cell);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_of_every_length_class_round_trip() {
        let long = vec![b'x'; 70_000];
        let cells: [Option<&[u8]>; 4] = [Some(b""), None, Some(&[b'y'; 300]), Some(&long)];
        let row = text_row(cells);
        for (i, cell) in cells.iter().enumerate() {
            assert_eq!(text_cell(&row, i).unwrap(), *cell);
        }
        assert_eq!(
            text_cell(&row, 4),
            Err(MalformedCell {
                reason: "row ends before this column",
                column: 4
            })
        );
    }

    #[test]
    fn malformed_cells_are_errors_not_panics() {
        for (bad, reason) in [
            (&[0xFF][..], "0xFF is not a length"),
            (&[0xFC, 1][..], "truncated length"),
            (&[5, b'a'][..], "cell runs past the end of the row"),
            (
                &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..],
                "cell runs past the end of the row",
            ),
        ] {
            let mut pos = 0;
            assert_eq!(
                read_cell(bad, &mut pos, 0),
                Err(MalformedCell { reason, column: 0 })
            );
        }
    }
}
