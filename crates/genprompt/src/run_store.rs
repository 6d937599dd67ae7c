//! A run's memory on disk: the shared response cache, the journal in `OUT/.genprompt/run.sqlite`
//! that lets an interrupted run continue, and the observer that commits kept rows to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use genprompt_llm::ChatModel;
use genprompt_methods::{BatchReport, FailedRequest, RunObserver};
use genprompt_models::Home;
use genprompt_store::{CacheMode, JournalRow, ResponseCache, RunJournal, Scope, SettingsCheck, StoredChat};
use serde_json::json;

use crate::backends::{Prices, SharedChat, Timed};
use crate::config::StoreConfig;
use crate::{BatchProgress, CancelToken, Error, Observer, Result};

/// The LLM as runs see it: timed, answered from journal and cache first, recorded as it replies.
pub(crate) type RunChat = StoredChat<Timed<SharedChat>>;

/// The folder of a run's own state inside its output folder.
pub fn journal_dir(out: &Path) -> PathBuf {
    out.join(".genprompt")
}

pub fn journal_path(out: &Path) -> PathBuf {
    journal_dir(out).join("run.sqlite")
}

fn cache_path(store: &StoreConfig) -> Result<PathBuf> {
    let dir = match &store.cache_dir {
        Some(dir) => dir.clone(),
        None => Home::from_env()?.root().join("cache"),
    };
    Ok(dir.join("responses.sqlite"))
}

/// Wraps `llm` with the cache and, when `run` is given, the run journal in its folder. A journal
/// left by the same settings is resumed; one left by other settings is refused.
pub(crate) fn open_chat(
    llm: SharedChat,
    base_url: Option<&str>,
    store: &StoreConfig,
    run: Option<(&Path, &BTreeMap<String, String>)>,
    observer: &dyn Observer,
) -> Result<RunChat> {
    let scope = Scope::new(llm.identity(), base_url);
    let journal = match run {
        None => None,
        Some((out, settings)) => {
            let path = journal_path(out);
            let journal = RunJournal::open(&path)?;
            match journal.check_settings(settings)? {
                SettingsCheck::New => {}
                SettingsCheck::Resume { replies, failures, rows } => {
                    if replies + failures + rows > 0 {
                        observer.step(&format!(
                            "resuming the run in {}: {replies} replies, {failures} failed requests and {rows} rows on record",
                            out.display()
                        ));
                    }
                }
                SettingsCheck::Different(names) => {
                    return Err(Error::bad_input(format!(
                        "{} holds an unfinished run with other settings ({}); rerun with the same settings to continue it, or pass --force to start over",
                        out.display(),
                        names.join(", ")
                    )));
                }
            }
            Some(journal)
        }
    };
    let cache = match store.cache {
        CacheMode::Off => None,
        _ => Some(ResponseCache::open(&cache_path(store)?)?),
    };
    Ok(StoredChat::new(Timed::new(llm), scope, journal, cache, store.cache, store.retry_failed))
}

/// One request that failed after its retries, as listed to the user and in `failed.jsonl`.
#[derive(Clone, Debug)]
pub struct FailedItem {
    pub label: String,
    pub batch: usize,
    pub request: usize,
    pub error: String,
}

/// Commits each batch's kept rows to the journal, collects failures, reports progress, and stops
/// the run between batches once the token is cancelled.
pub(crate) struct Recorder<'a> {
    pub chat: &'a RunChat,
    pub observer: &'a dyn Observer,
    pub cancel: &'a CancelToken,
    pub prices: Prices,
    failures: Mutex<Vec<FailedItem>>,
}

impl<'a> Recorder<'a> {
    pub fn new(chat: &'a RunChat, observer: &'a dyn Observer, cancel: &'a CancelToken, prices: Prices) -> Self {
        Recorder { chat, observer, cancel, prices, failures: Mutex::default() }
    }

    pub fn failures(&self) -> Vec<FailedItem> {
        self.failures.lock().expect("the failures lock is never poisoned: pushing and cloning do not panic").clone()
    }

    /// Replay, cache, retry and spending figures for the progress line.
    fn status(&self) -> String {
        let stats = self.chat.stats();
        let mut parts = Vec::new();
        if stats.replayed > 0 {
            parts.push(format!("{} replayed", stats.replayed));
        }
        parts.push(format!("{} cache hits", stats.cache_hits));
        if let Some(backend) = self.chat.backend_stats() {
            parts.push(format!(
                "{} retries, {} rate-limited, {} in flight max",
                backend.retries, backend.rate_limited, backend.concurrency
            ));
        }
        if stats.failed + stats.replayed_failures > 0 {
            parts.push(format!("{} failed", stats.failed + stats.replayed_failures));
        }
        match self.prices.cost(stats.paid_prompt_tokens, stats.paid_completion_tokens) {
            Some(usd) => parts.push(format!("${usd:.4} spent")),
            None => parts.push(format!("{} tokens paid", stats.paid_prompt_tokens + stats.paid_completion_tokens)),
        }
        parts.join(", ")
    }
}

impl RunObserver for Recorder<'_> {
    fn label_started(&self, label: &str, n_seed_rows: usize, wanted: usize) {
        self.observer.label_started(label, n_seed_rows, wanted);
    }

    fn batch_finished(&self, report: &BatchReport<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let rows: Vec<JournalRow> = report
            .kept
            .iter()
            .zip(report.kept_requests)
            .map(|(row, &request)| JournalRow {
                id: row.id.clone(),
                label: report.label.to_string(),
                text: row.text.clone(),
                lineage: json!(row.lineage).to_string(),
                truncated: row.truncated,
                request: self.chat.key(&report.requests[request]),
            })
            .collect();
        if let Some(committed) = self.chat.with_journal(|journal| journal.commit_rows(&rows)) {
            committed?;
        }
        let status = self.status();
        self.observer.batch_finished(&BatchProgress {
            label: report.label,
            batch: report.batch,
            n_requests: report.n_requests,
            n_kept: report.n_kept,
            kept_so_far: report.kept_so_far,
            wanted: report.wanted,
            prompt_tokens: report.tokens.prompt,
            completion_tokens: report.tokens.completion,
            kept: report.kept,
            status: &status,
        });
        Ok(())
    }

    fn request_failed(&self, failure: &FailedRequest<'_>) {
        let item = FailedItem {
            label: failure.label.to_string(),
            batch: failure.batch,
            request: failure.request,
            error: failure.error.to_string(),
        };
        tracing::debug!(label = %item.label, batch = item.batch, request = item.request, error = %item.error, "request failed");
        self.failures.lock().expect("the failures lock is never poisoned: pushing and cloning do not panic").push(item);
    }

    fn should_stop(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
