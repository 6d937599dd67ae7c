//! `steady`: end-to-end generation rows per second against the fixed-latency test server, as a
//! ratio to the ideal (requests in flight / latency), for Genetic Prompt on the steady and the
//! generational schedule and SimPrompt on the steady one, with the local encoder and with the
//! server's `/v1/embeddings`; Curator sends SimPrompt prompts to the same server at the same
//! concurrency in the same run.
//!
//! - The server runs in a child process (`genprompt-bench serve MS varied`): every answer comes
//!   after MS milliseconds and is a distinct made-up sentence, so rows are kept, not rejected.
//! - Task: `examples/sms_spam` with the shared dataset's train rows as seeds (50 per label).
//! - Per point K: `max_in_flight = K`, steady window K, generational batches of K (the
//!   generational schedule's best case; its default of 20 is far slower), 3K rows per label
//!   (6K requests at least, so a run lasts several latencies).
//! - `GENPROMPT_BENCH_IN_FLIGHT=16,256` picks the points, `GENPROMPT_BENCH_NO_CURATOR=1` skips
//!   Curator, `GENPROMPT_BENCH_NO_LOCAL=1` skips the local encoder.
//! - `endpoints`: three servers, one stopped after a third of the rows; rows/s before and after.

use std::path::PathBuf;
use std::time::Instant;

use genprompt_data::{LoadedTask, load_task};
use genprompt_embed::Encoder;
use genprompt_llm::ChatModel;
use genprompt_llm_http::{DEFAULT_EMBED_BATCH, HttpChatModel, HttpConfig, HttpEncoder};
use genprompt_methods::{
    BatchReport, Genetic, GeneticConfig, Method, RunConfig, RunObserver, Schedule, SimPrompt, run_method,
};

use crate::orchestration::{ServerProcess, cpu_seconds, curator, curator_python, start_server};

fn sms_spam() -> LoadedTask {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let task = root.join("examples/sms_spam/task.toml");
    let train = root.join("../shared/datasets/sms_spam/train.jsonl");
    let train = if train.exists() { train } else { PathBuf::from("/work/shared/datasets/sms_spam/train.jsonl") };
    load_task(&task, Some(&train)).expect("the sms_spam task and its train rows load")
}

struct Measured {
    rows: usize,
    calls: usize,
    wall: f64,
    cpu: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    GeneticSteady,
    GeneticGenerational,
    SimPromptSteady,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::GeneticSteady => "Genetic Prompt, steady",
            Variant::GeneticGenerational => "Genetic Prompt, generational (batches of K)",
            Variant::SimPromptSteady => "SimPrompt, steady",
        }
    }
}

fn generate(
    loaded: &LoadedTask,
    variant: Variant,
    chat: &dyn ChatModel,
    encoder: &dyn Encoder,
    in_flight: usize,
    n_per_label: usize,
    observer: &dyn RunObserver,
) -> Measured {
    let mut config = RunConfig::paper(n_per_label, 42);
    config.batch_size = in_flight;
    config.max_calls_per_row = 8;
    config.schedule = match variant {
        Variant::GeneticGenerational => Schedule::Generational,
        _ => Schedule::Steady { window: in_flight },
    };
    let mut method: Box<dyn Method> = match variant {
        Variant::SimPromptSteady => Box::new(SimPrompt::new(&loaded.task, 42)),
        _ => Box::new(Genetic::new(&loaded.task, GeneticConfig::paper(), 42)),
    };
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let outcome = run_method(&loaded.task, &loaded.seed_rows, method.as_mut(), &config, chat, encoder, observer)
        .expect("the run finishes");
    let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    if std::env::var_os("GENPROMPT_BENCH_DEBUG").is_some() {
        eprintln!("{:?}", outcome.counts);
    }
    let n_labels = outcome.counts.len();
    assert_eq!(outcome.offspring.len(), n_labels * n_per_label, "every label gets its rows: {:?}", outcome.counts);
    let calls = outcome.counts.iter().map(|c| c.llm_calls).sum();
    Measured { rows: outcome.offspring.len(), calls, wall, cpu }
}

fn http_config(base_url: &str, in_flight: usize) -> HttpConfig {
    HttpConfig { max_in_flight: in_flight, ..HttpConfig::new(base_url, "bench-model") }
}

/// SimPrompt's first `n` prompts per label, for Curator.
fn simprompt_prompts(loaded: &LoadedTask, n: usize) -> Vec<String> {
    let mut method = SimPrompt::new(&loaded.task, 42);
    let mut prompts = Vec::new();
    for label in loaded.task.label_ids() {
        let rows = &loaded.seed_rows[label.0];
        method.start_label(label, rows, genprompt_embed::Embeddings::new(1)).expect("enough seed rows");
        let drafts = method.next_batch(n.div_ceil(loaded.task.labels().len()), 0);
        prompts.extend(drafts.into_iter().map(|d| d.messages[0].content.clone()));
    }
    prompts.truncate(n);
    prompts
}

pub fn run(latency_ms: u64) {
    let (server, base_url) = start_server(latency_ms, true);
    let latency = latency_ms as f64 / 1000.0;
    let loaded = sms_spam();
    let points: Vec<usize> = std::env::var("GENPROMPT_BENCH_IN_FLIGHT")
        .ok()
        .map(|v| v.split(',').map(|n| n.parse().expect("numbers like 16,256")).collect())
        .unwrap_or_else(|| vec![16, 64, 256, 512]);
    let local = (std::env::var_os("GENPROMPT_BENCH_NO_LOCAL").is_none()).then(crate::local_encoder).flatten();
    let remote = HttpEncoder::new(http_config(&base_url, 64), DEFAULT_EMBED_BATCH, None).expect("embeddings endpoint");
    let python = curator_python().filter(|_| std::env::var_os("GENPROMPT_BENCH_NO_CURATOR").is_none());
    println!(
        "sms_spam, 2 labels, 3K rows per label; server answers after {latency_ms} ms (separate process); ideal = K / latency"
    );
    println!("| in flight K | run | encoder | rows | calls | wall s | requests/s / ideal | rows/s | CPU ms/row |");
    println!("|---:|---|---|---:|---:|---:|---:|---:|---:|");
    for &k in &points {
        let ideal = k as f64 / latency;
        let n_per_label = 3 * k;
        let mut encoders: Vec<(&str, &dyn Encoder)> = vec![("server /v1/embeddings", &remote)];
        if let Some(local) = &local {
            encoders.push(("local MiniLM", local));
        }
        let mut simprompt_calls = 0;
        for variant in [Variant::GeneticSteady, Variant::GeneticGenerational, Variant::SimPromptSteady] {
            for (encoder_name, encoder) in &encoders {
                let chat = HttpChatModel::new(http_config(&base_url, k)).expect("valid config");
                let m = generate(&loaded, variant, &chat, *encoder, k, n_per_label, &());
                if variant == Variant::SimPromptSteady {
                    simprompt_calls = simprompt_calls.max(m.calls);
                }
                println!(
                    "| {k} | {} | {encoder_name} | {} | {} | {:.1} | {:.3} | {:.1} | {:.2} |",
                    variant.name(),
                    m.rows,
                    m.calls,
                    m.wall,
                    m.calls as f64 / m.wall / ideal,
                    m.rows as f64 / m.wall,
                    m.cpu * 1000.0 / m.rows as f64,
                );
            }
        }
        if let Some(python) = &python {
            let n = simprompt_calls.max(64);
            let prompts = simprompt_prompts(&loaded, n);
            match curator(python, &base_url, k, prompts.len(), Some(&prompts)) {
                Some(c) => println!(
                    "| {k} | Curator, SimPrompt prompts (requests only) | none | {} | {} | {:.1} | {:.3} | {:.1} | {:.2} |",
                    prompts.len(),
                    prompts.len(),
                    c.wall,
                    prompts.len() as f64 / c.wall / ideal,
                    prompts.len() as f64 / c.wall,
                    c.cpu * 1000.0 / prompts.len() as f64,
                ),
                None => println!("| {k} | Curator | failed (see stderr) | | | | | | |"),
            }
        }
    }
    drop(server);
}

/// Counts used replies so the benchmark can stop an endpoint a third of the way through, and
/// notes when that happened.
struct Killer<'a> {
    servers: std::sync::Mutex<Option<ServerProcess>>,
    after: usize,
    seen: std::sync::atomic::AtomicUsize,
    killed_at: std::sync::Mutex<Option<(Instant, usize)>>,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl RunObserver for Killer<'_> {
    fn batch_finished(&self, report: &BatchReport<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let seen = self.seen.fetch_add(report.n_kept, std::sync::atomic::Ordering::SeqCst) + report.n_kept;
        if seen >= self.after
            && let Some(server) = self.servers.lock().expect("lock").take()
        {
            drop(server);
            *self.killed_at.lock().expect("lock") = Some((Instant::now(), seen));
        }
        Ok(())
    }
}

/// Three endpoints, one killed after a third of the rows: exactly N rows per label, and rows/s
/// before and after the loss.
pub fn endpoints(latency_ms: u64, in_flight: usize) {
    let servers: Vec<(ServerProcess, String)> = (0..3).map(|_| start_server(latency_ms, true)).collect();
    let urls: Vec<String> = servers.iter().map(|(_, url)| url.clone()).collect();
    let loaded = sms_spam();
    // Long enough (about 12 latencies) that the first and last waves do not dominate.
    let n_per_label = 18 * in_flight;
    let configs = urls.iter().map(|url| http_config(url, in_flight)).collect();
    let chat = HttpChatModel::with_endpoints(configs).expect("valid configs");
    let encoder = HttpEncoder::new(http_config(&urls[1], 64), DEFAULT_EMBED_BATCH, None).expect("embeddings");
    let mut servers = servers.into_iter();
    let (first, _) = servers.next().expect("three servers");
    let rest: Vec<_> = servers.collect();
    let total = 2 * n_per_label;
    let killer = Killer {
        servers: std::sync::Mutex::new(Some(first)),
        after: total / 3,
        seen: Default::default(),
        killed_at: Default::default(),
        _marker: Default::default(),
    };
    let started = Instant::now();
    let m = generate(&loaded, Variant::GeneticSteady, &chat, &encoder, 3 * in_flight, n_per_label, &killer);
    let end = Instant::now();
    let (killed, rows_before) = killer.killed_at.lock().expect("lock").expect("the endpoint was stopped");
    let before = rows_before as f64 / killed.duration_since(started).as_secs_f64();
    let after = (m.rows - rows_before) as f64 / end.duration_since(killed).as_secs_f64();
    println!(
        "three endpoints ({in_flight} in flight each, {latency_ms} ms), Genetic Prompt steady, window {}: {} rows ({n_per_label} per label, exactly), {:.1} s",
        3 * in_flight,
        m.rows,
        m.wall
    );
    println!("rows/s before the loss: {before:.1}; after: {after:.1} ({:.2}x)", after / before);
    for e in chat.endpoint_stats() {
        println!(
            "  {}: {} requests, {} failed, {} connection errors, {} timeouts, set aside {} time(s), {} completion tokens",
            e.base_url,
            e.stats.requests,
            e.stats.failed,
            e.stats.connection_errors,
            e.stats.timeouts,
            e.set_aside,
            e.stats.completion_tokens
        );
    }
    drop(rest);
}
