//! Every method and ablation end to end on the embedded models, at tiny sizes.

use genprompt_llm_http::testing::{Fault, FaultServer};

use crate::{TestContext, read_jsonl, tiny_task};

/// Runs `generate` with `extra` flags and checks what every method must satisfy.
fn check(context: &TestContext, out: &str, extra: &[&str], method_name: &str) -> serde_json::Value {
    // These runs prove that every method goes through the pipeline, on the smallest model: a
    // label that falls short is accepted here (its exit code is tested on its own).
    let mut args = vec![
        "generate",
        "--task",
        "task.toml",
        "-n",
        "2",
        "--out",
        out,
        "--batch-size",
        "2",
        "--max-tokens",
        "32",
        "--allow-short",
    ];
    args.extend_from_slice(extra);
    context.run(&args).success();
    let manifest: serde_json::Value = serde_json::from_str(&context.read(&format!("{out}/manifest.json"))).unwrap();
    assert_eq!(manifest["method"], method_name);
    let rows = read_jsonl(&context.path(&format!("{out}/dataset.jsonl")));
    let mut total_kept = 0;
    for (label, counts) in manifest["labels"].as_object().unwrap() {
        let kept = counts["kept"].as_u64().unwrap();
        let rejected: u64 = counts["rejected"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(counts["llm_calls"].as_u64().unwrap(), kept + rejected, "{method_name} {label}: {counts}");
        assert_eq!(rows.iter().filter(|r| r["label"] == *label).count() as u64, kept);
        total_kept += kept;
    }
    assert_eq!(rows.len() as u64, total_kept);
    manifest
}

#[test]
fn every_method_and_ablation_runs() {
    let context = TestContext::new();
    tiny_task(&context);
    let manifest = check(&context, "simprompt", &["--method", "simprompt"], "simprompt");
    assert_eq!(manifest["parameters"]["examples_per_prompt"], 2);
    let rows = read_jsonl(&context.path("simprompt/dataset.jsonl"));
    assert!(rows.iter().all(|r| r["lineage"]["examples"].as_array().unwrap().len() == 2), "{rows:?}");

    check(&context, "attrprompt", &["--method", "attrprompt"], "attrprompt");
    let rows = read_jsonl(&context.path("attrprompt/dataset.jsonl"));
    for row in &rows {
        let style = row["lineage"]["attributes"]["style"].as_str().unwrap();
        assert!(["plain", "dramatic"].contains(&style), "{row}");
    }
    check(&context, "zeroshot", &["--method", "zeroshot"], "zeroshot");
    check(&context, "fewshot", &["--method", "fewshot"], "fewshot");
    let manifest = check(&context, "curated", &["--method", "curated"], "curated");
    assert_eq!(manifest["parameters"]["min_confidence"], 0.5);
    let manifest = check(&context, "nomut", &["--ablation", "no-mutation", "--pool-update", "offspring"], "genetic");
    assert_eq!(manifest["parameters"]["ablation"], "no-mutation");
    let rows = read_jsonl(&context.path("nomut/dataset.jsonl"));
    assert!(!rows.is_empty(), "the no-mutation run kept no row to check");
    for row in &rows {
        let lineage = &row["lineage"];
        assert!(lineage.get("mutated").is_none(), "{row}");
        let inherited = ["from_parent1", "from_parent2"].map(|k| lineage[k].as_array().map_or(0, Vec::len));
        assert_eq!(inherited.iter().sum::<usize>(), 3, "every gene comes from a parent: {row}");
    }
    let extra =
        ["--ablation", "word-as-gene", "--parents", "random", "--genes-schedule", "code", "--postprocess", "raw"];
    let manifest = check(&context, "words", &extra, "genetic");
    assert_eq!(manifest["parameters"]["parents"], "random");
    assert_eq!(manifest["parameters"]["postprocess"], "raw");

    let run = context.run(&[
        "generate",
        "--task",
        "task.toml",
        "-n",
        "1",
        "--method",
        "zeroshot",
        "--ablation",
        "no-mutation",
    ]);
    assert!(run.failure(2).stderr().contains("--ablation only applies to --method genetic"));
}

#[test]
fn relation_tasks_keep_only_rows_with_both_entity_tags() {
    let context = TestContext::new();
    context.write(
        "seeds.jsonl",
        r#"{"text": "<chemical>Aspirin</chemical> inhibits <protein>COX-1</protein> in platelets.", "label": "downregulator"}
{"text": "<protein>CYP3A4</protein> activity was reduced by <chemical>ketoconazole</chemical>.", "label": "downregulator"}
{"text": "<chemical>Dexamethasone</chemical> induced the expression of <protein>MKP-1</protein>.", "label": "upregulator"}
{"text": "<chemical>Forskolin</chemical> increased <protein>CREB</protein> levels in neurons.", "label": "upregulator"}
"#,
    );
    context.write(
        "task.toml",
        r#"name = "tiny-chemprot"
kind = "relation_extraction"
domain = "Protein Chemical Relation extraction"
text_kind = "sentence"
genes = ["length", "voice", "interaction_verb"]

[seeds]
path = "seeds.jsonl"

[relation]
tags = ["chemical", "protein"]

[[labels]]
name = "upregulator"
definition = "the chemical activates expression of the protein"

[[labels]]
name = "downregulator"
definition = "the chemical inhibits expression of the protein"
"#,
    );
    // The endpoint's replies are scripted in arrival order; the generational schedule works label
    // after label, so the first batch (upregulator) gets
    // two replies without the required tags, every later request a distinct tagged sentence.
    let server = FaultServer::start();
    let untagged = [
        "Aspirin inhibits <protein>COX-1</protein>.",
        "<chemical>A</chemical> and <chemical>B</chemical> bind <protein>P</protein>.",
    ];
    let tagged = (0..8).map(|i| {
        format!("<chemical>Compound {i}</chemical> sharply raised <protein>Kinase {i}</protein> levels in cells.")
    });
    server.script_next(untagged.map(|t| Fault::Reply(t.to_string())).into_iter().chain(tagged.map(Fault::Reply)));
    let url = server.base_url();
    let manifest = check(
        &context,
        "out",
        &["--base-url", &url, "--model", "m", "--keep-near-duplicates", "--schedule", "generational"],
        "genetic",
    );
    let rows = read_jsonl(&context.path("out/dataset.jsonl"));
    assert_eq!(rows.len(), 4, "two rows per label: {rows:?}");
    for row in &rows {
        let text = row["text"].as_str().unwrap();
        assert!(text.starts_with("<chemical>Compound ") && text.ends_with("</protein> levels in cells."), "{text}");
    }
    assert_eq!(manifest["labels"]["upregulator"]["rejected"]["missing_entity_tags"], 2, "{manifest}");
    assert_eq!(manifest["labels"]["downregulator"]["rejected"]["missing_entity_tags"], 0, "{manifest}");
    // SmolLM2-135M almost never writes a tagged sentence: the same run without --allow-short is
    // short, writes what it kept, marks the manifest incomplete and exits with 3.
    let args =
        ["generate", "--task", "task.toml", "-n", "3", "--out", "short", "--batch-size", "3", "--max-tokens", "32"];
    let run = context.run(&args);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    assert!(run.stderr().contains("label(s) got fewer rows than asked"), "{}", run.stderr());
    assert!(run.stderr().contains("--allow-short"), "{}", run.stderr());
    let manifest: serde_json::Value = serde_json::from_str(&context.read("short/manifest.json")).unwrap();
    let short = manifest["short_labels"].as_array().unwrap();
    assert!(!short.is_empty(), "{manifest}");
    for label in short {
        assert!(label["kept"].as_u64().unwrap() < 3 && label["llm_calls"].as_u64().unwrap() >= 1, "{label}");
        assert!(!label["top_rejections"].as_array().unwrap().is_empty(), "{label}");
    }
    assert!(context.path("short/dataset.jsonl").exists());
}

#[test]
fn compare_writes_a_self_contained_report_and_metrics_for_every_method() {
    let context = TestContext::new();
    tiny_task(&context);
    let args = [
        "compare",
        "--task",
        "task.toml",
        "--test",
        "test.jsonl",
        "--real-train",
        "seeds.jsonl",
        "-n",
        "2",
        "--methods",
        "genetic,simprompt",
        "--batch-size",
        "2",
        "--max-tokens",
        "32",
        "--runs",
        "2",
        "--out",
        "cmp",
        // SmolLM2 may leave a label short; that exit code is tested in endpoint.rs.
        "--allow-short",
    ];
    let run = context.run(&args).success();
    assert!(run.stdout().contains("report: "), "{}", run.stdout());
    let html = context.read("cmp/report.html");
    for needle in
        [r#"<table id="table-downstream">"#, r#"<table id="table-intrinsic">"#, "genetic", "simprompt", "<svg"]
    {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "the report fetches nothing");
    let metrics: serde_json::Value = serde_json::from_str(&context.read("cmp/metrics.json")).unwrap();
    for method in ["genetic", "simprompt", "real seed rows", "real data"] {
        assert_eq!(metrics[method]["runs"].as_array().map(Vec::len), Some(2), "{method}");
    }
    assert!(context.path("cmp/methods/genetic/dataset.jsonl").is_file());
    assert!(context.path("cmp/methods/simprompt/manifest.json").is_file());
    assert!(std::fs::read_dir(context.path("cmp/plots")).unwrap().count() >= 4);
}
