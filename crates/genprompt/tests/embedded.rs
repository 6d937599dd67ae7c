//! A Rust program generates with one call and evaluates with one call, on the real embedded
//! default models (fetched with `genprompt models fetch`; without them this test fails and says so).

mod common;

use genprompt::{
    CacheMode, CancelToken, EvalConfig, GenerateConfig, GenerationSettings, LlmConfig, Method, StoreConfig,
};

#[test]
fn generate_then_evaluate_with_one_call_each() {
    let dir = tempfile::tempdir().unwrap();
    let task = common::tiny_task(dir.path());
    let cancel = CancelToken::new();
    let mut config = GenerateConfig::new(task.as_path(), 2)
        .with_method(Method::Genetic)
        .with_seed(3)
        .with_out(dir.path().join("out"))
        .with_settings(GenerationSettings::default().with_batch_size(2).with_max_tokens(40))
        .with_store(StoreConfig::default().with_cache(CacheMode::Off));
    config.backends.llm = LlmConfig { threads: Some(1), ..LlmConfig::default() };

    let generated = genprompt::generate(&config, &(), &cancel).unwrap_or_else(|err| panic!("{}", err.report()));
    assert_eq!(generated.rows.len(), 4, "2 rows per label");
    for label in ["sports", "politics"] {
        assert_eq!(generated.rows.iter().filter(|row| row.label == label).count(), 2, "{label}");
    }
    assert!(generated.rows.iter().all(|row| !row.text.trim().is_empty()));
    assert_eq!(generated.manifest.llm.backend, "llama.cpp");
    assert_eq!(generated.manifest.encoder.name, "all-minilm-l6-v2");
    assert!(generated.dataset.is_file() && dir.path().join("out/manifest.json").is_file());

    let eval = EvalConfig::new(generated.dataset.as_path(), dir.path().join("test.jsonl"))
        .with_runs(2)
        .with_out(dir.path().join("eval"));
    let metrics = genprompt::evaluate(&eval, &(), &cancel).unwrap_or_else(|err| panic!("{}", err.report()));
    assert_eq!(metrics.n_train, 4);
    assert_eq!(metrics.n_test, 4);
    assert_eq!(metrics.runs.len(), 2);
    assert_eq!(metrics.labels, ["sports", "politics"]);
    assert!((0.0..=1.0).contains(&metrics.summary.micro_f1.mean));
    assert!(dir.path().join("eval/metrics.json").is_file());
}
