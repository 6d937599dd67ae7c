//! The plain settings every flow shares: which method, how it generates, where the task and rows
//! come from, and how the response cache and the run journal are used. Defaults are the CLI's.

use std::path::{Path, PathBuf};

use genprompt_core::Row;
use genprompt_data::LoadedTask;
use genprompt_methods::SamplingConfig;
pub use genprompt_methods::{Cleaning, GeneSchedule, GeneticVariant, ParentSelection, PoolUpdate};
pub use genprompt_store::CacheMode;

use crate::{Error, Result};

/// A generation method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// Genetic Prompt (Han et al. 2025).
    #[default]
    Genetic,
    /// SimPrompt: class-conditional prompt and 2 random real examples.
    SimPrompt,
    /// AttrPrompt: one value per attribute from the task's `[attributes]` lists.
    AttrPrompt,
    /// Zero-shot (Li et al. 2023).
    ZeroShot,
    /// Few-shot (Li et al. 2023).
    FewShot,
    /// Curated LLM (Seedat et al. 2024): SimPrompt, keeping rows that probes trained on the real
    /// seed rows label confidently.
    Curated,
}

impl Method {
    pub const ALL: [Method; 6] =
        [Method::Genetic, Method::SimPrompt, Method::AttrPrompt, Method::ZeroShot, Method::FewShot, Method::Curated];

    /// The name used on the command line and in Python (`"genetic"`, `"simprompt"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Method::Genetic => "genetic",
            Method::SimPrompt => "simprompt",
            Method::AttrPrompt => "attrprompt",
            Method::ZeroShot => "zeroshot",
            Method::FewShot => "fewshot",
            Method::Curated => "curated",
        }
    }

    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|method| method.name() == name)
    }

    /// How run journals name the method; changing it would refuse to resume older runs.
    pub(crate) fn journal_name(self) -> &'static str {
        match self {
            Method::Genetic => "Genetic",
            Method::SimPrompt => "Simprompt",
            Method::AttrPrompt => "Attrprompt",
            Method::ZeroShot => "Zeroshot",
            Method::FewShot => "Fewshot",
            Method::Curated => "Curated",
        }
    }
}

/// The generation schedule; see `genprompt_methods::Schedule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Batches with a barrier (the paper's): same seed, same bytes on the embedded engine.
    Generational,
    /// Every label at once, a window of requests always in flight, each reply used as it
    /// arrives: keeps endpoints busy.
    Steady,
}

/// How a method generates; the defaults reproduce the paper.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerationSettings {
    pub parents: ParentSelection,
    pub genes_schedule: GeneSchedule,
    /// Genetic Prompt ablations; only Genetic Prompt accepts anything but `Full`.
    pub variant: GeneticVariant,
    pub pool_update: PoolUpdate,
    pub cleaning: Cleaning,
    /// Drop a row whose cosine similarity to a kept row of its label reaches this; `None` keeps
    /// near duplicates (exact ones are still dropped when cleaning).
    pub near_duplicates: Option<f32>,
    /// Prompts per batch on the generational schedule; the pool is updated after each batch.
    pub batch_size: usize,
    /// When replies are used: `None` chooses per backend (steady for endpoints, generational for
    /// the embedded engine, whose replies depend on their batch-mates).
    pub schedule: Option<ScheduleKind>,
    /// Requests always submitted on the steady schedule (default: `max_in_flight` times the
    /// number of endpoints).
    pub window: Option<usize>,
    /// Sampling. Each `None` takes the LLM's catalogue default (see `genprompt models list`), or
    /// the paper's (temperature 1, top_p 1, min_p and repetition penalty off) for other models or
    /// with `paper_sampling`.
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    /// The paper's sampling for every setting left `None`, whatever the model.
    pub paper_sampling: bool,
    /// Ask for `{"text": ...}` under a JSON schema instead of free text.
    pub structured: bool,
    /// Most tokens per generated text.
    pub max_tokens: u32,
}

impl Default for GenerationSettings {
    fn default() -> GenerationSettings {
        GenerationSettings {
            parents: ParentSelection::Active,
            genes_schedule: GeneSchedule::RandomPartition,
            variant: GeneticVariant::Full,
            pool_update: PoolUpdate::PerBatch,
            cleaning: Cleaning::Clean,
            near_duplicates: Some(0.95),
            batch_size: 20,
            schedule: None,
            window: None,
            temperature: None,
            top_p: None,
            min_p: None,
            repeat_penalty: None,
            paper_sampling: false,
            structured: false,
            max_tokens: 256,
        }
    }
}

impl GenerationSettings {
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// The sampling of a run on `model` (its catalogue entry, if it has one), and where the
    /// values not given come from: the model's name, or "paper".
    pub fn sampling_for(&self, model: Option<&genprompt_models::ModelSpec>) -> (SamplingConfig, String) {
        let defaults = model.and_then(|spec| spec.sampling.map(|s| (spec.name, s))).filter(|_| !self.paper_sampling);
        let (source, base) = match defaults {
            Some((name, s)) => (name.to_string(), (s.temperature, s.top_p, s.min_p, s.repeat_penalty)),
            None => ("paper".to_string(), (1.0, 1.0, 0.0, 1.0)),
        };
        let sampling = SamplingConfig {
            temperature: self.temperature.unwrap_or(base.0),
            top_p: self.top_p.unwrap_or(base.1),
            min_p: self.min_p.unwrap_or(base.2),
            repeat_penalty: self.repeat_penalty.unwrap_or(base.3),
            max_tokens: self.max_tokens,
        };
        (sampling, source)
    }

    pub fn with_parents(mut self, parents: ParentSelection) -> Self {
        self.parents = parents;
        self
    }

    pub fn with_variant(mut self, variant: GeneticVariant) -> Self {
        self.variant = variant;
        self
    }
}

/// The shared response cache and the run journal.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Folder of the shared response cache; `None`: `GENPROMPT_HOME/cache`.
    pub cache_dir: Option<PathBuf>,
    pub cache: CacheMode,
    /// Send again the requests that failed earlier in this run; without it a resumed run replays
    /// them as failures, so it takes the same course as before.
    pub retry_failed: bool,
    /// Stop the run when more than this share of LLM calls fail after their retries.
    pub max_failure_share: f64,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig { cache_dir: None, cache: CacheMode::Use, retry_failed: false, max_failure_share: 0.2 }
    }
}

impl StoreConfig {
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    pub fn with_cache(mut self, cache: CacheMode) -> Self {
        self.cache = cache;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.max_failure_share) {
            return Err(Error::bad_input(format!(
                "--max-failure-share must be between 0 and 1, got {}",
                self.max_failure_share
            )));
        }
        Ok(())
    }
}

/// Where a task comes from: a task file, or the same TOML held in memory.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskSource {
    Path(PathBuf),
    /// `origin` names the task in messages (`origin:line:col: ...`); a relative `[seeds].path`
    /// is taken relative to its folder.
    Toml {
        text: String,
        origin: PathBuf,
    },
}

impl Default for TaskSource {
    fn default() -> TaskSource {
        TaskSource::Path(PathBuf::from("task.toml"))
    }
}

impl TaskSource {
    /// A task given as a JSON object with the task file's keys (what Python passes as a dict).
    pub fn from_json(value: &serde_json::Value, origin: impl Into<PathBuf>) -> Result<TaskSource> {
        let origin = origin.into();
        let text = toml::to_string(value).map_err(|err| {
            Error::bad_input(format!("{}: the task cannot be written as a task file: {err}", origin.display()))
        })?;
        Ok(TaskSource::Toml { text, origin })
    }

    /// Reads and checks the task; `examples` replaces its `[seeds].path`.
    pub fn load(&self, examples: Option<&Path>) -> Result<LoadedTask> {
        Ok(match self {
            TaskSource::Path(path) => genprompt_data::load_task(path, examples)?,
            TaskSource::Toml { text, origin } => genprompt_data::load_task_text(origin, text, examples)?,
        })
    }

    /// The path the task is known by (the file, or the in-memory task's origin).
    pub fn path(&self) -> &Path {
        match self {
            TaskSource::Path(path) => path,
            TaskSource::Toml { origin, .. } => origin,
        }
    }
}

impl From<PathBuf> for TaskSource {
    fn from(path: PathBuf) -> TaskSource {
        TaskSource::Path(path)
    }
}

impl From<&Path> for TaskSource {
    fn from(path: &Path) -> TaskSource {
        TaskSource::Path(path.to_path_buf())
    }
}

impl From<&str> for TaskSource {
    fn from(path: &str) -> TaskSource {
        TaskSource::Path(PathBuf::from(path))
    }
}

/// Labelled rows for evaluation: a JSONL file, or rows in memory with a name for reports.
#[derive(Clone, Debug, PartialEq)]
pub enum RowSource {
    Path(PathBuf),
    Rows { name: String, rows: Vec<Row> },
}

impl RowSource {
    /// How metrics files and reports name these rows: the path, or the given name.
    pub fn name(&self) -> String {
        match self {
            RowSource::Path(path) => path.display().to_string(),
            RowSource::Rows { name, .. } => name.clone(),
        }
    }

    /// The rows; an empty set is bad input. `what` says which set, for messages.
    pub(crate) fn read(&self, what: &str) -> Result<NamedRows> {
        let rows = match self {
            RowSource::Path(path) => {
                use crate::error::ResultExt;
                genprompt_data::read_rows(path).with_context(|| format!("cannot read {what} {}", path.display()))?
            }
            RowSource::Rows { rows, .. } => rows.clone(),
        };
        if rows.is_empty() {
            return Err(Error::bad_input(format!("{} has no rows", self.name())));
        }
        for (idx, row) in rows.iter().enumerate() {
            if row.text.trim().is_empty() || row.label.trim().is_empty() {
                return Err(Error::bad_input(format!("{} row {}: empty \"text\" or \"label\"", self.name(), idx + 1)));
            }
        }
        Ok(NamedRows { name: self.name(), rows })
    }
}

impl From<PathBuf> for RowSource {
    fn from(path: PathBuf) -> RowSource {
        RowSource::Path(path)
    }
}

impl From<&Path> for RowSource {
    fn from(path: &Path) -> RowSource {
        RowSource::Path(path.to_path_buf())
    }
}

impl From<&str> for RowSource {
    fn from(path: &str) -> RowSource {
        RowSource::Path(PathBuf::from(path))
    }
}

/// Rows read once, with the name metrics give them.
#[derive(Clone, Debug)]
pub(crate) struct NamedRows {
    pub name: String,
    pub rows: Vec<Row>,
}
