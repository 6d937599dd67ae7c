//! Engines passed in through the API: a compare loads nothing itself, sends every method's
//! requests to the one chat model, and embeds every test row, real row and generated row once.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use genprompt::{
    Backends, CacheMode, CancelToken, ChatModel, ChatReply, ChatRequest, CompareConfig, EmbedError, Embeddings,
    Encoder, EncoderIdentity, ErrorKind, FinishReason, GenerateConfig, GenerationSettings, LlmError, ModelIdentity,
    StoreConfig, TaskSource, Usage,
};

/// Answers every request with a new sentence and counts the requests.
struct ScriptedChat {
    identity: ModelIdentity,
    requests: AtomicUsize,
}

const WORDS: [&str; 8] = ["harbour", "violin", "glacier", "orchard", "lantern", "meadow", "compass", "canyon"];

impl ChatModel for ScriptedChat {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        requests
            .iter()
            .map(|_| {
                let n = self.requests.fetch_add(1, Ordering::SeqCst);
                let text = format!(
                    "Report {n}: the {} near the {} changed the {} story today.",
                    WORDS[n % 8],
                    WORDS[(n / 8) % 8],
                    WORDS[(n / 64) % 8]
                );
                Ok(ChatReply {
                    text,
                    finish: FinishReason::Stop,
                    usage: Usage { prompt_tokens: 10, completion_tokens: 12 },
                })
            })
            .collect()
    }
}

/// Character-trigram histograms, and how often each text was encoded.
struct CountingEncoder {
    identity: EncoderIdentity,
    counts: Mutex<HashMap<String, usize>>,
}

impl Encoder for CountingEncoder {
    fn identity(&self) -> &EncoderIdentity {
        &self.identity
    }

    fn dim(&self) -> usize {
        64
    }

    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        let mut embeddings = Embeddings::new(64);
        let mut counts = self.counts.lock().unwrap();
        for text in texts {
            *counts.entry(text.to_string()).or_default() += 1;
            let mut row = [0.0f32; 64];
            for window in text.as_bytes().windows(3) {
                let hash = window.iter().fold(7usize, |h, &b| h.wrapping_mul(31).wrapping_add(b as usize));
                row[hash % 64] += 1.0;
            }
            embeddings.push_normalised(&row)?;
        }
        Ok(embeddings)
    }
}

fn engines() -> (std::sync::Arc<ScriptedChat>, std::sync::Arc<CountingEncoder>) {
    let chat = ScriptedChat {
        identity: ModelIdentity {
            backend: "scripted".into(),
            name: "scripted".into(),
            sha256: String::new(),
            batch_settings: None,
        },
        requests: AtomicUsize::new(0),
    };
    let encoder = CountingEncoder {
        identity: EncoderIdentity { name: "counting".into(), weights_sha256: "0".repeat(64) },
        counts: Mutex::default(),
    };
    (std::sync::Arc::new(chat), std::sync::Arc::new(encoder))
}

fn texts(path: &std::path::Path) -> Vec<String> {
    genprompt_rows(path).into_iter().map(|row| row.text).collect()
}

fn genprompt_rows(path: &std::path::Path) -> Vec<genprompt::Row> {
    std::fs::read_to_string(path).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn compare_embeds_each_text_once_and_uses_the_one_chat_model() {
    let dir = tempfile::tempdir().unwrap();
    let task = common::tiny_task(dir.path());
    let real = common::write(
        dir.path(),
        "real.jsonl",
        r#"{"text": "The cyclist won the mountain stage in heavy rain.", "label": "sports"}
{"text": "The council voted to raise the local housing budget.", "label": "politics"}
{"text": "The rowing crew took gold at the world championship.", "label": "sports"}
{"text": "The senate debated the new immigration bill for hours.", "label": "politics"}
"#,
    );
    let (chat, encoder) = engines();
    let backends = Backends::default().with_shared_chat_model(chat.clone()).with_shared_encoder_model(encoder.clone());
    let settings = GenerationSettings { near_duplicates: None, ..GenerationSettings::default() }.with_batch_size(2);
    let config = CompareConfig::new(task.as_path(), dir.path().join("test.jsonl"), 3)
        .with_methods(["genetic", "simprompt"])
        .with_real_train(real.as_path())
        .with_out(dir.path().join("cmp"))
        .with_runs(2)
        .with_settings(settings)
        .with_backends(backends)
        .with_store(StoreConfig::default().with_cache(CacheMode::Off));
    let compared = genprompt::compare(&config, &(), &CancelToken::new()).expect("the compare runs");

    assert_eq!(compared.metrics.keys().collect::<Vec<_>>(), ["genetic", "real data", "real seed rows", "simprompt"]);
    let n_seeds = common::SEEDS.lines().filter(|line| !line.trim().is_empty()).count();
    assert_eq!(compared.metrics["real seed rows"].n_train, n_seeds, "the seed reference trains on the seed rows");
    assert_eq!(compared.metrics["real data"].n_train, 4);
    assert!(compared.report.is_file());
    let counts = encoder.counts.lock().unwrap().clone();
    let mut sent = 0;
    for method in ["genetic", "simprompt"] {
        let method_dir = dir.path().join("cmp/methods").join(method);
        let generated = texts(&method_dir.join("dataset.jsonl"));
        assert_eq!(generated.len(), 6, "{method}: 3 rows per label");
        for text in &generated {
            assert_eq!(counts.get(text), Some(&1), "{method} row embedded once: {text}");
        }
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(method_dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["llm"]["name"], "scripted");
        sent += manifest["requests"]["sent"].as_u64().unwrap();
    }
    assert_eq!(sent as usize, chat.requests.load(Ordering::SeqCst), "every request went to the one chat model");
    for text in texts(&dir.path().join("test.jsonl")).iter().chain(&texts(&real)) {
        assert_eq!(counts.get(text), Some(&1), "test and real rows are embedded once per compare: {text}");
    }
}

#[test]
fn a_task_given_as_json_generates_and_bad_input_says_where() {
    let dir = tempfile::tempdir().unwrap();
    common::tiny_task(dir.path());
    let task: toml::Value = toml::from_str(common::TASK).unwrap();
    let mut task = serde_json::to_value(task).unwrap();
    let source = TaskSource::from_json(&task, dir.path().join("task.toml")).unwrap();
    let (chat, encoder) = engines();
    let backends = Backends::default().with_shared_chat_model(chat).with_shared_encoder_model(encoder);
    let config = GenerateConfig::new(source, 2)
        .with_out(dir.path().join("out"))
        .with_settings(GenerationSettings { near_duplicates: None, ..GenerationSettings::default() })
        .with_backends(backends.clone())
        .with_store(StoreConfig::default().with_cache(CacheMode::Off));
    let generated = genprompt::generate(&config, &(), &CancelToken::new()).expect("the run finishes");
    assert_eq!(generated.rows.len(), 4);
    assert!(generated.rows.iter().all(|row| row.extra["lineage"]["parents"].as_array().is_some_and(|p| p.len() == 2)));
    assert_eq!(generated.manifest.n_per_label, 2);

    task["seeds"]["shuffle"] = serde_json::json!(true);
    let source = TaskSource::from_json(&task, dir.path().join("task.toml")).unwrap();
    let err = genprompt::generate(
        &GenerateConfig { task: source, out: dir.path().join("bad"), ..config },
        &(),
        &CancelToken::new(),
    )
    .expect_err("an unknown field is refused");
    assert_eq!(err.kind(), ErrorKind::BadInput);
    let message = err.to_string();
    assert!(message.starts_with(&format!("{}:", dir.path().join("task.toml").display())), "{message}");
    assert!(message.contains("unknown field `shuffle`"), "{message}");
    assert!(!dir.path().join("bad").exists(), "nothing is written on bad input");
}

#[test]
fn a_cancelled_token_stops_the_run_as_interrupted_and_keeps_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let task = common::tiny_task(dir.path());
    let (chat, encoder) = engines();
    let backends = Backends::default().with_shared_chat_model(chat).with_shared_encoder_model(encoder);
    let config = GenerateConfig::new(task.as_path(), 2)
        .with_out(dir.path().join("out"))
        .with_backends(backends)
        .with_store(StoreConfig::default().with_cache(CacheMode::Off));
    let cancel = CancelToken::new();
    cancel.clone().cancel();
    let err = genprompt::generate(&config, &(), &cancel).expect_err("a cancelled run stops");
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert!(genprompt::journal_path(&dir.path().join("out")).is_file(), "the journal is kept for the rerun");
    let generated = genprompt::generate(&config, &(), &CancelToken::new()).expect("the rerun finishes");
    assert_eq!(generated.rows.len(), 4);
}
