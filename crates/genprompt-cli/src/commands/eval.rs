use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use genprompt_core::Row;
use genprompt_data::{read_rows, write_json_atomic};
use genprompt_embed::Encoder;
use genprompt_eval::{Aps, ClassificationReport, Probe, ProbeConfig, aps, classification_report};
use serde::Serialize;

use crate::args::EvalArgs;
use crate::backends::{encoder_info, load_encoder};
use crate::progress::Progress;

/// `metrics.json`: what was trained on what, and how it scored.
#[derive(Serialize)]
pub struct Metrics {
    pub format_version: u32,
    pub train: String,
    pub test: String,
    pub n_train: usize,
    pub n_test: usize,
    pub classifier: &'static str,
    pub encoder: genprompt_core::ModelInfo,
    pub probe: ProbeConfig,
    pub labels: Vec<String>,
    pub test_scores: ClassificationReport,
    /// Diversity of the training set (lower = more diverse).
    pub train_aps: Aps,
}

pub fn run(args: EvalArgs, progress: &Progress) -> Result<Metrics> {
    let encoder = load_encoder(&args.models)?;
    let metrics = evaluate(&args.train, &args.test, &encoder, args.seed, progress)?;
    println!("{}", scores_table(&[("probe", &metrics)]));
    println!("{}", per_label_table(&metrics));
    if let Some(out) = &args.out {
        let path = out.join("metrics.json");
        write_json_atomic(&path, &metrics)?;
        println!("metrics: {}", path.display());
    }
    Ok(metrics)
}

/// Trains a probe on `train` and tests it on `test`.
pub fn evaluate(
    train: &Path,
    test: &Path,
    encoder: &dyn Encoder,
    rng_seed: u64,
    progress: &Progress,
) -> Result<Metrics> {
    let train_rows = read_rows(train).with_context(|| format!("cannot read training rows {}", train.display()))?;
    let test_rows = read_rows(test).with_context(|| format!("cannot read test rows {}", test.display()))?;
    if train_rows.is_empty() || test_rows.is_empty() {
        let empty = if train_rows.is_empty() { train } else { test };
        return Err(crate::BadInput(format!("{} has no rows", empty.display())).into());
    }
    // Label order: first appearance in the test rows, then labels only the training rows have.
    let mut labels: Vec<String> = Vec::new();
    for row in test_rows.iter().chain(&train_rows) {
        if !labels.contains(&row.label) {
            labels.push(row.label.clone());
        }
    }
    let index = |rows: &[Row]| -> Vec<usize> {
        rows.iter().map(|row| labels.iter().position(|l| *l == row.label).expect("label collected above")).collect()
    };
    let (train_y, test_y) = (index(&train_rows), index(&test_rows));
    let train_x = embed_rows(&train_rows, encoder, "embed train", progress)?;
    let test_x = embed_rows(&test_rows, encoder, "embed test", progress)?;
    progress.clear();
    let probe_config = ProbeConfig { rng_seed, ..ProbeConfig::standard() };
    let probe = Probe::train(&train_x, &train_y, labels.len(), &probe_config)?;
    let predictions = probe.predict(&test_x);
    Ok(Metrics {
        format_version: 1,
        train: train.display().to_string(),
        test: test.display().to_string(),
        n_train: train_rows.len(),
        n_test: test_rows.len(),
        classifier: "probe",
        encoder: encoder_info(encoder.identity()),
        probe: probe_config,
        test_scores: classification_report(&labels, &test_y, &predictions),
        train_aps: aps(&train_x, &train_y),
        labels,
    })
}

/// Embeds rows in chunks so that progress can be shown.
pub fn embed_rows(
    rows: &[Row],
    encoder: &dyn Encoder,
    what: &str,
    progress: &Progress,
) -> Result<genprompt_embed::Embeddings> {
    const CHUNK: usize = 256;
    let mut embeddings = genprompt_embed::Embeddings::new(encoder.dim());
    progress.start(what, rows.len() as u64);
    for chunk in rows.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|row| row.text.as_str()).collect();
        embeddings.extend(&encoder.encode(&texts)?);
        progress.update(embeddings.len() as u64, "rows");
    }
    Ok(embeddings)
}

/// One table: a column per training set, rows for the scores and per-label F1.
pub fn scores_table(columns: &[(&str, &Metrics)]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["metric".to_string()];
    header.extend(columns.iter().map(|(name, m)| format!("{name}\n(n_train {})", m.n_train)));
    table.set_header(header);
    let row = |name: String, value: &dyn Fn(&Metrics) -> String| {
        let mut cells = vec![name];
        cells.extend(columns.iter().map(|(_, m)| value(m)));
        cells
    };
    let pct = |v: f64| format!("{:.1}", 100.0 * v);
    let aps = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    table.add_row(row("accuracy = micro-F1".into(), &|m| pct(m.test_scores.accuracy)));
    table.add_row(row("macro-F1".into(), &|m| pct(m.test_scores.macro_f1)));
    let labels = &columns[0].1.labels;
    for (label_idx, label) in labels.iter().enumerate() {
        table.add_row(row(format!("F1 {label}"), &|m| {
            m.test_scores.per_label.get(label_idx).map_or_else(|| "-".into(), |s| pct(s.f1))
        }));
    }
    table.add_row(row("APS train (lower = diverse)".into(), &|m| aps(m.train_aps.overall)));
    table.add_row(row("  intra-label".into(), &|m| aps(m.train_aps.intra)));
    table.add_row(row("  inter-label".into(), &|m| aps(m.train_aps.inter)));
    table
}

/// Precision, recall, F1 and support of every label.
pub fn per_label_table(metrics: &Metrics) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["label", "precision", "recall", "F1", "support"]);
    for scores in &metrics.test_scores.per_label {
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
