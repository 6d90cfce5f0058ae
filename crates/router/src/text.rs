//! Cheap tests on statement text, run on every query before (or instead of) parsing: no
//! allocation.

/// The byte offset of the first ASCII-case-insensitive occurrence of `needle` (lower-case).
pub(crate) fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

/// Whether the text has `INTO @…` (`SELECT … INTO @v`): a user variable set inside a query.
pub(crate) fn assigns_into_variable(sql: &str) -> bool {
    let mut rest = sql;
    while let Some(at) = find_ignore_case(rest, "into") {
        rest = &rest[at + 4..];
        if rest.trim_start().starts_with('@') {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_words_in_any_case() {
        assert_eq!(
            find_ignore_case("SELECT Get_Lock('x', 0)", "get_lock"),
            Some(7)
        );
        assert_eq!(find_ignore_case("SELECT 1", "get_lock"), None);
        assert!(assigns_into_variable("SELECT 7 INTO  @v"));
        assert!(assigns_into_variable("SELECT a FROM t INTO @x"));
        assert!(!assigns_into_variable("INSERT INTO t VALUES (1)"));
    }
}
