//! The report's tables, read leniently out of `metrics.json` and `manifest.json` values: a
//! missing or non-numeric field shows as "–".

use std::fmt::Write;

use serde_json::Value;

use crate::svg::esc;
use crate::{Comparison, MethodResult};

pub(crate) const MISSING: &str = "–";

/// The finite number at `path`, if any.
pub(crate) fn num(value: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_f64().filter(|x| x.is_finite())
}

/// `summary.<key>` of a `metrics.json` as (mean, std) in percent.
pub(crate) fn summary(metrics: &Value, key: &str) -> Option<(f64, f64)> {
    let mean = num(metrics, &["summary", key, "mean"])?;
    Some((100.0 * mean, 100.0 * num(metrics, &["summary", key, "std"]).unwrap_or(0.0)))
}

/// `summary.bootstrap.<key>` of a `metrics.json` as (low, high) in percent (format 4 on).
pub(crate) fn interval(metrics: &Value, key: &str) -> Option<(f64, f64)> {
    let low = num(metrics, &["summary", "bootstrap", key, "low"])?;
    Some((100.0 * low, 100.0 * num(metrics, &["summary", "bootstrap", key, "high"])?))
}

pub(crate) fn count(n: f64) -> String {
    let digits = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 { format!("-{out}") } else { out }
}

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
    Unranked,
}

/// One cell: what is shown, and the rounded value that ranks it.
struct Cell {
    shown: String,
    key: Option<f64>,
}

impl Cell {
    fn mean_std(value: Option<(f64, f64)>, interval: Option<(f64, f64)>) -> Cell {
        match value {
            Some((m, s)) => {
                let mut shown = format!("{m:.1} ± {s:.1}");
                if let Some((low, high)) = interval {
                    let _ = write!(shown, " [{low:.1}–{high:.1}]");
                }
                Cell { shown, key: Some((m * 10.0).round()) }
            }
            None => Cell { shown: MISSING.into(), key: None },
        }
    }

    fn fixed(value: Option<f64>, decimals: i32) -> Cell {
        let scale = 10f64.powi(decimals);
        match value {
            Some(v) => Cell { shown: format!("{v:.*}", decimals as usize), key: Some((v * scale).round()) },
            None => Cell { shown: MISSING.into(), key: None },
        }
    }
}

/// Methods as rows (the reference last, in grey and unranked); the best cell of each ranked
/// column among the methods gets class `best` (bold).
fn ranked_table(
    id: &str,
    caption: &str,
    head: &[(&str, &str, Better)],
    c: &Comparison,
    cells: impl Fn(&Value) -> Vec<Cell>,
) -> String {
    let rows: Vec<(&MethodResult, Vec<Cell>)> = c.methods.iter().map(|m| (m, cells(&m.metrics))).collect();
    let best: Vec<Option<f64>> = (0..head.len() - 1)
        .map(|col| {
            let keys = rows.iter().filter_map(|(_, cells)| cells[col].key);
            match head[col + 1].2 {
                Better::Higher => keys.reduce(f64::max),
                Better::Lower => keys.reduce(f64::min),
                Better::Unranked => None,
            }
        })
        .collect();
    let mut html = format!(r#"<div class="scroll"><table id="{id}"><caption>{caption}</caption><thead><tr>"#);
    for (name, tip, _) in head {
        let _ = write!(html, r#"<th title="{}">{}</th>"#, esc(tip), esc(name));
    }
    html.push_str("</tr></thead><tbody>");
    let references: Vec<_> = c.references.iter().map(|r| (r, cells(&r.metrics))).collect();
    let all = rows.iter().map(|(m, row)| (*m, row)).chain(references.iter().map(|(r, row)| (*r, row)));
    for (i, (method, cells)) in all.enumerate() {
        let is_ref = i >= rows.len();
        html.push_str(if is_ref { r#"<tr class="ref">"# } else { "<tr>" });
        let suffix = if is_ref { " (reference)" } else { "" };
        let _ = write!(html, "<th>{}{suffix}</th>", esc(&method.name));
        for (cell, best) in cells.iter().zip(&best) {
            let class = if !is_ref && cell.key.is_some() && cell.key == *best { r#" class="best""# } else { "" };
            let _ = write!(html, "<td{class}>{}</td>", esc(&cell.shown));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

/// Downstream results in the layout of the paper's Table 3 (micro-F1) and Table 6 (macro-F1).
pub(crate) fn downstream_table(c: &Comparison) -> String {
    let first =
        c.methods.iter().chain(&c.references).map(|m| &m.metrics).find(|m| m.is_object()).unwrap_or(&Value::Null);
    let classifier = first.get("classifier").and_then(Value::as_str).unwrap_or("classifier");
    let runs = first.get("runs").and_then(Value::as_array).map_or(0, Vec::len);
    let caption = format!(
        "A {} trained on each method's rows and tested on the real test set {}; in %, mean ± std over {runs} run(s) \
         [95% bootstrap interval over the test rows: two methods whose intervals overlap may not differ]. \
         Bold: best method per column; the reference is not ranked.",
        esc(classifier),
        esc(&c.test_set)
    );
    let head = [
        ("Method", "", Better::Unranked),
        ("Training rows", "rows the classifier was trained on", Better::Unranked),
        ("Micro-F1 ↑", "micro-F1 = accuracy on the real test set", Better::Higher),
        ("Macro-F1 ↑", "unweighted mean of the per-label F1", Better::Higher),
    ];
    ranked_table("table-downstream", &caption, &head, c, |m| {
        let n = num(m, &["n_train"]).map_or(MISSING.into(), count);
        vec![
            Cell { shown: short_mark(m).map_or(n.clone(), |short| format!("{n} ({short})")), key: None },
            Cell::mean_std(summary(m, "micro_f1"), interval(m, "micro_f1")),
            Cell::mean_std(summary(m, "macro_f1"), interval(m, "macro_f1")),
        ]
    })
}

/// The labels of a method's run that kept fewer rows than asked, when there are any.
pub(crate) fn short_labels(metrics: &Value) -> Option<&Vec<Value>> {
    metrics.get("short_labels").and_then(Value::as_array).filter(|labels| !labels.is_empty())
}

/// "short: 2 labels" for a method whose run kept fewer rows than asked for some labels: its
/// scores are not at the other methods' budget.
pub(crate) fn short_mark(metrics: &Value) -> Option<String> {
    let short = short_labels(metrics)?;
    Some(format!("short: {} label{}", short.len(), if short.len() == 1 { "" } else { "s" }))
}

/// Intrinsic metrics in the layout of the paper's Table 2, plus the other diversity and fidelity
/// measures of `genprompt eval`.
pub(crate) fn intrinsic_table(c: &Comparison) -> String {
    use Better::{Higher, Lower, Unranked};
    let head = [
        ("Method", "", Unranked),
        ("Rows", "rows measured", Unranked),
        ("APS ↓", "average pairwise cosine similarity; lower = more diverse", Lower),
        ("Intra-APS ↓", "APS within labels", Lower),
        ("Inter-APS ↓", "APS across labels", Lower),
        ("CMD ↓", "central moment discrepancy to the real test embeddings; lower = closer", Lower),
        ("Vocab ↑", "distinct lowercased words; grows with size", Higher),
        ("Remote-clique ↑", "mean cosine distance to all other rows", Higher),
        ("Chamfer ↑", "mean cosine distance to the nearest other row", Higher),
        ("Self-BLEU ↓", "BLEU of each text against the others; lower = less repetition", Lower),
        ("Top-5 sim. ↑", "mean of each real test text's 5 highest similarities to the rows", Higher),
        ("Label faithf. ↑", "% of rows a probe trained on real data assigns to their own label", Higher),
    ];
    let caption = "Diversity and fidelity of each training set (sentence-encoder embeddings). \
                   ↓ lower is better, ↑ higher is better; bold: best method per column. \
                   Vocabulary grows with size: compare sets of equal size.";
    ranked_table("table-intrinsic", caption, &head, c, |m| {
        let at = |path: &[&str]| num(m, &[&["intrinsic"][..], path].concat());
        let fixed = |path: &[&str]| Cell::fixed(at(path), 3);
        vec![
            Cell { shown: at(&["n_synthetic"]).map_or(MISSING.into(), count), key: None },
            fixed(&["aps", "overall"]),
            fixed(&["aps", "intra"]),
            fixed(&["aps", "inter"]),
            fixed(&["cmd"]),
            Cell { shown: at(&["text", "vocabulary"]).map_or(MISSING.into(), count), key: at(&["text", "vocabulary"]) },
            fixed(&["remote_clique"]),
            fixed(&["chamfer"]),
            fixed(&["self_bleu"]),
            fixed(&["top_k_similarity"]),
            Cell::fixed(at(&["label_faithfulness"]).map(|v| 100.0 * v), 1),
        ]
    })
}

/// Labels of a method: the manifest's, then any only the metrics know.
pub(crate) fn labels_of(m: &MethodResult) -> Vec<String> {
    let mut labels: Vec<String> = m
        .manifest
        .as_ref()
        .and_then(|v| v.get("labels"))
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for label in m.metrics.get("labels").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
    }
    labels
}

/// Rejection reasons with a non-zero count for some label, in the manifest's field order (so
/// every method lists them alike).
pub(crate) fn rejection_reasons(manifest: &Value) -> Vec<String> {
    let mut reasons: Vec<(String, bool)> = Vec::new();
    for counts in manifest.get("labels").and_then(Value::as_object).into_iter().flat_map(|o| o.values()) {
        for (reason, n) in counts.get("rejected").and_then(Value::as_object).into_iter().flatten() {
            let nonzero = n.as_f64().is_some_and(|n| n > 0.0);
            match reasons.iter_mut().find(|(r, _)| r == reason) {
                Some((_, seen)) => *seen |= nonzero,
                None => reasons.push((reason.clone(), nonzero)),
            }
        }
    }
    reasons.into_iter().filter(|(_, nonzero)| *nonzero).map(|(r, _)| r).collect()
}

/// Mean test F1 of `label` over the runs of a `metrics.json`, in percent.
fn label_f1(metrics: &Value, label: &str) -> Option<f64> {
    let scores: Vec<f64> = metrics
        .get("runs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|run| {
            run.get("per_label")?.as_array()?.iter().find(|s| s.get("label").and_then(Value::as_str) == Some(label))
        })
        .filter_map(|s| num(s, &["f1"]))
        .collect();
    (!scores.is_empty()).then(|| 100.0 * scores.iter().sum::<f64>() / scores.len() as f64)
}

/// Per label: generation counts and rejections from the manifest (when there is one), test F1
/// from the metrics.
pub(crate) fn class_table(m: &MethodResult) -> String {
    let manifest = m.manifest.as_ref().unwrap_or(&Value::Null);
    let reasons = rejection_reasons(manifest);
    let (fields, heads) = match m.manifest {
        Some(_) => (
            &["seed_rows", "requested", "llm_calls", "kept", "truncated"][..],
            &["Seed rows", "Requested", "LLM calls", "Kept", "Truncated"][..],
        ),
        None => (&[][..], &[][..]),
    };
    let mut html = String::from(r#"<div class="scroll"><table class="classes"><thead><tr><th>Label</th>"#);
    for head in heads {
        let _ = write!(html, "<th>{head}</th>");
    }
    for reason in &reasons {
        let _ = write!(html, r#"<th title="rejected: {0}">{0}</th>"#, esc(&reason.replace('_', " ")));
    }
    html.push_str(r#"<th title="mean over runs">Test F1 (%)</th></tr></thead><tbody>"#);
    let mut totals = vec![0.0; fields.len() + reasons.len()];
    for label in labels_of(m) {
        let counts = manifest.get("labels").and_then(|l| l.get(&label)).unwrap_or(&Value::Null);
        let _ = write!(html, "<tr><th>{}</th>", esc(&label));
        let values =
            fields.iter().map(|f| num(counts, &[f])).chain(reasons.iter().map(|r| num(counts, &["rejected", r])));
        for (value, total) in values.zip(&mut totals) {
            *total += value.unwrap_or(0.0);
            let _ = write!(html, "<td>{}</td>", value.map_or(MISSING.into(), count));
        }
        let f1 = label_f1(&m.metrics, &label).map_or(MISSING.into(), |f| format!("{f:.1}"));
        let _ = write!(html, "<td>{f1}</td></tr>");
    }
    if m.manifest.is_some() {
        html.push_str(r#"<tr class="total"><th>total</th>"#);
        for total in totals {
            let _ = write!(html, "<td>{}</td>", count(total));
        }
        html.push_str("<td></td></tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}
