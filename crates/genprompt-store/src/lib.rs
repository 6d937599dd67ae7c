//! What genprompt remembers between runs, in embedded SQLite: a content-addressed response cache
//! shared by all runs, and a per-run journal that makes `generate` resumable.
//!
//! Every reply is written as soon as the backend hands it over ([`StoredChat`] wraps any
//! `ChatModel`), in WAL mode, so a crash or `kill -9` loses nothing already paid for. A rerun
//! replays the journal's replies; since runs are deterministic given their replies (methods draw
//! from seeded streams, the encoder is deterministic), the replay rebuilds exactly the state the
//! run had, and only the requests it never finished are sent again. Rows are journaled too, keyed
//! by id, so a replay that diverges (changed task, seeds or model) is caught, never duplicated.

mod cache;
mod chat;
mod db;
mod journal;
mod key;
mod session;

use std::path::PathBuf;

pub use cache::{CacheMode, ResponseCache};
pub use chat::{StoreStats, StoredChat};
pub use journal::{JournalRow, RunJournal, SettingsCheck};
pub use key::{RequestKey, Scope};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot open {path}: {source}; delete the file if it is not a genprompt store")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("{path}: {source}")]
    Sql { path: PathBuf, source: rusqlite::Error },
    #[error("{path} was written by a newer genprompt (store schema {found}, this build reads {supported})")]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error(
        "the resumed run produced row {id} with different text than the journal holds; the task, seed rows, model or code changed since the run started. Pass --force to start over"
    )]
    Diverged { id: String },
}

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
