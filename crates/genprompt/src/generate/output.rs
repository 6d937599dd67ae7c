//! What a generation leaves behind: dataset files, manifest, dataset card, the list of failed
//! requests, and the notice given when a run stops early.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genprompt_core::{
    Cost, EndpointUsage, LabelCounts, MANIFEST_FORMAT_VERSION, Manifest, RequestCounts, Row, Timings,
};
use genprompt_data::{DataError, LoadedTask, RowWriter, write_json_atomic};
use genprompt_embed::Encoder;
use genprompt_llm::ChatModel;
use genprompt_methods::{GenerationOutcome, MethodError, RunConfig};
use serde_json::{Value, json};

use crate::Result;
use crate::backends::{LlmChoice, encoder_info, llm_info};
use crate::run_store::{FailedItem, RunChat, journal_path};

/// Writes the data files first and the manifest last: a manifest always describes a complete
/// dataset. Returns the path of `dataset.jsonl` and its rows as written.
pub(super) fn write_dataset(
    loaded: &LoadedTask,
    out: &Path,
    outcome: &GenerationOutcome,
    manifest: &Manifest,
) -> Result<(PathBuf, Vec<Row>)> {
    let dataset = out.join("dataset.jsonl");
    let mut writer = RowWriter::create(&dataset)?;
    for offspring in &outcome.offspring {
        writer.write(&json!({
            "text": offspring.text,
            "label": loaded.task.label(offspring.label).name,
            "id": offspring.id,
            "lineage": offspring.lineage,
            "truncated": offspring.truncated,
        }))?;
    }
    writer.finish()?;
    let rows = genprompt_data::read_rows(&dataset)?;
    genprompt_data::write_parquet(&out.join("dataset.parquet"), &rows)?;
    let label_names: Vec<String> = loaded.task.labels().iter().map(|l| l.name.clone()).collect();
    genprompt_data::write_text_atomic(&out.join("README.md"), &crate::card::render(manifest, &label_names))?;
    // Last: a manifest marks a finished folder.
    write_json_atomic(&out.join("manifest.json"), manifest)?;
    Ok((dataset, rows))
}

/// Everything the manifest needs besides the task and the outcome.
pub(super) struct RunFacts<'a> {
    pub method: &'a str,
    pub parameters: BTreeMap<String, Value>,
    pub config: &'a RunConfig,
    pub chat: &'a RunChat,
    pub encoder: &'a dyn Encoder,
    pub choice: &'a LlmChoice,
    pub timings: Timings,
}

pub(super) fn manifest(loaded: &LoadedTask, outcome: &GenerationOutcome, facts: RunFacts<'_>) -> Manifest {
    let RunFacts { method, parameters, config, chat, encoder, choice, timings } = facts;
    let labels: BTreeMap<String, LabelCounts> = loaded
        .task
        .labels()
        .iter()
        .zip(&outcome.counts)
        .map(|(label, counts)| (label.name.clone(), counts.clone()))
        .collect();
    let stats = chat.stats();
    let requests = RequestCounts {
        total: stats.requests,
        replayed: stats.replayed,
        cache_hits: stats.cache_hits,
        sent: stats.sent,
        failed: stats.failed + stats.replayed_failures,
        retries: chat.backend_stats().map_or(0, |b| b.retries),
    };
    let cost = Cost {
        paid_prompt_tokens: stats.paid_prompt_tokens,
        paid_completion_tokens: stats.paid_completion_tokens,
        price_input_per_million: choice.prices.input,
        price_output_per_million: choice.prices.output,
        usd: choice.prices.cost(stats.paid_prompt_tokens, stats.paid_completion_tokens),
    };
    let endpoints = chat.endpoint_counts().into_iter().filter(|_| !choice.more_base_urls.is_empty());
    let endpoints = endpoints
        .map(|e| EndpointUsage {
            base_url: e.base_url,
            requests: e.requests,
            failed: e.failed,
            retries: e.retries,
            connection_errors: e.connection_errors,
            timeouts: e.timeouts,
            server_errors: e.server_errors,
            prompt_tokens: e.prompt_tokens,
            completion_tokens: e.completion_tokens,
            set_aside: e.set_aside,
        })
        .collect();
    Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        genprompt_version: env!("CARGO_PKG_VERSION").to_string(),
        task: loaded.task.name.clone(),
        task_file_sha256: loaded.task_file_sha256.clone(),
        method: method.to_string(),
        parameters,
        rng_seed: config.rng_seed,
        llm: llm_info(chat.identity()),
        encoder: encoder_info(encoder.identity()),
        seed_rows_file: loaded.task.seeds.path.display().to_string(),
        seed_rows_sha256: loaded.seed_rows_sha256.clone(),
        n_per_label: config.n_per_label,
        short_labels: genprompt_core::short_labels(&labels),
        labels,
        tokens: outcome.tokens,
        requests,
        cost,
        endpoints,
        timings,
    }
}

/// `failed.jsonl`: one line per request that failed after its retries.
pub(super) fn write_failures(out: &Path, failures: &[FailedItem]) -> Result<PathBuf> {
    let path = out.join("failed.jsonl");
    std::fs::create_dir_all(out).map_err(|source| DataError::io(out, source))?;
    let mut writer = RowWriter::create(&path)?;
    for item in failures {
        writer
            .write(&json!({"label": item.label, "batch": item.batch, "request": item.request, "error": item.error}))?;
    }
    writer.finish()?;
    Ok(path)
}

/// Why the run stopped, what is kept, and how to go on; `None` for other errors.
pub(super) fn stop_notice(err: &MethodError, out: &Path, chat: &RunChat, failures: &[FailedItem]) -> Option<String> {
    let rows = chat.with_journal(|journal| journal.row_count().unwrap_or(0)).unwrap_or(0);
    let journal = journal_path(out);
    match err {
        MethodError::TooManyFailures { .. } => {
            let mut notice = String::from("the run stopped: too many LLM calls failed. The last failures:");
            for item in failures.iter().rev().take(10).rev() {
                notice.push_str(&format!(
                    "\n  label {}, batch {}, request {}: {}",
                    item.label, item.batch, item.request, item.error
                ));
            }
            notice.push_str(&format!(
                "\nall {} failed requests are listed in {}. Fix the cause, then rerun the same command with --retry-failed; the {rows} rows accepted so far are kept in {}",
                failures.len(),
                out.join("failed.jsonl").display(),
                journal.display()
            ));
            Some(notice)
        }
        MethodError::Interrupted => Some(format!(
            "stopped: {rows} accepted rows and every reply received are saved in {}; run the same command again to continue",
            journal.display()
        )),
        _ => None,
    }
}
