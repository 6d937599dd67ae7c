//! A run's journal: its settings, every reply and failure it received, and the rows it accepted.

use std::collections::BTreeMap;
use std::path::Path;

use genprompt_llm::{ChatReply, ChatRequest};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, describe, unix_now};
use crate::{RequestKey, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    key BLOB PRIMARY KEY,
    request TEXT NOT NULL,
    error TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    label TEXT NOT NULL,
    text TEXT NOT NULL,
    lineage TEXT NOT NULL,
    truncated INTEGER NOT NULL,
    request_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS uses (seq INTEGER PRIMARY KEY, key BLOB NOT NULL);";

/// An accepted row as the journal keeps it, with the key of the request that produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalRow {
    pub id: String,
    pub label: String,
    pub text: String,
    /// The lineage as JSON.
    pub lineage: String,
    pub truncated: bool,
    pub request: RequestKey,
}

/// How a journal's recorded settings compare with this run's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsCheck {
    /// A fresh journal.
    New,
    /// The same run: it resumes. Counts of what is on record.
    Resume { replies: u64, failures: u64, rows: u64 },
    /// Another run's journal; the names of the settings that differ.
    Different(Vec<String>),
}

pub struct RunJournal {
    db: Db,
}

impl RunJournal {
    pub fn open(path: &Path) -> Result<RunJournal, StoreError> {
        Ok(RunJournal { db: Db::open(path, SCHEMA)? })
    }

    /// Compares `settings` with those on record, recording them if there are none.
    pub fn check_settings(&self, settings: &BTreeMap<String, String>) -> Result<SettingsCheck, StoreError> {
        let recorded = self.settings()?;
        if recorded.is_empty() {
            let tx = self.db.write_transaction()?;
            for (name, value) in settings {
                tx.execute("INSERT INTO settings (name, value) VALUES (?1, ?2)", params![name, value])
                    .map_err(|e| self.db.sql(e))?;
            }
            tx.commit().map_err(|e| self.db.sql(e))?;
            return Ok(SettingsCheck::New);
        }
        let names: std::collections::BTreeSet<&String> = recorded.keys().chain(settings.keys()).collect();
        let different: Vec<String> =
            names.into_iter().filter(|name| recorded.get(*name) != settings.get(*name)).cloned().collect();
        if !different.is_empty() {
            return Ok(SettingsCheck::Different(different));
        }
        Ok(SettingsCheck::Resume {
            replies: self.db.count("responses")?,
            failures: self.db.count("failures")?,
            rows: self.db.count("rows")?,
        })
    }

    pub fn settings(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut statement = self.db.conn.prepare("SELECT name, value FROM settings").map_err(|e| self.db.sql(e))?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).map_err(|e| self.db.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.db.sql(e))
    }

    pub fn reply(&self, key: &RequestKey) -> Result<Option<ChatReply>, StoreError> {
        self.db.get_response(key)
    }

    /// Records a reply and clears a failure recorded for the same request.
    pub fn record_reply(&self, key: &RequestKey, request: &ChatRequest, reply: &ChatReply) -> Result<(), StoreError> {
        self.db.put_response(key, &describe(request), reply)?;
        self.db
            .conn
            .execute("DELETE FROM failures WHERE key = ?1", params![key.0.as_slice()])
            .map_err(|e| self.db.sql(e))?;
        Ok(())
    }

    /// Runs `work` in one transaction: everything it records lands together or not at all.
    pub fn atomically<R>(&self, work: impl FnOnce() -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.db.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.db.sql(e))?;
        match work() {
            Ok(value) => {
                self.db.conn.execute_batch("COMMIT").map_err(|e| self.db.sql(e))?;
                Ok(value)
            }
            Err(err) => {
                let _ = self.db.conn.execute_batch("ROLLBACK");
                Err(err)
            }
        }
    }

    /// The error recorded for a request that failed after its retries.
    pub fn failure(&self, key: &RequestKey) -> Result<Option<String>, StoreError> {
        self.db
            .conn
            .query_row("SELECT error FROM failures WHERE key = ?1", params![key.0.as_slice()], |row| row.get(0))
            .optional()
            .map_err(|e| self.db.sql(e))
    }

    pub fn record_failure(&self, key: &RequestKey, request: &ChatRequest, error: &str) -> Result<(), StoreError> {
        self.db
            .conn
            .execute(
                "INSERT OR REPLACE INTO failures (key, request, error, created) VALUES (?1, ?2, ?3, ?4)",
                params![key.0.as_slice(), describe(request), error, unix_now()],
            )
            .map(drop)
            .map_err(|e| self.db.sql(e))
    }

    /// Commits a batch of accepted rows in one transaction. A row already on record (a replay)
    /// must match it exactly; a different text under the same id means the run diverged.
    pub fn commit_rows(&self, rows: &[JournalRow]) -> Result<(), StoreError> {
        let tx = self.db.write_transaction()?;
        for row in rows {
            let recorded: Option<String> = tx
                .query_row("SELECT text FROM rows WHERE id = ?1", params![row.id], |r| r.get(0))
                .optional()
                .map_err(|e| self.db.sql(e))?;
            match recorded {
                Some(text) if text == row.text => continue,
                Some(_) => return Err(StoreError::Diverged { id: row.id.clone() }),
                None => {
                    tx.execute(
                        "INSERT INTO rows (id, seq, label, text, lineage, truncated, request_key)
                         VALUES (?1, (SELECT COUNT(*) FROM rows), ?2, ?3, ?4, ?5, ?6)",
                        params![row.id, row.label, row.text, row.lineage, row.truncated, row.request.0.as_slice()],
                    )
                    .map_err(|e| self.db.sql(e))?;
                }
            }
        }
        tx.commit().map_err(|e| self.db.sql(e))
    }

    /// Notes that the reply (or failure) of `key` was used next: the steady schedule uses replies
    /// in arrival order, and a resumed run replays them in this order.
    pub fn record_use(&self, key: &RequestKey) -> Result<(), StoreError> {
        self.db
            .conn
            .execute("INSERT INTO uses (key) VALUES (?1)", params![key.0.as_slice()])
            .map(drop)
            .map_err(|e| self.db.sql(e))
    }

    /// The keys whose results were used, in the order they were used.
    pub fn uses(&self) -> Result<Vec<RequestKey>, StoreError> {
        let mut statement = self.db.conn.prepare("SELECT key FROM uses ORDER BY seq").map_err(|e| self.db.sql(e))?;
        let keys = statement.query_map([], |row| row.get::<_, Vec<u8>>(0)).map_err(|e| self.db.sql(e))?;
        let keys = keys.map(|key| key.and_then(|key| key_bytes(&key).map(RequestKey)));
        keys.collect::<Result<_, _>>().map_err(|e| self.db.sql(e))
    }

    /// Replies on record (failures not included).
    pub fn reply_count(&self) -> Result<u64, StoreError> {
        self.db.count("responses")
    }

    pub fn row_count(&self) -> Result<u64, StoreError> {
        self.db.count("rows")
    }

    /// Every accepted row, in the order it was first committed.
    pub fn rows(&self) -> Result<Vec<JournalRow>, StoreError> {
        let mut statement = self
            .db
            .conn
            .prepare("SELECT id, label, text, lineage, truncated, request_key FROM rows ORDER BY seq")
            .map_err(|e| self.db.sql(e))?;
        let rows = statement
            .query_map([], |row| {
                let key: Vec<u8> = row.get(5)?;
                let request = key_bytes(&key)?;
                Ok(JournalRow {
                    id: row.get(0)?,
                    label: row.get(1)?,
                    text: row.get(2)?,
                    lineage: row.get(3)?,
                    truncated: row.get(4)?,
                    request: RequestKey(request),
                })
            })
            .map_err(|e| self.db.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.db.sql(e))
    }
}

/// A stored request key; one of another length is a damaged file: an error, not a panic.
fn key_bytes(key: &[u8]) -> rusqlite::Result<[u8; 32]> {
    key.try_into().map_err(|_| {
        let message = format!("a request key of {} bytes instead of 32", key.len());
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Blob, message.into())
    })
}
