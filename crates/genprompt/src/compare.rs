//! Compare: several methods on one task with equal budgets and seeds, each evaluated on the same
//! test rows, and one self-contained HTML report. The LLM and the encoder are loaded once, and
//! every text is embedded once per compare (test rows, real rows, each method's rows).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use genprompt_data::write_json_atomic;
use genprompt_embed::Embeddings;
use genprompt_report::{Comparison, MethodResult, Pca2, ProjectedPoint, lineage_stats};

use crate::config::{GenerationSettings, NamedRows, RowSource, StoreConfig, TaskSource};
use crate::embed_cache::{CacheUse, CachedEncoder, EmbeddingCache};
use crate::eval::{EvalPlan, Metrics, Mix, embed_rows, evaluate_with, metrics_path};
use crate::generate::{Job, Loading, generate_with, replace_finished_run, run_config};
use crate::{Backends, CancelToken, Error, GeneticVariant, Method, Observer, ParentSelection, Result};

mod curve;
use curve::learning_curve;

/// The method names `compare` accepts: the methods, and the Genetic Prompt variants.
pub const COMPARE_METHODS: [&str; 10] = [
    "genetic",
    "simprompt",
    "attrprompt",
    "zeroshot",
    "fewshot",
    "curated",
    "genetic-random",
    "genetic-argmax",
    "genetic-no-mutation",
    "genetic-word-as-gene",
];

/// Everything one `compare` call needs.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    pub task: TaskSource,
    pub examples: Option<PathBuf>,
    /// Names from [`COMPARE_METHODS`].
    pub methods: Vec<String>,
    pub n_per_label: usize,
    /// Real rows to test on.
    pub test: RowSource,
    /// Real training rows: adds a "real data" reference and the label-faithfulness probe.
    pub real_train: Option<RowSource>,
    /// Output folder: report.html, plots/, metrics.json, and one folder per method.
    pub out: PathBuf,
    pub seed: u64,
    /// Probe runs per evaluation.
    pub runs: usize,
    pub settings: GenerationSettings,
    pub backends: Backends,
    pub store: StoreConfig,
}

impl CompareConfig {
    pub fn new(task: impl Into<TaskSource>, test: impl Into<RowSource>, n_per_label: usize) -> CompareConfig {
        CompareConfig {
            task: task.into(),
            examples: None,
            methods: ["genetic", "simprompt", "attrprompt", "genetic-random"].map(String::from).to_vec(),
            n_per_label,
            test: test.into(),
            real_train: None,
            out: PathBuf::from("genprompt-compare"),
            seed: 0,
            runs: 3,
            settings: GenerationSettings::default(),
            backends: Backends::default(),
            store: StoreConfig::default(),
        }
    }

    pub fn with_methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_real_train(mut self, rows: impl Into<RowSource>) -> Self {
        self.real_train = Some(rows.into());
        self
    }

    pub fn with_out(mut self, out: impl Into<PathBuf>) -> Self {
        self.out = out.into();
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn with_runs(mut self, runs: usize) -> Self {
        self.runs = runs;
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
}

/// What a compare produced.
#[derive(Clone, Debug)]
pub struct Compared {
    /// Metrics by method name, plus "real data" with real training rows.
    pub metrics: BTreeMap<String, Metrics>,
    /// `report.html` and the combined `metrics.json` in `out`.
    pub report: PathBuf,
    pub metrics_path: PathBuf,
}

impl Compared {
    /// The methods some of whose labels kept fewer rows than asked, with those labels.
    pub fn short_methods(&self) -> impl Iterator<Item = (&str, &[crate::ShortLabel])> {
        self.metrics
            .iter()
            .filter(|(_, m)| !m.short_labels.is_empty())
            .map(|(name, m)| (name.as_str(), &m.short_labels[..]))
    }
}

/// A method name of [`COMPARE_METHODS`] and the generation settings it stands for.
pub fn method_spec(name: &str, base: &GenerationSettings) -> Result<(Method, GenerationSettings)> {
    let mut settings = base.clone();
    let method = match name {
        "genetic-random" => {
            settings.parents = ParentSelection::Random;
            Method::Genetic
        }
        "genetic-argmax" => {
            settings.parents = ParentSelection::Argmax;
            Method::Genetic
        }
        "genetic-no-mutation" => {
            settings.variant = GeneticVariant::NoMutation;
            Method::Genetic
        }
        "genetic-word-as-gene" => {
            settings.variant = GeneticVariant::WordAsGene;
            Method::Genetic
        }
        other => Method::from_name(other)
            .ok_or_else(|| Error::bad_input(format!("unknown method \"{other}\" in --methods; see --help")))?,
    };
    Ok((method, settings))
}

pub fn compare(config: &CompareConfig, observer: &dyn Observer, cancel: &CancelToken) -> Result<Compared> {
    if config.n_per_label == 0 || config.runs == 0 {
        return Err(Error::bad_input("-n and --runs must be at least 1"));
    }
    config.store.check()?;
    let specs = config.methods.iter().map(|name| method_spec(name, &config.settings)).collect::<Result<Vec<_>>>()?;
    let loaded = config.task.load(config.examples.as_deref())?;
    let started = Instant::now();
    let encoder = config.backends.load_encoder()?;
    let cache = EmbeddingCache::default();
    let reuse = CachedEncoder { inner: &*encoder, cache: &cache, mode: CacheUse::Reuse };
    let record = CachedEncoder { inner: &*encoder, cache: &cache, mode: CacheUse::Record };
    let test = config.test.read("test rows")?;
    let real_train = config.real_train.as_ref().map(|rows| rows.read("real training rows")).transpose()?;
    let test_x = embed_rows(&test.rows, &reuse, "embed test", observer, cancel)?;
    let pca = Pca2::fit(&test_x.rows().collect::<Vec<_>>(), config.seed);
    let labels: Vec<String> = loaded.task.labels().iter().map(|l| l.name.clone()).collect();
    let test_y: Vec<usize> = test.rows.iter().map(|r| label_index(&labels, &r.label)).collect();
    let mut llm = None;
    let mut load_s = 0.0;

    let mut results = Vec::new();
    let mut all_metrics: BTreeMap<String, Metrics> = BTreeMap::new();
    for (name, (method, settings)) in config.methods.iter().zip(&specs) {
        observer.step(&format!("== {name}"));
        let method_started = Instant::now();
        let out = config.out.join("methods").join(name);
        let run_config = run_config(settings, &config.store, config.n_per_label, config.seed);
        replace_finished_run(&out)?;
        let job =
            Job { loaded: &loaded, method: *method, settings, config: &run_config, store: &config.store, out: &out };
        crate::generate::check_method_settings(*method, settings)?;
        if llm.is_none() {
            observer.step("loading models");
            llm = Some(config.backends.load_llm(loaded.llm.as_ref())?);
            load_s = started.elapsed().as_secs_f64();
        }
        let llm = llm.as_ref().expect("the LLM is loaded before the first method");
        // The first method's timings carry the loading of both models.
        let loading = Loading { started: method_started, load_s: std::mem::take(&mut load_s) };
        let generated = generate_with(&job, llm, &record, loading, observer, cancel)?;
        let rows = generated.named_rows()?;
        let mut metrics =
            evaluate_with(&plan(config, &rows, &test, real_train.as_ref(), Mix::Synthetic), &reuse, observer, cancel)?;
        metrics.short_labels = generated.manifest.short_labels.clone();
        if !metrics.short_labels.is_empty() {
            observer.notice(&format!(
                "{name}: {} label(s) got fewer rows than asked; its scores are not at the others' budget",
                metrics.short_labels.len()
            ));
        }
        write_json_atomic(&metrics_path(&out), &metrics)?;

        let synthetic_x = embed_rows(&rows.rows, &reuse, "embed rows", observer, cancel)?;
        let mut projection = project(&pca, &synthetic_x, rows.rows.iter().map(|r| r.label.clone()), false);
        projection.extend(project(&pca, &test_x, test.rows.iter().map(|r| r.label.clone()), true));
        let y: Vec<usize> = rows.rows.iter().map(|r| label_index(&labels, &r.label)).collect();
        let curve = learning_curve(&synthetic_x, &y, &test_x, &test_y, &labels, config.seed, config.runs);
        if let Some(error) = &curve.last_error {
            observer.notice(&format!(
                "{name}: {} learning-curve probe(s) could not be trained ({error}); their points average fewer runs",
                curve.failed
            ));
        }
        let learning_curve = curve.points;
        let dataset_values = rows.rows.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>()?;
        results.push(MethodResult {
            name: name.clone(),
            metrics: serde_json::to_value(&metrics)?,
            manifest: Some(serde_json::to_value(&generated.manifest)?),
            projection,
            learning_curve,
            lineage: (*method == Method::Genetic).then(|| lineage_stats(&dataset_values)),
        });
        all_metrics.insert(name.clone(), metrics);
    }
    // References, never ranked: the real rows every method started from (what the seeds alone
    // are worth), then the whole real training split when given (the paper's "gold").
    let seeds = seed_rows(&loaded);
    let mut references = Vec::new();
    // The seed rows are trained on as a method's rows are (`Mix::Synthetic`: train on `train`);
    // `Mix::Real` trains on the real training split.
    for (name, rows, mix) in
        [("real seed rows", seeds.as_ref(), Mix::Synthetic), ("real data", real_train.as_ref(), Mix::Real)]
    {
        let Some(rows) = rows else { continue };
        observer.step(&format!("== {name} (reference)"));
        let metrics = evaluate_with(&plan(config, rows, &test, real_train.as_ref(), mix), &reuse, observer, cancel)?;
        references.push(MethodResult {
            name: name.to_string(),
            metrics: serde_json::to_value(&metrics)?,
            ..Default::default()
        });
        all_metrics.insert(name.to_string(), metrics);
    }
    observer.cleared();
    let comparison = Comparison {
        task: loaded.task.name.clone(),
        generator: generator_name(&results),
        encoder: encoder.identity().to_string(),
        test_set: test.name.clone(),
        details: vec![
            ("rows per label".to_string(), config.n_per_label.to_string()),
            ("seed".to_string(), config.seed.to_string()),
            ("probe runs".to_string(), config.runs.to_string()),
        ],
        methods: results,
        references,
    };
    let files = genprompt_report::write_report(&comparison, &config.out)?;
    let metrics_file = metrics_path(&config.out);
    write_json_atomic(&metrics_file, &all_metrics)?;
    Ok(Compared { metrics: all_metrics, report: files.html, metrics_path: metrics_file })
}

/// The generator named in the report's header: the first method's model name itself, not its
/// JSON form (`Value::to_string` on a string keeps the quote marks).
fn generator_name(results: &[MethodResult]) -> String {
    let manifest = results.first().and_then(|r| r.manifest.as_ref());
    manifest.and_then(|m| m["llm"]["name"].as_str()).unwrap_or_default().to_string()
}

/// The seed rows of every label as training rows (none when the task has no seeds).
fn seed_rows(loaded: &genprompt_data::LoadedTask) -> Option<NamedRows> {
    let rows: Vec<genprompt_core::Row> = loaded
        .task
        .labels()
        .iter()
        .zip(&loaded.seed_rows)
        .flat_map(|(label, seeds)| {
            seeds.iter().map(|seed| genprompt_core::Row::new(seed.text.clone(), label.name.clone()))
        })
        .collect();
    (!rows.is_empty()).then(|| NamedRows { name: "the task's seed rows".to_string(), rows })
}

/// An evaluation of `train` against the compare's test rows.
fn plan<'a>(
    config: &CompareConfig,
    train: &'a NamedRows,
    test: &'a NamedRows,
    real_train: Option<&'a NamedRows>,
    mix: Mix,
) -> EvalPlan<'a> {
    EvalPlan { train, test, real_train, mix, runs: config.runs, rng_seed: config.seed, finetune: None, agreement: None }
}

fn label_index(labels: &[String], label: &str) -> usize {
    labels.iter().position(|l| l == label).unwrap_or(labels.len())
}

fn project(pca: &Pca2, x: &Embeddings, labels: impl Iterator<Item = String>, real: bool) -> Vec<ProjectedPoint> {
    x.rows()
        .zip(labels)
        .map(|(row, label)| {
            let (px, py) = pca.project(row);
            ProjectedPoint { x: px, y: py, label, real }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_header_names_the_generator_without_json_quote_marks() {
        let manifest = serde_json::json!({"llm": {"name": "qwen2.5-coder-0.5b"}});
        let result = MethodResult { name: "genetic".into(), manifest: Some(manifest), ..Default::default() };
        assert_eq!(generator_name(std::slice::from_ref(&result)), "qwen2.5-coder-0.5b");
        assert_eq!(generator_name(&[]), "", "no method, no generator");
        // The header of the written report, where the quote marks showed (escaped).
        let dir = tempfile::tempdir().unwrap();
        let comparison = Comparison {
            task: "t".into(),
            generator: generator_name(std::slice::from_ref(&result)),
            methods: vec![result],
            ..Default::default()
        };
        let files = genprompt_report::write_report(&comparison, dir.path()).unwrap();
        let html = std::fs::read_to_string(files.html).unwrap();
        assert!(html.contains("<li>generator <b>qwen2.5-coder-0.5b</b></li>"), "{html}");
    }
}
