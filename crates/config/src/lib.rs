//! The shardgate TOML schema, validated into an immutable [`Topology`].
//!
//! [`parse`] reports every problem of a file at once, each naming the file, line and key
//! (`shardgate.toml:14: tables[1].strategy: unknown strategy "consistent" …`).

mod address;
mod auto_increment;
mod document;
mod error;
mod lookup;
mod placement_change;
mod placement_record;
mod schema;
mod split_advice;
mod split_target;
mod topology;
mod validate;

use std::path::Path;

pub use auto_increment::MAX_SEQUENCE_CACHE;
pub use error::{ConfigError, ConfigErrors};
pub use lookup::default_lookup_table;
pub use placement_change::{placement_changes, Change, PlacementChange, Placements};
pub use placement_record::RecordError;
pub use split_advice::split_advice;
pub use split_target::{split_target, NewShard, SplitError};
pub use topology::*;
pub use validate::MAX_VIRTUAL_NODES;

use error::Diagnostics;

/// Parses and validates config `text`; `file_name` is only used in error messages.
pub fn parse(text: &str, file_name: &str) -> Result<Topology, ConfigErrors> {
    let mut diags = Diagnostics::new(file_name, text);
    let topology =
        document::read(text, &mut diags).and_then(|doc| validate::build(doc, &mut diags));
    match topology {
        Some(mut topology) if !diags.has_errors() => {
            topology.text = ConfigText(text.into());
            Ok(topology)
        }
        _ => Err(diags.finish()),
    }
}

/// Reads and validates the config file at `path`; a read failure is a [`ConfigErrors`] too.
pub fn load(path: &Path) -> Result<Topology, ConfigErrors> {
    let file_name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file_name),
        Err(error) => Err(ConfigErrors {
            errors: vec![ConfigError {
                file: file_name,
                line: None,
                key: String::new(),
                message: format!("cannot read config file: {error}"),
            }],
        }),
    }
}
