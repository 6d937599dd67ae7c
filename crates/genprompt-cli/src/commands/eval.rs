use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use genprompt_core::Row;
use genprompt_data::{read_rows, write_json_atomic};
use genprompt_embed::{Embeddings, Encoder};
use genprompt_eval::{
    ClassificationReport, IntrinsicConfig, IntrinsicReport, Probe, ProbeConfig, classification_report, intrinsic_report,
};
use serde::Serialize;

use crate::args::{ClassifierArg, EvalArgs, MixArg};
use crate::backends::{encoder_info, load_encoder};
use crate::commands::subjectivity::{AgreementCurve, agreement_curve, agreement_table, agreement_values};
use crate::progress::Progress;

/// Version 3 added `agreement`.
pub const METRICS_FORMAT_VERSION: u32 = 3;

/// `metrics.json`: what was trained on what, how it scored, and what the training set looks like.
#[derive(Serialize)]
pub struct Metrics {
    pub format_version: u32,
    pub train: String,
    pub real_train: Option<String>,
    pub test: String,
    pub mix: &'static str,
    pub n_train: usize,
    pub n_test: usize,
    pub classifier: &'static str,
    pub encoder: genprompt_core::ModelInfo,
    pub probe: ProbeConfig,
    /// Fine-tuning settings when `classifier` is "finetune".
    pub finetune: Option<FinetuneSettings>,
    pub labels: Vec<String>,
    /// Mean and population standard deviation over the runs.
    pub summary: Summary,
    /// One report per run (seed, seed+1, ...).
    pub runs: Vec<ClassificationReport>,
    /// Diversity and fidelity of the `--train` rows (the synthetic set).
    pub intrinsic: IntrinsicReport,
    /// Accuracy by annotator agreement of the test rows (`--agreement-field`), else null.
    pub agreement: Option<AgreementCurve>,
}

#[derive(Clone, Serialize)]
pub struct FinetuneSettings {
    pub learning_rate: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub max_length: usize,
    pub weight_decay: f64,
    /// Entity tags found in the data and added to the tokenizer as special tokens.
    pub special_tokens: Vec<String>,
}

#[derive(Serialize)]
pub struct Summary {
    pub accuracy: MeanStd,
    pub micro_f1: MeanStd,
    pub macro_f1: MeanStd,
}

#[derive(Clone, Copy, Serialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(values: impl Iterator<Item = f64>) -> MeanStd {
        let values: Vec<f64> = values.collect();
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        MeanStd { mean, std }
    }

    pub fn percent(self) -> String {
        format!("{:.1} ± {:.1}", 100.0 * self.mean, 100.0 * self.std)
    }
}

/// What to evaluate; the command-line flags, resolved.
pub struct EvalPlan<'a> {
    pub train: &'a Path,
    pub test: &'a Path,
    pub real_train: Option<&'a Path>,
    pub mix: MixArg,
    pub runs: usize,
    pub rng_seed: u64,
    /// `None` trains probes; `Some` fine-tunes the encoder in this folder.
    pub finetune: Option<(std::path::PathBuf, genprompt_finetune::FinetuneConfig)>,
    /// Test-row agreement field and thresholds (empty: the defaults) for the subjectivity curve.
    pub agreement: Option<(&'a str, &'a [f64])>,
}

pub fn run(args: EvalArgs, progress: &Progress) -> Result<Metrics> {
    if args.mix != MixArg::Synthetic && args.real_train.is_none() {
        return Err(crate::BadInput("--mix real and --mix fusion need --real-train FILE".to_string()).into());
    }
    if args.runs == 0 {
        return Err(crate::BadInput("--runs must be at least 1".to_string()).into());
    }
    let encoder = load_encoder(&args.models)?;
    let finetune = match args.classifier {
        ClassifierArg::Probe => None,
        ClassifierArg::Finetune => {
            let mut config = genprompt_finetune::FinetuneConfig::standard();
            config.epochs = args.epochs;
            config.learning_rate = args.learning_rate;
            config.batch_size = args.batch_size;
            config.max_length = args.max_length;
            Some((crate::backends::encoder_dir(&args.models)?, config))
        }
    };
    let plan = EvalPlan {
        train: &args.train,
        test: &args.test,
        real_train: args.real_train.as_deref(),
        mix: args.mix,
        runs: args.runs,
        rng_seed: args.seed,
        finetune,
        agreement: args.agreement_field.as_deref().map(|field| (field, &args.agreement_thresholds[..])),
    };
    let metrics = evaluate(&plan, &encoder, progress)?;
    println!("{}", scores_table(&[(metrics.classifier, &metrics)]));
    println!("{}", per_label_table(&metrics));
    if let Some(curve) = &metrics.agreement {
        println!("{}", agreement_table(curve, metrics.n_test));
    }
    if let Some(out) = &args.out {
        let path = metrics_path(out);
        write_json_atomic(&path, &metrics)?;
        println!("metrics: {}", path.display());
    }
    Ok(metrics)
}

fn read(path: &Path, what: &str) -> Result<Vec<Row>> {
    let rows = read_rows(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    if rows.is_empty() {
        return Err(crate::BadInput(format!("{} has no rows", path.display())).into());
    }
    Ok(rows)
}

/// Trains probes as `plan` says, tests them, and measures the `--train` rows.
pub fn evaluate(plan: &EvalPlan<'_>, encoder: &dyn Encoder, progress: &Progress) -> Result<Metrics> {
    let train_rows = read(plan.train, "training rows")?;
    let test_rows = read(plan.test, "test rows")?;
    let agreement = plan.agreement.map(|(field, _)| agreement_values(&test_rows, field, plan.test)).transpose()?;
    let real_rows = plan.real_train.map(|path| read(path, "real training rows")).transpose()?;
    // Label order: first appearance in the test rows, then labels only training rows have.
    let mut labels: Vec<String> = Vec::new();
    for row in test_rows.iter().chain(&train_rows).chain(real_rows.iter().flatten()) {
        if !labels.contains(&row.label) {
            labels.push(row.label.clone());
        }
    }
    let index = |rows: &[Row]| -> Vec<usize> {
        rows.iter().map(|row| labels.iter().position(|l| *l == row.label).expect("label collected above")).collect()
    };
    let train_x = embed_rows(&train_rows, encoder, "embed train", progress)?;
    let test_x = embed_rows(&test_rows, encoder, "embed test", progress)?;
    let real_x = real_rows.as_ref().map(|rows| embed_rows(rows, encoder, "embed real", progress)).transpose()?;
    progress.clear();
    let (train_y, test_y) = (index(&train_rows), index(&test_rows));
    let real_y = real_rows.as_deref().map(index);

    // The classifier's training set, per --mix.
    let (fit_x, fit_y, fit_texts): (Embeddings, Vec<usize>, Vec<&str>) = match (plan.mix, &real_x, &real_y) {
        (MixArg::Synthetic, _, _) => (train_x.clone(), train_y.clone(), texts_of(&train_rows)),
        (MixArg::Real, Some(x), Some(y)) => (x.clone(), y.clone(), texts_of(real_rows.as_deref().unwrap_or_default())),
        (MixArg::Fusion, Some(x), Some(y)) => {
            let mut fused = train_x.clone();
            fused.extend(x);
            let mut texts = texts_of(&train_rows);
            texts.extend(texts_of(real_rows.as_deref().unwrap_or_default()));
            (fused, train_y.iter().chain(y).copied().collect(), texts)
        }
        (MixArg::FusionEqual, Some(x), Some(y)) => {
            let n = train_y.len().min(y.len());
            let synthetic = seeded_subset(train_y.len(), n, plan.rng_seed);
            let real = seeded_subset(y.len(), n, plan.rng_seed.wrapping_add(1));
            let real_texts = texts_of(real_rows.as_deref().unwrap_or_default());
            let train_texts = texts_of(&train_rows);
            let mut fused = Embeddings::new(x.dim());
            let (mut fused_y, mut texts) = (Vec::new(), Vec::new());
            for &idx in &synthetic {
                fused.push(train_x.row(idx));
                fused_y.push(train_y[idx]);
                texts.push(train_texts[idx]);
            }
            for &idx in &real {
                fused.push(x.row(idx));
                fused_y.push(y[idx]);
                texts.push(real_texts[idx]);
            }
            (fused, fused_y, texts)
        }
        _ => unreachable!("--mix real/fusion without --real-train is refused earlier"),
    };
    let (mut runs, mut run_predictions) = (Vec::new(), Vec::new());
    let base_config = ProbeConfig { rng_seed: plan.rng_seed, ..ProbeConfig::standard() };
    let mut finetune_settings = None;
    for run in 0..plan.runs {
        let rng_seed = plan.rng_seed + run as u64;
        let predictions = match &plan.finetune {
            None => {
                let config = ProbeConfig { rng_seed, ..base_config.clone() };
                Probe::train(&fit_x, &fit_y, labels.len(), &config)?.predict(&test_x)
            }
            Some((model_dir, config)) => {
                let mut config = config.clone();
                config.rng_seed = rng_seed;
                config.special_tokens = entity_tags(&fit_texts);
                finetune_settings.get_or_insert_with(|| FinetuneSettings {
                    learning_rate: config.learning_rate,
                    epochs: config.epochs,
                    batch_size: config.batch_size,
                    max_length: config.max_length,
                    weight_decay: config.weight_decay,
                    special_tokens: config.special_tokens.clone(),
                });
                let label = format!("fine-tune {}/{}", run + 1, plan.runs);
                progress.start(&label, 0);
                let mut on_step = |step: usize, n_steps: usize, loss: f32| {
                    progress.update(step as u64, &format!("of {n_steps} steps, loss {loss:.3}"));
                };
                let classifier = genprompt_finetune::TextClassifier::train(
                    model_dir,
                    &fit_texts,
                    &fit_y,
                    labels.len(),
                    &config,
                    &mut on_step,
                )?;
                progress.clear();
                classifier.predict(&texts_of(&test_rows))?
            }
        };
        runs.push(classification_report(&labels, &test_y, &predictions));
        run_predictions.push(predictions);
    }
    let agreement = plan
        .agreement
        .zip(agreement.as_deref())
        .map(|((field, thresholds), values)| agreement_curve(field, values, thresholds, &test_y, &run_predictions));

    // Faithfulness needs a probe that knows real data: --real-train if given, else the test rows.
    let (judge_x, judge_y): (&Embeddings, &[usize]) = match (&real_x, &real_y) {
        (Some(x), Some(y)) => (x, y),
        _ => (&test_x, &test_y),
    };
    let judge = Probe::train(judge_x, judge_y, labels.len(), &base_config)?;
    let texts: Vec<&str> = train_rows.iter().map(|row| row.text.as_str()).collect();
    let intrinsic_config = IntrinsicConfig { rng_seed: plan.rng_seed, ..IntrinsicConfig::standard() };
    let intrinsic = intrinsic_report(&train_x, &train_y, &texts, Some((&test_x, &judge)), &intrinsic_config);

    Ok(Metrics {
        format_version: METRICS_FORMAT_VERSION,
        train: plan.train.display().to_string(),
        real_train: plan.real_train.map(|p| p.display().to_string()),
        test: plan.test.display().to_string(),
        mix: match plan.mix {
            MixArg::Synthetic => "synthetic",
            MixArg::Real => "real",
            MixArg::Fusion => "fusion",
            MixArg::FusionEqual => "fusion-equal",
        },
        n_train: fit_y.len(),
        n_test: test_rows.len(),
        classifier: if plan.finetune.is_some() { "finetune" } else { "probe" },
        encoder: encoder_info(encoder.identity()),
        probe: base_config,
        finetune: finetune_settings,
        summary: Summary {
            accuracy: MeanStd::of(runs.iter().map(|r| r.accuracy)),
            micro_f1: MeanStd::of(runs.iter().map(|r| r.micro_f1)),
            macro_f1: MeanStd::of(runs.iter().map(|r| r.macro_f1)),
        },
        runs,
        intrinsic,
        agreement,
        labels,
    })
}

/// `n` of `0..len`, drawn without replacement with `rng_seed`, in ascending order.
fn seeded_subset(len: usize, n: usize, rng_seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rng_seed);
    let mut picked = rand::seq::index::sample(&mut rng, len, n.min(len)).into_vec();
    picked.sort_unstable();
    picked
}

fn texts_of(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|row| row.text.as_str()).collect()
}

/// XML-style entity tags (`<chemical>`, `</chemical>`, `<e1>`...) present in at least a tenth of
/// the rows: relation tasks keep them in the text, and the fine-tuned tokenizer must see each as
/// one token rather than as `<`, `chemical`, `>`.
pub fn entity_tags(texts: &[&str]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for text in texts {
        let mut seen = std::collections::BTreeSet::new();
        let mut rest = *text;
        while let Some(start) = rest.find('<') {
            rest = &rest[start..];
            let Some(end) = rest.find('>') else { break };
            let tag = &rest[..=end];
            let name = tag.trim_start_matches("</").trim_start_matches('<').trim_end_matches('>');
            if !name.is_empty() && name.len() <= 24 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                seen.insert(tag.to_string());
            }
            rest = &rest[1..];
        }
        for tag in seen {
            *counts.entry(tag).or_default() += 1;
        }
    }
    counts.into_iter().filter(|(_, n)| *n * 10 >= texts.len().max(1)).map(|(tag, _)| tag).collect()
}

/// Embeds rows in chunks so that progress can be shown.
pub fn embed_rows(rows: &[Row], encoder: &dyn Encoder, what: &str, progress: &Progress) -> Result<Embeddings> {
    const CHUNK: usize = 256;
    let mut embeddings = Embeddings::new(encoder.dim());
    progress.start(what, rows.len() as u64);
    for chunk in rows.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|row| row.text.as_str()).collect();
        embeddings.extend(&encoder.encode(&texts)?);
        progress.update(embeddings.len() as u64, "rows");
    }
    Ok(embeddings)
}

/// One table: a column per evaluation, rows for the scores, per-label F1 and the intrinsic metrics.
pub fn scores_table(columns: &[(&str, &Metrics)]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["metric".to_string()];
    header.extend(columns.iter().map(|(name, m)| format!("{name}\n(n_train {}, {} runs)", m.n_train, m.runs.len())));
    table.set_header(header);
    let row = |name: String, value: &dyn Fn(&Metrics) -> String| {
        let mut cells = vec![name];
        cells.extend(columns.iter().map(|(_, m)| value(m)));
        cells
    };
    let pct = |v: f64| format!("{:.1}", 100.0 * v);
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    table.add_row(row("accuracy = micro-F1".into(), &|m| m.summary.accuracy.percent()));
    table.add_row(row("macro-F1".into(), &|m| m.summary.macro_f1.percent()));
    for (label_idx, label) in columns[0].1.labels.iter().enumerate() {
        table.add_row(row(format!("  F1 {label}"), &|m| {
            m.runs[0].per_label.get(label_idx).map_or_else(|| "-".into(), |s| pct(s.f1))
        }));
    }
    table.add_row(row("APS (lower = more diverse)".into(), &|m| num(m.intrinsic.aps.overall)));
    table.add_row(row("  intra-label / inter-label".into(), &|m| {
        format!("{} / {}", num(m.intrinsic.aps.intra), num(m.intrinsic.aps.inter))
    }));
    table.add_row(row("remote-clique / chamfer (higher = more diverse)".into(), &|m| {
        format!("{} / {}", num(m.intrinsic.remote_clique), num(m.intrinsic.chamfer))
    }));
    table.add_row(row("vocabulary / distinct-2".into(), &|m| {
        format!("{} / {:.3}", m.intrinsic.text.vocabulary, m.intrinsic.text.distinct_2)
    }));
    table.add_row(row("self-BLEU (lower = more diverse)".into(), &|m| num(m.intrinsic.self_bleu)));
    table.add_row(row("CMD to test set (lower = closer)".into(), &|m| num(m.intrinsic.cmd)));
    table.add_row(row("top-5 similarity of test rows".into(), &|m| num(m.intrinsic.top_k_similarity)));
    table.add_row(row("label faithfulness".into(), &|m| m.intrinsic.label_faithfulness.map_or("-".into(), pct)));
    table
}

/// Precision, recall, F1 and support of every label (first run).
pub fn per_label_table(metrics: &Metrics) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["label", "precision", "recall", "F1", "support"]);
    for scores in &metrics.runs[0].per_label {
        table.add_row([
            scores.label.clone(),
            format!("{:.1}", 100.0 * scores.precision),
            format!("{:.1}", 100.0 * scores.recall),
            format!("{:.1}", 100.0 * scores.f1),
            scores.support.to_string(),
        ]);
    }
    table
}

pub fn metrics_path(out: &Path) -> PathBuf {
    out.join("metrics.json")
}
