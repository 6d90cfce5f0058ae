//! Collation ids as column definitions and `information_schema` name them.

/// The id of the collation named `name` (`utf8mb4_unicode_ci`), as `information_schema` names it.
pub fn collation_id(name: &str) -> Option<u16> {
    use mysql_common::collations::{Collation, CollationId};
    (1u16..2048).find(|&id| Collation::resolve(CollationId::from(id)).collation() == name)
}

/// Whether bytes delivered in character set `id` (a column definition's) are UTF-8 (or binary).
pub fn utf8_or_binary(id: u16) -> bool {
    id == 63 || charset_is(id, &["utf8mb4", "utf8mb3", "utf8"])
}

/// Whether text of a column in collation `real`, delivered in character set `delivered` (its
/// column definition's), compares exactly in the merge: a collation it reproduces, read as
/// UTF-8 — under binary results (63) a column sends its own bytes, a latin1 column latin1 ones.
pub fn compares_exactly(delivered: u16, real: u16) -> bool {
    shardgate_collation::exact_collation(real)
        && (delivered != 63 || charset_is(real, &["utf8mb4", "utf8mb3", "utf8", "binary"]))
}

/// Whether collation `id` belongs to one of the character sets `names`.
pub fn charset_is(id: u16, names: &[&str]) -> bool {
    let c = mysql_common::collations::Collation::resolve(
        mysql_common::collations::CollationId::from(id),
    );
    names.contains(&c.charset())
}
