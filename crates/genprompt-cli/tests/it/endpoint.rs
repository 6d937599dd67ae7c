//! Generation through an OpenAI-compatible endpoint: the in-process fault server of
//! genprompt-llm-http stands in for vLLM, Ollama or OpenAI.

use crate::{TestContext, fault_server, read_jsonl, tiny_task};

const SECRET: &str = "sk-test-0123456789abcdef-do-not-leak";

#[test]
fn generate_through_an_endpoint_without_leaking_the_key() {
    let server = fault_server();
    let context = TestContext::new();
    tiny_task(&context);
    let base_url = server.base_url();
    let args = [
        "generate",
        "--task",
        "task.toml",
        "-n",
        "3",
        "--out",
        "out",
        "--base-url",
        &base_url,
        "--model",
        "test-model",
        "--api-key-env",
        "GENPROMPT_TEST_KEY",
        "--keep-near-duplicates",
        "-v",
    ];
    let run = context.run_with_env(&args, &[("GENPROMPT_TEST_KEY", SECRET)]).success();

    let rows = read_jsonl(&context.path("out/dataset.jsonl"));
    assert_eq!(rows.iter().filter(|r| r["label"] == "sports").count(), 3);
    assert_eq!(rows.iter().filter(|r| r["label"] == "politics").count(), 3);
    let manifest: serde_json::Value = serde_json::from_str(&context.read("out/manifest.json")).unwrap();
    assert_eq!(manifest["llm"]["backend"], "openai-compatible");
    assert_eq!(manifest["llm"]["name"], "test-model");

    let hits = server.hits();
    assert!(hits.len() >= 6, "{} requests reached the server", hits.len());
    assert!(hits.iter().all(|hit| hit.authorization.as_deref() == Some(&format!("Bearer {SECRET}")[..])));
    assert_eq!(hits[0].body["model"], "test-model");

    // The key appears in no file the run wrote (dataset, manifest, journal, response cache) and
    // in no output line.
    let files = crate::files_under(&context.path("out"));
    let cache = crate::files_under(&context.path("response-cache"));
    assert!(files.iter().any(|p| p.ends_with("run.sqlite")), "{files:?}");
    assert!(cache.iter().any(|p| p.ends_with("responses.sqlite")), "{cache:?}");
    for path in files.iter().chain(&cache) {
        let bytes = std::fs::read(path).unwrap();
        let leaked = bytes.windows(SECRET.len()).any(|window| window == SECRET.as_bytes());
        assert!(!leaked, "{} contains the API key", path.display());
    }
    assert!(!run.stdout().contains(SECRET) && !run.stderr().contains(SECRET), "the key was printed");
}

#[test]
fn base_url_without_model_or_with_a_missing_key_variable_is_bad_input() {
    let context = TestContext::new();
    tiny_task(&context);
    let args = ["generate", "--task", "task.toml", "-n", "1", "--out", "out", "--base-url", "http://127.0.0.1:9/v1"];
    let run = context.run(&args).failure(2);
    assert!(run.stderr().contains("an endpoint needs a model name: pass --model NAME"), "{}", run.stderr());
    let mut with_model = args.to_vec();
    with_model.extend(["--model", "m", "--api-key-env", "GENPROMPT_TEST_UNSET_KEY"]);
    let run = context.run(&with_model).failure(2);
    assert!(run.stderr().contains("GENPROMPT_TEST_UNSET_KEY"), "{}", run.stderr());
}

/// Every fault of the test server, twice, in the middle of a run: the run still ends with exactly
/// the requested rows, no duplicates, and the faults in the manifest (retries, refusals,
/// truncations).
#[test]
fn a_run_through_every_fault_ends_with_exactly_the_requested_rows() {
    use genprompt_llm_http::testing::Fault;
    use std::time::Duration;
    let cases: Vec<(&str, Fault)> = vec![
        ("429 with Retry-After", Fault::RateLimited(Some("1".to_string()))),
        ("500", Fault::status(500)),
        ("503", Fault::status(503)),
        ("slower than the timeout", Fault::Slow(Duration::from_secs(3))),
        ("reset connection", Fault::Reset),
        ("invalid JSON", Fault::InvalidJson),
        ("empty choices", Fault::EmptyChoices),
        ("refusal", Fault::Refusal),
        ("finish_reason length", Fault::Length),
    ];
    for (name, fault) in cases {
        let server = fault_server();
        let context = TestContext::new();
        tiny_task(&context);
        // A short timeout, from the task file's [llm] table.
        let task = context.read("task.toml") + "\n[llm]\ntimeout_s = 1.0\n";
        context.write("task.toml", &task);
        // Two hits into the first batch, so the faults land among healthy requests.
        server.script_next([Fault::Ok, fault.clone(), fault]);
        let url = server.base_url();
        let args = [
            "generate",
            "--task",
            "task.toml",
            "-n",
            "3",
            "--out",
            "out",
            "--base-url",
            &url,
            "--model",
            "m",
            "--keep-near-duplicates",
        ];
        let run = context.run(&args);
        assert_eq!(run.code(), Some(0), "{name}: {}", run.stderr());
        let rows = read_jsonl(&context.path("out/dataset.jsonl"));
        for label in ["sports", "politics"] {
            assert_eq!(rows.iter().filter(|r| r["label"] == label).count(), 3, "{name}");
        }
        let texts: std::collections::HashSet<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
        assert_eq!(texts.len(), rows.len(), "{name}: duplicate rows");
        let manifest: serde_json::Value = serde_json::from_str(&context.read("out/manifest.json")).unwrap();
        let total = |field: &str| -> u64 {
            manifest["labels"].as_object().unwrap().values().map(|c| c[field].as_u64().unwrap_or(0)).sum()
        };
        let refusals: u64 =
            manifest["labels"].as_object().unwrap().values().map(|c| c["rejected"]["refusal"].as_u64().unwrap()).sum();
        match name {
            "refusal" => assert_eq!(refusals, 2, "{name}: {manifest}"),
            "finish_reason length" => assert_eq!(total("truncated"), 2, "{name}: {manifest}"),
            _ => {
                let retries = manifest["requests"]["retries"].as_u64().unwrap();
                assert!((2..=10).contains(&retries), "{name}: {retries} retries, bounded: {manifest}");
                assert_eq!(manifest["requests"]["failed"], 0, "{name}");
            }
        }
        assert!(run.stdout().contains("retries"), "{name}: the summary reports retries: {}", run.stdout());
    }
}

#[test]
fn embed_through_an_embeddings_endpoint_without_leaking_the_key() {
    let server = fault_server();
    let context = TestContext::new();
    let rows: String = (0..5).map(|i| format!("{{\"text\": \"row {i}\", \"label\": \"a\"}}\n")).collect();
    context.write("rows.jsonl", &rows);
    let base_url = server.base_url();
    let args = ["embed", "--input", "rows.jsonl", "--output", "out.jsonl", "--encoder-base-url", &base_url];
    let mut args = args.to_vec();
    args.extend(["--encoder-model", "embed-model", "--api-key-env", "GENPROMPT_TEST_KEY"]);
    let run = context.run_with_env(&args, &[("GENPROMPT_TEST_KEY", SECRET)]).success();

    let out = read_jsonl(&context.path("out.jsonl"));
    assert_eq!(out.len(), 5);
    for (i, row) in out.iter().enumerate() {
        let vector: Vec<f64> = row["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(vector.len(), genprompt_llm_http::testing::EMBEDDING_DIM);
        let norm = vector.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "row {i} is normalised: {norm}");
    }
    // One probe for the dimension, then one batch for the five rows.
    let hits = server.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].body["input"].as_array().unwrap().len(), 5);
    assert!(hits.iter().all(|hit| hit.authorization.as_deref() == Some(&format!("Bearer {SECRET}")[..])));
    assert!(run.stdout().contains("embed-model"), "{}", run.stdout());
    let written = context.read("out.jsonl");
    assert!(!written.contains(SECRET) && !run.stdout().contains(SECRET) && !run.stderr().contains(SECRET));
}

#[test]
fn the_manifest_is_written_last_so_a_failed_card_leaves_no_finished_folder() {
    let server = fault_server();
    let context = TestContext::new();
    tiny_task(&context);
    // A folder where the dataset card should go: writing the card fails.
    std::fs::create_dir_all(context.path("out/README.md")).unwrap();
    let url = server.base_url();
    let args = ["generate", "--task", "task.toml", "-n", "2", "--out", "out", "--base-url", url.as_str()];
    let run = context.run(&[&args[..], &["--model", "m", "--keep-near-duplicates"]].concat()).failure(1);
    assert!(run.stderr().contains("README.md"), "{}", run.stderr());
    assert!(!context.path("out/manifest.json").exists(), "a manifest marks a finished folder");
}

#[test]
fn a_compare_whose_method_falls_short_writes_its_report_and_exits_3_unless_allowed() {
    use genprompt_llm_http::testing::{Fault, FaultServer};
    let server = FaultServer::start();
    // Three usable replies for the four rows asked, then only refusals.
    let replies = [
        "The club signed a young winger from the youth academy.",
        "The senate debated the new election law until midnight.",
        "A rookie driver won the rain-soaked grand prix.",
    ];
    server.script_next(replies.map(|t| Fault::Reply(t.to_string())));
    server.set_default(Fault::Refusal);
    let context = TestContext::new();
    tiny_task(&context);
    let base_url = server.base_url();
    let args = |out: &str| -> Vec<String> {
        [
            "compare",
            "--task",
            "task.toml",
            "--test",
            "test.jsonl",
            "--methods",
            "simprompt",
            "-n",
            "2",
            "--batch-size",
            "2",
            "--runs",
            "1",
            "--base-url",
            &base_url,
            "--model",
            "m",
            "--out",
            out,
        ]
        .map(String::from)
        .to_vec()
    };
    let run = context.run(&refs(&args("cmp")));
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    assert!(run.stderr().contains("incomplete: simprompt: 1 label(s) got fewer rows than asked"), "{}", run.stderr());
    assert!(run.stderr().contains("refusal"), "the top rejection reason is named: {}", run.stderr());
    // The report and the metrics were written, and say which method fell short.
    let metrics: serde_json::Value = serde_json::from_str(&context.read("cmp/metrics.json")).unwrap();
    let short = metrics["simprompt"]["short_labels"].as_array().unwrap();
    assert_eq!(short.len(), 1, "{short:?}");
    assert_eq!((short[0]["kept"].as_u64(), short[0]["requested"].as_u64()), (Some(1), Some(2)));
    assert_eq!(metrics["simprompt"]["n_train"], 3);
    assert_eq!(metrics["real seed rows"]["short_labels"].as_array().map(Vec::len), Some(0));
    assert!(context.read("cmp/report.html").contains("(short: 1 label)"));
    assert!(run.stdout().contains("SHORT"), "the scores table marks it: {}", run.stdout());

    // Accepted, the same compare exits with 0 and still marks the method.
    let mut allowed = args("cmp-allowed");
    allowed.push("--allow-short".into());
    let run = context.run(&refs(&allowed)).success();
    assert!(run.stderr().contains("incomplete: simprompt"), "{}", run.stderr());
    let metrics: serde_json::Value = serde_json::from_str(&context.read("cmp-allowed/metrics.json")).unwrap();
    assert_eq!(metrics["simprompt"]["short_labels"].as_array().map(Vec::len), Some(1));
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
