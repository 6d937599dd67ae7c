use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use genprompt_core::{LabelCounts, MANIFEST_FORMAT_VERSION, Manifest, Timings};
use genprompt_data::{LoadedTask, RowWriter, load_task, write_json_atomic};
use genprompt_methods::{
    AttrPrompt, Cleaning, Curated, CurationThresholds, FewShot, GeneSchedule, GenerationOutcome, Genetic,
    GeneticConfig, GeneticVariant, Method, ParentSelection, PoolUpdate, RunConfig, SamplingConfig, SimPrompt, ZeroShot,
    run_method,
};
use serde_json::{Value, json};

use crate::args::{
    AblationArg, GenerateArgs, GenerationArgs, GenesScheduleArg, Method as MethodArg, ParentsArg, PoolUpdateArg,
    PostprocessArg,
};
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
    let config = run_config(&args.generation, args.n_per_label, args.seed);
    let generated = generate(&loaded, args.method, &args.generation, &config, &args.models, &args.out, progress)?;
    print_summary(&generated);
    Ok(generated)
}

pub fn run_config(args: &GenerationArgs, n_per_label: usize, rng_seed: u64) -> RunConfig {
    let mut config = RunConfig::paper(n_per_label, rng_seed);
    config.batch_size = args.batch_size.max(1);
    config.cleaning = match args.postprocess {
        PostprocessArg::Clean => Cleaning::Clean,
        PostprocessArg::Raw => Cleaning::Raw,
    };
    config.sampling = SamplingConfig { temperature: args.temperature, top_p: args.top_p, max_tokens: args.max_tokens };
    config.near_duplicate_threshold = (!args.keep_near_duplicates).then_some(args.near_duplicates);
    config
}

fn genetic_config(args: &GenerationArgs) -> GeneticConfig {
    GeneticConfig {
        parents: match args.parents {
            ParentsArg::Active => ParentSelection::Active,
            ParentsArg::Argmax => ParentSelection::Argmax,
            ParentsArg::Random => ParentSelection::Random,
        },
        schedule: match args.genes_schedule {
            GenesScheduleArg::Paper => GeneSchedule::RandomPartition,
            GenesScheduleArg::Code => GeneSchedule::Alternating,
        },
        variant: match args.ablation {
            None => GeneticVariant::Full,
            Some(AblationArg::NoMutation) => GeneticVariant::NoMutation,
            Some(AblationArg::WordAsGene) => GeneticVariant::WordAsGene,
        },
        pool_update: match args.pool_update {
            PoolUpdateArg::Batch => PoolUpdate::PerBatch,
            PoolUpdateArg::Offspring => PoolUpdate::PerOffspring,
        },
    }
}

/// Flags that only Genetic Prompt reads are refused for other methods rather than ignored.
fn check_method_flags(method: MethodArg, args: &GenerationArgs) -> Result<()> {
    if method != MethodArg::Genetic && args.ablation.is_some() {
        return Err(crate::BadInput("--ablation only applies to --method genetic".to_string()).into());
    }
    Ok(())
}

/// Runs `method` and writes `dataset.jsonl` and `manifest.json` into `out`.
pub fn generate(
    loaded: &LoadedTask,
    method: MethodArg,
    generation: &GenerationArgs,
    config: &RunConfig,
    models: &crate::args::ModelArgs,
    out: &Path,
    progress: &Progress,
) -> Result<Generated> {
    check_method_flags(method, generation)?;
    let started = Instant::now();
    let task = &loaded.task;
    progress.step("loading models");
    let chat = Timed::new(load_llm(models)?);
    let encoder = Timed::new(load_encoder(models)?);
    let load_s = started.elapsed().as_secs_f64();
    let judge = match method {
        MethodArg::Curated => Some(crate::curation::ProbeJudge::train(&loaded.seed_rows, &encoder, config.rng_seed)?),
        _ => None,
    };
    let mut method: Box<dyn Method + '_> = match method {
        MethodArg::Genetic => Box::new(Genetic::new(task, genetic_config(generation), config.rng_seed)),
        MethodArg::Simprompt => Box::new(SimPrompt::new(task, config.rng_seed)),
        MethodArg::Attrprompt => Box::new(AttrPrompt::new(task, config.rng_seed)),
        MethodArg::Zeroshot => Box::new(ZeroShot::new(task)),
        MethodArg::Fewshot => Box::new(FewShot::new(task, &loaded.seed_rows, config.rng_seed)),
        MethodArg::Curated => Box::new(Curated::new(
            task,
            judge.as_ref().expect("the judge is trained for curated above"),
            CurationThresholds::standard(),
            config.rng_seed,
        )),
    };
    let outcome = run_method(task, &loaded.seed_rows, method.as_mut(), config, &chat, &encoder, progress)?;
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
    let manifest = manifest(loaded, method.as_ref(), config, &outcome, &chat, &encoder, timings);
    // The data files go into place first: a manifest always describes a complete dataset.
    writer.finish()?;
    let rows = genprompt_data::read_rows(&dataset)?;
    genprompt_data::write_parquet(&out.join("dataset.parquet"), &rows)?;
    write_json_atomic(&out.join("manifest.json"), &manifest)?;
    let label_names: Vec<String> = task.labels().iter().map(|l| l.name.clone()).collect();
    let card_path = out.join("README.md");
    std::fs::write(&card_path, super::card::render(&manifest, &label_names))
        .map_err(|source| genprompt_data::DataError::io(&card_path, source))?;
    Ok(Generated { dataset, manifest })
}

fn manifest(
    loaded: &LoadedTask,
    method: &dyn Method,
    config: &RunConfig,
    outcome: &GenerationOutcome,
    chat: &dyn genprompt_llm::ChatModel,
    encoder: &dyn genprompt_embed::Encoder,
    timings: Timings,
) -> Manifest {
    let mut parameters: BTreeMap<String, Value> = [
        ("postprocess", json!(config.cleaning.as_str())),
        ("near_duplicate_threshold", json!(config.near_duplicate_threshold)),
        ("batch_size", json!(config.batch_size)),
        ("temperature", json!(config.sampling.temperature)),
        ("top_p", json!(config.sampling.top_p)),
        ("max_tokens", json!(config.sampling.max_tokens)),
        ("max_calls_per_row", json!(config.max_calls_per_row)),
        ("seeds_per_label", json!(loaded.task.seeds.per_label)),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    parameters.extend(method.parameters().into_iter().map(|(key, value)| (key.to_string(), value)));
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
        method: method.name().to_string(),
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
    println!("dataset: {}", generated.dataset.display());
    println!("manifest: {}", generated.dataset.with_file_name("manifest.json").display());
}
