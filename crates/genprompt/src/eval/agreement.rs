//! Instance-level subjectivity (Li et al. 2023), inside an evaluation: accuracy on the test rows
//! whose annotator agreement reaches rising thresholds.

use genprompt_core::Row;
use genprompt_eval::{accuracy_by_agreement, agreement_thresholds};
use serde::Serialize;
use serde_json::Value;

use super::MeanStd;
use crate::{Error, Result};

/// Default thresholds: the distinct agreement values, or this many quantiles when there are more.
const MAX_DEFAULT_THRESHOLDS: usize = 10;

/// Which test-row field holds the annotator agreement, and the thresholds to score at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Agreement {
    /// A share in [0, 1] or a count of agreeing annotators, per test row.
    pub field: String,
    /// Empty: the distinct values present, or 10 quantiles when there are more.
    pub thresholds: Vec<f64>,
}

/// Accuracy by annotator agreement of the test rows, in `metrics.json`.
#[derive(Clone, Debug, Serialize)]
pub struct AgreementCurve {
    /// The test-row field read.
    pub field: String,
    /// Test rows with a value in that field; rows without one count at no threshold.
    pub n_with_agreement: usize,
    pub points: Vec<AgreementSummary>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgreementSummary {
    pub threshold: f64,
    /// Test rows with agreement >= threshold.
    pub n_items: usize,
    /// Accuracy (= micro-F1) on those rows, mean and std over the runs; `None` with no rows.
    pub accuracy: Option<MeanStd>,
    pub accuracy_per_run: Vec<Option<f64>>,
}

/// The agreement of every test row: a JSON number or a numeric string; absent or null is `None`.
/// `name` names the rows in messages.
pub(crate) fn agreement_values(rows: &[Row], field: &str, name: &str) -> Result<Vec<Option<f64>>> {
    let mut values = Vec::with_capacity(rows.len());
    for (idx, row) in rows.iter().enumerate() {
        let value = match row.extra.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Some(_) => None,
        };
        if value.is_none() && row.extra.get(field).is_some_and(|v| !v.is_null()) {
            return Err(Error::bad_input(format!(
                "{name} row {}: field \"{field}\" is {}, not a number; --agreement-field needs numbers (a share in [0, 1] \
or a count of agreeing annotators)",
                idx + 1,
                row.extra[field]
            )));
        }
        values.push(value);
    }
    if values.iter().all(Option::is_none) {
        return Err(Error::bad_input(format!("no row of {name} has the field \"{field}\" given to --agreement-field")));
    }
    Ok(values)
}

/// Scores every run's predictions at each threshold (`thresholds` empty: the defaults).
pub(crate) fn agreement_curve(
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
