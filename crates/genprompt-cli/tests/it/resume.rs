//! Runs that survive interruptions: kill -9 at chosen points, Ctrl-C, a failing endpoint; and
//! the cost tools that run before spending (dry run, preview).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use genprompt_llm_http::testing::Fault;

use crate::{TestContext, fault_server, read_jsonl, tiny_task};

/// Runs `args` (writing to `out`) again and again, each time killing it with SIGKILL as soon as
/// its journal holds `target` replies, for each target in turn: the kills land at points the
/// test chooses, whatever the machine's speed. A run that ends before its target fails the test.
fn kill_at_journal_counts(context: &TestContext, args: &[&str], out: &str, targets: &[u64]) {
    for &target in targets {
        // The run's messages go to a file, so that a run that ends early says why.
        let log = std::fs::File::create(context.path("kill-run.log")).unwrap();
        let mut child = context.command(args).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let started = Instant::now();
        while journaled(context, out) < target {
            if let Some(status) = child.try_wait().unwrap() {
                let stderr = context.read("kill-run.log");
                panic!("the run ended ({status}) before its journal held {target} replies:\n{stderr}");
            }
            assert!(started.elapsed() < Duration::from_secs(600), "no progress towards {target} replies");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// Replies in the journal of the run in `out` (0 before it exists).
fn journaled(context: &TestContext, out: &str) -> u64 {
    let journal = context.path(out).join(".genprompt/run.sqlite");
    if !journal.is_file() {
        return 0;
    }
    genprompt_store::RunJournal::open(&journal).and_then(|journal| journal.reply_count()).unwrap_or(0)
}

/// Kill points: every `step` replies past `from`, up to the last one that still leaves a batch
/// of `step` to answer, so that every run still has work left when it is killed.
fn kill_targets(from: u64, total: u64, step: u64) -> Vec<u64> {
    (from + 1..=total.saturating_sub(step)).step_by(step as usize).collect()
}

/// Waits until the child's stderr shows `needle`, then returns; stderr is drained afterwards.
fn wait_for_stderr(child: &mut Child, needle: &str) -> String {
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("the run ended before printing {needle:?}:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains(needle) {
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return seen;
        }
    }
}

fn ids_are_unique(rows: &[serde_json::Value]) {
    let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "duplicate row ids");
}

#[test]
fn kill_9_and_ctrl_c_then_resume_gives_the_uninterrupted_dataset() {
    let context = TestContext::new();
    tiny_task(&context);
    let args = |out: &'static str| {
        vec![
            "generate",
            "--task",
            "task.toml",
            "-n",
            "4",
            "--batch-size",
            "2",
            "--max-tokens",
            "32",
            "--seed",
            "11",
            "--threads",
            "1",
            "--no-cache",
            "--out",
            out,
        ]
    };
    context.run(&args("whole")).success();
    let expected = context.read("whole/dataset.jsonl");
    let whole: serde_json::Value = serde_json::from_str(&context.read("whole/manifest.json")).unwrap();
    let total = whole["requests"]["total"].as_u64().unwrap();

    // Ctrl-C once the first label has started: the run stops after its batch, exit code 130.
    let mut child = context.command(&args("crashed")).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_stderr(&mut child, "label sports");
    let interrupted = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    assert_eq!(child.wait().unwrap().code(), Some(130), "Ctrl-C exits with 130");
    assert!(!context.path("crashed/dataset.jsonl").exists(), "an interrupted run writes no dataset");

    // kill -9 as each batch of two replies is journaled, until a batch short of the end.
    let targets = kill_targets(journaled(&context, "crashed"), total, 2);
    assert!(targets.len() >= 2, "{total} requests leave too few kill points: {targets:?}");
    kill_at_journal_counts(&context, &args("crashed"), "crashed", &targets);

    let run = context.run(&args("crashed")).success();
    assert_eq!(context.read("crashed/dataset.jsonl"), expected, "{}", run.stderr());
    ids_are_unique(&read_jsonl(&context.path("crashed/dataset.jsonl")));
    let manifest: serde_json::Value = serde_json::from_str(&context.read("crashed/manifest.json")).unwrap();
    assert_eq!(manifest["labels"], whole["labels"], "the same calls, kept rows and rejections");
    assert_eq!(manifest["requests"]["total"], whole["requests"]["total"]);
    assert!(manifest["requests"]["replayed"].as_u64().unwrap() > 0, "earlier replies were replayed: {manifest}");
}

/// The tiny task through the fault server, `n` rows per label, batches of `batch`.
fn endpoint_args<'a>(server_url: &'a str, n: &'a str, batch: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "generate",
        "--task",
        "task.toml",
        "-n",
        n,
        "--batch-size",
        batch,
        "--out",
        out,
        "--base-url",
        server_url,
        "--model",
        "test-model",
        "--keep-near-duplicates",
        // These runs check the generational schedule's promise: the resumed dataset is the
        // uninterrupted one, byte for byte (tests/it/steady.rs covers the steady schedule).
        "--schedule",
        "generational",
    ]
}

#[test]
fn kill_9_during_http_requests_loses_no_paid_reply_and_duplicates_no_row() {
    let server = fault_server();
    server.set_latency(Duration::from_millis(250));
    let context = TestContext::new();
    tiny_task(&context);
    let url = server.base_url();
    let mut whole = endpoint_args(&url, "6", "3", "whole");
    whole.push("--no-cache");
    context.run(&whole).success();
    let whole_hits = server.hits().len();

    let mut crashed = endpoint_args(&url, "6", "3", "crashed");
    crashed.push("--no-cache");
    // Kill while requests are in flight: replies are journaled one by one as they arrive, and
    // with 250 ms per reply the rest of each batch is still at the server.
    let targets = kill_targets(0, whole_hits as u64, 3);
    assert!(targets.len() >= 3, "{whole_hits} requests leave too few kill points: {targets:?}");
    kill_at_journal_counts(&context, &crashed, "crashed", &targets);
    context.run(&crashed).success();
    assert_eq!(context.read("crashed/dataset.jsonl"), context.read("whole/dataset.jsonl"));
    ids_are_unique(&read_jsonl(&context.path("crashed/dataset.jsonl")));
    // Only requests in flight at a kill can be sent twice: every reply received was kept.
    let crashed_hits = server.hits().len() - whole_hits;
    let kills = targets.len();
    assert!(crashed_hits >= whole_hits, "{crashed_hits} < {whole_hits}");
    assert!(crashed_hits <= whole_hits + kills * 3, "{crashed_hits} hits for {whole_hits} requests");
}

#[test]
fn too_many_failures_stop_the_run_and_failed_requests_can_be_retried() {
    let server = fault_server();
    server.set_default(Fault::status(400));
    let context = TestContext::new();
    tiny_task(&context);
    let url = server.base_url();
    let args = endpoint_args(&url, "10", "10", "out");
    let run = context.run(&args).failure(1);
    // Genetic Prompt draws as many distinct parent pairs as 3 seed rows allow per batch.
    let failed = server.hits().len();
    let message = format!("{failed} of {failed} LLM calls failed, more than the allowed share of 20%");
    assert!(failed >= 10 && run.stderr().contains(&message), "{}", run.stderr());
    assert!(run.stderr().contains("label sports, batch 1, request 0: the request was rejected"), "{}", run.stderr());
    assert!(run.stderr().contains("--retry-failed"), "{}", run.stderr());
    assert_eq!(read_jsonl(&context.path("out/failed.jsonl")).len(), failed);
    assert!(!context.path("out/dataset.jsonl").exists());

    // Rerun as is: the recorded failures are replayed, nothing is sent.
    context.run(&args).failure(1);
    assert_eq!(server.hits().len(), failed, "failures are replayed, not sent again");

    // Other settings on an unfinished run: refused, nothing sent.
    let other = endpoint_args(&url, "5", "10", "out");
    let run = context.run(&other).failure(2);
    assert!(run.stderr().contains("holds an unfinished run with other settings (n_per_label)"), "{}", run.stderr());

    // The server recovers; --retry-failed sends the failed requests again and the run completes.
    server.set_default(Fault::Ok);
    let mut retry = args.clone();
    retry.push("--retry-failed");
    let run = context.run(&retry).success();
    let rows = read_jsonl(&context.path("out/dataset.jsonl"));
    assert_eq!(rows.len(), 20, "{}", run.stdout());
    ids_are_unique(&rows);
    let manifest: serde_json::Value = serde_json::from_str(&context.read("out/manifest.json")).unwrap();
    assert_eq!(manifest["requests"]["failed"], 0, "{manifest}");
    assert!(server.hits().len() >= failed + 20, "{} hits", server.hits().len());

    // A finished dataset is not overwritten without --force.
    let run = context.run(&args).failure(2);
    assert!(run.stderr().contains("holds a finished dataset; pass --force"), "{}", run.stderr());
}

#[test]
fn dry_run_estimates_requests_and_cost_without_sending() {
    let server = fault_server();
    let context = TestContext::new();
    tiny_task(&context);
    let url = server.base_url();
    let mut args = endpoint_args(&url, "4", "2", "out");
    args.extend(["--dry-run", "--price-input", "1.5", "--price-output", "6"]);
    let run = context.run(&args).success();
    let out = run.stdout();
    assert!(out.contains("requests: at least 8 (every reply kept), at most 32"), "{out}");
    assert!(out.contains("cost: ~$"), "{out}");
    assert!(out.contains("$1.5 / $6 per million"), "{out}");
    assert!(server.hits().is_empty(), "a dry run sends nothing");
    assert!(!context.path("out").exists(), "a dry run writes nothing");
}

#[test]
fn preview_shows_rows_per_label_and_a_following_run_reuses_them() {
    let server = fault_server();
    let context = TestContext::new();
    tiny_task(&context);
    let url = server.base_url();
    let args =
        ["preview", "--task", "task.toml", "-n", "2", "--base-url", &url, "--model", "m", "--keep-near-duplicates"];
    let run = context.run(&args).success();
    assert!(run.stdout().contains("== sports (2 kept from 2 calls)"), "{}", run.stdout());
    assert!(run.stdout().contains("== politics (2 kept from 2 calls)"), "{}", run.stdout());
    let first_rows = run.stdout().lines().filter(|line| line.starts_with("  1. ")).count();
    assert_eq!(first_rows, 2, "a numbered row under each label: {}", run.stdout());
    assert_eq!(server.hits().len(), 4);
    assert!(!context.path("genprompt-out").exists(), "preview writes no dataset");
    // The same preview again is answered from the response cache.
    let again = context.run(&args).success();
    assert!(again.stdout().contains("4 requests (4 from the cache)"), "{}", again.stdout());
    assert_eq!(server.hits().len(), 4);
}
