//! Quickstart: the whole loop on a small shipped task, from a fresh machine: fetch the models,
//! write the example task, generate with Genetic Prompt, and evaluate on real test rows.

use std::path::{Path, PathBuf};
use std::time::Instant;

use genprompt_data::{DataError, write_json_atomic};
use genprompt_models::Home;

use crate::config::{GenerationSettings, RowSource, StoreConfig};
use crate::embed_cache::{CacheUse, CachedEncoder, EmbeddingCache};
use crate::eval::{EvalPlan, Metrics, Mix, evaluate_with, metrics_path};
use crate::generate::{Generated, Job, Loading, generate_with, replace_finished_run, run_config};
use crate::{Backends, CancelToken, Method, Observer, Result, TaskSource};

/// The example task ships inside the library so the quickstart works from any folder.
const TASK: &str = include_str!("../../../examples/quickstart/task.toml");
const SEEDS: &str = include_str!("../../../examples/quickstart/seeds.jsonl");
const TEST: &str = include_str!("../../../examples/quickstart/test.jsonl");

#[derive(Clone, Debug)]
pub struct QuickstartConfig {
    /// Where to write the example task, the dataset and the metrics.
    pub out: PathBuf,
    pub n_per_label: usize,
    pub seed: u64,
    pub store: StoreConfig,
    pub backends: Backends,
}

impl Default for QuickstartConfig {
    fn default() -> QuickstartConfig {
        QuickstartConfig {
            out: PathBuf::from("genprompt-quickstart"),
            n_per_label: 8,
            seed: 42,
            store: StoreConfig::default(),
            backends: Backends::default(),
        }
    }
}

/// What the quickstart produced.
#[derive(Clone, Debug)]
pub struct Quickstart {
    pub generated: Generated,
    /// A probe trained on the generated rows, and one trained on the real seed rows.
    pub synthetic: Metrics,
    pub real: Metrics,
    /// The files written, for the user to open.
    pub files: Vec<PathBuf>,
}

pub fn quickstart(config: &QuickstartConfig, observer: &dyn Observer, cancel: &CancelToken) -> Result<Quickstart> {
    let backends = &config.backends;
    // The default models, and a catalogue model given by name, are fetched if missing.
    let mut needed = Vec::new();
    let llm = backends
        .llm
        .gguf
        .as_ref()
        .map(|path| path.to_string_lossy().into_owned())
        .or_else(|| std::env::var("GENPROMPT_LLM").ok().filter(|value| !value.trim().is_empty()));
    match llm.as_deref().map(genprompt_models::find) {
        Some(Some(spec)) if spec.kind == genprompt_models::ModelKind::Llm => needed.push(*spec),
        None if backends.llm.base_url.is_none() => needed.push(genprompt_models::DEFAULT_LLM),
        _ => {}
    }
    if backends.encoder.dir.is_none() {
        needed.push(genprompt_models::DEFAULT_ENCODER);
    }
    if !needed.is_empty() {
        let home = Home::from_env()?;
        if crate::models::any_missing(&home, &needed) {
            observer.step("[1/4] fetching the models");
        } else {
            observer.step("[1/4] models present");
        }
        crate::models::fetch_specs(&home, &needed, observer)?;
    }

    let out = &config.out;
    observer.step(&format!("[2/4] writing the example task to {}", out.display()));
    for (name, text) in [("task.toml", TASK), ("seeds.jsonl", SEEDS), ("test.jsonl", TEST)] {
        write_file(&out.join(name), text)?;
    }
    let loaded = TaskSource::Path(out.join("task.toml")).load(None)?;

    observer.step(&format!(
        "[3/4] Genetic Prompt: {} offspring per label for {} labels with {}",
        config.n_per_label,
        loaded.task.labels().len(),
        match &backends.llm.base_url {
            Some(url) => format!("{} at {url}", backends.llm.model.as_deref().unwrap_or("the endpoint's model")),
            None => llm.unwrap_or_else(|| genprompt_models::DEFAULT_LLM.name.to_string()),
        }
    ));
    // Paper settings, except a short length cap (these are one-paragraph messages) and batches
    // that match the engine's parallel sequences.
    let settings = GenerationSettings { batch_size: 8, max_tokens: 96, ..GenerationSettings::default() };
    let run_config = run_config(&settings, &config.store, config.n_per_label, config.seed);
    replace_finished_run(out)?;
    let job = Job {
        loaded: &loaded,
        method: Method::Genetic,
        settings: &settings,
        config: &run_config,
        store: &config.store,
        out,
    };
    let started = Instant::now();
    observer.step("loading models");
    // The quickstart is a first run on an otherwise idle machine: the embedded model gets every
    // core (the library's default leaves one free, which halves a 2-core machine).
    let mut backends = backends.clone();
    if backends.llm.threads.is_none() {
        backends.llm.threads = std::thread::available_parallelism().ok().map(|n| n.get());
    }
    let llm = backends.load_llm(loaded.llm.as_ref())?;
    let encoder = backends.load_encoder()?;
    let cache = EmbeddingCache::default();
    let record = CachedEncoder { inner: &*encoder, cache: &cache, mode: CacheUse::Record };
    let loading = Loading { started, load_s: started.elapsed().as_secs_f64() };
    let generated = generate_with(&job, &llm, &record, loading, observer, cancel)?;

    observer.step("[4/4] evaluating on real test rows (probe: frozen encoder + logistic regression)");
    let reuse = CachedEncoder { inner: &*encoder, cache: &cache, mode: CacheUse::Reuse };
    let seeds = RowSource::Path(out.join("seeds.jsonl")).read("real training rows")?;
    let test = RowSource::Path(out.join("test.jsonl")).read("test rows")?;
    let synthetic_rows = generated.named_rows()?;
    let plan = |train| EvalPlan {
        train,
        test: &test,
        real_train: Some(&seeds),
        mix: Mix::Synthetic,
        runs: 3,
        rng_seed: config.seed,
        finetune: None,
        agreement: None,
    };
    let synthetic = evaluate_with(&plan(&synthetic_rows), &reuse, observer, cancel)?;
    let real = evaluate_with(&plan(&seeds), &reuse, observer, cancel)?;
    write_json_atomic(&metrics_path(out), &synthetic)?;
    write_json_atomic(&out.join("metrics-real-seeds.json"), &real)?;
    let files = ["dataset.jsonl", "manifest.json", "metrics.json", "metrics-real-seeds.json", "task.toml"]
        .iter()
        .map(|name| out.join(name))
        .collect();
    Ok(Quickstart { generated, synthetic, real, files })
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DataError::io(dir, source))?;
    }
    std::fs::write(path, text).map_err(|source| DataError::io(path, source))?;
    Ok(())
}
