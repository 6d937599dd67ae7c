//! The reference test needs the real model: it fails (never skips) when it is not provisioned.

use std::path::{Path, PathBuf};

use genprompt_embed::{EmbedError, Encoder, cosine, dot};
use serde::Deserialize;

use crate::fast::Kernel;
use crate::{EncoderOptions, MiniLmEncoder};

/// One line of the fixture: sentence-transformers' own (PyTorch CPU) vector for `text`.
#[derive(Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

fn model_dir() -> PathBuf {
    let home = genprompt_models::Home::from_env()
        .unwrap_or_else(|e| panic!("{e}; run `genprompt models fetch` to get the encoder"));
    home.require(&genprompt_models::DEFAULT_ENCODER)
        .unwrap_or_else(|e| panic!("the reference test needs the real encoder: {e}"))
}

fn references() -> Vec<Reference> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/minilm_reference.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reference fixture {} is missing or unreadable: {e}", path.display()));
    let refs: Vec<Reference> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(idx, line)| serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), idx + 1)))
        .collect();
    assert!(!refs.is_empty(), "reference fixture {} has no lines", path.display());
    refs
}

#[test]
fn matches_sentence_transformers_reference() {
    let encoder = MiniLmEncoder::load(&model_dir(), EncoderOptions::default()).unwrap();
    assert_eq!(encoder.kernel(), Kernel::detect());
    check_reference(Kernel::F32);
    if Kernel::detect() == Kernel::Bf16 {
        check_reference(Kernel::Bf16);
    } else {
        println!("this CPU has no AVX-512 BF16: only the f32 kernel is checked");
    }
}

fn check_reference(kernel: Kernel) {
    let dir = model_dir();
    let refs = references();
    let encoder = MiniLmEncoder::load_with_kernel(&dir, EncoderOptions::default(), kernel)
        .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
    assert_eq!(encoder.kernel(), kernel);
    let expected_sha = genprompt_models::DEFAULT_ENCODER
        .files
        .iter()
        .find(|f| f.file_name == "model.safetensors")
        .map(|f| f.sha256)
        .unwrap();
    assert_eq!(encoder.identity().name, "all-minilm-l6-v2");
    assert_eq!(encoder.identity().weights_sha256, expected_sha);
    assert_eq!(encoder.dim(), 384);
    assert_eq!(encoder.encode(&[]).unwrap().len(), 0);

    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let batch = encoder.encode(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    let mut cosines = Vec::new();
    for (idx, reference) in refs.iter().enumerate() {
        let row = batch.row(idx);
        assert!((dot(row, row) - 1.0).abs() < 1e-4, "row {idx} is not unit length");
        let cos = cosine(row, &reference.embedding);
        assert!(cos >= 0.999, "{kernel:?}: text {idx} {:?}: cosine {cos} vs reference", reference.text);
        cosines.push(cos);
    }
    let min = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    println!("{kernel:?}: {} texts: min cosine vs reference {min:.7}, mean {mean:.7}", cosines.len());

    // Texts are packed without padding and every kernel computes a row from its own input only:
    // a text's vector does not depend on its batch-mates, to the bit.
    for (idx, text) in texts.iter().enumerate() {
        let alone = encoder.encode(&[text]).unwrap();
        assert_eq!(alone.row(0), batch.row(idx), "{kernel:?}: text {idx} {text:?}: alone vs in batch");
    }

    // Several batches: sorting by length and restoring the input order.
    let small =
        MiniLmEncoder::load_with_kernel(&dir, EncoderOptions { batch_size: 7, ..Default::default() }, kernel).unwrap();
    let split = small.encode(&texts).unwrap();
    for idx in 0..texts.len() {
        let cos = dot(split.row(idx), batch.row(idx));
        assert!(cos > 0.9999, "text {idx}: batch size 7 vs 32 cosine {cos}");
    }
}

#[test]
fn groups_respect_the_size_limit_and_give_every_thread_work() {
    use crate::group_ranges;
    assert_eq!(group_ranges(0, 4, 2), Vec::<std::ops::Range<usize>>::new());
    assert_eq!(group_ranges(5, 2, 1), vec![0..2, 2..4, 4..5]);
    // 10 texts, 2 threads: two groups of 5 rather than one of 10.
    assert_eq!(group_ranges(10, 32, 2), vec![0..5, 5..10]);
    assert_eq!(group_ranges(100, 32, 2), vec![0..32, 32..64, 64..96, 96..100]);
    assert_eq!(group_ranges(1, 32, 4), vec![0..1]);
}

fn load_error(dir: &Path) -> (String, String) {
    match MiniLmEncoder::load(dir, EncoderOptions::default()) {
        Err(EmbedError::Load { path, message }) => (path, message),
        Err(other) => panic!("expected a load error, got {other}"),
        Ok(_) => panic!("loading {} should fail", dir.display()),
    }
}

#[test]
fn load_errors_name_the_missing_or_broken_path() {
    let root = std::env::temp_dir().join(format!("genprompt-embed-candle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);

    let missing = root.join("no-such-model");
    let (path, message) = load_error(&missing);
    assert_eq!(path, missing.display().to_string());
    assert!(message.contains("does not exist"), "{message}");

    let partial = root.join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("config.json"), "{}").unwrap();
    let (path, message) = load_error(&partial);
    assert_eq!(path, partial.join("tokenizer.json").display().to_string());
    assert!(message.contains("missing"), "{message}");

    std::fs::write(partial.join("tokenizer.json"), "{}").unwrap();
    std::fs::write(partial.join("model.safetensors"), "").unwrap();
    let (path, message) = load_error(&partial);
    assert_eq!(path, partial.join("config.json").display().to_string());
    assert!(message.contains("BERT config"), "{message}");

    std::fs::remove_dir_all(&root).unwrap();
}

/// The candle module that fine-tuning trains (`bert.rs`, its own ops, a padded batch) against
/// sentence-transformers' vectors. Right padding only: with absolute positions, left padding
/// shifts every token's position (in PyTorch too); the attention op's own test covers text
/// spans that start after padding.
#[test]
fn the_trainable_module_matches_the_reference_on_a_padded_batch() {
    use candle_core::{DType, Device, Tensor};
    use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

    let dir = model_dir();
    let config: crate::bert::BertConfig =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    // SAFETY: the weights file is mmapped read-only and not modified during the test.
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &Device::Cpu)
    }
    .unwrap();
    let model = crate::bert::BertModel::load(vb, &config).unwrap();
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        direction: PaddingDirection::Right,
        ..Default::default()
    }));
    // sentence-transformers truncates this model at 256 tokens; the shipped file says 128.
    tokenizer.with_truncation(Some(TruncationParams { max_length: 256, ..Default::default() })).unwrap();
    let encodings = tokenizer.encode_batch(texts.clone(), true).unwrap();
    let shape = (encodings.len(), encodings[0].len());
    let flat =
        |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> { encodings.iter().flat_map(|e| f(e).to_vec()).collect() };
    let ids = Tensor::from_vec(flat(tokenizers::Encoding::get_ids), shape, &Device::Cpu).unwrap();
    let mask = Tensor::from_vec(flat(tokenizers::Encoding::get_attention_mask), shape, &Device::Cpu).unwrap();
    assert!(mask.to_vec2::<u32>().unwrap().iter().any(|row| row.contains(&0)), "the batch should be padded");
    let pooled = crate::bert::mean_pool(&model.forward(&ids, &mask).unwrap(), &mask).unwrap().to_vec2::<f32>().unwrap();
    for (idx, (row, reference)) in pooled.iter().zip(&refs).enumerate() {
        let cos = cosine(row, &reference.embedding);
        assert!(cos >= 0.9999, "text {idx} {:?}: cosine {cos} vs reference", reference.text);
    }
}
