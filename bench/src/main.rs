//! Throughput benchmarks of the embedded engines; results go into BENCHMARKS.md.
//!
//! Every figure is a ratio against a reference measured in the same run:
//! - `llm [threads] [prefix|genetic] [batch sizes, e.g. 8,16]`: 32 distinct prompts answered 1, 2, ..., 32 per call
//!   (parallel sequences in one llama.cpp context), prefix sharing off and on, against one request
//!   per call (see `llm.rs`).
//! - `llm-e2e [threads] [rows per label]`: Genetic Prompt on the quickstart task, rows per minute
//!   with prefix sharing off (reference) and on.
//! - `encoder`: length-sorted batches against encoding one text at a time; `encode-file` and
//!   `finetune-file` are the children of `bench/encoder_vs_st.sh`, which runs sentence-transformers
//!   and PyTorch beside them (see `encoder.rs`).
//! - `engine THREADS MODEL PP TG NPL[,NPL...]`: the embedded engine's prompt and generation
//!   tokens/s in `llama-batched-bench`'s terms, the child of `bench/llama_cpp_vs_engine.sh`,
//!   which runs llama.cpp's own `llama-bench` and `llama-batched-bench` beside it (see `engine.rs`).
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
//! - `serve MS [STATUS|unauthorized|refusal|kept:N|varied]`: not a benchmark; the fault-injecting test server on
//!   loopback (MS of latency per request, every request answered with the fault if one is given,
//!   or distinct sentences with `varied`), printing its base URL and serving until stdin closes.
//!   The Python package's tests and the steady benchmark use it.
//!
//! - `steady [latency ms]`: end-to-end rows/s of Genetic Prompt (steady and generational) and
//!   SimPrompt against the fixed-latency server at 16..512 in flight, local and remote encoder,
//!   Curator beside it; `endpoints [in flight each]`: three endpoints, one killed mid-run (see
//!   `steady.rs`).
//!
//! - `fuzz [--iterations N] [--target T] [--seed S]`: not a benchmark; every parser of outside
//!   input on N (default 10^6) mutated and generated inputs per target (see `fuzz/mod.rs`).
//!
//! - `endpoint-check URL MODEL [json|embeddings]`: not a benchmark; structured output and embeddings against a
//!   real server, used by `bench/llama_cpp_server_check.sh`.
//!
//! Usage: `cargo run --release -p genprompt-bench -- llm|encoder|eval|selection [threads]`,
//! `... -- finetune [N rows, default 160]`, `... -- orchestration [max in flight, default 512]`

mod encoder;
mod endpoint_check;
mod engine;
mod fuzz;
mod llm;
mod orchestration;
mod selection;
mod steady;

use std::time::Instant;

use genprompt_embed::Encoder;
use genprompt_embed_candle::{EncoderOptions, MiniLmEncoder};
use genprompt_models::{DEFAULT_ENCODER, Home};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "llm".to_string());
    if what == "fuzz" {
        return fuzz::main(&args.collect::<Vec<_>>());
    }
    if what == "encode-file" {
        return encoder::encode_file(&args.collect::<Vec<_>>());
    }
    if what == "finetune-file" {
        return encoder::finetune_file(&args.collect::<Vec<_>>());
    }
    if what == "engine" {
        return engine::run(&args.collect::<Vec<_>>());
    }
    if what == "model-path" {
        return println!("{}", engine::model_path(&args.next().expect("a catalogue name or a GGUF path")).display());
    }
    if what == "endpoint-check" {
        let (url, model) = (args.next().expect("base URL"), args.next().expect("model name"));
        return endpoint_check::run(&url, &model, args.next().as_deref());
    }
    let threads: usize = args.next().map_or(1, |t| t.parse().expect("threads is a number"));
    match what.as_str() {
        "serve" => return orchestration::serve(threads.max(1) as u64, args.next().as_deref()),
        "orchestration" => return orchestration::run(200, if threads > 1 { threads } else { 512 }),
        // `steady [latency ms, default 1000]`.
        "steady" => return steady::run(if threads > 1 { threads as u64 } else { 1000 }),
        // `endpoints [in flight per endpoint, default 64]`.
        "endpoints" => return steady::endpoints(1000, if threads > 1 { threads } else { 64 }),
        _ => {}
    }
    let home = Home::from_env().expect("models folder");
    match what.as_str() {
        "llm" => {
            let workload = args.next().unwrap_or_else(|| "prefix".to_string());
            let sizes: Vec<usize> = args.next().map_or(llm::BATCH_SIZES.to_vec(), |list| {
                list.split(',').map(|n| n.parse().expect("batch sizes like 8,16")).collect()
            });
            llm::throughput(&home, threads, &workload, &sizes)
        }
        "llm-e2e" => llm::end_to_end(&home, threads, args.next().map_or(8, |n| n.parse().expect("rows per label"))),
        "encoder" => encoder::bench_encoder(&home),
        "eval" => bench_eval(),
        "selection" => selection::run(),
        "finetune" => bench_finetune(&home, threads.max(160)),
        other => panic!("unknown benchmark {other}; use llm or encoder"),
    }
}

/// The default local encoder, if `genprompt models fetch` put it in place.
pub(crate) fn local_encoder() -> Option<MiniLmEncoder> {
    let home = Home::from_env().ok()?;
    let dir = home.require(&DEFAULT_ENCODER).ok()?;
    MiniLmEncoder::load(&dir, EncoderOptions::default()).ok()
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
    (genprompt_embed::Embeddings::from_rows_normalised(dim, &rows).expect("rows of length dim"), labels)
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
            intrinsic_report(&synthetic, &labels, &text_refs, Some((&real, &judge)), &IntrinsicConfig::standard())
                .expect("rows, labels and texts match");
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
