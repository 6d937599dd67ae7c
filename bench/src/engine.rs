//! The embedded engine measured the way llama.cpp's own tools measure llama.cpp, so that
//! `bench/llama_cpp_vs_engine.sh` can print ratios against `llama-bench` and `llama-batched-bench`
//! on the same GGUF, threads and batch shapes.
//!
//! `engine THREADS MODEL PP TG NPL[,NPL...] [REPS]`: for each NPL, NPL distinct prompts of about PP
//! tokens (chat template included) answered in one call, each asked for TG tokens. Prompt
//! processing and generation are timed inside the engine (`LlamaChatModel::stats`), so the
//! figures are the engine's phases, as `llama-batched-bench` reports them, not the call's wall
//! time. Unlike llama.cpp's tools the engine samples every token (greedy here, or the catalogue's
//! sampling with `GENPROMPT_BENCH_SAMPLING=catalogue`) and detokenises it, which is part of the
//! price it pays in real runs. Prints one JSON line per row, in `llama-batched-bench`'s field
//! names (`pp`, `tg`, `pl`, `t_pp`, `speed_pp`, `t_tg`, `speed_tg`), plus the tokens really made.

use std::path::PathBuf;

use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, Sampling};
use genprompt_llm_llama::{EngineStats, LlamaChatModel, LlamaOptions};
use genprompt_models::{Home, LlmChoice};

/// Filler words for the prompts: common English words, about one token each.
const WORDS: [&str; 16] = [
    "river", "stone", "market", "window", "garden", "letter", "silver", "morning", "paper", "orange", "engine",
    "forest", "yellow", "doctor", "pocket", "island",
];

pub fn run(args: &[String]) {
    let usage = "usage: engine THREADS MODEL PP TG NPL[,NPL...] [REPS]";
    let [threads, model, pp, tg, npl, rest @ ..] = args else { panic!("{usage}") };
    let threads: usize = threads.parse().expect("THREADS is a number");
    let (pp, tg): (usize, u32) = (pp.parse().expect("PP is a number"), tg.parse().expect("TG is a number"));
    let npl: Vec<usize> = npl.split(',').map(|n| n.parse().expect("NPL like 1,4,8")).collect();
    let reps: usize = rest.first().map_or(3, |r| r.parse().expect("REPS is a number"));
    let catalogue_sampling = std::env::var("GENPROMPT_BENCH_SAMPLING").is_ok_and(|s| s == "catalogue");

    let path = model_path(model);
    let max_npl = npl.iter().copied().max().unwrap_or(1);
    let n_ctx = (max_npl * (pp + tg as usize + 64)).max(2048) as u32;
    // Prefix sharing off: llama-batched-bench prefills every sequence's prompt in full (without
    // -pps), and our prompts differ from their first user token on anyway.
    let options = LlamaOptions { threads, n_ctx, n_parallel: max_npl, share_prefix: false };
    let engine = LlamaChatModel::load(&path, options).expect("the model loads");
    let sampling = |seed: u64| {
        if catalogue_sampling {
            // The Qwen catalogue default: temperature 1, top_p 1, min_p 0.05.
            Sampling { min_p: 0.05, ..Sampling::new(1.0, 1.0, tg, seed) }
        } else {
            Sampling::new(0.0, 1.0, tg, seed)
        }
    };
    let words = calibrate(&engine, pp, &sampling);
    // Warm-up, as llama-batched-bench does: pages the weights in.
    engine.chat(&[prompt(0, words, sampling(0))]);
    for &pl in &npl {
        for rep in 0..reps {
            let requests: Vec<ChatRequest> =
                (0..pl).map(|i| prompt(rep * 1000 + i, words, sampling((rep * 1000 + i) as u64))).collect();
            let before = engine.stats();
            let replies = engine.chat(&requests);
            let after = engine.stats();
            let failed = replies.iter().filter(|r| r.is_err()).count();
            assert_eq!(failed, 0, "every request is answered");
            print_row(pp, tg, pl, rep, &delta(&before, &after), catalogue_sampling);
        }
    }
}

/// The GGUF file of a catalogue name (fetched) or a path.
pub fn model_path(model: &str) -> PathBuf {
    let home = Home::from_env().expect("models folder");
    let LlmChoice { path, .. } = home.resolve_llm(model).expect("a fetched catalogue name or a GGUF path");
    path
}

/// Finds the number of filler words that makes a prompt about `pp` tokens long.
fn calibrate(engine: &LlamaChatModel, pp: usize, sampling: &dyn Fn(u64) -> Sampling) -> usize {
    let mut words = pp;
    for _ in 0..4 {
        let mut one_token = sampling(0);
        one_token.max_tokens = 1;
        let request = prompt(0, words, one_token);
        let reply = engine.chat(&[request]).remove(0).expect("the calibration request is answered");
        let tokens = reply.usage.prompt_tokens as usize;
        if tokens.abs_diff(pp) <= pp / 100 + 1 {
            break;
        }
        words = (words as i64 + pp as i64 - tokens as i64).max(1) as usize;
    }
    words
}

/// A prompt that keeps the model writing: count upwards, one number per line (distinct per `id`,
/// so no two sequences share more than the chat template's first tokens).
fn prompt(id: usize, words: usize, sampling: Sampling) -> ChatRequest {
    let filler: Vec<&str> = (0..words).map(|i| WORDS[(i * 7 + id * 3 + i / 16) % WORDS.len()]).collect();
    let start = 1000 + 37 * id;
    let text = format!(
        "{}\nIgnore the words above. Count upwards from {start}, one number per line, and never stop.",
        filler.join(" ")
    );
    ChatRequest::new(vec![ChatMessage::user(text)], sampling)
}

fn delta(before: &EngineStats, after: &EngineStats) -> EngineStats {
    EngineStats {
        prompt_tokens: after.prompt_tokens - before.prompt_tokens,
        shared_tokens: after.shared_tokens - before.shared_tokens,
        generated_tokens: after.generated_tokens - before.generated_tokens,
        prefill_micros: after.prefill_micros - before.prefill_micros,
        decode_micros: after.decode_micros - before.decode_micros,
    }
}

fn print_row(pp: usize, tg: u32, pl: usize, rep: usize, stats: &EngineStats, catalogue_sampling: bool) {
    let t_pp = stats.prefill_micros as f64 / 1e6;
    let t_tg = stats.decode_micros as f64 / 1e6;
    println!(
        "{{\"engine\": \"genprompt\", \"sampling\": \"{}\", \"pp\": {pp}, \"tg\": {tg}, \"pl\": {pl}, \"rep\": {rep}, \
\"prompt_tokens\": {}, \"generated_tokens\": {}, \"t_pp\": {t_pp:.4}, \"speed_pp\": {:.2}, \"t_tg\": {t_tg:.4}, \"speed_tg\": {:.2}}}",
        if catalogue_sampling { "catalogue" } else { "greedy" },
        stats.prompt_tokens,
        stats.generated_tokens,
        stats.prompt_tokens as f64 / t_pp,
        stats.generated_tokens as f64 / t_tg,
    );
}
