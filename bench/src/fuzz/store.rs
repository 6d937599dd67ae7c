//! The journal and cache readers on damaged store files: SQL-level damage (values of the wrong
//! type, size or sign, deleted or duplicated rows, dropped tables, other schema versions)
//! generated on a valid file, and byte-level damage by the driver's mutations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genprompt_llm::{ChatMessage, ChatReply, ChatRequest, FinishReason, Sampling, Usage};
use genprompt_store::{JournalRow, RequestKey, ResponseCache, RunJournal};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rusqlite::types::Value as Sql;

use super::targets::{Target, scratch_dir};

const TABLES: [(&str, &[&str]); 4] = [
    ("responses", &["key", "request", "text", "finish", "prompt_tokens", "completion_tokens", "created"]),
    ("failures", &["key", "request", "error", "created"]),
    ("rows", &["id", "seq", "label", "text", "lineage", "truncated", "request_key"]),
    ("settings", &["name", "value"]),
];

fn key(i: u8) -> RequestKey {
    RequestKey([i; 32])
}

fn request(i: u8) -> ChatRequest {
    let sampling = Sampling::new(1.0, 1.0, 8, u64::from(i));
    ChatRequest::new(vec![ChatMessage::user(format!("prompt {i}"))], sampling)
}

fn reply(i: u8) -> ChatReply {
    let usage = Usage { prompt_tokens: 3, completion_tokens: u32::from(i) };
    let finish = if i.is_multiple_of(2) { FinishReason::Stop } else { FinishReason::Length };
    ChatReply { text: format!("reply {i}"), finish, usage }
}

fn settings() -> BTreeMap<String, String> {
    [("method", "genetic"), ("seed", "1")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A valid store file written through the public API.
fn template(path: &Path, journal: bool) -> Vec<u8> {
    remove(path);
    if journal {
        let journal = RunJournal::open(path).expect("a fresh journal opens");
        journal.check_settings(&settings()).expect("settings are recorded");
        for i in 0..4 {
            journal.record_reply(&key(i), &request(i), &reply(i)).expect("replies are recorded");
        }
        journal.record_failure(&key(9), &request(9), "timed out").expect("failures are recorded");
        let row = |i: u8| JournalRow {
            id: format!("gen:x:{i}"),
            label: "x".into(),
            text: format!("reply {i}"),
            lineage: "{}".into(),
            truncated: i == 1,
            request: key(i),
        };
        journal.commit_rows(&[row(0), row(1)]).expect("rows are committed");
    } else {
        let cache = ResponseCache::open(path).expect("a fresh cache opens");
        for i in 0..4 {
            cache.put(&key(i), &request(i), &reply(i)).expect("replies are stored");
        }
    }
    std::fs::read(path).expect("the template can be read")
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Damages a copy of `template` through SQL and returns the file's bytes.
fn damage(template: &[u8], path: &Path, rng: &mut ChaCha8Rng) -> Vec<u8> {
    remove(path);
    std::fs::write(path, template).expect("scratch files can be written");
    let conn = rusqlite::Connection::open(path).expect("the template opens");
    let _ = conn.execute_batch("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;");
    for _ in 0..rng.random_range(1..=3) {
        let (table, columns) = TABLES[rng.random_range(0..TABLES.len())];
        let column = columns[rng.random_range(0..columns.len())];
        let _ = match rng.random_range(0..10) {
            0 => conn.execute(&format!("DELETE FROM {table}"), []),
            1 => conn.execute(&format!("DROP TABLE {table}"), []),
            2 => conn.execute(&format!("PRAGMA user_version = {}", rng.random_range(-2..4)), []),
            3 => conn.execute(&format!("INSERT INTO {table} SELECT * FROM {table}"), []),
            _ => conn.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE abs(random()) % 2 = 0"), [value(rng)]),
        };
    }
    drop(conn);
    std::fs::read(path).unwrap_or_default()
}

/// A value of any SQLite type, chosen to be awkward for the reader.
fn value(rng: &mut ChaCha8Rng) -> Sql {
    match rng.random_range(0..8) {
        0 => Sql::Null,
        1 => Sql::Integer([-1, 0, i64::MAX, i64::MIN, 1 << 32, u32::MAX as i64][rng.random_range(0..6)]),
        2 => Sql::Integer(rng.random()),
        3 => Sql::Real([f64::NAN, -0.5, 1e300, 3.0][rng.random_range(0..4)]),
        4 => Sql::Blob((0..rng.random_range(0..40)).map(|_| rng.random()).collect()),
        5 => Sql::Text(["", "stop", "length", "12abc", "{}", "genetic"][rng.random_range(0..6)].to_string()),
        6 => Sql::Blob(vec![rng.random_range(0..16); 32]),
        _ => Sql::Text((0..rng.random_range(0..20)).map(|_| rng.random_range(' '..='\u{2fff}')).collect()),
    }
}

/// Opens the damaged file and calls every reader.
fn read_journal(path: &Path) {
    let Ok(journal) = RunJournal::open(path) else { return };
    let _ = journal.settings();
    let _ = journal.check_settings(&settings());
    for i in [0, 1, 3, 9, 200] {
        let _ = journal.reply(&key(i));
        let _ = journal.failure(&key(i));
    }
    if let Ok(rows) = journal.rows() {
        let _ = rows.len();
    }
    let _ = (journal.row_count(), journal.reply_count());
}

fn read_cache(path: &Path) {
    let Ok(cache) = ResponseCache::open(path) else { return };
    for i in [0, 1, 3, 200] {
        let _ = cache.get(&key(i));
    }
    let _ = (cache.len(), cache.is_empty());
}

/// The run journal's readers.
pub struct JournalFile {
    dir: PathBuf,
    template: Vec<u8>,
}

/// The response cache's readers.
pub struct CacheFile {
    dir: PathBuf,
    template: Vec<u8>,
}

impl JournalFile {
    pub fn new() -> JournalFile {
        let dir = scratch_dir("journal");
        let template = template(&dir.join("template.sqlite"), true);
        JournalFile { dir, template }
    }
}

impl CacheFile {
    pub fn new() -> CacheFile {
        let dir = scratch_dir("cache");
        let template = template(&dir.join("template.sqlite"), false);
        CacheFile { dir, template }
    }
}

macro_rules! store_target {
    ($type:ty, $name:literal, $read:ident) => {
        impl Target for $type {
            fn name(&self) -> &'static str {
                $name
            }

            fn seeds(&self) -> Vec<Vec<u8>> {
                vec![self.template.clone()]
            }

            fn max_len(&self) -> usize {
                self.template.len() + 4096
            }

            fn run(&mut self, input: &[u8]) {
                let path = self.dir.join("store.sqlite");
                remove(&path);
                std::fs::write(&path, input).expect("scratch files can be written");
                $read(&path);
            }

            fn can_generate(&self) -> bool {
                true
            }

            fn generate(&mut self, rng: &mut ChaCha8Rng) -> Vec<u8> {
                damage(&self.template, &self.dir.join("damaged.sqlite"), rng)
            }
        }

        impl Drop for $type {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    };
}

store_target!(JournalFile, "journal", read_journal);
store_target!(CacheFile, "cache", read_cache);
