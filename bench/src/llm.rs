//! Embedded LLM throughput: B parallel sequences per call against one request per call, with
//! the shared prompt prefix prefilled once (on) or for every sequence (off); and end-to-end
//! Genetic Prompt rows per minute with prefix sharing off and on.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use genprompt_core::{LabelId, RngStream, rng_for};
use genprompt_embed_candle::{EncoderOptions, MiniLmEncoder};
use genprompt_llm::{ChatMessage, ChatModel, ChatReply, ChatRequest, LlmError, Sampling};
use genprompt_llm_llama::{LlamaChatModel, LlamaOptions};
use genprompt_methods::{GeneSchedule, SYSTEM_PROMPT, assign_genes, render_prompt};
use genprompt_models::{DEFAULT_ENCODER, Home, PIPELINE_TEST_LLM};

const N_REQUESTS: usize = 32;
/// Parallel sequences per call measured by default.
pub const BATCH_SIZES: [usize; 6] = [1, 2, 4, 8, 16, 32];

fn quickstart() -> genprompt_data::LoadedTask {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/task.toml");
    genprompt_data::load_task(&path, None).expect("the quickstart task loads")
}

fn load(home: &Home, threads: usize, share_prefix: bool) -> LlamaChatModel {
    // The figures in BENCHMARKS.md were taken on SmolLM2-135M; keep measuring that model.
    let path = home
        .require(&PIPELINE_TEST_LLM)
        .expect("run `genprompt models fetch smollm2-135m`")
        .join(PIPELINE_TEST_LLM.files[0].file_name);
    let options = LlamaOptions { threads, n_ctx: 16384, n_parallel: 32, share_prefix };
    LlamaChatModel::load(&path, options).expect("model loads")
}

/// Distinct prompts built the way the issue asks methods to build them: instructions first (task,
/// labels, rules: the same for every request), then the per-request part (two examples, a label).
fn prefix_prompts() -> Vec<String> {
    let loaded = quickstart();
    let task = &loaded.task;
    let context = task.context.as_deref().unwrap_or("");
    let mut shared = format!("{context}\nWe are building a dataset for the {} task.\n", task.domain);
    shared.push_str("The labels are:\n");
    for label in task.labels() {
        shared.push_str(&format!("- {}: {}\n", label.name, label.definition));
    }
    shared.push_str(
        "Rules: write one new message only; keep it realistic and specific; do not copy the examples; \
vary length, tone and wording; never mention that the message is synthetic; no greeting lines, \
signatures, placeholders, lists or explanations; at most 45 words.\n\n",
    );
    (0..N_REQUESTS)
        .map(|idx| {
            let label = LabelId(idx % task.labels().len());
            let seeds = &loaded.seed_rows[label.0];
            let (a, b) = (&seeds[idx % seeds.len()].text, &seeds[(idx / 3 + 1) % seeds.len()].text);
            let name = &task.label(label).name;
            format!("{shared}Example 1: {a}\nExample 2: {b}\n\nWrite a new {} with the label '{name}'.", task.text_kind)
        })
        .collect()
}

/// Real Genetic Prompt prompts of the quickstart task (their examples come first, so they share
/// little beyond the system message and the first line).
fn genetic_prompts() -> Vec<String> {
    let loaded = quickstart();
    let task = &loaded.task;
    (0..N_REQUESTS)
        .map(|idx| {
            let label = LabelId(idx % task.labels().len());
            let seeds = &loaded.seed_rows[label.0];
            let mut rng = rng_for(idx as u64, RngStream::Other(0));
            let crossover = assign_genes(&task.genes, GeneSchedule::RandomPartition, 0, &mut rng);
            let parents = [seeds[idx % seeds.len()].text.as_str(), seeds[(idx + 3) % seeds.len()].text.as_str()];
            render_prompt(task, task.label(label), parents, &crossover)
        })
        .collect()
}

fn request(prompt: &str, seed: u64) -> ChatRequest {
    ChatRequest::new(
        vec![ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(prompt)],
        Sampling::new(1.0, 1.0, 64, seed),
    )
}

struct Run {
    seconds: f64,
    /// CPU time of the whole process: with one engine thread it barely moves when other
    /// processes compete for the cores, unlike wall time.
    cpu_seconds: f64,
    prompt_tokens: u64,
    completion_tokens: u64,
    texts: Vec<String>,
}

/// Answers all requests, `batch` per call.
fn timed(model: &LlamaChatModel, requests: &[ChatRequest], batch: usize) -> Run {
    let (started, cpu_started) = (Instant::now(), cpu_seconds());
    let replies: Vec<Result<ChatReply, LlmError>> = requests.chunks(batch).flat_map(|c| model.chat(c)).collect();
    let (seconds, cpu_seconds) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_started);
    let replies: Vec<ChatReply> = replies.into_iter().map(|r| r.expect("the request succeeds")).collect();
    Run {
        seconds,
        cpu_seconds,
        prompt_tokens: replies.iter().map(|r| u64::from(r.usage.prompt_tokens)).sum(),
        completion_tokens: replies.iter().map(|r| u64::from(r.usage.completion_tokens)).sum(),
        texts: replies.into_iter().map(|r| r.text).collect(),
    }
}

/// User plus system time of this process so far, from /proc (Linux; clock ticks of 10 ms).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    ticks.iter().sum::<f64>() / 100.0
}

pub fn throughput(home: &Home, threads: usize, workload: &str, batch_sizes: &[usize]) {
    let prompts = match workload {
        "prefix" => prefix_prompts(),
        "genetic" => genetic_prompts(),
        other => panic!("unknown workload {other}; use prefix or genetic"),
    };
    let requests: Vec<ChatRequest> = prompts.iter().zip(0..).map(|(p, seed)| request(p, seed)).collect();
    let models = [(false, load(home, threads, false)), (true, load(home, threads, true))];
    for (_, model) in &models {
        timed(model, &requests[..1], 1); // warm-up: page in the weights
    }
    let probe = models[1].1.stats();
    models[1].1.chat(&requests[..2].iter().map(|r| with_max_tokens(r, 1)).collect::<Vec<_>>());
    let shared_prefix = models[1].1.stats().shared_tokens - probe.shared_tokens;
    println!(
        "SmolLM2-135M-Instruct Q4_1, {threads} thread(s), {N_REQUESTS} distinct prompts ({workload}), 64 new tokens max, temperature 1"
    );
    println!("shared prompt prefix: {shared_prefix} tokens (system message and chat template included)");
    println!(
        "| parallel sequences | prefix sharing | wall s | CPU s | requests per CPU-s | prompt tokens per CPU-s | generated tokens per CPU-s | speed-up (requests per CPU-s) | speed-up (wall) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let reference = timed(&models[0].1, &requests, 1);
    let print = |batch: usize, share: bool, run: &Run| {
        println!(
            "| {batch} | {} | {:.1} | {:.1} | {:.2} | {:.0} | {:.0} | {:.2}x | {:.2}x |",
            if share { "on" } else { "off" },
            run.seconds,
            run.cpu_seconds,
            N_REQUESTS as f64 / run.cpu_seconds,
            run.prompt_tokens as f64 / run.cpu_seconds,
            run.completion_tokens as f64 / run.cpu_seconds,
            reference.cpu_seconds / run.cpu_seconds,
            reference.seconds / run.seconds,
        )
    };
    print(1, false, &reference);
    let mut same_as_alone = Vec::new();
    for &batch in batch_sizes.iter().filter(|b| **b > 1) {
        for (share, model) in &models {
            let run = timed(model, &requests, batch);
            print(batch, *share, &run);
            let same = run.texts.iter().zip(&reference.texts).filter(|(a, b)| a == b).count();
            same_as_alone.push(format!("B={batch} sharing {}: {same}/{N_REQUESTS}", if *share { "on" } else { "off" }));
        }
    }
    println!("replies identical to the one-at-a-time reference: {}", same_as_alone.join(", "));
}

fn with_max_tokens(request: &ChatRequest, max_tokens: u32) -> ChatRequest {
    let mut request = request.clone();
    request.sampling.max_tokens = max_tokens;
    request
}

/// Genetic Prompt on the quickstart task through the library's `generate` (the same flow as the
/// CLI, files and journal included), `n` rows per label, batches of 8, sharing off then on.
pub fn end_to_end(home: &Home, threads: usize, n_per_label: usize) {
    let task = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/task.toml");
    let encoder_dir = home.require(&DEFAULT_ENCODER).expect("run `genprompt models fetch`");
    let encoder: Arc<dyn genprompt::Encoder> =
        Arc::new(MiniLmEncoder::load(&encoder_dir, EncoderOptions::default()).expect("encoder loads"));
    let settings = genprompt::GenerationSettings::default().with_batch_size(8).with_max_tokens(96);
    println!(
        "Genetic Prompt, quickstart task, {n_per_label} rows per label, batches of 8, 96-token cap, {threads} LLM thread(s)"
    );
    for share in [false, true] {
        let chat = Arc::new(load(home, threads, share));
        let out = std::env::temp_dir().join(format!("genprompt-bench-e2e-{}-{share}", std::process::id()));
        let backends = genprompt::Backends::default()
            .with_shared_chat_model(chat.clone())
            .with_shared_encoder_model(encoder.clone());
        let config = genprompt::GenerateConfig::new(task.as_path(), n_per_label)
            .with_seed(42)
            .with_settings(settings.clone())
            .with_out(&out)
            .with_force(true)
            .with_backends(backends)
            .with_store(genprompt::StoreConfig::default().with_cache(genprompt::CacheMode::Off));
        let (started, cpu_started) = (Instant::now(), cpu_seconds());
        let generated = genprompt::generate(&config, &(), &genprompt::CancelToken::new()).expect("the run finishes");
        let (seconds, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_started);
        let _ = std::fs::remove_dir_all(&out);
        let calls: usize = generated.manifest.labels.values().map(|c| c.llm_calls).sum();
        let n_rows = generated.rows.len();
        let stats = chat.stats();
        println!(
            "prefix sharing {}: {n_rows} rows from {calls} calls in {seconds:.1} s wall, {cpu:.1} CPU-s = {:.1} rows/min ({:.1} rows per CPU-minute); {} of {} prompt tokens served by a shared prefix",
            if share { "on" } else { "off" },
            n_rows as f64 * 60.0 / seconds,
            n_rows as f64 * 60.0 / cpu,
            stats.shared_tokens,
            stats.prompt_tokens,
        );
    }
}
