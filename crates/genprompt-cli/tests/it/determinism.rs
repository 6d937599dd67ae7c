//! "Same seed, same model -> same bytes", whatever the response cache holds: the embedded
//! engine's replies depend on their batch-mates and on its settings, so the cache must never
//! serve a reply made in another batch (a preview's) or at another thread count.

use crate::{TestContext, tiny_task};

fn generate(context: &TestContext, out: &str, n: &str, threads: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["generate", "--task", "task.toml", "-n", n, "--max-tokens", "32", "--seed", "5"];
    args.extend(["--threads", threads, "--out", out]);
    args.extend_from_slice(extra);
    context.run(&args).success();
    serde_json::from_str(&context.read(&format!("{out}/manifest.json"))).unwrap()
}

#[test]
fn a_preview_then_generate_gives_the_bytes_of_generate_without_the_cache() {
    let context = TestContext::new();
    tiny_task(&context);
    // The preview's batches of 3 ask the same first requests (same prompts, same seeds) as the
    // run's first batches of 6.
    let preview = ["preview", "--task", "task.toml", "-n", "3", "--max-tokens", "32", "--seed", "5", "--threads", "1"];
    context.run(&preview).success();
    let cached = generate(&context, "cached", "6", "1", &[]);
    generate(&context, "fresh", "6", "1", &["--no-cache"]);
    assert_eq!(context.read("cached/dataset.jsonl"), context.read("fresh/dataset.jsonl"));
    assert_eq!(cached["requests"]["cache_hits"], 0, "no reply of the preview's batches was served: {cached}");

    // The cache still answers what it can answer right: the same run again, all of it.
    let again = generate(&context, "again", "6", "1", &[]);
    assert_eq!(context.read("again/dataset.jsonl"), context.read("fresh/dataset.jsonl"));
    assert_eq!(again["requests"]["cache_hits"], again["requests"]["total"], "{again}");
    assert_eq!(again["requests"]["sent"], 0, "{again}");
}

#[test]
fn one_thread_after_two_gives_the_bytes_of_one_thread_alone() {
    let context = TestContext::new();
    tiny_task(&context);
    generate(&context, "two", "3", "2", &[]);
    let after = generate(&context, "one-after-two", "3", "1", &[]);
    generate(&context, "one", "3", "1", &["--no-cache"]);
    assert_eq!(context.read("one-after-two/dataset.jsonl"), context.read("one/dataset.jsonl"));
    assert_eq!(after["requests"]["cache_hits"], 0, "no reply made at two threads was served: {after}");
}
