use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use genprompt_core::Row;

use crate::{DataError, Location};

/// Streams `Row`s from a JSONL file; blank lines are skipped, anything else must be a row.
pub struct RowReader<R = BufReader<File>> {
    path: PathBuf,
    input: R,
    line_no: usize,
    buf: Vec<u8>,
}

impl RowReader {
    pub fn open(path: &Path) -> Result<RowReader, DataError> {
        let file = File::open(path).map_err(|source| DataError::io(path, source))?;
        Ok(RowReader::new(path, BufReader::new(file)))
    }
}

impl<R: BufRead> RowReader<R> {
    /// Reads rows from `input`; `path` names it in errors.
    pub fn new(path: &Path, input: R) -> RowReader<R> {
        RowReader { path: path.to_path_buf(), input, line_no: 0, buf: Vec::new() }
    }
}

impl<R: BufRead> Iterator for RowReader<R> {
    /// The 1-based line number and the row.
    type Item = Result<(usize, Row), DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => return Some(Err(DataError::io(&self.path, source))),
            }
            self.line_no += 1;
            let location = |column| Location { path: self.path.clone(), line: self.line_no, column };
            let line = match std::str::from_utf8(&self.buf) {
                Ok(line) => line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l)),
                Err(err) => {
                    let valid = std::str::from_utf8(&self.buf[..err.valid_up_to()]).unwrap_or_default();
                    let message =
                        format!("invalid UTF-8 (byte 0x{:02x}); save the file as UTF-8", self.buf[err.valid_up_to()]);
                    return Some(Err(DataError::invalid(location(Some(valid.chars().count() + 1)), message)));
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(parse_row(&self.path, self.line_no, line).map(|row| (self.line_no, row)));
        }
    }
}

fn parse_row(path: &Path, line_no: usize, line: &str) -> Result<Row, DataError> {
    let location = |column| Location { path: path.to_path_buf(), line: line_no, column };
    let row: Row = serde_json::from_str(line).map_err(|err| {
        let hint =
            if err.is_data() { "; each line must be an object with string fields \"text\" and \"label\"" } else { "" };
        DataError::invalid(location(Some(err.column())), format!("malformed row: {err}{hint}"))
    })?;
    if row.text.trim().is_empty() {
        return Err(DataError::invalid(location(None), "empty \"text\"; remove the row or give it text"));
    }
    if row.label.trim().is_empty() {
        return Err(DataError::invalid(location(None), "empty \"label\""));
    }
    Ok(row)
}

/// Reads a whole JSONL file of rows, stopping at the first bad line.
pub fn read_rows(path: &Path) -> Result<Vec<Row>, DataError> {
    RowReader::open(path)?.map(|item| item.map(|(_, row)| row)).collect()
}

/// Writes JSONL rows to a temporary file next to `path`; `finish` moves it into place.
///
/// Dropping the writer without `finish` removes the temporary file, so readers only ever see a
/// complete dataset or none.
pub struct RowWriter {
    path: PathBuf,
    staging: Option<tempfile::NamedTempFile>,
    out: Option<BufWriter<File>>,
    n_rows: usize,
}

impl RowWriter {
    pub fn create(path: &Path) -> Result<RowWriter, DataError> {
        let staging = staging_file(path)?;
        let file = staging.reopen().map_err(|source| DataError::io(path, source))?;
        Ok(RowWriter { path: path.to_path_buf(), staging: Some(staging), out: Some(BufWriter::new(file)), n_rows: 0 })
    }

    pub fn write<T: serde::Serialize>(&mut self, row: &T) -> Result<(), DataError> {
        let out = self.out.as_mut().expect("invariant: `out` is set until `finish`, which consumes the writer");
        let io_err = |source| DataError::io(&self.path, source);
        serde_json::to_writer(&mut *out, row).map_err(|err| io_err(err.into()))?;
        out.write_all(b"\n").map_err(io_err)?;
        self.n_rows += 1;
        Ok(())
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn finish(mut self) -> Result<PathBuf, DataError> {
        let out = self.out.take().expect("invariant: `out` is set until `finish`, which consumes the writer");
        let file = out.into_inner().map_err(|err| DataError::io(&self.path, err.into_error()))?;
        file.sync_all().map_err(|source| DataError::io(&self.path, source))?;
        let staging =
            self.staging.take().expect("invariant: `staging` is set until `finish`, which consumes the writer");
        staging.persist(&self.path).map_err(|err| DataError::io(&self.path, err.error))?;
        Ok(self.path.clone())
    }
}

/// Writes a pretty-printed JSON document atomically (temporary file, then rename).
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), DataError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|err| DataError::io(path, err.into()))?;
    text.push('\n');
    write_text_atomic(path, &text)
}

/// Writes a text file atomically (temporary file, then rename): readers see the old file or
/// the whole new one, and a failed write leaves nothing behind.
pub fn write_text_atomic(path: &Path, text: &str) -> Result<(), DataError> {
    let staging = staging_file(path)?;
    let io_err = |source| DataError::io(path, source);
    std::fs::write(staging.path(), text).map_err(io_err)?;
    staging.persist(path).map_err(|err| io_err(err.error))?;
    Ok(())
}

fn staging_file(path: &Path) -> Result<tempfile::NamedTempFile, DataError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| DataError::io(dir, source))?;
    tempfile::Builder::new()
        .prefix(".genprompt-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|source| DataError::io(dir, source))
}

#[cfg(test)]
#[path = "jsonl_tests.rs"]
mod tests;
