//! Evaluation: train classifiers on one set of rows, test them on real rows, and measure the
//! training set itself (diversity and fidelity). Writes `metrics.json` when asked to.

use std::path::PathBuf;

use genprompt_data::write_json_atomic;
use genprompt_embed::Encoder;
use genprompt_eval::{
    BootstrapConfig, IntrinsicConfig, Probe, ProbeConfig, bootstrap_f1, classification_report, intrinsic_report_with,
};

use crate::backends::encoder_info;
use crate::config::{NamedRows, RowSource};
use crate::{Backends, CancelToken, Error, Observer, Result};

mod agreement;
mod metrics;
mod training;

pub use agreement::{Agreement, AgreementCurve, AgreementSummary};
pub use metrics::{FinetuneSettings, METRICS_FORMAT_VERSION, MeanStd, Metrics, Summary, metrics_path};
pub(crate) use training::embed_rows;
pub use training::entity_tags;

/// Why `label_faithfulness` is null in metrics computed without real training rows.
pub const NO_FAITHFULNESS: &str = "label faithfulness is left out: it needs a probe trained on real training rows \
     (--real-train FILE), and a probe trained on the test rows would be scored on its own training data";

/// What the classifier is trained on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mix {
    /// The training rows only.
    #[default]
    Synthetic,
    /// The real training rows only (the upper bound).
    Real,
    /// Both together.
    Fusion,
    /// Both, with as many synthetic as real rows (the larger set subsampled with the seed).
    FusionEqual,
}

impl Mix {
    pub fn name(self) -> &'static str {
        match self {
            Mix::Synthetic => "synthetic",
            Mix::Real => "real",
            Mix::Fusion => "fusion",
            Mix::FusionEqual => "fusion-equal",
        }
    }
}

/// Fine-tuning settings (AdamW, constant learning rate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FinetuneOptions {
    pub epochs: usize,
    pub learning_rate: f64,
    pub batch_size: usize,
    /// Most tokens per text.
    pub max_length: usize,
}

impl Default for FinetuneOptions {
    fn default() -> FinetuneOptions {
        FinetuneOptions { epochs: 3, learning_rate: 5e-5, batch_size: 16, max_length: 128 }
    }
}

/// The classifier trained and tested.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Classifier {
    /// Frozen encoder and multinomial logistic regression (fast, any size).
    #[default]
    Probe,
    /// The whole encoder fine-tuned with a linear head on CPU (slow).
    Finetune(FinetuneOptions),
}

/// Everything one `evaluate` call needs.
#[derive(Clone, Debug)]
pub struct EvalConfig {
    /// Rows to train on (usually synthetic).
    pub train: RowSource,
    /// Real rows to test on.
    pub test: RowSource,
    /// Real training rows: for `Mix::Real` and the fusions, and for the label-faithfulness probe.
    pub real_train: Option<RowSource>,
    pub mix: Mix,
    pub classifier: Classifier,
    /// Training runs with seeds seed, seed+1, ...; scores are mean and std over them.
    pub runs: usize,
    pub seed: u64,
    /// Folder for `metrics.json`; `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Accuracy by annotator agreement of the test rows.
    pub agreement: Option<Agreement>,
    pub backends: Backends,
}

impl EvalConfig {
    pub fn new(train: impl Into<RowSource>, test: impl Into<RowSource>) -> EvalConfig {
        EvalConfig {
            train: train.into(),
            test: test.into(),
            real_train: None,
            mix: Mix::Synthetic,
            classifier: Classifier::Probe,
            runs: 3,
            seed: 0,
            out: None,
            agreement: None,
            backends: Backends::default(),
        }
    }

    pub fn with_real_train(mut self, rows: impl Into<RowSource>) -> Self {
        self.real_train = Some(rows.into());
        self
    }

    pub fn with_mix(mut self, mix: Mix) -> Self {
        self.mix = mix;
        self
    }

    pub fn with_classifier(mut self, classifier: Classifier) -> Self {
        self.classifier = classifier;
        self
    }

    pub fn with_runs(mut self, runs: usize) -> Self {
        self.runs = runs;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn with_out(mut self, out: impl Into<PathBuf>) -> Self {
        self.out = Some(out.into());
        self
    }

    pub fn with_agreement(mut self, agreement: Agreement) -> Self {
        self.agreement = Some(agreement);
        self
    }

    pub fn with_backends(mut self, backends: Backends) -> Self {
        self.backends = backends;
        self
    }
}

/// Trains and tests as `config` says and returns the metrics (also written to
/// `out/metrics.json` when `out` is set).
pub fn evaluate(config: &EvalConfig, observer: &dyn Observer, cancel: &CancelToken) -> Result<Metrics> {
    if config.mix != Mix::Synthetic && config.real_train.is_none() {
        return Err(Error::bad_input("--mix real and --mix fusion need --real-train FILE"));
    }
    if config.runs == 0 {
        return Err(Error::bad_input("--runs must be at least 1"));
    }
    if matches!(config.classifier, Classifier::Finetune(_)) && config.backends.encoder.base_url.is_some() {
        // Fine-tuning trains the local MiniLM, while metrics.json would name the endpoint's model.
        return Err(Error::bad_input(
            "--classifier finetune cannot fine-tune an --encoder-base-url endpoint (it trains the local MiniLM); \
             drop --encoder-base-url, or use --classifier probe",
        ));
    }
    let encoder = config.backends.load_encoder()?;
    let finetune = match config.classifier {
        Classifier::Probe => None,
        Classifier::Finetune(options) => {
            let mut finetune = genprompt_finetune::FinetuneConfig::standard();
            finetune.epochs = options.epochs;
            finetune.learning_rate = options.learning_rate;
            finetune.batch_size = options.batch_size;
            finetune.max_length = options.max_length;
            Some((config.backends.encoder_dir()?, finetune))
        }
    };
    let train = config.train.read("training rows")?;
    let test = config.test.read("test rows")?;
    let real_train = config.real_train.as_ref().map(|rows| rows.read("real training rows")).transpose()?;
    let plan = EvalPlan {
        train: &train,
        test: &test,
        real_train: real_train.as_ref(),
        mix: config.mix,
        runs: config.runs,
        rng_seed: config.seed,
        finetune,
        agreement: config.agreement.as_ref(),
    };
    let metrics = evaluate_with(&plan, &*encoder, observer, cancel)?;
    if let Some(out) = &config.out {
        write_json_atomic(&metrics_path(out), &metrics)?;
    }
    Ok(metrics)
}

/// An evaluation on rows already read, inside a command.
pub(crate) struct EvalPlan<'a> {
    pub train: &'a NamedRows,
    pub test: &'a NamedRows,
    pub real_train: Option<&'a NamedRows>,
    pub mix: Mix,
    pub runs: usize,
    pub rng_seed: u64,
    /// `None` trains probes; `Some` fine-tunes the encoder in this folder.
    pub finetune: Option<(PathBuf, genprompt_finetune::FinetuneConfig)>,
    pub agreement: Option<&'a Agreement>,
}

/// Trains probes (or fine-tunes) as `plan` says, tests them, and measures the training rows.
pub(crate) fn evaluate_with(
    plan: &EvalPlan<'_>,
    encoder: &dyn Encoder,
    observer: &dyn Observer,
    cancel: &CancelToken,
) -> Result<Metrics> {
    let (train_rows, test_rows) = (&plan.train.rows, &plan.test.rows);
    let real_rows = plan.real_train.map(|rows| &rows.rows);
    let agreement_values = plan
        .agreement
        .map(|agreement| agreement::agreement_values(test_rows, &agreement.field, &plan.test.name))
        .transpose()?;
    // Label order: first appearance in the test rows, then labels only training rows have.
    let mut labels: Vec<String> = Vec::new();
    for row in test_rows.iter().chain(train_rows).chain(real_rows.into_iter().flatten()) {
        if !labels.contains(&row.label) {
            labels.push(row.label.clone());
        }
    }
    let train_x = embed_rows(train_rows, encoder, "embed train", observer, cancel)?;
    let test_x = embed_rows(test_rows, encoder, "embed test", observer, cancel)?;
    let real_x = real_rows.map(|rows| embed_rows(rows, encoder, "embed real", observer, cancel)).transpose()?;
    observer.cleared();
    let fit = training::fit_set(plan, &labels, &train_x, real_x.as_ref())?;
    let test_y = training::label_indices(&labels, test_rows);
    let (mut runs, mut run_predictions) = (Vec::new(), Vec::new());
    let base_config = ProbeConfig { rng_seed: plan.rng_seed, ..ProbeConfig::standard() };
    let mut finetune_settings = None;
    for run in 0..plan.runs {
        cancel.check()?;
        let rng_seed = genprompt_core::run_seed(plan.rng_seed, run);
        let predictions = match &plan.finetune {
            None => {
                let config = ProbeConfig { rng_seed, ..base_config.clone() };
                Probe::train(&fit.x, &fit.y, labels.len(), &config)?.predict(&test_x)
            }
            Some((model_dir, config)) => {
                let mut config = config.clone();
                config.rng_seed = rng_seed;
                config.special_tokens = entity_tags(&fit.texts);
                finetune_settings.get_or_insert_with(|| FinetuneSettings {
                    learning_rate: config.learning_rate,
                    epochs: config.epochs,
                    batch_size: config.batch_size,
                    max_length: config.max_length,
                    weight_decay: config.weight_decay,
                    special_tokens: config.special_tokens.clone(),
                });
                let label = format!("fine-tune {}/{}", run + 1, plan.runs);
                observer.counter_started(&label, 0);
                let mut on_step = |step: usize, n_steps: usize, loss: f32| {
                    observer.counter_updated(step as u64, &format!("of {n_steps} steps, loss {loss:.3}"));
                };
                let classifier = genprompt_finetune::TextClassifier::train(
                    model_dir,
                    &fit.texts,
                    &fit.y,
                    labels.len(),
                    &config,
                    &mut on_step,
                )?;
                observer.cleared();
                let test_texts: Vec<&str> = test_rows.iter().map(|row| row.text.as_str()).collect();
                classifier.predict(&test_texts)?
            }
        };
        runs.push(classification_report(&labels, &test_y, &predictions));
        run_predictions.push(predictions);
    }
    let bootstrap = bootstrap_f1(labels.len(), &test_y, &run_predictions, &BootstrapConfig::standard(plan.rng_seed))?;
    let agreement = plan.agreement.zip(agreement_values.as_deref()).map(|(agreement, values)| {
        agreement::agreement_curve(&agreement.field, values, &agreement.thresholds, &test_y, &run_predictions)
    });

    // Faithfulness needs a probe trained on real training rows; never on the test rows it is
    // scored against, so without --real-train it is left out and the metrics say why.
    let train_y = training::label_indices(&labels, train_rows);
    let judge = match (&real_x, real_rows) {
        (Some(real_x), Some(rows)) => {
            let real_y = training::label_indices(&labels, rows);
            Some(Probe::train(real_x, &real_y, labels.len(), &base_config)?)
        }
        _ => None,
    };
    let notes = match judge {
        Some(_) => Vec::new(),
        None => vec![NO_FAITHFULNESS.to_string()],
    };
    let texts: Vec<&str> = train_rows.iter().map(|row| row.text.as_str()).collect();
    let intrinsic_config = IntrinsicConfig { rng_seed: plan.rng_seed, ..IntrinsicConfig::standard() };
    let intrinsic =
        intrinsic_report_with(&train_x, &train_y, &texts, Some(&test_x), judge.as_ref(), &intrinsic_config)?;

    Ok(Metrics {
        format_version: METRICS_FORMAT_VERSION,
        train: plan.train.name.clone(),
        real_train: plan.real_train.map(|rows| rows.name.clone()),
        test: plan.test.name.clone(),
        mix: plan.mix.name(),
        n_train: fit.y.len(),
        n_test: test_rows.len(),
        classifier: if plan.finetune.is_some() { "finetune" } else { "probe" },
        encoder: encoder_info(encoder.identity()),
        probe: base_config,
        finetune: finetune_settings,
        summary: Summary {
            accuracy: MeanStd::of(runs.iter().map(|r| r.accuracy)),
            micro_f1: MeanStd::of(runs.iter().map(|r| r.micro_f1)),
            macro_f1: MeanStd::of(runs.iter().map(|r| r.macro_f1)),
            bootstrap,
        },
        per_label_mean: genprompt_eval::mean_per_label(&runs),
        runs,
        intrinsic,
        notes,
        agreement,
        labels,
        short_labels: Vec::new(),
    })
}
