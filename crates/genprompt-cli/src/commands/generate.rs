use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use genprompt_core::{LabelCounts, MANIFEST_FORMAT_VERSION, Manifest, Timings};
use genprompt_data::{LoadedTask, RowWriter, load_task, write_json_atomic};
use genprompt_ga::{Cleaning, GaConfig, GaOutcome, GeneSchedule, ParentSelection, SamplingConfig, run_genetic};
use serde_json::{Value, json};

use crate::args::{GenerateArgs, GenerationArgs, GenesScheduleArg, ParentsArg, PostprocessArg};
use crate::backends::{Timed, check_out_dir, encoder_info, llm_info, load_encoder, load_llm};
use crate::progress::Progress;

/// What a finished generation left behind.
pub struct Generated {
    pub dataset: PathBuf,
    pub manifest: Manifest,
}

pub fn run(args: GenerateArgs, progress: &Progress) -> Result<Generated> {
    if args.n_per_label == 0 {
        return Err(crate::BadInput("-n must be at least 1".to_string()).into());
    }
    check_out_dir(&args.out, args.force)?;
    let loaded = load_task(&args.task, args.examples.as_deref())?;
    let config = ga_config(&args.generation, args.n_per_label, args.seed);
    let generated = generate(&loaded, &config, &args.models, &args.out, progress)?;
    print_summary(&generated);
    Ok(generated)
}

pub fn ga_config(args: &GenerationArgs, n_per_label: usize, rng_seed: u64) -> GaConfig {
    let mut config = GaConfig::paper(n_per_label, rng_seed);
    config.batch_size = args.batch_size.max(1);
    config.parents = match args.parents {
        ParentsArg::Active => ParentSelection::Active,
        ParentsArg::Argmax => ParentSelection::Argmax,
        ParentsArg::Random => ParentSelection::Random,
    };
    config.schedule = match args.genes_schedule {
        GenesScheduleArg::Paper => GeneSchedule::RandomPartition,
        GenesScheduleArg::Code => GeneSchedule::Alternating,
    };
    config.cleaning = match args.postprocess {
        PostprocessArg::Clean => Cleaning::Clean,
        PostprocessArg::Raw => Cleaning::Raw,
    };
    config.sampling = SamplingConfig { temperature: args.temperature, top_p: args.top_p, max_tokens: args.max_tokens };
    config
}

/// Runs Genetic Prompt and writes `dataset.jsonl` and `manifest.json` into `out`.
pub fn generate(
    loaded: &LoadedTask,
    config: &GaConfig,
    models: &crate::args::ModelArgs,
    out: &Path,
    progress: &Progress,
) -> Result<Generated> {
    let started = Instant::now();
    progress.step("loading models");
    let chat = Timed::new(load_llm(models)?);
    let encoder = Timed::new(load_encoder(models)?);
    let load_s = started.elapsed().as_secs_f64();
    let outcome = run_genetic(&loaded.task, &loaded.seed_rows, config, &chat, &encoder, progress)?;
    progress.clear();

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
    let timings = Timings {
        total_s: started.elapsed().as_secs_f64(),
        load_s,
        generation_s: chat.spent().as_secs_f64(),
        embedding_s: encoder.spent().as_secs_f64(),
    };
    let manifest = manifest(loaded, config, &outcome, &chat, &encoder, timings);
    // The dataset goes into place first: a manifest always describes a complete dataset.
    writer.finish()?;
    write_json_atomic(&out.join("manifest.json"), &manifest)?;
    Ok(Generated { dataset, manifest })
}

fn manifest(
    loaded: &LoadedTask,
    config: &GaConfig,
    outcome: &GaOutcome,
    chat: &dyn genprompt_llm::ChatModel,
    encoder: &dyn genprompt_embed::Encoder,
    timings: Timings,
) -> Manifest {
    let parameters: BTreeMap<String, Value> = [
        ("parents", json!(config.parents.as_str())),
        ("genes_schedule", json!(config.schedule.as_str())),
        ("postprocess", json!(config.cleaning.as_str())),
        ("batch_size", json!(config.batch_size)),
        ("temperature", json!(config.sampling.temperature)),
        ("top_p", json!(config.sampling.top_p)),
        ("max_tokens", json!(config.sampling.max_tokens)),
        ("max_calls_per_offspring", json!(config.max_calls_per_offspring)),
        ("seeds_per_label", json!(loaded.task.seeds.per_label)),
        ("genes", json!(loaded.task.genes.iter().map(|g| g.name.as_str()).collect::<Vec<_>>())),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    let labels: BTreeMap<String, LabelCounts> = loaded
        .task
        .labels()
        .iter()
        .zip(&outcome.counts)
        .map(|(label, counts)| (label.name.clone(), counts.clone()))
        .collect();
    Manifest {
        format_version: MANIFEST_FORMAT_VERSION,
        genprompt_version: env!("CARGO_PKG_VERSION").to_string(),
        task: loaded.task.name.clone(),
        task_file_sha256: loaded.task_file_sha256.clone(),
        method: "genetic".to_string(),
        parameters,
        rng_seed: config.rng_seed,
        llm: llm_info(chat.identity()),
        encoder: encoder_info(encoder.identity()),
        seed_rows_file: loaded.task.seeds.path.display().to_string(),
        seed_rows_sha256: loaded.seed_rows_sha256.clone(),
        n_per_label: config.n_per_label,
        labels,
        tokens: outcome.tokens,
        timings,
    }
}

fn print_summary(generated: &Generated) {
    let manifest = &generated.manifest;
    for (label, counts) in &manifest.labels {
        let rejected = &counts.rejected;
        println!(
            "{label}: kept {}/{} from {} calls; rejected {} (refusal {}, empty {}, duplicate {}, copies {}, llm error {}); truncated {}",
            counts.kept,
            counts.requested,
            counts.llm_calls,
            rejected.total(),
            rejected.refusal,
            rejected.empty,
            rejected.duplicate,
            rejected.copies_parent,
            rejected.llm_error,
            counts.truncated
        );
        if counts.kept < counts.requested {
            eprintln!(
                "warning: label \"{label}\" got {} of {} rows; the call cap ({} per row) was reached",
                counts.kept, counts.requested, manifest.parameters["max_calls_per_offspring"]
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
    println!("dataset: {}", generated.dataset.display());
    println!("manifest: {}", generated.dataset.with_file_name("manifest.json").display());
}
