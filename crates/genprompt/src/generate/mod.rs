//! Generation: a task, a method and settings in; `dataset.jsonl`, `dataset.parquet`,
//! `manifest.json` and a dataset card out. Replies and kept rows are journaled as they come, so an
//! interrupted run continues where it stopped when run again with the same settings.

use std::path::{Path, PathBuf};
use std::time::Instant;

use genprompt_core::{Manifest, Row, Timings};
use genprompt_data::{DataError, LoadedTask};
use genprompt_embed::Encoder;
use genprompt_methods::{RunConfig, run_method};

use crate::backends::{EncoderRef, LoadedLlm, SharedChat, Timed};
use crate::config::{GenerationSettings, StoreConfig, TaskSource};
use crate::run_store::{FailedItem, Recorder, journal_dir, open_chat};
use crate::{Backends, CancelToken, Error, Method, Observer, Result};

mod method;
mod output;
pub(crate) use method::{build_method, check_method_settings, run_config, train_judge, with_model_sampling};

/// Everything one `generate` call needs.
#[derive(Clone, Debug)]
pub struct GenerateConfig {
    pub task: TaskSource,
    /// Real labelled rows (JSONL) that seed the pools instead of the task's `[seeds].path`.
    pub examples: Option<PathBuf>,
    pub method: Method,
    /// Rows to keep per label.
    pub n_per_label: usize,
    /// The same seed, task, seed rows and model give the same dataset.
    pub seed: u64,
    /// Output folder for the dataset files and the manifest.
    pub out: PathBuf,
    /// Replace a finished dataset in `out`, or start an unfinished run there over.
    pub force: bool,
    pub settings: GenerationSettings,
    pub backends: Backends,
    pub store: StoreConfig,
}

impl Default for GenerateConfig {
    fn default() -> GenerateConfig {
        GenerateConfig {
            task: TaskSource::default(),
            examples: None,
            method: Method::Genetic,
            n_per_label: 0,
            seed: 0,
            out: PathBuf::from("genprompt-out"),
            force: false,
            settings: GenerationSettings::default(),
            backends: Backends::default(),
            store: StoreConfig::default(),
        }
    }
}

impl GenerateConfig {
    pub fn new(task: impl Into<TaskSource>, n_per_label: usize) -> GenerateConfig {
        GenerateConfig { task: task.into(), n_per_label, ..GenerateConfig::default() }
    }

    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    pub fn with_examples(mut self, examples: impl Into<PathBuf>) -> Self {
        self.examples = Some(examples.into());
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn with_out(mut self, out: impl Into<PathBuf>) -> Self {
        self.out = out.into();
        self
    }

    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    pub fn with_settings(mut self, settings: GenerationSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn with_backends(mut self, backends: Backends) -> Self {
        self.backends = backends;
        self
    }

    pub fn with_store(mut self, store: StoreConfig) -> Self {
        self.store = store;
        self
    }

    /// Checks the numbers, reads the task and builds the run configuration.
    pub(crate) fn prepare(&self) -> Result<(LoadedTask, RunConfig)> {
        if self.n_per_label == 0 {
            return Err(Error::bad_input("-n must be at least 1"));
        }
        self.store.check()?;
        let loaded = self.task.load(self.examples.as_deref())?;
        let config = run_config(&self.settings, &self.store, self.n_per_label, self.seed);
        Ok((loaded, config))
    }

    /// The job `prepare`'s results describe, writing to `out`.
    pub(crate) fn job<'a>(&'a self, loaded: &'a LoadedTask, config: &'a RunConfig) -> Job<'a> {
        Job { loaded, method: self.method, settings: &self.settings, config, store: &self.store, out: &self.out }
    }
}

/// What a finished generation left behind.
#[derive(Clone, Debug)]
pub struct Generated {
    pub out: PathBuf,
    /// `dataset.jsonl` in `out`.
    pub dataset: PathBuf,
    pub manifest: Manifest,
    /// The rows of `dataset.jsonl`: text, label, id, lineage, truncated.
    pub rows: Vec<Row>,
    /// Requests that failed after their retries (also in `failed.jsonl`).
    pub failures: Vec<FailedItem>,
}

/// Generates a dataset into `config.out`: loads the models, runs the method label by label, and
/// writes the files. `cancel` stops it between batches with [`Error::Interrupted`].
pub fn generate(config: &GenerateConfig, observer: &dyn Observer, cancel: &CancelToken) -> Result<Generated> {
    let (loaded, run_config) = config.prepare()?;
    prepare_out_dir(&config.out, config.force)?;
    let job = config.job(&loaded, &run_config);
    check_method_settings(job.method, job.settings)?;
    let started = Instant::now();
    observer.step("loading models");
    let llm = config.backends.load_llm(loaded.llm.as_ref())?;
    let encoder = config.backends.load_encoder()?;
    let load_s = started.elapsed().as_secs_f64();
    generate_with(&job, &llm, &*encoder, Loading { started, load_s }, observer, cancel)
}

/// One generation inside a command (`generate`, `compare`, `quickstart`).
pub(crate) struct Job<'a> {
    pub loaded: &'a LoadedTask,
    pub method: Method,
    pub settings: &'a GenerationSettings,
    pub config: &'a RunConfig,
    pub store: &'a StoreConfig,
    pub out: &'a Path,
}

/// When the job started and how long it spent loading models, for the manifest's timings.
#[derive(Clone, Copy)]
pub(crate) struct Loading {
    pub started: Instant,
    pub load_s: f64,
}

/// Runs a job on engines the command already loaded.
pub(crate) fn generate_with(
    job: &Job<'_>,
    llm: &LoadedLlm,
    encoder: &dyn Encoder,
    loading: Loading,
    observer: &dyn Observer,
    cancel: &CancelToken,
) -> Result<Generated> {
    check_method_settings(job.method, job.settings)?;
    let (resolved, sampling_source) = with_model_sampling(job.config, job.settings, llm.catalogue);
    let job = &Job { config: &resolved, ..*job };
    let (loaded, out) = (job.loaded, job.out);
    let choice = &llm.choice;
    let config = &RunConfig { schedule: method::schedule(job.settings, choice), ..job.config.clone() };
    let encoder = Timed::new(EncoderRef(encoder));
    let judge = train_judge(job, &encoder)?;
    let mut method = build_method(job, judge.as_ref())?;
    let mut parameters = method::parameters(loaded, method.as_ref(), config);
    if let Some(engine) = &llm.engine {
        parameters.insert("engine".to_string(), engine.clone());
    }
    parameters.insert("sampling_defaults".to_string(), sampling_source.into());
    if let Some(spec) = llm.catalogue {
        parameters.insert("llm_catalogue_name".to_string(), spec.name.into());
    }
    let base_url = choice.base_url.as_deref();
    let settings = method::run_settings(job, &parameters, llm.model.identity(), encoder.identity(), base_url);
    let out_existed = out.exists();
    let chat = open_chat(SharedChat(llm.model.clone()), base_url, job.store, Some((out, &settings)), observer)?;
    let recorder = Recorder::new(&chat, observer, cancel, choice.prices);
    let result = run_method(&loaded.task, &loaded.seed_rows, method.as_mut(), config, &chat, &encoder, &recorder);
    observer.cleared();
    let failures = recorder.failures();
    if !failures.is_empty() {
        output::write_failures(out, &failures)?;
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) if err.is_bad_input() && chat.stats().requests == 0 => {
            // Nothing was asked yet: leave no trace of the run.
            drop(chat);
            let _ = std::fs::remove_dir_all(journal_dir(out));
            if !out_existed {
                let _ = std::fs::remove_dir(out);
            }
            return Err(err.into());
        }
        Err(err) => {
            if let Some(notice) = output::stop_notice(&err, out, &chat, &failures) {
                observer.notice(&notice);
            }
            return Err(err.into());
        }
    };

    let timings = Timings {
        total_s: loading.started.elapsed().as_secs_f64(),
        load_s: loading.load_s,
        generation_s: chat.inner().spent().as_secs_f64(),
        embedding_s: encoder.spent().as_secs_f64(),
    };
    let facts =
        output::RunFacts { method: method.name(), parameters, config, chat: &chat, encoder: &encoder, choice, timings };
    let manifest = output::manifest(loaded, &outcome, facts);
    let (dataset, rows) = output::write_dataset(loaded, out, &outcome, &manifest)?;
    Ok(Generated { out: out.to_path_buf(), dataset, manifest, rows, failures })
}

/// Refuses to overwrite a finished dataset unless asked to. The manifest is written last, so a
/// folder without one holds an unfinished run, which the next run continues.
pub(crate) fn check_out_dir(out: &Path, force: bool) -> Result<()> {
    if out.join("manifest.json").exists() && !force {
        return Err(Error::bad_input(format!(
            "{} holds a finished dataset; pass --force to replace it or choose another --out",
            out.display()
        )));
    }
    Ok(())
}

/// Refuses to overwrite a finished dataset unless asked to. With `force`, forgets the finished
/// run (its manifest) and any unfinished run's journal, so the run starts over; the shared cache
/// still answers what it knows.
pub(crate) fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    check_out_dir(out, force)?;
    if force {
        let manifest = out.join("manifest.json");
        if manifest.exists() {
            std::fs::remove_file(&manifest).map_err(|source| DataError::io(&manifest, source))?;
        }
        let journal_dir = journal_dir(out);
        if journal_dir.exists() {
            std::fs::remove_dir_all(&journal_dir).map_err(|source| DataError::io(&journal_dir, source))?;
        }
    }
    Ok(())
}

/// For commands that rewrite their output (quickstart, compare): a finished run in `out` is
/// replaced, an unfinished one continues.
pub(crate) fn replace_finished_run(out: &Path) -> Result<()> {
    prepare_out_dir(out, out.join("manifest.json").exists())
}

impl Generated {
    /// The dataset as evaluation input; an empty dataset is refused as evaluating it would be.
    pub(crate) fn named_rows(&self) -> Result<crate::config::NamedRows> {
        let name = self.dataset.display().to_string();
        if self.rows.is_empty() {
            return Err(Error::bad_input(format!("{name} has no rows")));
        }
        Ok(crate::config::NamedRows { name, rows: self.rows.clone() })
    }
}
