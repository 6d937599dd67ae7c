//! The JSON requests the Python layer sends (`genprompt/_api.py`), turned into the facade's
//! configs. Every field is optional where the command line has a default, and unknown fields are
//! refused, so a misspelt keyword argument is bad input rather than silently ignored.

use std::path::PathBuf;

use genprompt::Row;
use genprompt::{
    Backends, CacheMode, Classifier, Cleaning, CompareConfig, EncoderConfig, EvalConfig, FinetuneOptions, GeneSchedule,
    GenerateConfig, GenerationSettings, GeneticVariant, LlmConfig, Method, Mix, ParentSelection, PoolUpdate, RowSource,
    ScheduleKind, StoreConfig, TaskSource,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Failure;

/// Parses a request, reporting unknown or mistyped arguments as bad input.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, Failure> {
    serde_json::from_str(json).map_err(|err| {
        let message = err.to_string();
        // serde_json appends where in the request text it stopped; the user never saw that text.
        let message = message.split(" at line ").next().unwrap_or(&message);
        Failure::BadInput(format!("invalid argument: {message}"))
    })
}

/// A task file's path, or a dict with its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum TaskArg {
    Path(PathBuf),
    Table(Value),
}

impl TaskArg {
    fn source(self) -> Result<TaskSource, Failure> {
        match self {
            TaskArg::Path(path) => Ok(TaskSource::Path(path)),
            // Messages name the dict `<task dict>`; a relative `[seeds].path` is taken relative
            // to the working directory.
            TaskArg::Table(table) => TaskSource::from_json(&table, "<task dict>").map_err(Failure::from),
        }
    }
}

/// Rows given by path, or in memory with a name for messages.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RowsArg {
    Path { path: PathBuf },
    Rows { rows: Vec<Value>, name: String },
}

impl RowsArg {
    fn source(self) -> Result<RowSource, Failure> {
        match self {
            RowsArg::Path { path } => Ok(RowSource::Path(path)),
            RowsArg::Rows { rows, name } => {
                let rows = rows
                    .into_iter()
                    .enumerate()
                    .map(|(idx, row)| {
                        serde_json::from_value::<Row>(row)
                            .map_err(|err| Failure::BadInput(format!("{name} row {}: {err}", idx + 1)))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(RowSource::Rows { name, rows })
            }
        }
    }
}

/// `genprompt.generate(...)`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    task: TaskArg,
    method: String,
    n_per_label: usize,
    examples: Option<PathBuf>,
    out: PathBuf,
    seed: u64,
    force: bool,
    settings: RunSettings,
}

/// `genprompt.compare(...)`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareRequest {
    task: TaskArg,
    methods: Vec<String>,
    n_per_label: usize,
    test: RowsArg,
    examples: Option<PathBuf>,
    real_train: Option<RowsArg>,
    out: PathBuf,
    seed: u64,
    runs: usize,
    settings: RunSettings,
}

/// The generation, model and store settings shared by generate and compare (keyword arguments).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    // How the method generates.
    parents: Option<String>,
    genes_schedule: Option<String>,
    ablation: Option<String>,
    pool_update: Option<String>,
    postprocess: Option<String>,
    near_duplicates: Option<f32>,
    #[serde(default)]
    keep_near_duplicates: bool,
    batch_size: Option<usize>,
    /// "steady" or "generational" (default: steady on endpoints, generational embedded).
    schedule: Option<String>,
    window: Option<usize>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    min_p: Option<f32>,
    repeat_penalty: Option<f32>,
    #[serde(default)]
    paper_sampling: bool,
    #[serde(default)]
    structured: bool,
    max_tokens: Option<u32>,
    // Which models.
    llm: Option<PathBuf>,
    /// One endpoint, or a list of endpoints serving the same model.
    base_url: Option<BaseUrls>,
    model: Option<String>,
    threads: Option<usize>,
    api_key_env: Option<String>,
    max_in_flight: Option<usize>,
    price_input: Option<f64>,
    price_output: Option<f64>,
    encoder: Option<PathBuf>,
    encoder_base_url: Option<String>,
    encoder_model: Option<String>,
    // The response cache and the run journal.
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    no_cache: bool,
    #[serde(default)]
    refresh_cache: bool,
    #[serde(default)]
    retry_failed: bool,
    max_failure_share: Option<f64>,
}

/// `genprompt.evaluate(...)`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    train: RowsArg,
    test: RowsArg,
    real_train: Option<RowsArg>,
    mix: String,
    classifier: String,
    runs: usize,
    seed: u64,
    out: Option<PathBuf>,
    epochs: Option<usize>,
    learning_rate: Option<f64>,
    batch_size: Option<usize>,
    max_length: Option<usize>,
    agreement_field: Option<String>,
    #[serde(default)]
    agreement_thresholds: Vec<f64>,
    encoder: Option<PathBuf>,
    encoder_base_url: Option<String>,
    encoder_model: Option<String>,
    api_key_env: Option<String>,
}

/// One of `options` by name; anything else is bad input listing them.
fn choose<T: Copy>(what: &str, value: &str, options: &[(&str, T)]) -> Result<T, Failure> {
    let wanted = value.replace('_', "-");
    options.iter().find(|(name, _)| *name == wanted).map(|(_, option)| *option).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        Failure::BadInput(format!("unknown {what} \"{value}\"; expected one of {}", names.join(", ")))
    })
}

pub fn method(name: &str) -> Result<Method, Failure> {
    let options: Vec<(&str, Method)> = Method::ALL.iter().map(|method| (method.name(), *method)).collect();
    choose("method", name, &options)
}

impl GenerateRequest {
    pub fn into_config(self) -> Result<GenerateConfig, Failure> {
        let mut config = GenerateConfig::new(self.task.source()?, self.n_per_label)
            .with_method(method(&self.method)?)
            .with_seed(self.seed)
            .with_out(self.out)
            .with_force(self.force)
            .with_settings(self.settings.generation()?)
            .with_backends(self.settings.backends())
            .with_store(self.settings.store()?);
        config.examples = self.examples;
        Ok(config)
    }
}

impl CompareRequest {
    pub fn into_config(self) -> Result<CompareConfig, Failure> {
        let mut config = CompareConfig::new(self.task.source()?, self.test.source()?, self.n_per_label)
            .with_methods(self.methods)
            .with_out(self.out)
            .with_seed(self.seed)
            .with_runs(self.runs)
            .with_settings(self.settings.generation()?)
            .with_backends(self.settings.backends())
            .with_store(self.settings.store()?);
        config.examples = self.examples;
        if let Some(real_train) = self.real_train {
            config = config.with_real_train(real_train.source()?);
        }
        Ok(config)
    }
}

impl RunSettings {
    pub fn generation(&self) -> Result<GenerationSettings, Failure> {
        let mut settings = GenerationSettings::default();
        if let Some(parents) = &self.parents {
            settings.parents = choose(
                "parents",
                parents,
                &[
                    ("active", ParentSelection::Active),
                    ("argmax", ParentSelection::Argmax),
                    ("random", ParentSelection::Random),
                ],
            )?;
        }
        if let Some(schedule) = &self.genes_schedule {
            settings.genes_schedule = choose(
                "genes_schedule",
                schedule,
                &[("paper", GeneSchedule::RandomPartition), ("code", GeneSchedule::Alternating)],
            )?;
        }
        if let Some(ablation) = &self.ablation {
            settings.variant = choose(
                "ablation",
                ablation,
                &[("no-mutation", GeneticVariant::NoMutation), ("word-as-gene", GeneticVariant::WordAsGene)],
            )?;
        }
        if let Some(update) = &self.pool_update {
            settings.pool_update = choose(
                "pool_update",
                update,
                &[("batch", PoolUpdate::PerBatch), ("offspring", PoolUpdate::PerOffspring)],
            )?;
        }
        if let Some(postprocess) = &self.postprocess {
            settings.cleaning =
                choose("postprocess", postprocess, &[("clean", Cleaning::Clean), ("raw", Cleaning::Raw)])?;
        }
        if let Some(threshold) = self.near_duplicates {
            settings.near_duplicates = Some(threshold);
        }
        if self.keep_near_duplicates {
            settings.near_duplicates = None;
        }
        if let Some(batch_size) = self.batch_size {
            settings.batch_size = batch_size.max(1);
        }
        if let Some(schedule) = &self.schedule {
            let kinds = [("steady", ScheduleKind::Steady), ("generational", ScheduleKind::Generational)];
            settings.schedule = Some(choose("schedule", schedule, &kinds)?);
        }
        settings.window = self.window.map(|window| window.max(1));
        settings.temperature = self.temperature;
        settings.top_p = self.top_p;
        settings.min_p = self.min_p;
        settings.repeat_penalty = self.repeat_penalty;
        settings.paper_sampling = self.paper_sampling;
        settings.structured = self.structured;
        if let Some(max_tokens) = self.max_tokens {
            settings.max_tokens = max_tokens;
        }
        Ok(settings)
    }

    pub fn backends(&self) -> Backends {
        let llm = LlmConfig {
            gguf: self.llm.clone(),
            threads: self.threads,
            base_url: self.base_url.as_ref().and_then(|urls| urls.first()),
            more_base_urls: self.base_url.as_ref().map(BaseUrls::rest).unwrap_or_default(),
            model: self.model.clone(),
            api_key_env: self.api_key_env.clone(),
            max_in_flight: self.max_in_flight,
            price_input: self.price_input,
            price_output: self.price_output,
        };
        let encoder = EncoderConfig {
            dir: self.encoder.clone(),
            base_url: self.encoder_base_url.clone(),
            model: self.encoder_model.clone(),
            api_key_env: self.api_key_env.clone(),
            max_in_flight: self.max_in_flight,
        };
        Backends::default().with_llm(llm).with_encoder(encoder)
    }

    pub fn store(&self) -> Result<StoreConfig, Failure> {
        if self.no_cache && self.refresh_cache {
            return Err(Failure::BadInput("no_cache and refresh_cache cannot be used together".to_string()));
        }
        let cache = match (self.no_cache, self.refresh_cache) {
            (true, _) => CacheMode::Off,
            (_, true) => CacheMode::Refresh,
            _ => CacheMode::Use,
        };
        // As on the command line, GENPROMPT_CACHE_DIR stands in for the argument.
        let cache_dir = self.cache_dir.clone().or_else(|| std::env::var_os("GENPROMPT_CACHE_DIR").map(PathBuf::from));
        let mut store = StoreConfig::default().with_cache(cache);
        store.cache_dir = cache_dir;
        store.retry_failed = self.retry_failed;
        if let Some(share) = self.max_failure_share {
            store.max_failure_share = share;
        }
        Ok(store)
    }
}

impl EvaluateRequest {
    pub fn into_config(self) -> Result<EvalConfig, Failure> {
        let mix = choose(
            "mix",
            &self.mix,
            &[
                ("synthetic", Mix::Synthetic),
                ("real", Mix::Real),
                ("fusion", Mix::Fusion),
                ("fusion-equal", Mix::FusionEqual),
            ],
        )?;
        let defaults = FinetuneOptions::default();
        let finetune = FinetuneOptions {
            epochs: self.epochs.unwrap_or(defaults.epochs),
            learning_rate: self.learning_rate.unwrap_or(defaults.learning_rate),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            max_length: self.max_length.unwrap_or(defaults.max_length),
        };
        let classifier = choose(
            "classifier",
            &self.classifier,
            &[("probe", Classifier::Probe), ("finetune", Classifier::Finetune(finetune))],
        )?;
        let encoder = EncoderConfig {
            dir: self.encoder,
            base_url: self.encoder_base_url,
            model: self.encoder_model,
            api_key_env: self.api_key_env,
            ..EncoderConfig::default()
        };
        let mut config = EvalConfig::new(self.train.source()?, self.test.source()?)
            .with_mix(mix)
            .with_classifier(classifier)
            .with_runs(self.runs)
            .with_seed(self.seed)
            .with_backends(Backends::default().with_encoder(encoder));
        if let Some(real_train) = self.real_train {
            config = config.with_real_train(real_train.source()?);
        }
        if let Some(out) = self.out {
            config = config.with_out(out);
        }
        if let Some(field) = self.agreement_field {
            config = config.with_agreement(genprompt::Agreement { field, thresholds: self.agreement_thresholds });
        } else if !self.agreement_thresholds.is_empty() {
            return Err(Failure::BadInput("agreement_thresholds needs agreement_field".to_string()));
        }
        Ok(config)
    }
}

/// `base_url="http://..."` or `base_url=["http://a/v1", "http://b/v1"]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum BaseUrls {
    One(String),
    Several(Vec<String>),
}

impl BaseUrls {
    fn first(&self) -> Option<String> {
        match self {
            BaseUrls::One(url) => Some(url.clone()),
            BaseUrls::Several(urls) => urls.first().cloned(),
        }
    }

    fn rest(&self) -> Vec<String> {
        match self {
            BaseUrls::One(_) => Vec::new(),
            BaseUrls::Several(urls) => urls.iter().skip(1).cloned().collect(),
        }
    }
}
