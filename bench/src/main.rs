//! Throughput benchmarks of the embedded engines; results go into BENCHMARKS.md.
//!
//! Every figure is a ratio against a reference measured in the same run:
//! - `llm`: batched generation (parallel sequences in one llama.cpp context) against the same
//!   requests answered one at a time, plus prefill and decode speed of single requests.
//! - `encoder`: length-sorted batches against encoding one text at a time.
//!
//! Usage: `cargo run --release -p genprompt-bench -- llm|encoder [threads]`

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
    let threads: usize = args.next().map_or(1, |t| t.parse().expect("threads is a number"));
    let home = Home::from_env().expect("models folder");
    match what.as_str() {
        "llm" => bench_llm(&home, threads),
        "encoder" => bench_encoder(&home),
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
