//! The HTML page: header and headline, the two tables, the overview charts and one section per
//! method. Inline CSS and SVG only; a Content-Security-Policy forbids scripts and fetches.

use std::fmt::Write;

use serde_json::Value;

use crate::svg::{self, BarGroup, Segment, Series, esc};
use crate::tables::{self, interval, num, summary};
use crate::{Comparison, LineageStats, MethodResult};

/// One plot, inlined in the page and written as `plots/<file>`.
pub(crate) struct Plot {
    pub file: String,
    pub svg: String,
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2327;background:#f4f5f7}
main{max-width:1240px;margin:0 auto;padding:20px 24px}
h1{font-size:24px;margin:0 0 6px}h2{font-size:19px;margin:0 0 10px;padding-bottom:4px;border-bottom:1px solid #dde1e6}
h3{font-size:15px;margin:14px 0 4px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 20px;margin:14px 0}
.facts{display:flex;flex-wrap:wrap;gap:2px 18px;color:#5f6b7a;margin:0;padding:0;list-style:none}
.facts b{color:#1d2327;font-weight:600}
.headline{font-size:16px;margin:10px 0 4px}
nav{margin-top:8px}nav a{margin-right:14px;color:#2b5d9c}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:4px 0}
th,td{padding:4px 9px;border-bottom:1px solid #e6e9ed;text-align:right;white-space:nowrap}
th:first-child{text-align:left;font-weight:600}
thead th{background:#f0f2f5;border-bottom:2px solid #c9ced6;text-align:right;white-space:normal;vertical-align:bottom}
thead th:first-child{text-align:left}
tr.ref th,tr.ref td{color:#5f6b7a;font-style:italic;background:#fafbfc}
tr.total th,tr.total td{border-top:2px solid #c9ced6;color:#5f6b7a}
td.best{font-weight:700}
caption{caption-side:bottom;text-align:left;color:#5f6b7a;font-size:12.5px;padding-top:6px}
.scroll{overflow-x:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:14px;align-items:start}
figure{margin:8px 0}figcaption{font-size:12px;color:#5f6b7a}figcaption a{color:#5f6b7a}
svg{max-width:100%;height:auto;display:block}
.muted{color:#8a94a3}footer{color:#8a94a3;font-size:12px;margin:18px 0}";

const KEPT_COLOR: &str = "#59a14f";
const REASON_COLORS: [(&str, &str); 7] = [
    ("refusal", "#e15759"),
    ("empty", "#bab0ac"),
    ("duplicate", "#f28e2b"),
    ("near_duplicate", "#edc948"),
    ("copies_parent", "#b07aa1"),
    ("missing_entity_tags", "#76b7b2"),
    ("llm_error", "#9c755f"),
];

/// The page and its plots, in order.
pub(crate) fn render(c: &Comparison) -> (String, Vec<Plot>) {
    let mut plots = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for m in c.methods.iter().chain(&c.references) {
        for label in tables::labels_of(m).into_iter().chain(m.projection.iter().map(|p| p.label.clone())) {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
    }
    let title = format!("genprompt compare: {}", c.task);
    let mut page = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>{}</title><style>{STYLE}</style></head><body><main><header><h1>{}</h1><ul class="facts">"#,
        esc(&title),
        esc(&title)
    );
    let facts = [("generator", &c.generator), ("encoder", &c.encoder), ("test set", &c.test_set)];
    for (name, value) in facts.into_iter().chain(c.details.iter().map(|(n, v)| (n.as_str(), v))) {
        let _ = write!(page, "<li>{} <b>{}</b></li>", esc(name), esc(value));
    }
    page.push_str("</ul>");
    page.push_str(&headline(c));
    page.push_str(r##"<nav><a href="#downstream">Downstream</a><a href="#intrinsic">Intrinsic</a>"##);
    for (i, m) in c.methods.iter().enumerate() {
        let _ = write!(page, r##"<a href="#method-{}">{}</a>"##, i + 1, esc(&m.name));
    }
    for (i, r) in c.references.iter().enumerate() {
        let _ = write!(page, r##"<a href="#reference-{}">{}</a>"##, i + 1, esc(&r.name));
    }
    page.push_str("</nav></header>");

    page.push_str(r#"<section id="downstream"><h2>Downstream: trained on synthetic rows, tested on real ones (layout of Table 3)</h2>"#);
    page.push_str(r#"<div class="grid"><div>"#);
    page.push_str(&tables::downstream_table(c));
    page.push_str("</div>");
    let groups: Vec<BarGroup> = c
        .methods
        .iter()
        .map(|m| (m, false))
        .chain(c.references.iter().map(|r| (r, true)))
        .map(|(m, reference)| BarGroup {
            name: m.name.clone(),
            values: vec![summary(&m.metrics, "micro_f1"), summary(&m.metrics, "macro_f1")],
            reference,
        })
        .collect();
    let chart = svg::bar_chart(
        "Micro-F1 and macro-F1 per method",
        "F1 (%), mean ± std over runs",
        &["micro-F1", "macro-F1"],
        &groups,
    );
    page.push_str(&figure(
        &mut plots,
        "f1.svg".into(),
        chart,
        "Bars: mean over runs; whiskers: ± one standard deviation.",
    ));
    page.push_str("</div></section>");

    page.push_str(r#"<section id="intrinsic"><h2>Intrinsic: diversity and fidelity (layout of Table 2)</h2>"#);
    page.push_str(&tables::intrinsic_table(c));
    let curves: Vec<Series> = c
        .methods
        .iter()
        .enumerate()
        .filter(|(_, m)| has_curve(m))
        .map(|(i, m)| curve_series(m, svg::color(i)))
        .collect();
    if curves.len() > 1 {
        let chart = svg::line_chart("Learning curves", "synthetic training rows", "micro-F1 (%)", &curves);
        page.push_str(&figure(
            &mut plots,
            "learning-curves.svg".into(),
            chart,
            "Micro-F1 against the number of synthetic rows trained on; whiskers: ± one standard deviation.",
        ));
    }
    page.push_str("</section>");

    for (i, m) in c.methods.iter().enumerate() {
        let stem = format!("{:02}-{}", i + 1, slug(&m.name));
        page.push_str(&method_section(&mut plots, &format!("method-{}", i + 1), &stem, m, &labels, svg::color(i)));
    }
    for (i, r) in c.references.iter().enumerate() {
        let (id, stem) = (format!("reference-{}", i + 1), format!("reference-{}", slug(&r.name)));
        page.push_str(&method_section(&mut plots, &id, &stem, r, &labels, "#8a94a3"));
    }
    page.push_str("<footer>Written by genprompt-report: one self-contained file (inline CSS and SVG, no scripts, nothing fetched); the plots are also in plots/.</footer></main></body></html>\n");
    (page, plots)
}

/// The best method by micro-F1 and by macro-F1, next to the reference.
fn headline(c: &Comparison) -> String {
    let mut parts = Vec::new();
    for (key, name) in [("micro_f1", "micro-F1"), ("macro_f1", "macro-F1")] {
        let best = c
            .methods
            .iter()
            .filter_map(|m| Some((m, summary(&m.metrics, key)?)))
            .max_by(|a, b| a.1.0.total_cmp(&b.1.0));
        if let Some((m, (mean, std))) = best {
            let mut part = format!("Best {name}: <b>{}</b> {mean:.1} ± {std:.1}", esc(&m.name));
            if let Some((low, high)) = interval(&m.metrics, key) {
                let _ = write!(part, " [{low:.1}–{high:.1}]");
            }
            let references: Vec<String> = c
                .references
                .iter()
                .filter_map(|r| {
                    summary(&r.metrics, key).map(|(mean, std)| format!("{} {mean:.1} ± {std:.1}", esc(&r.name)))
                })
                .collect();
            if !references.is_empty() {
                let _ = write!(part, " <span class=\"muted\">({})</span>", references.join("; "));
            }
            parts.push(part);
        }
    }
    let short: Vec<String> =
        c.methods.iter().filter(|m| tables::short_mark(&m.metrics).is_some()).map(|m| esc(&m.name)).collect();
    if !short.is_empty() {
        parts.push(format!(
            "<b>Incomplete:</b> {} kept fewer rows than asked for some labels, so compare them with care",
            short.join(", ")
        ));
    }
    if parts.is_empty() { String::new() } else { format!(r#"<p class="headline">{}</p>"#, parts.join(" · ")) }
}

/// "substrate 12 of 30 rows, inhibitor 28 of 30 rows": the labels that fell short, else None.
fn short_labels(metrics: &Value) -> Option<String> {
    let labels: Vec<String> = tables::short_labels(metrics)?
        .iter()
        .map(|l| {
            let at = |key: &str| l.get(key).and_then(Value::as_u64).unwrap_or(0);
            let name = l.get("label").and_then(Value::as_str).unwrap_or("?");
            format!("{name} {} of {} rows", at("kept"), at("requested"))
        })
        .collect();
    Some(labels.join(", "))
}

fn figure(plots: &mut Vec<Plot>, file: String, svg: String, caption: &str) -> String {
    let html = format!(
        r#"<figure>{svg}<figcaption>{} <a href="plots/{1}">{1}</a></figcaption></figure>"#,
        esc(caption),
        esc(&file)
    );
    plots.push(Plot { file, svg });
    html
}

/// A file-name-safe form of `name`: lowercase ASCII letters and digits joined by '-'.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(40).collect();
    if out.is_empty() { "method".into() } else { out }
}

fn has_curve(m: &MethodResult) -> bool {
    m.learning_curve.iter().any(|p| p.mean.is_finite())
}

/// The learning curve in percent; points without a finite mean are left out (no NaN in SVG).
fn curve_series(m: &MethodResult, color: &str) -> Series {
    let points = m
        .learning_curve
        .iter()
        .filter(|p| p.mean.is_finite())
        .map(|p| (p.size as f64, 100.0 * p.mean, if p.std.is_finite() { 100.0 * p.std.abs() } else { 0.0 }))
        .collect();
    Series { name: m.name.clone(), color: color.into(), points }
}

fn method_section(
    plots: &mut Vec<Plot>,
    id: &str,
    stem: &str,
    m: &MethodResult,
    labels: &[String],
    color: &str,
) -> String {
    let name = esc(&m.name);
    let role = if id == "reference" { r#" <span class="muted">(reference)</span>"# } else { "" };
    let mut html = format!(r#"<section id="{id}"><h2>{name}{role}</h2><ul class="facts">"#);
    let manifest = m.manifest.as_ref().unwrap_or(&Value::Null);
    let text =
        |v: &Value, path: &[&str]| path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).map(str::to_string);
    let number = |v: &Value, path: &[&str]| num(v, path).map(tables::count);
    let seconds = |v: &Value, path: &[&str]| num(v, path).map(|s| format!("{s:.0} s"));
    let tokens = num(manifest, &["tokens", "prompt"]).zip(num(manifest, &["tokens", "completion"]));
    let facts = [
        ("method", text(manifest, &["method"])),
        ("LLM", text(manifest, &["llm", "name"])),
        ("per label", number(manifest, &["n_per_label"])),
        ("seed", number(manifest, &["rng_seed"])),
        ("tokens in/out", tokens.map(|(p, c)| format!("{} / {}", tables::count(p), tables::count(c)))),
        ("generation", seconds(manifest, &["timings", "generation_s"])),
        ("classifier", text(&m.metrics, &["classifier"])),
        ("training rows", number(&m.metrics, &["n_train"])),
        ("incomplete", short_labels(&m.metrics)),
        ("test rows", number(&m.metrics, &["n_test"])),
    ];
    for (fact, value) in facts.iter().filter_map(|(f, v)| Some((f, v.as_ref()?))) {
        let _ = write!(html, "<li>{fact} <b>{}</b></li>", esc(value));
    }
    html.push_str("</ul>");
    let grid_at = html.len();
    if !m.projection.is_empty() {
        let chart = svg::scatter(&format!("{}: 2-D projection", m.name), &m.projection, labels);
        html.push_str(&figure(
            plots,
            format!("{stem}-projection.svg"),
            chart,
            "First two principal components of the embeddings; dots synthetic, crosses real.",
        ));
    }
    let reasons = tables::rejection_reasons(manifest);
    let label_counts = manifest.get("labels").and_then(Value::as_object).filter(|o| !o.is_empty());
    if let Some(counts) = label_counts {
        let mut segments = vec![Segment { name: "kept".into(), color: KEPT_COLOR.into() }];
        segments.extend(reasons.iter().enumerate().map(|(i, r)| Segment {
            name: r.replace('_', " "),
            color: REASON_COLORS.iter().find(|(k, _)| k == r).map_or(svg::color(i), |(_, c)| c).into(),
        }));
        let rows: Vec<(String, Vec<f64>)> = counts
            .iter()
            .map(|(label, n)| {
                let kept = num(n, &["kept"]).unwrap_or(0.0);
                (
                    label.clone(),
                    [kept].into_iter().chain(reasons.iter().map(|r| num(n, &["rejected", r]).unwrap_or(0.0))).collect(),
                )
            })
            .collect();
        let chart =
            svg::stacked_bars(&format!("{}: LLM calls per label", m.name), "LLM calls", &segments, &rows, false);
        html.push_str(&figure(
            plots,
            format!("{stem}-counts.svg"),
            chart,
            "Every LLM call ends as a kept row or a rejection, by reason.",
        ));
    }
    if has_curve(m) {
        let chart = svg::line_chart(
            &format!("{}: learning curve", m.name),
            "synthetic training rows",
            "micro-F1 (%)",
            &[curve_series(m, color)],
        );
        html.push_str(&figure(
            plots,
            format!("{stem}-learning-curve.svg"),
            chart,
            "Micro-F1 against training set size; whiskers: ± one standard deviation.",
        ));
    }
    let lineage = m.lineage.as_ref().filter(|l| l.n_offspring > 0);
    if let Some(lineage) = lineage {
        html.push_str(&lineage_figures(plots, stem, &m.name, lineage));
    }
    if html.len() > grid_at {
        html.insert_str(grid_at, r#"<div class="grid">"#);
        html.push_str("</div>");
    }
    if !tables::labels_of(m).is_empty() {
        html.push_str("<h3>Per label</h3>");
        html.push_str(&tables::class_table(m));
    }
    if let Some(l) = lineage {
        let max_depth = l.depth_histogram.len().saturating_sub(1);
        let _ = write!(
            html,
            "<h3>Lineage</h3><p>{} offspring; {:.1}% have at least one offspring parent ({:.1}% only offspring parents); generation depth mean {:.2}, max {max_depth}.",
            tables::count(l.n_offspring as f64),
            100.0 * l.share_with_offspring_parent(),
            100.0 * l.all_offspring_parents as f64 / l.n_offspring as f64,
            l.mean_depth(),
        );
        if l.unknown_parents > 0 {
            let _ = write!(html, " {} parent references are not in the dataset.", l.unknown_parents);
        }
        html.push_str("</p>");
    }
    html.push_str("</section>");
    html
}

fn lineage_figures(plots: &mut Vec<Plot>, stem: &str, name: &str, l: &LineageStats) -> String {
    let segments = [("from parent 1", "#4e79a7"), ("from parent 2", "#f28e2b"), ("mutated", "#e15759")]
        .map(|(name, color)| Segment { name: name.into(), color: color.into() });
    let rows: Vec<(String, Vec<f64>)> = l
        .genes
        .iter()
        .map(|g| (g.gene.clone(), vec![g.from_parent1 as f64, g.from_parent2 as f64, g.mutated as f64]))
        .collect();
    let chart = svg::stacked_bars(&format!("{name}: gene roles"), "% of offspring", &segments, &rows, true);
    let mut html = figure(
        plots,
        format!("{stem}-genes.svg"),
        chart,
        "How often each gene was inherited from parent 1, from parent 2, or mutated.",
    );
    // At most about 20 bars: long chains are bucketed.
    let depths = &l.depth_histogram[1.min(l.depth_histogram.len())..];
    let width = depths.len().div_ceil(20).max(1);
    let rows: Vec<(String, Vec<f64>)> = depths
        .chunks(width)
        .enumerate()
        .map(|(i, chunk)| {
            let (lo, hi) = (1 + i * width, i * width + chunk.len());
            let name = if lo == hi { format!("depth {lo}") } else { format!("depth {lo}–{hi}") };
            (name, vec![chunk.iter().sum::<usize>() as f64])
        })
        .collect();
    let offspring = [Segment { name: "offspring".into(), color: "#76b7b2".into() }];
    let chart = svg::stacked_bars(&format!("{name}: generation depth"), "offspring", &offspring, &rows, false);
    html.push_str(&figure(
        plots,
        format!("{stem}-depth.svg"),
        chart,
        "Depth 1: both parents are seed rows; each generation adds one.",
    ));
    html
}
