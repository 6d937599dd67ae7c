//! generate -> eval -> embed on the real embedded models.

use crate::{TestContext, fault_server, read_jsonl, tiny_task};

const N_PER_LABEL: usize = 3;

fn generate(context: &TestContext, out: &str, seed: &str, extra: &[&str]) -> crate::Run {
    let n = N_PER_LABEL.to_string();
    let mut args = vec![
        "generate",
        "--task",
        "task.toml",
        "--method",
        "genetic",
        "-n",
        &n,
        "--out",
        out,
        "--seed",
        seed,
        "--batch-size",
        "3",
        "--max-tokens",
        "40",
        "--threads",
        "1",
    ];
    args.extend(extra);
    context.run(&args).success()
}

#[test]
fn generate_then_eval_on_the_embedded_models() {
    let context = TestContext::new();
    tiny_task(&context);
    let run = generate(&context, "out", "7", &[]);
    assert!(run.stdout().contains("sports: kept 3/3"), "{}", run.stdout());

    // The dataset: exactly N rows per label, lineage pointing at seed rows or earlier offspring.
    let rows = read_jsonl(&context.path("out/dataset.jsonl"));
    let seeds: Vec<String> = read_jsonl(&context.path("seeds.jsonl")).iter().map(|r| r["text"].to_string()).collect();
    for label in ["sports", "politics"] {
        let label_rows: Vec<_> = rows.iter().filter(|r| r["label"] == label).collect();
        assert_eq!(label_rows.len(), N_PER_LABEL, "{label}");
        for row in label_rows {
            let text = row["text"].as_str().unwrap();
            assert!(!text.trim().is_empty());
            assert!(!seeds.contains(&row["text"].to_string()), "a seed row leaked into the output: {text}");
            let lineage = &row["lineage"];
            let parents: Vec<&str> =
                lineage["parents"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            assert_eq!(parents.len(), 2);
            assert_ne!(parents[0], parents[1]);
            for parent in parents {
                assert!(
                    parent.starts_with("seed:") || parent.starts_with(&format!("gen:{label}:")),
                    "parent {parent} is neither a seed row nor an offspring of {label}"
                );
            }
            let n_genes: usize = ["from_parent1", "from_parent2", "mutated"]
                .iter()
                .map(|key| lineage[key].as_array().unwrap().len())
                .sum();
            assert_eq!(n_genes, 3, "every gene has exactly one role: {lineage}");
            assert!(!lineage["mutated"].as_array().unwrap().is_empty());
        }
    }

    // The manifest: what made the dataset, and counts that add up.
    let manifest: serde_json::Value = serde_json::from_str(&context.read("out/manifest.json")).unwrap();
    assert_eq!(manifest["format_version"], 2);
    assert_eq!(manifest["requests"]["total"], manifest["requests"]["sent"]);
    assert_eq!(manifest["requests"]["cache_hits"], 0);
    assert_eq!(manifest["cost"]["usd"], 0.0, "the embedded model is free");
    assert_eq!(manifest["method"], "genetic");
    assert_eq!(manifest["rng_seed"], 7);
    assert_eq!(manifest["parameters"]["parents"], "active");
    assert_eq!(manifest["llm"]["backend"], "llama.cpp");
    assert_eq!(manifest["llm"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(manifest["encoder"]["name"], "all-minilm-l6-v2");
    for label in ["sports", "politics"] {
        let counts = &manifest["labels"][label];
        assert_eq!(counts["kept"], N_PER_LABEL);
        let rejected: u64 = counts["rejected"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(counts["llm_calls"].as_u64().unwrap(), N_PER_LABEL as u64 + rejected, "{counts}");
    }
    assert!(manifest["tokens"]["completion"].as_u64().unwrap() > 0);

    // A dataset card that Hugging Face `datasets` reads: front matter naming the data file.
    let card = context.read("out/README.md");
    assert!(card.starts_with("---\nconfigs:\n  - config_name: default\n"), "{card}");
    assert!(card.contains("        path: dataset.jsonl\n"), "{card}");
    assert!(card.contains("| sports | 3 |"), "{card}");

    // Hugging Face `datasets` loads the folder (through the card) and the Parquet file.
    let python = crate::hf_python();
    let script = "import datasets, sys\n\
folder = datasets.load_dataset(sys.argv[1])['train']\n\
parquet = datasets.load_dataset('parquet', data_files=sys.argv[1] + '/dataset.parquet')['train']\n\
assert folder.num_rows == parquet.num_rows == 6, (folder, parquet)\n\
assert sorted(set(folder['label'])) == ['politics', 'sports']\n\
assert folder[0]['lineage']['batch'] == 0\n\
print('ok', folder.num_rows)\n";
    let output = std::process::Command::new(&python)
        .args(["-c", script, &context.path("out").display().to_string()])
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", context.path("hf-home"))
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", python.display()));
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("ok 6"),
        "datasets.load_dataset failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Same seed, same model: the same dataset, byte for byte, generated again (no cache)...
    generate(&context, "again", "7", &["--no-cache"]);
    assert_eq!(context.read("out/dataset.jsonl"), context.read("again/dataset.jsonl"));
    // ... and answered entirely from the response cache, at no cost.
    let run = generate(&context, "cached", "7", &[]);
    assert_eq!(context.read("out/dataset.jsonl"), context.read("cached/dataset.jsonl"));
    let cached: serde_json::Value = serde_json::from_str(&context.read("cached/manifest.json")).unwrap();
    assert_eq!(cached["requests"]["sent"], 0, "{}", run.stdout());
    assert_eq!(cached["requests"]["cache_hits"], manifest["requests"]["total"]);
    assert_eq!(cached["cost"]["paid_completion_tokens"], 0);

    // Evaluation on the real test rows: 3 probe runs, intrinsic metrics of the synthetic rows.
    let run = context.run(&["eval", "--train", "out/dataset.jsonl", "--test", "test.jsonl", "--out", "eval"]).success();
    assert!(run.stdout().contains("macro-F1"), "{}", run.stdout());
    let metrics: serde_json::Value = serde_json::from_str(&context.read("eval/metrics.json")).unwrap();
    assert_eq!(metrics["n_train"], 2 * N_PER_LABEL);
    assert_eq!(metrics["n_test"], 4);
    assert_eq!(metrics["runs"].as_array().unwrap().len(), 3);
    let first = &metrics["runs"][0];
    let accuracy = first["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert_eq!(first["micro_f1"].as_f64().unwrap(), accuracy);
    assert_eq!(first["confusion"].as_array().unwrap().len(), 2);
    let mean = metrics["summary"]["accuracy"]["mean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&mean));
    // The interval over resampled test rows holds the mean of the runs it resamples.
    let bootstrap = &metrics["summary"]["bootstrap"];
    assert_eq!(bootstrap["resamples"], 1000, "{metrics}");
    for key in ["micro_f1", "macro_f1"] {
        let (low, high) = (bootstrap[key]["low"].as_f64().unwrap(), bootstrap[key]["high"].as_f64().unwrap());
        let mean = metrics["summary"][key]["mean"].as_f64().unwrap();
        assert!(0.0 <= low && low <= mean && mean <= high && high <= 1.0, "{key}: {bootstrap}");
    }
    let intrinsic = &metrics["intrinsic"];
    assert!((-1.0..=1.0).contains(&intrinsic["aps"]["overall"].as_f64().unwrap()));
    assert!(intrinsic["cmd"].as_f64().unwrap() >= 0.0);
    assert!(intrinsic["text"]["vocabulary"].as_u64().unwrap() > 0);
    // Without real training rows there is no judge: never one trained on the test split.
    assert!(intrinsic["label_faithfulness"].is_null(), "{intrinsic}");

    // Fusion trains on synthetic and real rows together.
    let args = ["eval", "--train", "out/dataset.jsonl", "--test", "test.jsonl", "--real-train", "seeds.jsonl"];
    let mut fusion = args.to_vec();
    fusion.extend(["--mix", "fusion", "--runs", "1", "--out", "fusion"]);
    context.run(&fusion).success();
    let metrics: serde_json::Value = serde_json::from_str(&context.read("fusion/metrics.json")).unwrap();
    assert_eq!(metrics["n_train"], 2 * N_PER_LABEL + 6);
    assert_eq!(metrics["mix"], "fusion");
    let mut equal = args.to_vec();
    equal.extend(["--mix", "fusion-equal", "--runs", "1", "--out", "equal"]);
    context.run(&equal).success();
    let metrics: serde_json::Value = serde_json::from_str(&context.read("equal/metrics.json")).unwrap();
    assert_eq!(metrics["n_train"], 12, "6 synthetic and 6 real rows");
    let mut without_real = args[..5].to_vec();
    without_real.extend(["--mix", "real"]);
    let run = context.run(&without_real).failure(2);
    assert!(run.stderr().contains("need --real-train"), "{}", run.stderr());

    // A second generate into the same folder is refused unless --force.
    let n = N_PER_LABEL.to_string();
    let run = context.run(&["generate", "--task", "task.toml", "-n", &n, "--out", "out"]).failure(2);
    assert!(run.stderr().contains("pass --force"), "{}", run.stderr());
}

#[test]
fn real_seed_rows_train_a_probe_that_separates_the_test_rows() {
    let context = TestContext::new();
    tiny_task(&context);
    context.run(&["eval", "--train", "seeds.jsonl", "--test", "test.jsonl", "--out", "."]).success();
    let metrics: serde_json::Value = serde_json::from_str(&context.read("metrics.json")).unwrap();
    assert_eq!(metrics["summary"]["accuracy"]["mean"].as_f64().unwrap(), 1.0, "{metrics}");
}

#[test]
fn embed_adds_a_unit_vector_to_every_row_and_keeps_other_fields() {
    let context = TestContext::new();
    context.write(
        "rows.jsonl",
        "{\"text\": \"hello world\", \"label\": \"a\", \"id\": 3}\n{\"text\": \"Grüße 👋\", \"label\": \"b\"}\n",
    );
    context.run(&["embed", "--input", "rows.jsonl", "--output", "out.jsonl"]).success();
    let rows = read_jsonl(&context.path("out.jsonl"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], 3);
    for row in &rows {
        let vector: Vec<f64> = row["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(vector.len(), 384);
        let norm: f64 = vector.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
}

#[test]
fn finetune_classifier_and_relation_tags_as_special_tokens() {
    let context = TestContext::new();
    tiny_task(&context);
    let args = ["eval", "--train", "seeds.jsonl", "--test", "test.jsonl", "--classifier", "finetune", "--runs", "1"];
    let mut args = args.to_vec();
    args.extend(["--epochs", "2", "--batch-size", "2", "--learning-rate", "1e-4", "--out", "ft"]);
    context.run(&args).success();
    let metrics: serde_json::Value = serde_json::from_str(&context.read("ft/metrics.json")).unwrap();
    assert_eq!(metrics["classifier"], "finetune");
    assert_eq!(metrics["finetune"]["epochs"], 2);
    assert_eq!(metrics["runs"][0]["confusion"].as_array().unwrap().len(), 2);
    assert!(metrics["finetune"]["special_tokens"].as_array().unwrap().is_empty());
}

/// `genprompt COMMAND --task task.toml` against a test endpoint that answers every request with
/// `reply`: what the model says is scripted, so both outcomes are checked, every time.
fn with_reply(context: &TestContext, command: &[&str], reply: &str) -> crate::Run {
    let server = fault_server();
    server.set_default(genprompt_llm_http::testing::Fault::Reply(reply.to_string()));
    let url = server.base_url();
    let mut args = command.to_vec();
    args.extend(["--task", "task.toml", "--base-url", url.as_str(), "--model", "m"]);
    context.run(&args)
}

#[test]
fn genes_proposes_a_reviewable_list_without_the_labels() {
    let context = TestContext::new();
    tiny_task(&context);
    let reply = r#"{"genes": ["Length", "sports", "**Tone**: calm or angry", "politics", "setting"]}"#;
    let run = with_reply(&context, &["genes"], reply).success();
    let proposed: toml::Value = toml::from_str(&context.read("task.genes.toml")).unwrap();
    let genes: Vec<&str> = proposed["genes"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    assert_eq!(genes, ["length", "tone", "setting"], "labels are not genes");
    assert!(run.stdout().contains("proposed genes: length, tone, setting"), "{}", run.stdout());
}

#[test]
fn genes_says_why_not_when_the_model_names_only_labels() {
    let context = TestContext::new();
    tiny_task(&context);
    let run = with_reply(&context, &["genes"], r#"{"genes": ["sports", "Politics"]}"#).failure(1);
    assert!(run.stderr().contains("the model named no usable genes; its reply was:"), "{}", run.stderr());
    assert!(run.stderr().contains(r#"{"genes": ["sports", "Politics"]}"#), "{}", run.stderr());
    assert!(!context.path("task.genes.toml").exists());
}

#[test]
fn attributes_writes_reviewable_value_lists_in_task_file_format() {
    let context = TestContext::new();
    tiny_task(&context);
    let reply = r#"{"values": ["it's short", "long", "medium"]}"#;
    with_reply(&context, &["attributes", "--per-label", "style"], reply).success();
    let proposal: toml::Value = toml::from_str(&context.read("task.attributes.toml")).expect("valid TOML");
    let expected = toml::Value::Array(["it's short", "long", "medium"].map(toml::Value::from).to_vec());
    // Shared genes get one list each; `style` gets one per label.
    let shared = proposal["attributes"].as_table().unwrap();
    assert_eq!(shared.keys().collect::<Vec<_>>(), ["length", "subtopic"]);
    assert!(shared.values().all(|values| *values == expected), "{shared:?}");
    let per_label = proposal["attributes_per_label"].as_table().unwrap();
    assert_eq!(per_label.keys().collect::<Vec<_>>(), ["politics", "sports"]);
    assert!(per_label.values().all(|table| table["style"] == expected), "{per_label:?}");

    // A model that proposes nothing usable leaves commented-out lists to fill in by hand.
    let too_long = r#"{"values": ["a sentence that is far far too long to be any kind of value"]}"#;
    let run = with_reply(&context, &["attributes"], too_long).success();
    assert!(run.stdout().contains("asked 3 questions; 3 got no usable values"), "{}", run.stdout());
    assert!(context.read("task.attributes.toml").contains("# length = []"));

    let run = context.run(&["attributes", "--task", "task.toml", "--per-label", "colour"]).failure(2);
    assert!(run.stderr().contains("not one of the task's genes"), "{}", run.stderr());

    // A label that is not a bare TOML key (AG News's "Sci/Tech") is quoted.
    for file in ["task.toml", "seeds.jsonl"] {
        context.write(file, &context.read(file).replace("\"sports\"", "\"Sci/Tech\""));
    }
    with_reply(&context, &["attributes", "--per-label", "style"], reply).success();
    let proposal: toml::Value = toml::from_str(&context.read("task.attributes.toml")).expect("valid TOML");
    assert_eq!(proposal["attributes_per_label"]["Sci/Tech"]["style"], expected, "{proposal:?}");
}
