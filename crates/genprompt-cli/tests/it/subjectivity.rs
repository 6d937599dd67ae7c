//! Subjectivity analysis: accuracy by annotator agreement in `eval`, and `genprompt subjectivity`.

use std::path::Path;

use crate::{TestContext, tiny_task};

fn ranking() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/subjectivity/li2023.toml").display().to_string()
}

fn json(context: &TestContext, name: &str) -> serde_json::Value {
    serde_json::from_str(&context.read(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// A metrics.json with only the fields `subjectivity` reads.
fn result(context: &TestContext, name: &str, dataset: &str, mix: &str, classifier: &str, micro_f1: f64) -> String {
    let metrics = serde_json::json!({
        "format_version": 3, "test": format!("/data/{dataset}/test.jsonl"), "mix": mix, "classifier": classifier,
        "summary": {"micro_f1": {"mean": micro_f1, "std": 0.0}},
    });
    context.write(&format!("{name}/metrics.json"), &metrics.to_string());
    name.to_string()
}

/// Test rows with annotator agreement: four rows the probe gets right (agreement 1.0, 1.0, "0.8"
/// as a string, 0.6), one mislabelled sports sentence at 0.4, and one row without agreement.
fn agreement_test_rows(context: &TestContext) {
    context.write(
        "agreement.jsonl",
        r#"{"text": "The goalkeeper saved a penalty in the cup semi-final.", "label": "sports", "agreement": 1.0}
{"text": "The president vetoed the tax bill on Friday.", "label": "politics", "agreement": 1}
{"text": "She won the marathon in record time.", "label": "sports", "agreement": "0.8"}
{"text": "Voters head to the polls for the regional election.", "label": "politics", "agreement": 0.6}
{"text": "The striker scored twice in the derby.", "label": "politics", "agreement": 0.4}
{"text": "The senate debated the bill until midnight.", "label": "politics"}
"#,
    );
}

#[test]
fn eval_reports_accuracy_at_rising_agreement_thresholds() {
    let context = TestContext::new();
    tiny_task(&context);
    agreement_test_rows(&context);
    let args = ["eval", "--train", "seeds.jsonl", "--test", "agreement.jsonl", "--agreement-field", "agreement"];
    let run = context.run(&[&args[..], &["--out", "default"]].concat()).success();
    assert!(run.stdout().contains("5 of 6 rows have it"), "{}", run.stdout());
    let metrics = json(&context, "default/metrics.json");
    assert_eq!(metrics["format_version"], 5);
    let curve = &metrics["agreement"];
    assert_eq!(curve["field"], "agreement");
    assert_eq!(curve["n_with_agreement"], 5);
    let points = curve["points"].as_array().unwrap();
    let thresholds: Vec<f64> = points.iter().map(|p| p["threshold"].as_f64().unwrap()).collect();
    assert_eq!(thresholds, [0.4, 0.6, 0.8, 1.0], "default thresholds are the distinct values");
    let counts: Vec<u64> = points.iter().map(|p| p["n_items"].as_u64().unwrap()).collect();
    assert_eq!(counts, [5, 4, 3, 2]);
    // Only the mislabelled 0.4 row is wrong, so accuracy rises from 4/5 to 1 once it is left out.
    let accuracy: Vec<f64> = points.iter().map(|p| p["accuracy"]["mean"].as_f64().unwrap()).collect();
    for (got, want) in accuracy.iter().zip([0.8, 1.0, 1.0, 1.0]) {
        assert!((got - want).abs() < 1e-9, "{curve}");
    }
    assert_eq!(points[0]["accuracy_per_run"].as_array().unwrap().len(), 3, "one value per run");

    context.run(&[&args[..], &["--agreement-thresholds", "0.9,0.5,1.5", "--out", "given"]].concat()).success();
    let points = json(&context, "given/metrics.json")["agreement"]["points"].clone();
    let counts: Vec<u64> = points.as_array().unwrap().iter().map(|p| p["n_items"].as_u64().unwrap()).collect();
    assert_eq!(counts, [4, 2, 0], "thresholds are sorted; none reach 1.5");
    assert!(points[2]["accuracy"].is_null());
}

#[test]
fn eval_without_agreement_writes_null_and_bad_agreement_fields_are_refused() {
    let context = TestContext::new();
    tiny_task(&context);
    context.run(&["eval", "--train", "seeds.jsonl", "--test", "test.jsonl", "--out", "."]).success();
    assert!(json(&context, "metrics.json")["agreement"].is_null());

    let run = context
        .run(&["eval", "--train", "seeds.jsonl", "--test", "test.jsonl", "--agreement-field", "votes"])
        .failure(2);
    assert!(run.stderr().contains("no row of") && run.stderr().contains("\"votes\""), "{}", run.stderr());
    context.write("bad.jsonl", "{\"text\": \"The match ended.\", \"label\": \"sports\", \"votes\": \"many\"}\n");
    let run = context
        .run(&["eval", "--train", "seeds.jsonl", "--test", "bad.jsonl", "--agreement-field", "votes"])
        .failure(2);
    assert!(run.stderr().contains("bad.jsonl row 1: field \"votes\" is \"many\", not a number"), "{}", run.stderr());
}

/// Four tasks of the shipped ranking (tiers 1, 1, 2, 3) with gaps 0.05, 0.02, 0.20, 0.35: ranks of
/// subjectivity (1.5, 1.5, 3, 4) and of the gaps (2, 1, 3, 4) give rho = 4.5 / sqrt(4.5 * 5).
#[test]
fn subjectivity_puts_each_gap_next_to_the_ranking_with_spearman_rho() {
    let context = TestContext::new();
    let results = [
        result(&context, "ag_real", "ag_news", "real", "probe", 0.90),
        result(&context, "ag_syn", "ag_news", "synthetic", "probe", 0.85),
        result(&context, "sms_real", "sms_spam", "real", "probe", 0.97),
        result(&context, "sms_syn", "sms_spam", "synthetic", "probe", 0.95),
        result(&context, "fin_real", "financial_phrasebank", "real", "probe", 0.80),
        result(&context, "fin_syn", "financial_phrasebank", "synthetic", "probe", 0.60),
        result(&context, "humor_real", "humor_colbert", "real", "probe", 0.95),
        result(&context, "humor_syn", "humor_colbert", "synthetic", "probe", 0.60),
        result(&context, "humor_fusion", "humor_colbert", "fusion", "probe", 0.99),
        // Only a real result: listed, not counted.
        result(&context, "irony_real", "tweeteval_irony", "real", "probe", 0.70),
    ];
    let ranking = ranking();
    let mut args = vec!["subjectivity", "--ranking", &ranking, "--out", "out", "--results"];
    args.extend(results.iter().map(String::as_str));
    let run = context.run(&args).success();
    assert!(run.stdout().contains("over 4 tasks: 0.949"), "{}", run.stdout());
    assert!(run.stderr().contains("humor_fusion/metrics.json (--mix fusion"), "{}", run.stderr());
    let report = json(&context, "out/subjectivity.json");
    assert_eq!(report["n_tasks"], 4);
    assert!((report["spearman_rho"].as_f64().unwrap() - 4.5 / 22.5f64.sqrt()).abs() < 1e-9, "{report}");
    let tasks = report["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 10, "every ranked task is listed");
    let humor = tasks.iter().find(|t| t["task"] == "Humor speech").unwrap();
    assert!((humor["gap"].as_f64().unwrap() - 0.35).abs() < 1e-9, "{humor}");
    let irony = tasks.iter().find(|t| t["task"] == "Tweet irony speech").unwrap();
    assert!(irony["gap"].is_null() && irony["real_micro_f1"].as_f64() == Some(0.70), "{irony}");
}

#[test]
fn subjectivity_refuses_unmatched_duplicate_and_mixed_results() {
    let context = TestContext::new();
    let ranking = ranking();
    let run_with = |results: &[String]| {
        let mut args = vec!["subjectivity", "--ranking", ranking.as_str(), "--results"];
        args.extend(results.iter().map(String::as_str));
        context.run(&args).failure(2)
    };
    let unknown = result(&context, "unknown", "chemprot", "real", "probe", 0.5);
    let run = run_with(&[unknown]);
    assert!(run.stderr().contains("matches no task") && run.stderr().contains("add \"chemprot\""), "{}", run.stderr());

    let twice = [
        result(&context, "a", "imdb", "synthetic", "probe", 0.8),
        result(&context, "b", "imdb", "synthetic", "probe", 0.7),
    ];
    assert!(run_with(&twice).stderr().contains("are both --mix synthetic results for the same task"));

    let mixed = [
        result(&context, "c", "imdb", "real", "probe", 0.9),
        result(&context, "d", "imdb", "synthetic", "finetune", 0.7),
    ];
    assert!(run_with(&mixed).stderr().contains("mix classifiers (finetune, probe)"));

    // Missing files are bad input too, named in the message.
    let imdb = result(&context, "e", "imdb", "real", "probe", 0.9);
    let run = run_with(&[imdb.clone(), "missing/metrics.json".to_string()]);
    assert!(run.stderr().contains("missing/metrics.json"), "{}", run.stderr());
    let args = ["subjectivity", "--ranking", "no-ranking.toml", "--results", imdb.as_str()];
    let run = context.run(&args).failure(2);
    assert!(run.stderr().contains("no-ranking.toml"), "{}", run.stderr());
}

/// Real `eval` output feeds `subjectivity`: the gap is the difference of the two files' scores.
#[test]
fn subjectivity_reads_the_metrics_that_eval_writes() {
    let context = TestContext::new();
    tiny_task(&context);
    std::fs::create_dir_all(context.path("sms_spam")).unwrap();
    std::fs::copy(context.path("test.jsonl"), context.path("sms_spam/test.jsonl")).unwrap();
    // "Synthetic" rows: the seeds with every label flipped, so the gap is large.
    let flipped = context.read("seeds.jsonl").replace("\"sports\"", "\"x\"").replace("\"politics\"", "\"sports\"");
    context.write("flipped.jsonl", &flipped.replace("\"x\"", "\"politics\""));
    let common = ["--test", "sms_spam/test.jsonl", "--real-train", "seeds.jsonl", "--runs", "1"];
    context.run(&[&["eval", "--train", "flipped.jsonl", "--out", "syn"][..], &common].concat()).success();
    context
        .run(&[&["eval", "--train", "flipped.jsonl", "--mix", "real", "--out", "real"][..], &common].concat())
        .success();
    let ranking = ranking();
    context.run(&["subjectivity", "--ranking", &ranking, "--results", "syn", "real", "--out", "."]).success();
    let f1 = |name: &str| json(&context, name)["summary"]["micro_f1"]["mean"].as_f64().unwrap();
    let report = json(&context, "subjectivity.json");
    let sms = report["tasks"].as_array().unwrap().iter().find(|t| t["task"] == "SMS spam").unwrap().clone();
    assert_eq!(sms["gap"].as_f64().unwrap(), f1("real/metrics.json") - f1("syn/metrics.json"));
    assert!(sms["gap"].as_f64().unwrap() > 0.5, "flipped labels should lose to real ones: {sms}");
    assert_eq!(report["classifier"], "probe");
}
