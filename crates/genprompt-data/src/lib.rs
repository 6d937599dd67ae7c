//! Everything genprompt reads from or writes to disk as data: task files and JSONL datasets.
//!
//! Errors always say where: `file:line:col: what is wrong` for task files (from TOML spans) and
//! `file:line: what is wrong` for JSONL rows. Writers stage into a temporary file and rename on
//! `finish`, so an interrupted write never leaves a half-written dataset behind.

mod error;
mod jsonl;
mod parquet_file;
mod task_file;

pub use error::{DataError, Location};
pub use jsonl::{RowReader, RowWriter, read_rows, write_json_atomic};
pub use parquet_file::write_parquet;
pub use task_file::{LlmSettings, LoadedTask, load_task, load_task_text};

/// sha256 of a byte slice, hex; used to pin the task file and seed rows in manifests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
