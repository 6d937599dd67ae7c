//! Subjectivity analysis after Li et al. (2023). Instance level (inside `eval`): accuracy on the test
//! rows whose annotator agreement reaches rising thresholds. Task level (`genprompt subjectivity`):
//! the gap between training on real and on synthetic rows, per task, next to a subjectivity ranking,
//! and their rank correlation.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use genprompt_core::Row;
use genprompt_data::write_json_atomic;
use genprompt_eval::{accuracy_by_agreement, agreement_thresholds, spearman};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BadInput;
use crate::args::SubjectivityArgs;
use crate::commands::eval::MeanStd;

/// Default thresholds: the distinct agreement values, or this many quantiles when there are more.
const MAX_DEFAULT_THRESHOLDS: usize = 10;

/// Accuracy by annotator agreement of the test rows, in `metrics.json`.
#[derive(Serialize)]
pub struct AgreementCurve {
    /// The test-row field read.
    pub field: String,
    /// Test rows with a value in that field; rows without one count at no threshold.
    pub n_with_agreement: usize,
    pub points: Vec<AgreementSummary>,
}

#[derive(Serialize)]
pub struct AgreementSummary {
    pub threshold: f64,
    /// Test rows with agreement >= threshold.
    pub n_items: usize,
    /// Accuracy (= micro-F1) on those rows, mean and std over the runs; `None` with no rows.
    pub accuracy: Option<MeanStd>,
    pub accuracy_per_run: Vec<Option<f64>>,
}

/// The agreement of every test row: a JSON number or a numeric string; absent or null is `None`.
pub fn agreement_values(rows: &[Row], field: &str, path: &Path) -> Result<Vec<Option<f64>>> {
    let mut values = Vec::with_capacity(rows.len());
    for (idx, row) in rows.iter().enumerate() {
        let value = match row.extra.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Some(_) => None,
        };
        if value.is_none() && row.extra.get(field).is_some_and(|v| !v.is_null()) {
            return Err(BadInput(format!(
                "{} row {}: field \"{field}\" is {}, not a number; --agreement-field needs numbers (a share in [0, 1] \
or a count of agreeing annotators)",
                path.display(),
                idx + 1,
                row.extra[field]
            ))
            .into());
        }
        values.push(value);
    }
    if values.iter().all(Option::is_none) {
        return Err(BadInput(format!(
            "no row of {} has the field \"{field}\" given to --agreement-field",
            path.display()
        ))
        .into());
    }
    Ok(values)
}

/// Scores every run's predictions at each threshold (`thresholds` empty: the defaults).
pub fn agreement_curve(
    field: &str,
    agreement: &[Option<f64>],
    thresholds: &[f64],
    gold: &[usize],
    predictions: &[Vec<usize>],
) -> AgreementCurve {
    let mut thresholds = if thresholds.is_empty() {
        agreement_thresholds(agreement, MAX_DEFAULT_THRESHOLDS)
    } else {
        thresholds.to_vec()
    };
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let per_run: Vec<_> =
        predictions.iter().map(|pred| accuracy_by_agreement(gold, pred, agreement, &thresholds)).collect();
    let points = thresholds
        .iter()
        .enumerate()
        .map(|(idx, &threshold)| {
            let accuracy_per_run: Vec<Option<f64>> = per_run.iter().map(|points| points[idx].accuracy).collect();
            let n_items = per_run.first().map_or(0, |points| points[idx].n_items);
            let accuracy = (n_items > 0).then(|| MeanStd::of(accuracy_per_run.iter().flatten().copied()));
            AgreementSummary { threshold, n_items, accuracy, accuracy_per_run }
        })
        .collect();
    AgreementCurve { field: field.to_string(), n_with_agreement: agreement.iter().flatten().count(), points }
}

/// The curve as a table, headed by how many of the `n_test` rows carry an agreement value.
pub fn agreement_table(curve: &AgreementCurve, n_test: usize) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([format!("{} >=", curve.field), "test rows".into(), "accuracy = micro-F1".into()]);
    for point in &curve.points {
        let accuracy = point.accuracy.map_or_else(|| "-".to_string(), MeanStd::percent);
        table.add_row([format!("{}", point.threshold), point.n_items.to_string(), accuracy]);
    }
    format!(
        "accuracy on test rows by annotator agreement ({} of {n_test} rows have it):\n{table}",
        curve.n_with_agreement
    )
}

/// The task ranking file (see `examples/subjectivity/li2023.toml`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ranking {
    source: Option<String>,
    #[serde(default)]
    note: Option<String>,
    task: Vec<RankedTask>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RankedTask {
    name: String,
    /// Higher = more subjective (a rank or a star count; only the order matters).
    subjectivity: f64,
    /// Dataset names that stand for this task: the folder of a result's test file, or its file
    /// stem. Empty: the task name itself.
    #[serde(default)]
    datasets: Vec<String>,
}

/// One `metrics.json` of `genprompt eval`, the fields this command needs.
struct EvalResult {
    path: PathBuf,
    test: String,
    mix: String,
    classifier: String,
    micro_f1: f64,
}

#[derive(Serialize)]
struct TaskGap {
    task: String,
    subjectivity: f64,
    real_micro_f1: Option<f64>,
    synthetic_micro_f1: Option<f64>,
    /// Real minus synthetic micro-F1.
    gap: Option<f64>,
    real_metrics: Option<String>,
    synthetic_metrics: Option<String>,
}

#[derive(Serialize)]
struct SubjectivityReport {
    format_version: u32,
    ranking: String,
    source: Option<String>,
    classifier: Option<String>,
    tasks: Vec<TaskGap>,
    /// Tasks with both results, counted in the correlation.
    n_tasks: usize,
    /// Spearman's rho between subjectivity and gap; `None` when undefined (under 2 tasks, or a
    /// constant side).
    spearman_rho: Option<f64>,
}

pub fn run(args: SubjectivityArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.ranking)
        .with_context(|| format!("cannot read the ranking file {}", args.ranking.display()))?;
    let ranking: Ranking =
        toml::from_str(&text).map_err(|err| BadInput(format!("{}: {err}", args.ranking.display())))?;
    let results = args.results.iter().map(|path| read_result(path)).collect::<Result<Vec<_>>>()?;
    let mut classifiers: Vec<&str> = results.iter().map(|r| r.classifier.as_str()).collect();
    classifiers.sort_unstable();
    classifiers.dedup();
    if classifiers.len() > 1 {
        return Err(BadInput(format!(
            "the results mix classifiers ({}); compare gaps of one classifier at a time",
            classifiers.join(", ")
        ))
        .into());
    }
    let mut tasks: Vec<TaskGap> = ranking
        .task
        .iter()
        .map(|t| TaskGap {
            task: t.name.clone(),
            subjectivity: t.subjectivity,
            real_micro_f1: None,
            synthetic_micro_f1: None,
            gap: None,
            real_metrics: None,
            synthetic_metrics: None,
        })
        .collect();
    for result in &results {
        let (slot_f1, slot_path) = match result.mix.as_str() {
            "real" | "synthetic" => {
                let task_idx = task_of(&ranking, result, &args.ranking)?;
                let task = &mut tasks[task_idx];
                if result.mix == "real" {
                    (&mut task.real_micro_f1, &mut task.real_metrics)
                } else {
                    (&mut task.synthetic_micro_f1, &mut task.synthetic_metrics)
                }
            }
            other => {
                eprintln!("ignored {} (--mix {other}; only real and synthetic count)", result.path.display());
                continue;
            }
        };
        if let Some(earlier) = slot_path {
            return Err(BadInput(format!(
                "{} and {} are both --mix {} results for the same task; give one of each per task",
                earlier,
                result.path.display(),
                result.mix
            ))
            .into());
        }
        *slot_f1 = Some(result.micro_f1);
        *slot_path = Some(result.path.display().to_string());
    }
    for task in &mut tasks {
        task.gap = task.real_micro_f1.zip(task.synthetic_micro_f1).map(|(real, synthetic)| real - synthetic);
    }
    let complete: Vec<&TaskGap> = tasks.iter().filter(|t| t.gap.is_some()).collect();
    let subjectivity: Vec<f64> = complete.iter().map(|t| t.subjectivity).collect();
    let gaps: Vec<f64> = complete.iter().filter_map(|t| t.gap).collect();
    let report = SubjectivityReport {
        format_version: 1,
        ranking: args.ranking.display().to_string(),
        source: ranking.source.clone(),
        classifier: classifiers.first().map(|c| c.to_string()),
        n_tasks: complete.len(),
        spearman_rho: spearman(&subjectivity, &gaps),
        tasks,
    };
    println!("{}", gap_table(&report));
    match report.spearman_rho {
        Some(rho) => println!("Spearman rho (subjectivity vs gap) over {} tasks: {rho:.3}", report.n_tasks),
        None => println!(
            "Spearman rho: undefined over {} tasks (needs 2 or more with both results, and neither side constant)",
            report.n_tasks
        ),
    }
    if let Some(note) = &ranking.note {
        println!("ranking note: {}", note.trim());
    }
    if let Some(out) = &args.out {
        let path = out.join("subjectivity.json");
        write_json_atomic(&path, &report)?;
        println!("subjectivity: {}", path.display());
    }
    Ok(())
}

fn gap_table(report: &SubjectivityReport) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["task", "subjectivity", "real micro-F1", "synthetic micro-F1", "gap (points)"]);
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}", 100.0 * v));
    for task in &report.tasks {
        table.add_row([
            task.task.clone(),
            format!("{}", task.subjectivity),
            pct(task.real_micro_f1),
            pct(task.synthetic_micro_f1),
            pct(task.gap),
        ]);
    }
    table
}

/// The ranked task a result belongs to, by the folder or file stem of its test file.
fn task_of(ranking: &Ranking, result: &EvalResult, ranking_path: &Path) -> Result<usize> {
    let test = Path::new(&result.test);
    let folder = test.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or_default();
    let stem = test.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
    let matches: Vec<usize> = (0..ranking.task.len())
        .filter(|&idx| {
            let task = &ranking.task[idx];
            let names = if task.datasets.is_empty() { std::slice::from_ref(&task.name) } else { &task.datasets[..] };
            names.iter().any(|name| name == folder || name == stem)
        })
        .collect();
    match matches[..] {
        [idx] => Ok(idx),
        [] => Err(BadInput(format!(
            "{}: its test file {} matches no task of {}; add \"{folder}\" to a task's `datasets`",
            result.path.display(),
            result.test,
            ranking_path.display()
        ))
        .into()),
        _ => Err(BadInput(format!(
            "{}: its test file {} matches several tasks of {}",
            result.path.display(),
            result.test,
            ranking_path.display()
        ))
        .into()),
    }
}

/// Reads a `metrics.json` (or the one inside a folder).
fn read_result(path: &Path) -> Result<EvalResult> {
    let path = if path.is_dir() { path.join("metrics.json") } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|err| BadInput(format!("{}: not JSON: {err}", path.display())))?;
    let field = |pointer: &str| json.pointer(pointer).filter(|v| !v.is_null());
    let missing =
        |what: &str| BadInput(format!("{}: no {what}; is it a metrics.json of `genprompt eval`?", path.display()));
    let text_field = |pointer: &str, what: &str| -> Result<String> {
        Ok(field(pointer).and_then(Value::as_str).ok_or_else(|| missing(what))?.to_string())
    };
    Ok(EvalResult {
        test: text_field("/test", "\"test\"")?,
        mix: text_field("/mix", "\"mix\"")?,
        classifier: text_field("/classifier", "\"classifier\"")?,
        micro_f1: field("/summary/micro_f1/mean")
            .and_then(Value::as_f64)
            .ok_or_else(|| missing("summary.micro_f1.mean"))?,
        path,
    })
}
