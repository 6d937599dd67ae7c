//! Task-level subjectivity (Li et al. 2023): the gap between training on real and on synthetic
//! rows, per task (from `evaluate` results), next to a subjectivity ranking, and their rank
//! correlation.

use std::path::{Path, PathBuf};

use genprompt_data::write_json_atomic;
use genprompt_eval::spearman;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ResultExt;
use crate::{Error, Observer, Result};

/// The ranking file and the `metrics.json` files (or folders holding one) to put beside it.
#[derive(Clone, Debug, Default)]
pub struct SubjectivityConfig {
    /// TOML file ranking tasks by subjectivity (example: `examples/subjectivity/li2023.toml`).
    pub ranking: PathBuf,
    /// Per task one result with `mix` real and one with `mix` synthetic, matched to a ranked task
    /// by the test file's folder.
    pub results: Vec<PathBuf>,
    /// Folder for `subjectivity.json`.
    pub out: Option<PathBuf>,
}

/// The analysis, and the ranking file's note.
#[derive(Clone, Debug)]
pub struct Subjectivity {
    pub report: SubjectivityReport,
    pub note: Option<String>,
    /// `subjectivity.json`, when `out` was given.
    pub written: Option<PathBuf>,
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

#[derive(Clone, Debug, Serialize)]
pub struct TaskGap {
    pub task: String,
    pub subjectivity: f64,
    pub real_micro_f1: Option<f64>,
    pub synthetic_micro_f1: Option<f64>,
    /// Real minus synthetic micro-F1.
    pub gap: Option<f64>,
    pub real_metrics: Option<String>,
    pub synthetic_metrics: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SubjectivityReport {
    pub format_version: u32,
    pub ranking: String,
    pub source: Option<String>,
    pub classifier: Option<String>,
    pub tasks: Vec<TaskGap>,
    /// Tasks with both results, counted in the correlation.
    pub n_tasks: usize,
    /// Spearman's rho between subjectivity and gap; `None` when undefined (under 2 tasks, or a
    /// constant side).
    pub spearman_rho: Option<f64>,
}

/// Matches every result to its ranked task, computes the gaps and their rank correlation with
/// subjectivity, and writes `subjectivity.json` when `out` is given. Results of other mixes are
/// ignored with a notice.
pub fn subjectivity(config: &SubjectivityConfig, observer: &dyn Observer) -> Result<Subjectivity> {
    let text = std::fs::read_to_string(&config.ranking)
        .map_err(Error::new)
        .with_context(|| format!("cannot read the ranking file {}", config.ranking.display()))?;
    let ranking: Ranking =
        toml::from_str(&text).map_err(|err| Error::bad_input(format!("{}: {err}", config.ranking.display())))?;
    let results = config.results.iter().map(|path| read_result(path)).collect::<Result<Vec<_>>>()?;
    let mut classifiers: Vec<&str> = results.iter().map(|r| r.classifier.as_str()).collect();
    classifiers.sort_unstable();
    classifiers.dedup();
    if classifiers.len() > 1 {
        return Err(Error::bad_input(format!(
            "the results mix classifiers ({}); compare gaps of one classifier at a time",
            classifiers.join(", ")
        )));
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
                let task_idx = task_of(&ranking, result, &config.ranking)?;
                let task = &mut tasks[task_idx];
                if result.mix == "real" {
                    (&mut task.real_micro_f1, &mut task.real_metrics)
                } else {
                    (&mut task.synthetic_micro_f1, &mut task.synthetic_metrics)
                }
            }
            other => {
                observer.notice(&format!(
                    "ignored {} (--mix {other}; only real and synthetic count)",
                    result.path.display()
                ));
                continue;
            }
        };
        if let Some(earlier) = slot_path {
            return Err(Error::bad_input(format!(
                "{} and {} are both --mix {} results for the same task; give one of each per task",
                earlier,
                result.path.display(),
                result.mix
            )));
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
        ranking: config.ranking.display().to_string(),
        source: ranking.source.clone(),
        classifier: classifiers.first().map(|c| c.to_string()),
        n_tasks: complete.len(),
        spearman_rho: spearman(&subjectivity, &gaps),
        tasks,
    };
    let written = match &config.out {
        Some(out) => {
            let path = out.join("subjectivity.json");
            write_json_atomic(&path, &report)?;
            Some(path)
        }
        None => None,
    };
    Ok(Subjectivity { report, note: ranking.note.clone(), written })
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
        [] => Err(Error::bad_input(format!(
            "{}: its test file {} matches no task of {}; add \"{folder}\" to a task's `datasets`",
            result.path.display(),
            result.test,
            ranking_path.display()
        ))),
        _ => Err(Error::bad_input(format!(
            "{}: its test file {} matches several tasks of {}",
            result.path.display(),
            result.test,
            ranking_path.display()
        ))),
    }
}

/// Reads a `metrics.json` (or the one inside a folder).
fn read_result(path: &Path) -> Result<EvalResult> {
    let path = if path.is_dir() { path.join("metrics.json") } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&path)
        .map_err(Error::new)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|err| Error::bad_input(format!("{}: not JSON: {err}", path.display())))?;
    let field = |pointer: &str| json.pointer(pointer).filter(|v| !v.is_null());
    let missing = |what: &str| {
        Error::bad_input(format!("{}: no {what}; is it a metrics.json of `genprompt eval`?", path.display()))
    };
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
