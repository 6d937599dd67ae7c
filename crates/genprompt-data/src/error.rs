use std::fmt;
use std::path::PathBuf;

/// A place in an input file; `line` and `column` are 1-based, `column` counts characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: usize,
    pub column: Option<usize>,
}

impl Location {
    /// Turns a byte offset into `text` into a line and column.
    pub fn from_offset(path: PathBuf, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |idx| idx + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { path, line, column: Some(column) }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

/// Bad input data. Every variant that comes from file content carries its `Location`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Several problems found in one pass, reported together so a user fixes them in one go.
    #[error("{}", join_errors(.0))]
    Many(Vec<DataError>),
}

impl DataError {
    pub fn invalid(location: Location, message: impl Into<String>) -> DataError {
        DataError::Invalid { location, message: message.into() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DataError {
        DataError::Io { path: path.into(), source }
    }

    /// Bad input (exit code 2) rather than a failure of the machine (disk full, permissions).
    pub fn is_bad_input(&self) -> bool {
        match self {
            DataError::Invalid { .. } => true,
            DataError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            DataError::Many(errors) => errors.iter().all(DataError::is_bad_input),
        }
    }
}

fn join_errors(errors: &[DataError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}
