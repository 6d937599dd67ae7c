//! The steady schedule end to end over HTTP: exactly N rows per label, no duplicate, resumes after
//! kill -9 at moments chosen by what the server saw, and a fleet of endpoints that loses members.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use genprompt_llm_http::testing::FaultServer;

use crate::{TestContext, read_jsonl, tiny_task};

const N: usize = 12;
const WINDOW: usize = 6;

fn steady_args<'a>(urls: &'a [String], encoder_url: &'a str, out: &'a str) -> Vec<&'a str> {
    let mut args = vec!["generate", "--task", "task.toml", "-n", "12", "--out", out, "--schedule", "steady"];
    for url in urls {
        args.extend(["--base-url", url.as_str()]);
    }
    args.extend(["--model", "test-model", "--max-in-flight", "3", "--no-cache"]);
    args.extend(["--encoder-base-url", encoder_url, "--encoder-model", "test-embed"]);
    args
}

/// Exactly `N` rows per label, ids and texts unique; returns the rows.
fn exactly_n(context: &TestContext, out: &str) -> Vec<serde_json::Value> {
    let rows = read_jsonl(&context.path(&format!("{out}/dataset.jsonl")));
    for label in ["sports", "politics"] {
        assert_eq!(rows.iter().filter(|r| r["label"] == label).count(), N, "{label}: {rows:?}");
    }
    let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let texts: HashSet<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!((ids.len(), texts.len()), (rows.len(), rows.len()), "duplicate ids or texts");
    rows
}

fn manifest(context: &TestContext, out: &str) -> serde_json::Value {
    serde_json::from_str(&context.read(&format!("{out}/manifest.json"))).unwrap()
}

#[test]
fn a_steady_run_over_http_ends_with_exactly_n_rows_per_label() {
    let server = FaultServer::start();
    server.set_varied_replies(true);
    server.set_embedding_dim(384);
    let context = TestContext::new();
    tiny_task(&context);
    let urls = [server.base_url()];
    context.run(&steady_args(&urls, &urls[0], "out")).success();
    exactly_n(&context, "out");
    let manifest = manifest(&context, "out");
    assert_eq!(manifest["parameters"]["schedule"], "steady", "{manifest}");
    assert_eq!(manifest["parameters"]["window"], 3, "{manifest}");
    let chat_hits = server.hits().iter().filter(|h| h.body.get("messages").is_some()).count();
    assert!(server.max_in_flight() >= 3, "requests overlap: {}", server.max_in_flight());
    assert!(chat_hits >= 2 * N, "{chat_hits} chat requests");
}

#[test]
fn kill_9_at_six_moments_of_a_steady_run_then_resume_loses_and_duplicates_nothing() {
    let server = FaultServer::start();
    server.set_varied_replies(true);
    server.set_embedding_dim(384);
    server.set_latency(Duration::from_millis(30));
    let context = TestContext::new();
    tiny_task(&context);
    let urls = [server.base_url()];
    let args = steady_args(&urls, &urls[0], "out");
    let chat_hits = || server.hits().iter().filter(|h| h.body.get("messages").is_some()).count();
    let mut kills = 0;
    // Kill when the k-th chat request reaches the server (counted over all runs so far).
    for k in [2, 5, 9, 14, 19, 25] {
        let mut child = context.command(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        while chat_hits() < k {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            server.wait_for_hits(server.n_hits() + 1, Duration::from_secs(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 5, "the run was killed {kills} times");
    context.run(&args).success();
    let rows = exactly_n(&context, "out");
    // The dataset is what the journal holds, row for row.
    let journal = genprompt_store::RunJournal::open(&context.path("out/.genprompt/run.sqlite")).unwrap();
    let journaled: Vec<String> = journal.rows().unwrap().into_iter().map(|r| r.text).collect();
    let mut written: Vec<String> = rows.iter().map(|r| r["text"].as_str().unwrap().to_string()).collect();
    let mut journaled_sorted = journaled.clone();
    journaled_sorted.sort();
    written.sort();
    assert_eq!(written, journaled_sorted);
    // Every chat request was answered once, except those in flight at a kill (at most the window).
    let manifest = manifest(&context, "out");
    let calls: u64 = ["sports", "politics"].iter().map(|l| manifest["labels"][l]["llm_calls"].as_u64().unwrap()).sum();
    let hits = chat_hits() as u64;
    assert!(hits >= calls, "{hits} hits for {calls} calls");
    assert!(hits <= calls + (kills * WINDOW) as u64, "{hits} hits for {calls} calls and {kills} kills");
}

/// A loopback URL where nothing listens.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

#[test]
fn endpoints_that_refuse_from_the_start_or_die_mid_run_leave_the_run_to_the_others() {
    let healthy = FaultServer::start();
    let mut dying = FaultServer::start();
    for server in [&healthy, &dying] {
        server.set_varied_replies(true);
        server.set_latency(Duration::from_millis(20));
    }
    let encoder = FaultServer::start();
    encoder.set_embedding_dim(384);
    let context = TestContext::new();
    tiny_task(&context);
    let urls = [refusing_url(), dying.base_url(), healthy.base_url()];
    let encoder_url = encoder.base_url();
    let child = context
        .command(&steady_args(&urls, &encoder_url, "out"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(dying.wait_for_hits(4, Duration::from_secs(120)) >= 4, "the dying endpoint took requests");
    dying.stop();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    exactly_n(&context, "out");
    let manifest = manifest(&context, "out");
    let endpoints = manifest["endpoints"].as_array().unwrap_or_else(|| panic!("{manifest}"));
    assert_eq!(endpoints.len(), 3);
    assert_eq!(endpoints[0]["base_url"], urls[0]);
    assert_eq!((endpoints[0]["requests"].as_u64(), endpoints[0]["set_aside"].as_u64()), (Some(0), Some(1)));
    assert!(endpoints[1]["requests"].as_u64().unwrap() >= 1, "{manifest}");
    assert!(endpoints[1]["set_aside"].as_u64().unwrap() >= 1, "{manifest}");
    assert!(endpoints[2]["requests"].as_u64().unwrap() >= N as u64, "{manifest}");
    assert!(endpoints[2]["completion_tokens"].as_u64().unwrap() > 0, "{manifest}");
}
