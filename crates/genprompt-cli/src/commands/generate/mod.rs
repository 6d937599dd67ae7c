use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use genprompt_core::{Manifest, Timings};
use genprompt_data::{LoadedTask, load_task};
use genprompt_embed::Encoder;
use genprompt_llm::ChatModel;
use genprompt_methods::{
    AttrPrompt, Cleaning, Curated, CurationThresholds, FewShot, GeneSchedule, Genetic, GeneticConfig, GeneticVariant,
    Method, ParentSelection, PoolUpdate, RunConfig, SamplingConfig, SimPrompt, ZeroShot, run_method,
};
use serde_json::{Value, json};

use crate::args::{
    AblationArg, GenerateArgs, GenerationArgs, GenesScheduleArg, Method as MethodArg, ModelArgs, ParentsArg,
    PoolUpdateArg, PostprocessArg, StoreArgs,
};
use crate::backends::{LlmChoice, Timed, check_out_dir, load_encoder, load_llm};
use crate::curation::ProbeJudge;
use crate::progress::Progress;
use crate::run_store::{Recorder, open_chat};

mod output;
pub use output::print_summary;
use output::{explain_stop, write_failures};

/// What a finished generation left behind.
pub struct Generated {
    pub dataset: PathBuf,
    pub manifest: Manifest,
}

/// Everything one generation needs; `generate`, `compare` and `quickstart` fill it in.
pub struct Job<'a> {
    pub loaded: &'a LoadedTask,
    pub method: MethodArg,
    pub generation: &'a GenerationArgs,
    pub config: &'a RunConfig,
    pub models: &'a ModelArgs,
    pub store: &'a StoreArgs,
    pub out: &'a Path,
}

pub fn run(args: GenerateArgs, progress: &Progress) -> Result<()> {
    if args.n_per_label == 0 {
        return Err(crate::BadInput("-n must be at least 1".to_string()).into());
    }
    check_store_args(&args.store)?;
    let loaded = load_task(&args.task, args.examples.as_deref())?;
    let config = run_config(&args.generation, &args.store, args.n_per_label, args.seed);
    let job = Job {
        loaded: &loaded,
        method: args.method,
        generation: &args.generation,
        config: &config,
        models: &args.models,
        store: &args.store,
        out: &args.out,
    };
    if args.dry_run {
        return super::dry_run::run(&job, progress);
    }
    prepare_out_dir(&args.out, args.force)?;
    crate::interrupt::install()?;
    let generated = generate(&job, progress)?;
    print_summary(&generated);
    Ok(())
}

pub fn check_store_args(store: &StoreArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&store.max_failure_share) {
        return Err(crate::BadInput(format!(
            "--max-failure-share must be between 0 and 1, got {}",
            store.max_failure_share
        ))
        .into());
    }
    Ok(())
}

pub fn run_config(args: &GenerationArgs, store: &StoreArgs, n_per_label: usize, rng_seed: u64) -> RunConfig {
    let mut config = RunConfig::paper(n_per_label, rng_seed);
    config.batch_size = args.batch_size.max(1);
    config.cleaning = match args.postprocess {
        PostprocessArg::Clean => Cleaning::Clean,
        PostprocessArg::Raw => Cleaning::Raw,
    };
    config.sampling = SamplingConfig { temperature: args.temperature, top_p: args.top_p, max_tokens: args.max_tokens };
    config.near_duplicate_threshold = (!args.keep_near_duplicates).then_some(args.near_duplicates);
    config.max_failure_share = store.max_failure_share;
    config
}

/// Refuses to overwrite a finished dataset unless asked to. With `force`, forgets the finished
/// run (its manifest) and any unfinished run's journal, so the run starts over; the shared cache
/// still answers what it knows.
pub fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    check_out_dir(out, force)?;
    if force {
        let manifest = out.join("manifest.json");
        if manifest.exists() {
            std::fs::remove_file(&manifest).map_err(|source| genprompt_data::DataError::io(&manifest, source))?;
        }
        let journal_dir = crate::run_store::journal_dir(out);
        if journal_dir.exists() {
            std::fs::remove_dir_all(&journal_dir)
                .map_err(|source| genprompt_data::DataError::io(&journal_dir, source))?;
        }
    }
    Ok(())
}

/// For commands that rewrite their output (quickstart, compare): a finished run in `out` is
/// replaced, an unfinished one continues.
pub fn replace_finished_run(out: &Path) -> Result<()> {
    prepare_out_dir(out, out.join("manifest.json").exists())
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

/// The method of a job; Curated needs its judge, trained beforehand on the seed rows.
pub fn build_method<'a>(job: &Job<'a>, judge: Option<&'a ProbeJudge>) -> Box<dyn Method + 'a> {
    let (task, config) = (&job.loaded.task, job.config);
    match job.method {
        MethodArg::Genetic => Box::new(Genetic::new(task, genetic_config(job.generation), config.rng_seed)),
        MethodArg::Simprompt => Box::new(SimPrompt::new(task, config.rng_seed)),
        MethodArg::Attrprompt => Box::new(AttrPrompt::new(task, config.rng_seed)),
        MethodArg::Zeroshot => Box::new(ZeroShot::new(task)),
        MethodArg::Fewshot => Box::new(FewShot::new(task, &job.loaded.seed_rows, config.rng_seed)),
        MethodArg::Curated => Box::new(Curated::new(
            task,
            judge.expect("the judge is trained for curated"),
            CurationThresholds::standard(),
            config.rng_seed,
        )),
    }
}

pub fn train_judge(job: &Job<'_>, encoder: &dyn genprompt_embed::Encoder) -> Result<Option<ProbeJudge>> {
    Ok(match job.method {
        MethodArg::Curated => Some(ProbeJudge::train(&job.loaded.seed_rows, encoder, job.config.rng_seed)?),
        _ => None,
    })
}

/// Runs the job's method and writes `dataset.jsonl`, `dataset.parquet`, `manifest.json` and the
/// dataset card into `out`. Replies and kept rows are journaled as they come, so an interrupted
/// run continues where it stopped when run again.
pub fn generate(job: &Job<'_>, progress: &Progress) -> Result<Generated> {
    check_method_flags(job.method, job.generation)?;
    let started = Instant::now();
    let (loaded, config, out) = (job.loaded, job.config, job.out);
    let task = &loaded.task;
    progress.step("loading models");
    let choice = LlmChoice::resolve(job.models, loaded.llm.as_ref());
    let llm = load_llm(job.models, &choice)?;
    let encoder = Timed::new(load_encoder(job.models)?);
    let load_s = started.elapsed().as_secs_f64();
    let judge = train_judge(job, &encoder)?;
    let mut method = build_method(job, judge.as_ref());
    let mut parameters = parameters(loaded, method.as_ref(), config);
    if let Some(engine) = crate::backends::engine_settings(job.models, &choice) {
        parameters.insert("engine".to_string(), engine);
    }
    let settings = run_settings(job, &parameters, llm.identity(), encoder.identity(), choice.base_url.as_deref());
    let out_existed = out.exists();
    let chat = open_chat(llm, choice.base_url.as_deref(), job.store, Some((out, &settings)), progress)?;
    let recorder = Recorder::new(&chat, progress, choice.prices);
    let result = run_method(task, &loaded.seed_rows, method.as_mut(), config, &chat, &encoder, &recorder);
    progress.clear();
    let failures = recorder.failures();
    if !failures.is_empty() {
        write_failures(out, &failures)?;
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) if err.is_bad_input() && chat.stats().requests == 0 => {
            // Nothing was asked yet: leave no trace of the run.
            drop(chat);
            let _ = std::fs::remove_dir_all(crate::run_store::journal_dir(out));
            if !out_existed {
                let _ = std::fs::remove_dir(out);
            }
            return Err(err.into());
        }
        Err(err) => {
            explain_stop(&err, out, &chat, &failures);
            return Err(err.into());
        }
    };

    let timings = Timings {
        total_s: started.elapsed().as_secs_f64(),
        load_s,
        generation_s: chat.inner().spent().as_secs_f64(),
        embedding_s: encoder.spent().as_secs_f64(),
    };
    let manifest =
        output::manifest(loaded, method.name(), parameters, config, &outcome, &chat, &encoder, &choice, timings);
    let dataset = output::write_dataset(loaded, out, &outcome, &manifest)?;
    Ok(Generated { dataset, manifest })
}

/// What identifies a run for its journal: a rerun with the same settings resumes it.
fn run_settings(
    job: &Job<'_>,
    parameters: &BTreeMap<String, Value>,
    llm: &genprompt_llm::ModelIdentity,
    encoder: &genprompt_embed::EncoderIdentity,
    base_url: Option<&str>,
) -> BTreeMap<String, String> {
    let loaded = job.loaded;
    [
        ("task_file_sha256", loaded.task_file_sha256.clone()),
        ("seed_rows_sha256", loaded.seed_rows_sha256.clone()),
        ("method", format!("{:?}", job.method)),
        ("parameters", json!(parameters).to_string()),
        ("n_per_label", job.config.n_per_label.to_string()),
        ("rng_seed", job.config.rng_seed.to_string()),
        ("llm", json!([llm.backend, base_url.unwrap_or_default(), llm.name, llm.sha256]).to_string()),
        ("encoder", json!([encoder.name, encoder.weights_sha256]).to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// Method and run parameters, as the manifest records them.
fn parameters(loaded: &LoadedTask, method: &dyn Method, config: &RunConfig) -> BTreeMap<String, Value> {
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
    parameters
}
