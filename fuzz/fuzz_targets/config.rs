//! Any config text: a topology or a list of problems, each with a line inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = shardgate_config::parse(text, "fuzz.toml") {
        let lines = text.lines().count() + 1;
        for e in errors.iter() {
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= lines, "{e} (text has {lines} lines)");
            }
            let _ = e.to_string();
        }
    }
});
