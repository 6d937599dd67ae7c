//! The tables the commands print: scores per evaluation, per-label scores, accuracy by annotator
//! agreement, and the subjectivity gaps.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use genprompt::{AgreementCurve, MeanStd, Metrics, SubjectivityReport};

/// One table: a column per evaluation, rows for the scores, per-label F1 and the intrinsic metrics.
pub fn scores_table(columns: &[(&str, &Metrics)]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["metric".to_string()];
    header.extend(columns.iter().map(|(name, m)| {
        let short = if m.short_labels.is_empty() { "" } else { ", SHORT" };
        format!("{name}\n(n_train {}{short}, {} runs)", m.n_train, m.runs.len())
    }));
    table.set_header(header);
    let row = |name: String, value: &dyn Fn(&Metrics) -> String| {
        let mut cells = vec![name];
        cells.extend(columns.iter().map(|(_, m)| value(m)));
        cells
    };
    let pct = |v: f64| format!("{:.1}", 100.0 * v);
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    // The runs' std reflects the probe's seed only; the bootstrap interval, the test rows drawn.
    let interval = |m: &Metrics, pick: fn(&genprompt::BootstrapReport) -> genprompt::Interval| {
        m.summary.bootstrap.as_ref().map_or_else(
            || "-".into(),
            |b| {
                let i = pick(b);
                format!("[{:.1}, {:.1}]", 100.0 * i.low, 100.0 * i.high)
            },
        )
    };
    table.add_row(row("accuracy = micro-F1 (mean ± std)".into(), &|m| m.summary.accuracy.percent()));
    table.add_row(row("  95% bootstrap interval".into(), &|m| interval(m, |b| b.micro_f1)));
    table.add_row(row("macro-F1 (mean ± std)".into(), &|m| m.summary.macro_f1.percent()));
    table.add_row(row("  95% bootstrap interval".into(), &|m| interval(m, |b| b.macro_f1)));
    for (label_idx, label) in columns.first().map_or(&[][..], |(_, m)| &m.labels[..]).iter().enumerate() {
        table.add_row(row(format!("  F1 {label}"), &|m| {
            m.per_label_mean.get(label_idx).map_or_else(|| "-".into(), |s| pct(s.f1))
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

/// Precision, recall and F1 of every label, averaged over the runs, and support.
pub fn per_label_table(metrics: &Metrics) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let runs = format!("(mean of {} runs)", metrics.runs.len());
    table.set_header(["label", &format!("precision\n{runs}"), "recall", "F1", "support"]);
    for scores in &metrics.per_label_mean {
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

pub fn gap_table(report: &SubjectivityReport) -> Table {
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
