//! The sentence encoder and fine-tuning: `encoder` (batched against one text at a time) and the
//! two children of `bench/encoder_vs_st.py`, which times sentence-transformers and PyTorch
//! beside them in the same run:
//!
//! - `encode-file FILE.jsonl LIMIT OUT`: encodes the first LIMIT texts (0 = all) twice,
//!   prints `{"texts_per_s", "kernel", "threads"}` (best run; model load excluded, tokenisation
//!   included, as in `SentenceTransformer.encode`) and writes the vectors to OUT as f32.
//! - `finetune-file FILE.jsonl ROWS`: one epoch of `TextClassifier::train` (the standard config)
//!   on the first ROWS rows, printing `{"steps", "seconds"}` (model load excluded).

use std::path::Path;
use std::time::Instant;

use genprompt_embed::Encoder;
use genprompt_embed_candle::fast::Kernel;
use genprompt_embed_candle::{EncoderOptions, MiniLmEncoder};
use genprompt_models::{DEFAULT_ENCODER, Home};

fn model_dir() -> std::path::PathBuf {
    let home = Home::from_env().expect("models folder");
    home.require(&DEFAULT_ENCODER).expect("run `genprompt models fetch`")
}

pub(crate) fn encode_file(args: &[String]) {
    let [path, limit, out] = args else { panic!("usage: encode-file FILE.jsonl LIMIT OUT") };
    let rows = genprompt_data::read_rows(Path::new(path)).expect("rows");
    let limit: usize = limit.parse().expect("LIMIT is a number");
    let texts: Vec<&str> =
        rows.iter().take(if limit == 0 { rows.len() } else { limit }).map(|r| r.text.as_str()).collect();
    // `GENPROMPT_BENCH_KERNEL=f32` measures the fallback kernel on a CPU that has the bf16 one.
    let kernel = match std::env::var("GENPROMPT_BENCH_KERNEL").as_deref() {
        Ok("f32") => Kernel::F32,
        Ok("bf16") => Kernel::Bf16,
        _ => Kernel::detect(),
    };
    let encoder =
        MiniLmEncoder::load_with_kernel(&model_dir(), EncoderOptions::default(), kernel).expect("encoder loads");
    encoder.encode(&texts[..texts.len().min(32)]).expect("warm-up");
    let mut best = f64::INFINITY;
    let mut vectors = None;
    for _ in 0..2 {
        let started = Instant::now();
        let embeddings = encoder.encode(&texts).expect("encode");
        best = best.min(started.elapsed().as_secs_f64());
        vectors = Some(embeddings);
    }
    let vectors = vectors.expect("two runs");
    let bytes: Vec<u8> =
        (0..vectors.len()).flat_map(|idx| vectors.row(idx).to_vec()).flat_map(f32::to_le_bytes).collect();
    std::fs::write(out, bytes).expect("write vectors");
    let line = serde_json::json!({
        "texts_per_s": texts.len() as f64 / best,
        "kernel": format!("{:?}", encoder.kernel()),
        "threads": candle_core_threads(),
    });
    println!("{line}");
}

pub(crate) fn finetune_file(args: &[String]) {
    use genprompt_finetune::{FinetuneConfig, TextClassifier};
    let [path, rows] = args else { panic!("usage: finetune-file FILE.jsonl ROWS") };
    let rows_n: usize = rows.parse().expect("ROWS is a number");
    let rows: Vec<_> = genprompt_data::read_rows(Path::new(path)).expect("rows").into_iter().take(rows_n).collect();
    let mut labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let y: Vec<usize> = rows.iter().map(|r| labels.binary_search(&r.label.as_str()).expect("known label")).collect();
    let config = FinetuneConfig { epochs: 1, ..FinetuneConfig::standard() };
    let (mut steps, mut first_step) = (0, None);
    let started = Instant::now();
    TextClassifier::train(&model_dir(), &texts, &y, labels.len(), &config, &mut |step, _, _| {
        steps = step;
        first_step.get_or_insert_with(Instant::now);
    })
    .expect("fine-tune");
    // Time from the end of the first step: excludes loading, as the PyTorch side does.
    let seconds = first_step.map_or(started.elapsed(), |t| t.elapsed()).as_secs_f64();
    println!("{}", serde_json::json!({ "steps": steps.saturating_sub(1), "seconds": seconds }));
}

fn candle_core_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub(crate) fn bench_encoder(home: &Home) {
    let dir = home.require(&DEFAULT_ENCODER).expect("run `genprompt models fetch`");
    let encoder = MiniLmEncoder::load(&dir, EncoderOptions::default()).expect("encoder loads");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/test.jsonl");
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
    println!("all-MiniLM-L6-v2, {} texts of the quickstart test set, kernel {:?}", texts.len(), encoder.kernel());
    println!("reference: one text at a time: {:.1} texts/s", n / one_by_one);
    println!("length-sorted groups of 32: {:.1} texts/s", n / batched);
    println!("speed-up of batching: {:.2}x", one_by_one / batched);
}
