//! What a generation leaves behind: dataset files, manifest, dataset card, the list of failed
//! requests, and the summaries printed at the end or when a run stops early.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use genprompt_core::{Cost, LabelCounts, MANIFEST_FORMAT_VERSION, Manifest, RequestCounts, Timings};
use genprompt_data::{LoadedTask, RowWriter, write_json_atomic};
use genprompt_embed::Encoder;
use genprompt_llm::ChatModel;
use genprompt_methods::{GenerationOutcome, MethodError, RunConfig};
use serde_json::{Value, json};

use super::Generated;
use crate::backends::{LlmChoice, encoder_info, llm_info};
use crate::run_store::{FailedItem, RunChat, journal_path};

/// Writes the data files first and the manifest last: a manifest always describes a complete
/// dataset. Returns the path of `dataset.jsonl`.
pub fn write_dataset(
    loaded: &LoadedTask,
    out: &Path,
    outcome: &GenerationOutcome,
    manifest: &Manifest,
) -> Result<PathBuf> {
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
    write_json_atomic(&out.join("manifest.json"), manifest)?;
    let label_names: Vec<String> = loaded.task.labels().iter().map(|l| l.name.clone()).collect();
    let card_path = out.join("README.md");
    std::fs::write(&card_path, crate::commands::card::render(manifest, &label_names))
        .map_err(|source| genprompt_data::DataError::io(&card_path, source))?;
    Ok(dataset)
}

#[allow(clippy::too_many_arguments)]
pub fn manifest(
    loaded: &LoadedTask,
    method: &str,
    parameters: BTreeMap<String, Value>,
    config: &RunConfig,
    outcome: &GenerationOutcome,
    chat: &RunChat,
    encoder: &dyn Encoder,
    choice: &LlmChoice,
    timings: Timings,
) -> Manifest {
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
        labels,
        tokens: outcome.tokens,
        requests,
        cost,
        timings,
    }
}

/// `failed.jsonl`: one line per request that failed after its retries.
pub fn write_failures(out: &Path, failures: &[FailedItem]) -> Result<PathBuf> {
    let path = out.join("failed.jsonl");
    std::fs::create_dir_all(out).map_err(|source| genprompt_data::DataError::io(out, source))?;
    let mut writer = RowWriter::create(&path)?;
    for item in failures {
        writer
            .write(&json!({"label": item.label, "batch": item.batch, "request": item.request, "error": item.error}))?;
    }
    writer.finish()?;
    Ok(path)
}

/// Tells the user why the run stopped, what is kept, and how to go on.
pub fn explain_stop(err: &MethodError, out: &Path, chat: &RunChat, failures: &[FailedItem]) {
    let rows = chat.with_journal(|journal| journal.row_count().unwrap_or(0)).unwrap_or(0);
    let journal = journal_path(out);
    match err {
        MethodError::TooManyFailures { .. } => {
            eprintln!("the run stopped: too many LLM calls failed. The last failures:");
            for item in failures.iter().rev().take(10).rev() {
                eprintln!("  label {}, batch {}, request {}: {}", item.label, item.batch, item.request, item.error);
            }
            eprintln!(
                "all {} failed requests are listed in {}. Fix the cause, then rerun the same command with --retry-failed; the {rows} rows accepted so far are kept in {}",
                failures.len(),
                out.join("failed.jsonl").display(),
                journal.display()
            );
        }
        MethodError::Interrupted => eprintln!(
            "stopped: {rows} accepted rows and every reply received are saved in {}; run the same command again to continue",
            journal.display()
        ),
        _ => {}
    }
}

pub fn print_summary(generated: &Generated) {
    let manifest = &generated.manifest;
    for (label, counts) in &manifest.labels {
        let rejected = &counts.rejected;
        println!(
            "{label}: kept {}/{} from {} calls; rejected {} (refusal {}, empty {}, duplicate {}, near duplicate {}, copies {}, missing entity tags {}, curated out {}, llm error {}); truncated {}",
            counts.kept,
            counts.requested,
            counts.llm_calls,
            rejected.total(),
            rejected.refusal,
            rejected.empty,
            rejected.duplicate,
            rejected.near_duplicate,
            rejected.copies_parent,
            rejected.missing_entity_tags,
            rejected.curated_out,
            rejected.llm_error,
            counts.truncated
        );
        if counts.kept < counts.requested {
            eprintln!(
                "warning: label \"{label}\" got {} of {} rows; the call cap ({} per row) was reached",
                counts.kept, counts.requested, manifest.parameters["max_calls_per_row"]
            );
        }
    }
    let t = &manifest.timings;
    let tokens = manifest.tokens.prompt + manifest.tokens.completion;
    println!(
        "tokens: {} prompt + {} completion; {:.1}s total ({:.1}s generating, {:.1} tokens/s)",
        manifest.tokens.prompt,
        manifest.tokens.completion,
        t.total_s,
        t.generation_s,
        tokens as f64 / t.generation_s.max(1e-9)
    );
    let r = &manifest.requests;
    let spent = match manifest.cost.usd {
        Some(usd) => format!("${usd:.4}"),
        None => "unknown (set prices with --price-input/--price-output or [llm] in the task file)".to_string(),
    };
    println!(
        "requests: {} ({} replayed from the journal, {} from the cache, {} sent, {} failed, {} retries); {} prompt + {} completion tokens paid, cost {spent}",
        r.total,
        r.replayed,
        r.cache_hits,
        r.sent,
        r.failed,
        r.retries,
        manifest.cost.paid_prompt_tokens,
        manifest.cost.paid_completion_tokens
    );
    println!("dataset: {}", generated.dataset.display());
    println!("manifest: {}", generated.dataset.with_file_name("manifest.json").display());
}
