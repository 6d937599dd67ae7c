//! A `ChatModel` wrapper that answers from the run journal and the shared cache first, and
//! records every reply the backend hands over before passing it on.

// A poisoned lock is taken over: every critical section here leaves consistent data (counters,
// SQLite handles whose transactions roll back on their own).
use std::sync::{Mutex, PoisonError};

use genprompt_llm::{BackendStats, ChatModel, ChatReply, ChatRequest, ChatSession, LlmError, ModelIdentity, OnReply};

use crate::{CacheMode, RequestKey, ResponseCache, RunJournal, Scope, StoreError};

/// Where this run's replies came from, and what the new ones cost in tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub requests: u64,
    /// Answered from this run's journal (a resumed run).
    pub replayed: u64,
    /// Failures replayed from the journal instead of being sent again.
    pub replayed_failures: u64,
    /// Answered from the shared cache.
    pub cache_hits: u64,
    /// Sent to the backend.
    pub sent: u64,
    /// Sent and failed after the backend's retries.
    pub failed: u64,
    /// Tokens of the replies the backend produced in this process (what was paid for now).
    pub paid_prompt_tokens: u64,
    pub paid_completion_tokens: u64,
}

pub struct StoredChat<M> {
    inner: M,
    scope: Scope,
    /// SQLite handles are not `Sync`; one lock serialises all store access.
    stores: Mutex<Stores>,
    mode: CacheMode,
    retry_failed: bool,
    stats: Mutex<StoreStats>,
}

/// A request's key, the request, and what the backend answered.
type Entry<'a> = (&'a RequestKey, &'a ChatRequest, Result<ChatReply, LlmError>);

struct Stores {
    journal: Option<RunJournal>,
    cache: Option<ResponseCache>,
}

/// Whether a lookup or a record may use the shared cache. The cache promises "same key, same
/// reply" across runs; a key that does not cover everything that made the reply (a streaming
/// session's per-request key on a backend whose replies depend on their batch-mates) must
/// neither read nor write it. The run's own journal is used either way: within one run the key
/// names the request that was really answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shared {
    Use,
    Skip,
}

impl<M: ChatModel> StoredChat<M> {
    /// `journal`: this run's journal, if it has one; `cache`: the shared cache, used per `mode`.
    /// With `retry_failed`, requests whose failure the journal holds are sent again.
    pub fn new(
        inner: M,
        scope: Scope,
        journal: Option<RunJournal>,
        cache: Option<ResponseCache>,
        mode: CacheMode,
        retry_failed: bool,
    ) -> StoredChat<M> {
        let cache = cache.filter(|_| mode != CacheMode::Off);
        let stores = Mutex::new(Stores { journal, cache });
        StoredChat { inner, scope, stores, mode, retry_failed, stats: Mutex::default() }
    }

    /// Counts requests asked for and sent to the backend.
    pub(crate) fn count(&self, requests: u64, sent: u64) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats.requests += requests;
        stats.sent += sent;
    }

    pub fn stats(&self) -> StoreStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key of `request` on its own. Replies of a batch-dependent backend are filed under
    /// their call's keys ([`Scope::keys`]); this one still names the request, e.g. beside a row.
    pub fn key(&self, request: &ChatRequest) -> RequestKey {
        RequestKey::of(&self.scope, request)
    }

    /// Whether the backend's replies depend on their batch-mates.
    pub(crate) fn batch_dependent(&self) -> bool {
        self.scope.batch_dependent()
    }

    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Runs `work` on the run's journal, if there is one.
    pub fn with_journal<R>(&self, work: impl FnOnce(&RunJournal) -> R) -> Option<R> {
        self.stores.lock().unwrap_or_else(PoisonError::into_inner).journal.as_ref().map(work)
    }

    /// What the stores already know about `request`: a reply, a recorded failure, or nothing.
    /// `shared`: whether the shared cache may answer (see [`Stores::Shared`]).
    pub(crate) fn lookup(
        &self,
        key: &RequestKey,
        request: &ChatRequest,
        shared: Shared,
    ) -> Result<Option<Result<ChatReply, LlmError>>, StoreError> {
        let stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(journal) = &stores.journal {
            if let Some(reply) = journal.reply(key)? {
                self.stats.lock().unwrap_or_else(PoisonError::into_inner).replayed += 1;
                return Ok(Some(Ok(reply)));
            }
            if let Some(error) = journal.failure(key)?.filter(|_| !self.retry_failed) {
                self.stats.lock().unwrap_or_else(PoisonError::into_inner).replayed_failures += 1;
                return Ok(Some(Err(LlmError::Engine(format!(
                    "{error} (recorded earlier in this run; pass --retry-failed to send it again)"
                )))));
            }
        }
        if let Some(cache) = stores.cache.as_ref().filter(|_| self.mode == CacheMode::Use && shared == Shared::Use)
            && let Some(reply) = cache.get(key)?
        {
            self.stats.lock().unwrap_or_else(PoisonError::into_inner).cache_hits += 1;
            if let Some(journal) = &stores.journal {
                journal.record_reply(key, request, &reply)?;
            }
            return Ok(Some(Ok(reply)));
        }
        Ok(None)
    }

    /// Records what the backend answered; a reply that cannot be saved counts as failed, so it
    /// is asked for again rather than silently lost on resume.
    pub(crate) fn record(
        &self,
        key: &RequestKey,
        request: &ChatRequest,
        result: Result<ChatReply, LlmError>,
        shared: Shared,
    ) -> Result<ChatReply, LlmError> {
        let stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        self.record_locked(&stores, key, request, result, shared)
    }

    /// Records a whole batch in one journal transaction: a crash leaves all of it or none.
    fn record_batch(&self, entries: Vec<Entry<'_>>) -> Vec<Result<ChatReply, LlmError>> {
        let stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        let mut results = Vec::with_capacity(entries.len());
        let batch = || {
            for (key, request, result) in entries {
                results.push(self.record_locked(&stores, key, request, result, Shared::Use));
            }
            Ok(())
        };
        let committed = match &stores.journal {
            Some(journal) => journal.atomically(batch),
            None => batch(),
        };
        if let Err(err) = committed {
            tracing::error!(error = %err, "cannot commit a batch of replies");
            let n = results.len();
            return (0..n).map(|_| Err(LlmError::Engine(format!("the reply could not be saved: {err}")))).collect();
        }
        results
    }

    fn record_locked(
        &self,
        stores: &Stores,
        key: &RequestKey,
        request: &ChatRequest,
        result: Result<ChatReply, LlmError>,
        shared: Shared,
    ) -> Result<ChatReply, LlmError> {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let saved = match &result {
            Ok(reply) => {
                stats.paid_prompt_tokens += u64::from(reply.usage.prompt_tokens);
                stats.paid_completion_tokens += u64::from(reply.usage.completion_tokens);
                let journaled = stores.journal.as_ref().map_or(Ok(()), |j| j.record_reply(key, request, reply));
                let cache = stores.cache.as_ref().filter(|_| shared == Shared::Use);
                journaled.and_then(|()| cache.map_or(Ok(()), |c| c.put(key, request, reply)))
            }
            Err(error) => {
                stats.failed += 1;
                stores.journal.as_ref().map_or(Ok(()), |j| j.record_failure(key, request, &error.to_string()))
            }
        };
        match saved {
            Ok(()) => result,
            Err(err) => {
                tracing::error!(error = %err, "cannot record a reply");
                Err(LlmError::Engine(format!("the reply could not be saved: {err}")))
            }
        }
    }
}

impl<M: ChatModel> ChatModel for StoredChat<M> {
    fn identity(&self) -> &ModelIdentity {
        self.inner.identity()
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.chat_each(requests, &|_, _| {})
    }

    fn backend_stats(&self) -> Option<BackendStats> {
        self.inner.backend_stats()
    }

    fn streams_replies(&self) -> bool {
        self.inner.streams_replies()
    }

    fn endpoint_counts(&self) -> Vec<genprompt_llm::EndpointCounts> {
        self.inner.endpoint_counts()
    }

    /// Answers from the journal and cache first, records what the backend hands over as it
    /// arrives, and hands results out in the journal's order of use where it has one.
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(crate::session::StoredSession::new(self))
    }

    /// Answers what the stores know and asks the backend for the rest. For a backend whose
    /// replies depend on their batch-mates, a call with anything missing is sent whole, so each
    /// new reply is the one this very batch gives (the replies already known are kept).
    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        let keys = self.scope.keys(requests);
        let mut results: Vec<Option<Result<ChatReply, LlmError>>> = Vec::with_capacity(requests.len());
        for (i, (request, key)) in requests.iter().zip(&keys).enumerate() {
            let known = self.lookup(key, request, Shared::Use).unwrap_or_else(|err| {
                tracing::error!(error = %err, "cannot read the response store; asking the backend");
                None
            });
            if let Some(result) = &known {
                on_reply(i, result);
            }
            results.push(known);
        }
        let pending: Vec<usize> = (0..requests.len()).filter(|&i| results[i].is_none()).collect();
        self.count(requests.len() as u64, pending.len() as u64);
        if !pending.is_empty() {
            let send = if self.scope.batch_dependent() { (0..requests.len()).collect() } else { pending };
            self.ask_backend(requests, &keys, &send, &mut results, on_reply);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(LlmError::Engine("the backend gave no result for this request".into()))))
            .collect()
    }
}

impl<M: ChatModel> StoredChat<M> {
    /// Sends `requests[send]` to the backend and records the results of those still unknown.
    fn ask_backend(
        &self,
        requests: &[ChatRequest],
        keys: &[RequestKey],
        send: &[usize],
        results: &mut [Option<Result<ChatReply, LlmError>>],
        on_reply: &OnReply<'_>,
    ) {
        let to_send: Vec<ChatRequest> = send.iter().map(|&i| requests[i].clone()).collect();
        if !self.inner.streams_replies() {
            let answered = one_per_request(self.inner.chat(&to_send), send.len());
            let entries = send
                .iter()
                .zip(answered)
                .filter(|(i, _)| results[**i].is_none())
                .map(|(&i, result)| (i, (&keys[i], &requests[i], result)))
                .collect::<Vec<_>>();
            let (indices, entries): (Vec<usize>, Vec<Entry<'_>>) = entries.into_iter().unzip();
            for (i, result) in indices.into_iter().zip(self.record_batch(entries)) {
                on_reply(i, &result);
                results[i] = Some(result);
            }
            return;
        }
        let unknown: Vec<bool> = send.iter().map(|&i| results[i].is_none()).collect();
        let recorded: Mutex<Vec<Option<Result<ChatReply, LlmError>>>> = Mutex::new(vec![None; send.len()]);
        let answered = self.inner.chat_each(&to_send, &|j, result| {
            // A backend may call back with an index it was never given; such a result is ignored.
            if !unknown.get(j).copied().unwrap_or(false) {
                return;
            }
            let i = send[j];
            let result = self.record(&keys[i], &requests[i], result.clone(), Shared::Use);
            on_reply(i, &result);
            recorded.lock().unwrap_or_else(PoisonError::into_inner)[j] = Some(result);
        });
        let mut recorded = recorded.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (j, result) in one_per_request(answered, send.len()).into_iter().enumerate().filter(|(j, _)| unknown[*j]) {
            // A backend that skipped the callback for a request still returned its result.
            let i = send[j];
            let result = recorded[j].take().unwrap_or_else(|| {
                let result = self.record(&keys[i], &requests[i], result, Shared::Use);
                on_reply(i, &result);
                result
            });
            results[i] = Some(result);
        }
    }
}

/// Exactly `n` results: where a backend broke the one-result-per-request contract, each missing
/// result becomes an error (recorded as a failed request, which `--retry-failed` sends again)
/// and extra results are dropped.
fn one_per_request(mut results: Vec<Result<ChatReply, LlmError>>, n: usize) -> Vec<Result<ChatReply, LlmError>> {
    if results.len() != n {
        tracing::error!(got = results.len(), expected = n, "the backend broke the one-result-per-request contract");
        let missing = LlmError::Engine(format!("the backend returned {} results for {n} requests", results.len()));
        results.resize(n, Err(missing));
    }
    results
}
