//! A self-contained HTML report comparing generation methods on one task: the downstream table in
//! the layout of the Genetic Prompt paper's Table 3, the intrinsic table in the layout of its
//! Table 2, F1 bar charts with error bars, and per method a 2-D projection of real vs synthetic
//! embeddings, per-class counts and rejection reasons, a learning curve and lineage statistics.
//!
//! The input is plain data ([`Comparison`]): `metrics.json` and `manifest.json` are taken as JSON
//! values and read leniently, so a missing field shows as "–" instead of failing the report.
//! The page has inline CSS and inline SVG only (no script, no font, no network fetch; a
//! Content-Security-Policy forbids them), and every plot is also written as its own SVG file.

mod html;
mod lineage;
mod pca;
mod svg;
mod tables;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use lineage::{GeneStats, LineageStats, lineage_stats};
pub use pca::{Pca2, project_2d};

/// Everything the report shows: several methods run on one task with equal budgets and seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub task: String,
    /// The LLM that generated the data.
    pub generator: String,
    /// The sentence encoder used for embeddings, probes and intrinsic metrics.
    pub encoder: String,
    /// The real test split every method is scored on.
    pub test_set: String,
    /// Extra facts shown under the title as `name: value` (budget, seed, runs...).
    pub details: Vec<(String, String)>,
    pub methods: Vec<MethodResult>,
    /// Real training data scored the same way (the seed rows the methods started from, the whole
    /// real training split): shown as reference rows, never ranked.
    pub references: Vec<MethodResult>,
}

/// One method's results; every part except `name` may be empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    pub name: String,
    /// The method's `metrics.json` (`genprompt eval`), or `Value::Null`.
    pub metrics: Value,
    /// The method's `manifest.json` (`genprompt generate`).
    pub manifest: Option<Value>,
    /// 2-D points of synthetic rows and of real rows, in one shared projection (see [`Pca2`]).
    pub projection: Vec<ProjectedPoint>,
    /// Micro-F1 against the number of synthetic rows trained on.
    pub learning_curve: Vec<CurvePoint>,
    /// Genetic Prompt's lineage statistics ([`lineage_stats`]).
    pub lineage: Option<LineageStats>,
}

/// One row in the 2-D projection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectedPoint {
    pub x: f32,
    pub y: f32,
    pub label: String,
    /// A real row (drawn as a cross) rather than a synthetic one (a dot).
    pub real: bool,
}

/// Micro-F1 (a fraction in [0, 1], mean and std over runs) of a classifier trained on `size`
/// synthetic rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub size: usize,
    pub mean: f64,
    pub std: f64,
}

/// The files [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// `out_dir/report.html`.
    pub html: PathBuf,
    /// `out_dir/plots/*.svg`, in the order they appear in the report.
    pub plots: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}; check that the folder is writable", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Writes `out_dir/report.html` and its plots as `out_dir/plots/*.svg`, creating the folders.
///
/// The output depends only on `comparison` (no clock), so the same input gives the same bytes.
pub fn write_report(comparison: &Comparison, out_dir: &Path) -> Result<ReportFiles, ReportError> {
    let (page, plots) = html::render(comparison);
    let plot_dir = out_dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|source| ReportError::Io { path: plot_dir.clone(), source })?;
    let mut files = Vec::with_capacity(plots.len());
    for plot in &plots {
        let path = plot_dir.join(&plot.file);
        write(&path, &plot.svg)?;
        files.push(path);
    }
    let html = out_dir.join("report.html");
    write(&html, &page)?;
    Ok(ReportFiles { html, plots: files })
}

fn write(path: &Path, contents: &str) -> Result<(), ReportError> {
    std::fs::write(path, contents).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}
