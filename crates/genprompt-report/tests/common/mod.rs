//! A realistic comparison (with a hostile label) and a tag-balance check, shared by the tests.
#![allow(dead_code)]

use genprompt_report::{Comparison, CurvePoint, MethodResult, Pca2, ProjectedPoint, lineage_stats};
use serde_json::{Value, json};

pub const HOSTILE: &str = "<script>alert('x')</script>";
pub const LABELS: [&str; 4] = ["billing", "shipping", "account & login", HOSTILE];
pub const METHODS: [&str; 4] = ["genetic", "simprompt", "attrprompt", "zeroshot"];
const DIM: usize = 16;

/// A linear congruential generator: uniform in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn metrics(micro: f64, macro_f1: f64, aps: f64, vocab: usize, intrinsic: bool) -> Value {
    let runs: Vec<Value> = (0..3)
        .map(|run| {
            let per_label: Vec<Value> = LABELS
                .iter()
                .enumerate()
                .map(|(i, l)| json!({"label": l, "precision": 0.7, "recall": 0.7, "f1": macro_f1 - 0.05 * i as f64 + 0.01 * run as f64, "support": 15}))
                .collect();
            json!({"n_items": 60, "accuracy": micro, "micro_f1": micro, "macro_f1": macro_f1, "per_label": per_label, "confusion": []})
        })
        .collect();
    let mut m = json!({
        "format_version": 2, "classifier": "probe", "n_train": 96, "n_test": 60, "labels": LABELS,
        "summary": {"accuracy": {"mean": micro, "std": 0.007}, "micro_f1": {"mean": micro, "std": 0.007},
                    "macro_f1": {"mean": macro_f1, "std": 0.012}},
        "runs": runs,
    });
    if intrinsic {
        m["intrinsic"] = json!({
            "n_synthetic": 96, "n_real": 60, "aps": {"overall": aps, "intra": aps + 0.12, "inter": aps - 0.04},
            "remote_clique": 1.0 - aps, "chamfer": 0.31 - aps / 4.0, "chamfer_n_queries": 96, "cmd": 0.9 - aps,
            "top_k_similarity": 0.52 + aps / 10.0, "label_faithfulness": 0.8 - aps / 2.0,
            "text": {"n_texts": 96, "n_tokens": 2000, "vocabulary": vocab, "distinct_1": 0.3, "distinct_2": 0.6,
                     "distinct_3": 0.8, "mean_length_tokens": 20.8},
            "self_bleu": 0.2 + aps / 3.0, "self_bleu_n_hypotheses": 96
        });
    }
    m
}

fn manifest(method: &str, rejected_dupes: usize) -> Value {
    let labels: serde_json::Map<String, Value> = LABELS
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rejected = json!({"refusal": i % 2, "empty": 0, "duplicate": rejected_dupes + i, "near_duplicate": 2 * i,
                                  "copies_parent": 0, "missing_entity_tags": 0, "llm_error": 0});
            let calls = 24 + i % 2 + rejected_dupes + i + 2 * i;
            (l.to_string(), json!({"seed_rows": 6, "requested": 24, "kept": 24, "llm_calls": calls, "batches": 3,
                                   "truncated": i, "rejected": rejected}))
        })
        .collect();
    json!({"format_version": 1, "method": method, "rng_seed": 42, "n_per_label": 24,
           "llm": {"backend": "llama", "name": "SmolLM2-135M-Instruct-Q8_0.gguf", "sha256": "00"},
           "labels": labels, "tokens": {"prompt": 123456, "completion": 23456},
           "timings": {"total_s": 95.2, "load_s": 1.0, "generation_s": 88.4, "embedding_s": 3.1}})
}

/// Genetic Prompt rows: each label breeds 24 offspring, the later ones from earlier offspring.
pub fn genetic_rows() -> Vec<Value> {
    let genes = ["length", "tone", "subtopic", "voice"];
    let mut rows = Vec::new();
    for label in LABELS {
        for k in 0..24usize {
            let parent = |j: usize| if j < 6 { format!("seed:{}", j + 1) } else { format!("gen:{label}:{}", j - 6) };
            let parents = [parent(k), parent(k / 2 + 1)];
            let role = |g: usize| (g + k) % 3;
            let pick = |r: usize| -> Vec<&str> { (0..4).filter(|&g| role(g) == r).map(|g| genes[g]).collect() };
            rows.push(json!({"text": "t", "label": label, "id": format!("gen:{label}:{k}"),
                "lineage": {"parents": parents, "from_parent1": pick(0), "from_parent2": pick(1), "mutated": pick(2), "batch": k / 8}}));
        }
    }
    rows
}

/// Embeddings around one centre per label: real rows tight, synthetic rows `spread` wide.
fn projection(rng: &mut Lcg, spread: f32, shift: f32) -> Vec<ProjectedPoint> {
    let centres: Vec<Vec<f32>> =
        (0..LABELS.len()).map(|l| (0..DIM).map(|k| if k % 4 == l { 3.0 } else { 0.0 }).collect()).collect();
    let mut rows: Vec<(Vec<f32>, usize, bool)> = Vec::new();
    for (l, centre) in centres.iter().enumerate() {
        for (n, real, width, offset) in [(15, true, 1.0, 0.0), (24, false, spread, shift)] {
            for _ in 0..n {
                rows.push((centre.iter().map(|c| c + offset + (rng.next() - 0.5) * width).collect(), l, real));
            }
        }
    }
    let real: Vec<&[f32]> = rows.iter().filter(|r| r.2).map(|r| r.0.as_slice()).collect();
    let pca = Pca2::fit(&real, 1);
    rows.iter()
        .map(|(v, l, real)| {
            let (x, y) = pca.project(v);
            ProjectedPoint { x, y, label: LABELS[*l].to_string(), real: *real }
        })
        .collect()
}

fn curve(top: f64) -> Vec<CurvePoint> {
    [12, 24, 48, 96]
        .iter()
        .enumerate()
        .map(|(i, &size)| CurvePoint { size, mean: top - 0.08 * (3 - i) as f64, std: 0.02 + 0.01 * (3 - i) as f64 })
        .collect()
}

pub fn sample() -> Comparison {
    let mut rng = Lcg(5);
    let method = |name: &str, micro, macro_f1, aps, vocab, spread, rng: &mut Lcg| MethodResult {
        name: name.to_string(),
        metrics: metrics(micro, macro_f1, aps, vocab, true),
        manifest: Some(manifest(name, (vocab / 100) % 4)),
        projection: projection(rng, spread, 0.2),
        learning_curve: curve(micro),
        lineage: None,
    };
    let mut genetic = method("genetic", 0.772, 0.751, 0.389, 1460, 2.5, &mut rng);
    genetic.lineage = Some(lineage_stats(&genetic_rows()));
    let simprompt = method("simprompt", 0.635, 0.602, 0.423, 812, 1.0, &mut rng);
    let attrprompt = method("attrprompt", 0.701, 0.688, 0.432, 1105, 1.6, &mut rng);
    // A method whose run left only a summary: everything else must show as missing.
    let zeroshot = MethodResult {
        name: "zeroshot".into(),
        metrics: json!({"summary": {"micro_f1": {"mean": 0.583, "std": 0.03}}}),
        ..MethodResult::default()
    };
    Comparison {
        task: "support <routing> & \"triage\"".into(),
        generator: "SmolLM2-135M-Instruct-Q8_0.gguf".into(),
        encoder: "all-MiniLM-L6-v2".into(),
        test_set: "examples/quickstart/test.jsonl".into(),
        details: vec![
            ("budget".into(), "24 per label".into()),
            ("seed".into(), "42".into()),
            ("runs".into(), "3".into()),
        ],
        methods: vec![genetic, simprompt, attrprompt, zeroshot],
        references: vec![MethodResult {
            name: "gold (real train)".into(),
            metrics: metrics(0.881, 0.874, 0.177, 2563, true),
            ..MethodResult::default()
        }],
    }
}

/// Every start tag is closed in order (HTML void elements aside), no tag is left open.
pub fn assert_balanced(doc: &str) {
    const VOID: [&str; 6] = ["meta", "br", "img", "link", "input", "hr"];
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').unwrap_or_else(|| panic!("unclosed tag at {:?}", &after[..after.len().min(60)]));
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or_default();
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()), "bad tag <{tag}>");
        if tag.starts_with('/') {
            assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
        } else if !VOID.contains(&name) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}
