//! Config errors that name the file, line and key of each problem.

use std::fmt;
use std::ops::Range;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given to [`parse`](crate::parse) or [`load`](crate::load).
    pub file: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `tables[1].strategy`; empty for file-level problems.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// `FILE:LINE: KEY: MESSAGE`, leaving out the line or key when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a config file, in file order; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_lines(.errors))]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

fn display_lines(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigErrors {
    /// The problems, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false for an error returned by [`parse`](crate::parse).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// Collects problems while a file is read and validated, turning byte spans into lines.
pub(crate) struct Diagnostics<'a> {
    file: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    errors: Vec<ConfigError>,
    /// Keys already reported as malformed: later "missing" complaints about them are noise.
    suppressed: Vec<String>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(file: &'a str, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Diagnostics {
            file,
            line_starts,
            errors: Vec::new(),
            suppressed: Vec::new(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// Records a problem at `span` (if known) under `key`.
    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let key = key.into();
        if self.is_suppressed(&key) {
            return;
        }
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line: span.map(|s| self.line_of(s.start)),
            key,
            message: message.into(),
        });
    }

    /// Records a problem at `span` under `key`.
    pub(crate) fn at(
        &mut self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.error(Some(span), key, message);
    }

    /// Silences later problems about `key` and the keys under it.
    pub(crate) fn suppress(&mut self, key: String) {
        self.suppressed.push(key);
    }

    fn is_suppressed(&self, key: &str) -> bool {
        self.suppressed.iter().any(|s| {
            key.strip_prefix(s.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// All problems, sorted by line (file-level problems last).
    pub(crate) fn finish(mut self) -> ConfigErrors {
        self.errors
            .sort_by_key(|e| (e.line.is_none(), e.line.unwrap_or(0)));
        ConfigErrors {
            errors: self.errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_key_message() {
        let e = ConfigError {
            file: "shardgate.toml".into(),
            line: Some(14),
            key: "tables[1].strategy".into(),
            message: "unknown strategy".into(),
        };
        assert_eq!(
            e.to_string(),
            "shardgate.toml:14: tables[1].strategy: unknown strategy"
        );
        let e = ConfigError {
            line: None,
            key: String::new(),
            ..e
        };
        assert_eq!(e.to_string(), "shardgate.toml: unknown strategy");
    }

    #[test]
    fn lines_are_one_based() {
        let d = Diagnostics::new("f", "a\nbb\n\nc");
        assert_eq!([0, 1, 2, 4, 5, 6].map(|o| d.line_of(o)), [1, 1, 2, 2, 3, 4]);
    }

    #[test]
    fn suppression_covers_sub_keys_only() {
        let mut d = Diagnostics::new("f", "");
        d.suppress("tables[0].name".into());
        d.error(None, "tables[0].name", "x");
        d.error(None, "tables[0].name.y", "x");
        d.error(None, "tables[0].names", "kept");
        assert_eq!(d.finish().len(), 1);
    }
}
