//! Whatever the text, parsing reports problems instead of panicking.

mod common;

use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_text(text in "\\PC{0,200}") {
        let _ = shardgate_config::parse(&text, "t.toml");
    }

    #[test]
    fn base_with_one_line_changed(line in 0usize..29, replacement in "[a-z_\\[\\]\"=0-9 .:{},-]{0,30}") {
        let mut lines: Vec<&str> = common::BASE.lines().collect();
        lines[line] = &replacement;
        let text = lines.join("\n");
        if let Err(errors) = shardgate_config::parse(&text, "t.toml") {
            prop_assert!(!errors.is_empty());
            for error in &errors {
                prop_assert_eq!(&error.file, "t.toml");
                prop_assert!(error.line.is_none_or(|l| l >= 1 && l <= lines.len()), "{}", error);
            }
        }
    }
}
