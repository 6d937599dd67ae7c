//! The response cache shared by all runs: one SQLite file, replies addressed by [`RequestKey`].

use std::path::Path;

use genprompt_llm::{ChatReply, ChatRequest};

use crate::db::{Db, describe};
use crate::{RequestKey, StoreError};

/// How a run uses the shared cache. The run's own journal is always used, whatever the mode,
/// because resuming must never pay twice for the same reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// Answer from the cache where possible and store new replies.
    Use,
    /// Ask the backend again and overwrite what the cache holds.
    Refresh,
    /// Neither read nor write the cache.
    Off,
}

pub struct ResponseCache {
    db: Db,
}

impl ResponseCache {
    /// Opens or creates the cache file, e.g. `$GENPROMPT_HOME/cache/responses.sqlite`.
    pub fn open(path: &Path) -> Result<ResponseCache, StoreError> {
        Ok(ResponseCache { db: Db::open(path, "")? })
    }

    pub fn get(&self, key: &RequestKey) -> Result<Option<ChatReply>, StoreError> {
        self.db.get_response(key)
    }

    pub fn put(&self, key: &RequestKey, request: &ChatRequest, reply: &ChatReply) -> Result<(), StoreError> {
        self.db.put_response(key, &describe(request), reply)
    }

    /// Number of replies stored.
    pub fn len(&self) -> Result<u64, StoreError> {
        self.db.count("responses")
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}
