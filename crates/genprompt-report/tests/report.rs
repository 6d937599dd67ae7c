mod common;

use common::{HOSTILE, METHODS, assert_balanced, sample};
use genprompt_report::{Comparison, CurvePoint, MethodResult, ProjectedPoint, write_report};

#[test]
fn report_is_complete_escaped_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&sample(), dir.path()).unwrap();
    assert_eq!(files.html, dir.path().join("report.html"));
    let html = std::fs::read_to_string(&files.html).unwrap();

    // Hostile strings are text, never markup.
    assert!(!html.to_lowercase().contains("<script"), "raw script tag in the report");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("support &lt;routing&gt; &amp; &quot;triage&quot;"));
    // Nothing is fetched.
    for needle in
        ["src=\"http", "href=\"http", "src='http", "href='http", "url(", "@import", "<link", "<img", "<iframe"]
    {
        assert!(!html.contains(needle), "report contains {needle}");
    }
    assert!(html.contains("Content-Security-Policy"));
    assert_balanced(&html);

    for method in METHODS {
        assert!(html.contains(&format!("<th>{method}</th>")), "{method} missing from the tables");
    }
    assert!(html.contains("<th>gold (real train) (reference)</th>"));
    assert!(html.contains(r#"<table id="table-downstream">"#) && html.contains(r#"<table id="table-intrinsic">"#));
    // Bold marks the best method, never the reference: micro-F1 and APS of genetic, vocabulary too.
    assert!(html.contains(r#"<td class="best">77.2 ± 0.7</td>"#));
    assert!(html.contains(r#"<td class="best">0.389</td>"#));
    assert!(html.contains(r#"<td class="best">1,460</td>"#));
    assert!(!html.contains(r#"<td class="best">88.1"#));
    // Rejection reasons in the manifest's order for every method, zero-only reasons left out.
    let reasons = r#"<th title="rejected: refusal">refusal</th><th title="rejected: duplicate">duplicate</th><th title="rejected: near duplicate">near duplicate</th><th"#;
    assert_eq!(html.matches(reasons).count(), 3);
    // zeroshot has a micro-F1 but nothing else.
    assert!(html.contains("<td>58.3 ± 3.0</td><td>–</td>"));

    let names: Vec<String> =
        files.plots.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in [
        "f1.svg",
        "learning-curves.svg",
        "01-genetic-projection.svg",
        "01-genetic-counts.svg",
        "01-genetic-learning-curve.svg",
        "01-genetic-genes.svg",
        "01-genetic-depth.svg",
        "03-attrprompt-projection.svg",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
    assert_eq!(names.len(), 2 + 5 + 3 + 3);
    let mut hostile_in_svg = false;
    for path in &files.plots {
        assert_eq!(path.parent().unwrap(), dir.path().join("plots"));
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{}", path.display());
        assert!(svg.ends_with("</svg>"), "{}", path.display());
        assert_balanced(&svg);
        assert!(!svg.contains(HOSTILE));
        hostile_in_svg |= svg.contains("&lt;script&gt;");
        assert!(html.contains(&svg), "{} is not inlined in the page", path.display());
    }
    assert!(hostile_in_svg, "the hostile label should appear, escaped, in a legend");
}

#[test]
fn missing_parts_show_as_dashes() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = Comparison {
        task: "t".into(),
        methods: vec![MethodResult { name: "empty".into(), ..MethodResult::default() }],
        ..Comparison::default()
    };
    let files = write_report(&sparse, dir.path()).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("<th>empty</th><td>–</td><td>–</td><td>–</td>"));
    assert_balanced(&html);
    assert_eq!(files.plots.len(), 1, "only the F1 chart: {:?}", files.plots);

    // Non-finite numbers are left out, never written as NaN or inf.
    let odd = MethodResult {
        name: "odd".into(),
        projection: vec![
            ProjectedPoint { x: f32::NAN, y: 0.0, label: "a".into(), real: false },
            ProjectedPoint { x: 1.0, y: f32::INFINITY, label: "a".into(), real: true },
            ProjectedPoint { x: 1.0, y: 2.0, label: "a".into(), real: true },
        ],
        learning_curve: vec![
            CurvePoint { size: 10, mean: f64::NAN, std: 0.1 },
            CurvePoint { size: 20, mean: 0.5, std: f64::INFINITY },
        ],
        ..MethodResult::default()
    };
    let files =
        write_report(&Comparison { methods: vec![odd], ..Comparison::default() }, &dir.path().join("odd")).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(!html.contains("NaN") && !html.contains("inf"), "non-finite number in the report");
    assert_balanced(&html);

    let nothing = write_report(&Comparison::default(), &dir.path().join("nothing")).unwrap();
    assert_balanced(&std::fs::read_to_string(nothing.html).unwrap());
}

#[test]
fn same_input_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (fa, fb) = (write_report(&sample(), a.path()).unwrap(), write_report(&sample(), b.path()).unwrap());
    assert_eq!(std::fs::read(&fa.html).unwrap(), std::fs::read(&fb.html).unwrap());
    for (pa, pb) in fa.plots.iter().zip(&fb.plots) {
        assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
    }
}

#[test]
fn a_comparison_saved_as_json_gives_the_same_report() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let saved: Comparison = serde_json::from_str(&serde_json::to_string(&sample()).unwrap()).unwrap();
    let (fa, fb) = (write_report(&sample(), a.path()).unwrap(), write_report(&saved, b.path()).unwrap());
    assert!(std::fs::read(fa.html).unwrap() == std::fs::read(fb.html).unwrap());
}

#[test]
fn bootstrap_intervals_show_next_to_the_scores_when_the_metrics_have_them() {
    let mut comparison = sample();
    let summary = &mut comparison.methods[0].metrics["summary"];
    summary["bootstrap"] = serde_json::json!({
        "resamples": 1000, "confidence": 0.95,
        "accuracy": {"low": 0.741, "high": 0.803},
        "micro_f1": {"low": 0.741, "high": 0.803},
        "macro_f1": {"low": 0.70, "high": 0.77},
    });
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(write_report(&comparison, dir.path()).unwrap().html).unwrap();
    assert!(html.contains(r#"<td class="best">77.2 ± 0.7 [74.1–80.3]</td>"#), "micro-F1 cell with its interval");
    assert!(html.contains("95% bootstrap interval over the test rows"));
    assert!(html.contains("</b> 77.2 ± 0.7 [74.1–80.3]"), "the headline carries the interval too");
    // Methods whose metrics predate the intervals show the score alone.
    assert!(html.contains("<td>58.3 ± 3.0</td><td>–</td>"));
}

#[test]
fn a_method_that_fell_short_is_marked_where_its_scores_are() {
    let mut comparison = sample();
    comparison.methods[1].metrics["short_labels"] = serde_json::json!([
        {"label": "billing", "kept": 12, "requested": 32, "llm_calls": 128, "top_rejections": []},
        {"label": "<b>x</b>", "kept": 30, "requested": 32, "llm_calls": 128, "top_rejections": []},
    ]);
    let short = comparison.methods[1].name.clone();
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(write_report(&comparison, dir.path()).unwrap().html).unwrap();
    assert_balanced(&html);
    // The downstream table's row count, the headline, and the method's own facts.
    assert!(html.contains(&format!("<th>{short}</th><td>96 (short: 2 labels)</td>")), "{html}");
    assert_eq!(html.matches("(short: ").count(), 1, "only the short method is marked");
    assert!(html.contains(&format!("<b>Incomplete:</b> {short} kept fewer rows")));
    assert!(html.contains("<li>incomplete <b>billing 12 of 32 rows, &lt;b&gt;x&lt;/b&gt; 30 of 32 rows</b></li>"));
    // Without short labels nothing is marked.
    let html = std::fs::read_to_string(write_report(&sample(), &dir.path().join("full")).unwrap().html).unwrap();
    assert!(!html.contains("Incomplete") && !html.contains("(short: ") && !html.contains("<li>incomplete"));
}
