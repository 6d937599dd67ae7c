//! Throughput benchmarks of the embedded engines; results go into BENCHMARKS.md.
//!
//! Every figure is a ratio against a reference measured in the same run:
//! - `llm`: batched generation (parallel sequences in one llama.cpp context) against the same
//!   requests answered one at a time, plus prefill and decode speed of single requests.
//! - `encoder`: length-sorted batches against encoding one text at a time.
//! - `eval`: probe training and the intrinsic metrics at 100k rows against the same work at 10k
//!   rows (the ratio shows how they scale), with peak memory.
//!
//! - `finetune`: fine-tuning MiniLM (1 epoch, batch 16, max length 128) on N rows against
//!   training the probe on the same rows (embedding included).
//!
//! - `selection`: Genetic Prompt parent selection at 10k, 100k and 1M pool sizes against the
//!   paper code's dense distance matrix (see `selection.rs`).
//!
//! - `orchestration`: the HTTP backend against a fixed-latency server at 1..512 requests in
//!   flight, against Curator on the same server (see `orchestration.rs`).
//!
//! - `endpoint-check URL MODEL [json|embeddings]`: not a benchmark; structured output and embeddings against a
//!   real server, used by `bench/llama_cpp_server_check.sh`.
//!
//! Usage: `cargo run --release -p genprompt-bench -- llm|encoder|eval|selection [threads]`,
//! `... -- finetune [N rows, default 160]`, `... -- orchestration [max in flight, default 512]`

mod endpoint_check;
mod orchestration;
mod selection;

use std::time::Instant;

use genprompt_core::{LabelId, RngStream, rng_for};
use genprompt_embed::Encoder;
use genprompt_embed_candle::{EncoderOptions, MiniLmEncoder};
use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, Sampling};
use genprompt_llm_llama::{LlamaChatModel, LlamaOptions};
use genprompt_methods::{GeneSchedule, SYSTEM_PROMPT, assign_genes, render_prompt};
use genprompt_models::{DEFAULT_ENCODER, DEFAULT_LLM, Home};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "llm".to_string());
    if what == "endpoint-check" {
        let (url, model) = (args.next().expect("base URL"), args.next().expect("model name"));
        return endpoint_check::run(&url, &model, args.next().as_deref());
    }
    let threads: usize = args.next().map_or(1, |t| t.parse().expect("threads is a number"));
    match what.as_str() {
        "serve" => return orchestration::serve(threads.max(1) as u64),
        "orchestration" => return orchestration::run(200, if threads > 1 { threads } else { 512 }),
        _ => {}
    }
    let home = Home::from_env().expect("models folder");
    match what.as_str() {
        "llm" => bench_llm(&home, threads),
        "encoder" => bench_encoder(&home),
        "eval" => bench_eval(),
        "selection" => selection::run(),
        "finetune" => bench_finetune(&home, threads.max(160)),
        other => panic!("unknown benchmark {other}; use llm or encoder"),
    }
}

/// Eight real Genetic Prompt prompts from the quickstart task.
fn prompts() -> Vec<String> {
    let task_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/task.toml");
    let loaded = genprompt_data::load_task(&task_path, None).expect("the quickstart task loads");
    let task = &loaded.task;
    let seeds = &loaded.seed_rows[0];
    (0..8)
        .map(|idx| {
            let mut rng = rng_for(idx as u64, RngStream::Other(0));
            let crossover = assign_genes(&task.genes, GeneSchedule::RandomPartition, 0, &mut rng);
            let parents = [seeds[idx % seeds.len()].text.as_str(), seeds[(idx + 3) % seeds.len()].text.as_str()];
            render_prompt(task, task.label(LabelId(0)), parents, &crossover)
        })
        .collect()
}

fn request(prompt: &str, max_tokens: u32, seed: u64) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(prompt)],
        sampling: Sampling { temperature: 1.0, top_p: 1.0, max_tokens, stop: Vec::new(), seed },
        json_schema: None,
    }
}

struct Totals {
    seconds: f64,
    prompt_tokens: u64,
    completion_tokens: u64,
}

fn timed(model: &LlamaChatModel, batches: &[Vec<ChatRequest>]) -> Totals {
    let started = Instant::now();
    let mut totals = Totals { seconds: 0.0, prompt_tokens: 0, completion_tokens: 0 };
    for batch in batches {
        for reply in model.chat(batch) {
            let reply = reply.expect("the request succeeds");
            totals.prompt_tokens += u64::from(reply.usage.prompt_tokens);
            totals.completion_tokens += u64::from(reply.usage.completion_tokens);
        }
    }
    totals.seconds = started.elapsed().as_secs_f64();
    totals
}

fn bench_llm(home: &Home, threads: usize) {
    let path = home.require(&DEFAULT_LLM).expect("run `genprompt models fetch`").join(DEFAULT_LLM.files[0].file_name);
    let options = LlamaOptions { threads, n_ctx: 8192, n_parallel: 8 };
    let model = LlamaChatModel::load(&path, options).expect("model loads");
    let prompts = prompts();
    // Warm-up, so that page faults of the weights are not counted.
    timed(&model, &[vec![request(&prompts[0], 4, 0)]]);

    let prefill = timed(&model, &prompts.iter().map(|p| vec![request(p, 1, 1)]).collect::<Vec<_>>());
    let single: Vec<Vec<ChatRequest>> =
        prompts.iter().enumerate().map(|(i, p)| vec![request(p, 64, i as u64)]).collect();
    let sequential = timed(&model, &single);
    let batched = timed(&model, &[single.concat()]);

    let prefill_tps = prefill.prompt_tokens as f64 / prefill.seconds;
    // Decode time = total minus the prefill time of the same prompts.
    let decode_tps = sequential.completion_tokens as f64 / (sequential.seconds - prefill.seconds).max(1e-9);
    println!("SmolLM2-135M-Instruct Q4_1, {threads} thread(s), 8 distinct Genetic Prompt prompts");
    println!("prompt tokens per request: {:.0}", prefill.prompt_tokens as f64 / 8.0);
    println!("single request prefill: {prefill_tps:.0} tokens/s");
    println!("single request decode: {decode_tps:.0} tokens/s");
    let row = |name: &str, t: &Totals| {
        println!(
            "{name}: {:.2} s, {:.2} requests/s, {:.0} completion tokens/s, {:.0} total tokens/s",
            t.seconds,
            8.0 / t.seconds,
            t.completion_tokens as f64 / t.seconds,
            (t.prompt_tokens + t.completion_tokens) as f64 / t.seconds
        )
    };
    row("reference: one request at a time", &sequential);
    row("batched: 8 parallel sequences", &batched);
    println!("speed-up of batching (requests/s): {:.2}x", sequential.seconds / batched.seconds);
}

fn bench_encoder(home: &Home) {
    let dir = home.require(&DEFAULT_ENCODER).expect("run `genprompt models fetch`");
    let encoder = MiniLmEncoder::load(&dir, EncoderOptions::default()).expect("encoder loads");
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/test.jsonl");
    let rows = genprompt_data::read_rows(&seeds).expect("test rows");
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    encoder.encode(&texts[..4]).expect("warm-up");
    let started = Instant::now();
    for text in &texts {
        encoder.encode(&[text]).expect("encode");
    }
    let one_by_one = started.elapsed().as_secs_f64();
    let started = Instant::now();
    encoder.encode(&texts).expect("encode");
    let batched = started.elapsed().as_secs_f64();
    let n = texts.len() as f64;
    println!("all-MiniLM-L6-v2 on candle, {} texts of the quickstart test set", texts.len());
    println!("reference: one text at a time: {:.1} texts/s", n / one_by_one);
    println!("length-sorted batches of 32: {:.1} texts/s", n / batched);
    println!("speed-up of batching: {:.2}x", one_by_one / batched);
}

/// Random unit rows around `n_labels` cluster centres, so the probe has something to learn.
fn clustered(n_rows: usize, n_labels: usize, rng_seed: u64) -> (genprompt_embed::Embeddings, Vec<usize>) {
    use rand::{Rng, SeedableRng};
    let dim = 384;
    // The same centres for every call, so synthetic and real rows share their clusters.
    let mut centre_rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let centres: Vec<Vec<f32>> =
        (0..n_labels).map(|_| (0..dim).map(|_| centre_rng.random_range(-1.0..1.0)).collect()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rng_seed);
    let mut rows = Vec::with_capacity(n_rows);
    let mut labels = Vec::with_capacity(n_rows);
    for idx in 0..n_rows {
        let label = idx % n_labels;
        rows.push(centres[label].iter().map(|c| c + rng.random_range(-1.5f32..1.5)).collect::<Vec<f32>>());
        labels.push(label);
    }
    (genprompt_embed::Embeddings::from_rows_normalised(dim, &rows), labels)
}

/// Peak resident memory of this process so far, from /proc (Linux).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn bench_eval() {
    use genprompt_eval::{IntrinsicConfig, Probe, ProbeConfig, intrinsic_report};
    let words = ["order", "refund", "parcel", "login", "late", "charged", "app", "crash", "invoice", "address"];
    let measure = |n_rows: usize| {
        let (synthetic, labels) = clustered(n_rows, 4, 1);
        let (real, real_labels) = clustered(7_600, 4, 2);
        let texts: Vec<String> = (0..n_rows)
            .map(|idx| (0..20).map(|w| words[(idx * 7 + w * 3 + idx / 11) % words.len()]).collect::<Vec<_>>().join(" "))
            .collect();
        let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let started = Instant::now();
        let probe = Probe::train(&synthetic, &labels, 4, &ProbeConfig::standard()).expect("probe trains");
        let probe_s = started.elapsed().as_secs_f64();
        let judge = Probe::train(&real, &real_labels, 4, &ProbeConfig::standard()).expect("probe trains");
        let started = Instant::now();
        let report =
            intrinsic_report(&synthetic, &labels, &text_refs, Some((&real, &judge)), &IntrinsicConfig::standard());
        let metrics_s = started.elapsed().as_secs_f64();
        let accuracy = probe.predict(&real).iter().zip(&real_labels).filter(|(p, g)| p == g).count() as f64 / 7_600.0;
        (probe_s, metrics_s, accuracy, report.aps.overall.unwrap_or(0.0))
    };
    let (probe_10k, metrics_10k, _, _) = measure(10_000);
    let (probe_100k, metrics_100k, accuracy, aps) = measure(100_000);
    println!("synthetic clusters, 384-d, 4 labels; 7,600 real rows; one process");
    println!(
        "probe training: 10k rows (reference) {probe_10k:.2} s, 100k rows {probe_100k:.2} s ({:.1}x for 10x the rows), held-out accuracy {accuracy:.3}",
        probe_100k / probe_10k
    );
    println!(
        "intrinsic metrics: 10k rows (reference) {metrics_10k:.2} s, 100k rows {metrics_100k:.2} s ({:.1}x for 10x the rows), APS {aps:.3}",
        metrics_100k / metrics_10k
    );
    println!("peak resident memory of the whole run: {:.0} MB", peak_rss_mb());
}

fn bench_finetune(home: &Home, n_rows: usize) {
    use genprompt_eval::{Probe, ProbeConfig};
    use genprompt_finetune::{FinetuneConfig, TextClassifier};
    let dir = home.require(&DEFAULT_ENCODER).expect("run `genprompt models fetch`");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/test.jsonl");
    let rows = genprompt_data::read_rows(&path).expect("test rows");
    let labels: Vec<String> = ["billing", "delivery", "technical"].map(String::from).to_vec();
    let texts: Vec<&str> = (0..n_rows).map(|idx| rows[idx % rows.len()].text.as_str()).collect();
    let y: Vec<usize> =
        (0..n_rows).map(|idx| labels.iter().position(|l| *l == rows[idx % rows.len()].label).unwrap()).collect();

    let started = Instant::now();
    let encoder = MiniLmEncoder::load(&dir, EncoderOptions::default()).expect("encoder loads");
    let x = encoder.encode(&texts).expect("encode");
    Probe::train(&x, &y, 3, &ProbeConfig::standard()).expect("probe");
    let probe_s = started.elapsed().as_secs_f64();

    let config = FinetuneConfig { epochs: 1, ..FinetuneConfig::standard() };
    let started = Instant::now();
    let mut n_steps = 0;
    TextClassifier::train(&dir, &texts, &y, 3, &config, &mut |step, _, _| n_steps = step).expect("fine-tune");
    let finetune_s = started.elapsed().as_secs_f64();
    println!("{n_rows} rows of the quickstart test set, 1 epoch, batch 16, max length 128");
    println!("reference: embed + probe: {probe_s:.1} s ({:.0} rows/s)", n_rows as f64 / probe_s);
    println!(
        "fine-tune: {finetune_s:.1} s, {n_steps} steps, {:.2} s/step, {:.1} rows/s ({:.0}x the probe)",
        finetune_s / n_steps as f64,
        n_rows as f64 / finetune_s,
        finetune_s / probe_s
    );
    println!("extrapolated: 3,000 rows x 3 epochs = {:.0} min", 9000.0 / (n_rows as f64 / finetune_s) / 60.0);
}
