//! A run's memory on disk: the shared response cache, the journal in `OUT/.genprompt/run.sqlite`
//! that lets an interrupted run continue, and the observer that commits kept rows to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Result;
use genprompt_llm::ChatModel;
use genprompt_methods::{BatchReport, FailedRequest, RunObserver};
use genprompt_models::Home;
use genprompt_store::{CacheMode, JournalRow, ResponseCache, RunJournal, Scope, SettingsCheck, StoredChat};
use serde_json::json;

use crate::args::StoreArgs;
use crate::backends::{Prices, Timed};
use crate::progress::Progress;

/// The LLM as runs see it: timed, answered from journal and cache first, recorded as it replies.
pub type RunChat = StoredChat<Timed<Box<dyn ChatModel>>>;

/// The folder of a run's own state inside its output folder.
pub fn journal_dir(out: &Path) -> PathBuf {
    out.join(".genprompt")
}

pub fn journal_path(out: &Path) -> PathBuf {
    journal_dir(out).join("run.sqlite")
}

fn cache_path(store: &StoreArgs) -> Result<PathBuf> {
    let dir = match &store.cache_dir {
        Some(dir) => dir.clone(),
        None => Home::from_env()?.root().join("cache"),
    };
    Ok(dir.join("responses.sqlite"))
}

fn cache_mode(store: &StoreArgs) -> CacheMode {
    match (store.no_cache, store.refresh_cache) {
        (true, _) => CacheMode::Off,
        (false, true) => CacheMode::Refresh,
        (false, false) => CacheMode::Use,
    }
}

/// Wraps `llm` with the cache and, when `out` is given, the run journal there. A journal left by
/// the same settings is resumed; one left by other settings is refused.
pub fn open_chat(
    llm: Box<dyn ChatModel>,
    base_url: Option<&str>,
    store: &StoreArgs,
    run: Option<(&Path, &BTreeMap<String, String>)>,
    progress: &Progress,
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
                        progress.step(&format!(
                            "resuming the run in {}: {replies} replies, {failures} failed requests and {rows} rows on record",
                            out.display()
                        ));
                    }
                }
                SettingsCheck::Different(names) => {
                    return Err(crate::BadInput(format!(
                        "{} holds an unfinished run with other settings ({}); rerun with the same settings to continue it, or pass --force to start over",
                        out.display(),
                        names.join(", ")
                    ))
                    .into());
                }
            }
            Some(journal)
        }
    };
    let mode = cache_mode(store);
    let cache = match mode {
        CacheMode::Off => None,
        _ => Some(ResponseCache::open(&cache_path(store)?)?),
    };
    Ok(StoredChat::new(Timed::new(llm), scope, journal, cache, mode, store.retry_failed))
}

/// One failed request, as listed to the user and in `failed.jsonl`.
#[derive(Clone, Debug)]
pub struct FailedItem {
    pub label: String,
    pub batch: usize,
    pub request: usize,
    pub error: String,
}

/// Commits each batch's kept rows to the journal, collects failures, draws progress, and asks
/// the run to stop after a Ctrl-C.
pub struct Recorder<'a> {
    pub chat: &'a RunChat,
    pub progress: &'a Progress,
    pub prices: Prices,
    failures: Mutex<Vec<FailedItem>>,
}

impl<'a> Recorder<'a> {
    pub fn new(chat: &'a RunChat, progress: &'a Progress, prices: Prices) -> Recorder<'a> {
        Recorder { chat, progress, prices, failures: Mutex::default() }
    }

    pub fn failures(&self) -> Vec<FailedItem> {
        self.failures.lock().expect("failures lock").clone()
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
        self.progress.label_started(label, n_seed_rows, wanted);
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
        self.progress.batch_finished_with(report, &self.status());
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
        self.failures.lock().expect("failures lock").push(item);
    }

    fn should_stop(&self) -> bool {
        crate::interrupt::requested()
    }
}
