//! Opening a store file and the `responses` table that cache and journal share.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use genprompt_llm::{ChatReply, FinishReason, Usage};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{RequestKey, StoreError};

/// Schema version kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

pub(crate) struct Db {
    pub conn: Connection,
    pub path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) a store with `schema` applied.
    pub fn open(path: &Path, schema: &str) -> Result<Db, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io { path: parent.to_path_buf(), source })?;
        }
        let open = |source| StoreError::Open { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(open)?;
        // The busy timeout comes first: switching to WAL and applying the schema take locks, and
        // another process (a run, a test or a user reading the journal) may hold one right now.
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(open)?;
        // WAL with synchronous=NORMAL: a commit survives a process crash (kill -9) without an
        // fsync per reply; only a power loss can take back the last commits.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(open)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
        }
        let db = Db { conn, path: path.to_path_buf() };
        db.conn.execute_batch(RESPONSES).map_err(|e| db.sql(e))?;
        db.conn.execute_batch(schema).map_err(|e| db.sql(e))?;
        // Only a new file is written to: opening a journal to read it (`genprompt` resuming, a
        // script counting replies) must not commit, or a run's read-then-write transaction on
        // the same file fails with SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out.
        if found != SCHEMA_VERSION {
            db.conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(|e| db.sql(e))?;
        }
        Ok(db)
    }

    pub fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql { path: self.path.clone(), source }
    }

    pub fn get_response(&self, key: &RequestKey) -> Result<Option<ChatReply>, StoreError> {
        self.conn
            .query_row(
                "SELECT text, finish, prompt_tokens, completion_tokens FROM responses WHERE key = ?1",
                params![key.0.as_slice()],
                |row| {
                    let finish: String = row.get(1)?;
                    Ok(ChatReply {
                        text: row.get(0)?,
                        finish: if finish == "length" { FinishReason::Length } else { FinishReason::Stop },
                        usage: Usage { prompt_tokens: row.get(2)?, completion_tokens: row.get(3)? },
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Inserts or replaces the reply to `key`; `request` is kept for people inspecting the file.
    pub fn put_response(&self, key: &RequestKey, request: &str, reply: &ChatReply) -> Result<(), StoreError> {
        let finish = match reply.finish {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        };
        self.conn
            .execute(
                "INSERT OR REPLACE INTO responses (key, request, text, finish, prompt_tokens, completion_tokens, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key.0.as_slice(),
                    request,
                    reply.text,
                    finish,
                    reply.usage.prompt_tokens,
                    reply.usage.completion_tokens,
                    unix_now()
                ],
            )
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so that waiting for
    /// another writer falls under the busy timeout; a deferred one that reads, then writes,
    /// fails instead when another connection committed in between.
    pub fn write_transaction(&self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))
    }

    pub fn count(&self, table: &str) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(count as u64)
    }
}

const RESPONSES: &str = "CREATE TABLE IF NOT EXISTS responses (
    key BLOB PRIMARY KEY,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    finish TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created INTEGER NOT NULL
);";

pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The request as readable JSON (messages and sampling), stored beside its reply.
pub(crate) fn describe(request: &genprompt_llm::ChatRequest) -> String {
    let messages: Vec<serde_json::Value> =
        request.messages.iter().map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content})).collect();
    let s = &request.sampling;
    serde_json::json!({
        "messages": messages,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
        "max_tokens": s.max_tokens,
        "stop": s.stop,
        "seed": s.seed,
        "json_schema": request.json_schema,
    })
    .to_string()
}
