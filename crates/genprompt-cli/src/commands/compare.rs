//! `genprompt compare`: several methods, one task, equal budgets and seeds, one report.

use std::collections::BTreeMap;

use anyhow::Result;
use genprompt_data::{load_task, read_rows, write_json_atomic};
use genprompt_embed::Embeddings;
use genprompt_eval::{Probe, ProbeConfig, classification_report};
use genprompt_report::{Comparison, CurvePoint, MethodResult, Pca2, ProjectedPoint, lineage_stats};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::args::{AblationArg, CompareArgs, GenerationArgs, Method, MixArg, ParentsArg};
use crate::backends::{Timed, load_encoder};
use crate::commands::eval::{self, EvalPlan, Metrics, embed_rows};
use crate::commands::generate;
use crate::progress::Progress;

/// Shares of the synthetic set the learning curve trains on.
const CURVE_SHARES: [f64; 3] = [0.25, 0.5, 1.0];

/// A method name of `--methods` and the generation settings it stands for.
fn method_spec(name: &str, base: &GenerationArgs) -> Result<(Method, GenerationArgs)> {
    let mut generation = base.clone();
    let method = match name {
        "genetic" => Method::Genetic,
        "simprompt" => Method::Simprompt,
        "attrprompt" => Method::Attrprompt,
        "zeroshot" => Method::Zeroshot,
        "fewshot" => Method::Fewshot,
        "curated" => Method::Curated,
        "genetic-random" => {
            generation.parents = ParentsArg::Random;
            Method::Genetic
        }
        "genetic-argmax" => {
            generation.parents = ParentsArg::Argmax;
            Method::Genetic
        }
        "genetic-no-mutation" => {
            generation.ablation = Some(AblationArg::NoMutation);
            Method::Genetic
        }
        "genetic-word-as-gene" => {
            generation.ablation = Some(AblationArg::WordAsGene);
            Method::Genetic
        }
        other => return Err(crate::BadInput(format!("unknown method \"{other}\" in --methods; see --help")).into()),
    };
    Ok((method, generation))
}

pub fn run(args: CompareArgs, progress: &Progress) -> Result<()> {
    if args.n_per_label == 0 || args.runs == 0 {
        return Err(crate::BadInput("-n and --runs must be at least 1".to_string()).into());
    }
    generate::check_store_args(&args.store)?;
    crate::interrupt::install()?;
    let specs = args.methods.iter().map(|name| method_spec(name, &args.generation)).collect::<Result<Vec<_>>>()?;
    let loaded = load_task(&args.task, args.examples.as_deref())?;
    let encoder = Timed::new(load_encoder(&args.models)?);
    let test_rows = read_rows(&args.test)?;
    let test_x = embed_rows(&test_rows, &encoder, "embed test", progress)?;
    let real_rows: Vec<&[f32]> = test_x.rows().collect();
    let pca = Pca2::fit(&real_rows, args.seed);
    let labels: Vec<String> = loaded.task.labels().iter().map(|l| l.name.clone()).collect();

    let mut results = Vec::new();
    let mut all_metrics: BTreeMap<String, Metrics> = BTreeMap::new();
    for (name, (method, generation)) in args.methods.iter().zip(&specs) {
        progress.step(&format!("== {name}"));
        let out = args.out.join("methods").join(name);
        let config = generate::run_config(generation, &args.store, args.n_per_label, args.seed);
        generate::replace_finished_run(&out)?;
        let job = generate::Job {
            loaded: &loaded,
            method: *method,
            generation,
            config: &config,
            models: &args.models,
            store: &args.store,
            out: &out,
        };
        let generated = generate::generate(&job, progress)?;
        let plan = plan(&args, &generated.dataset, MixArg::Synthetic);
        let metrics = eval::evaluate(&plan, &encoder, progress)?;
        write_json_atomic(&eval::metrics_path(&out), &metrics)?;

        let rows = read_rows(&generated.dataset)?;
        let synthetic_x = embed_rows(&rows, &encoder, "embed rows", progress)?;
        let mut projection = project(&pca, &synthetic_x, rows.iter().map(|r| r.label.clone()), false);
        projection.extend(project(&pca, &test_x, test_rows.iter().map(|r| r.label.clone()), true));
        let y: Vec<usize> = rows.iter().map(|r| label_index(&labels, &r.label)).collect();
        let test_y: Vec<usize> = test_rows.iter().map(|r| label_index(&labels, &r.label)).collect();
        let learning_curve = learning_curve(&synthetic_x, &y, &test_x, &test_y, &labels, &args);
        let dataset_values: Vec<serde_json::Value> =
            rows.iter().map(|row| serde_json::to_value(row).expect("rows serialize")).collect();
        results.push(MethodResult {
            name: name.clone(),
            metrics: serde_json::to_value(&metrics)?,
            manifest: Some(serde_json::to_value(&generated.manifest)?),
            projection,
            learning_curve,
            lineage: (*method == Method::Genetic).then(|| lineage_stats(&dataset_values)),
        });
        all_metrics.insert(name.clone(), metrics);
    }
    let reference = match &args.real_train {
        Some(real) => {
            progress.step("== real training data (reference)");
            let metrics = eval::evaluate(&plan(&args, real, MixArg::Real), &encoder, progress)?;
            let result = MethodResult {
                name: "real data".to_string(),
                metrics: serde_json::to_value(&metrics)?,
                ..Default::default()
            };
            all_metrics.insert("real data".to_string(), metrics);
            Some(result)
        }
        None => None,
    };
    progress.clear();
    let comparison = Comparison {
        task: loaded.task.name.clone(),
        generator: results
            .first()
            .and_then(|r| r.manifest.as_ref())
            .map_or_else(String::new, |m| m["llm"]["name"].to_string()),
        encoder: encoder.inner_identity(),
        test_set: args.test.display().to_string(),
        details: vec![
            ("rows per label".to_string(), args.n_per_label.to_string()),
            ("seed".to_string(), args.seed.to_string()),
            ("probe runs".to_string(), args.runs.to_string()),
        ],
        methods: results,
        reference,
    };
    let files = genprompt_report::write_report(&comparison, &args.out)?;
    write_json_atomic(&eval::metrics_path(&args.out), &all_metrics)?;
    let columns: Vec<(&str, &Metrics)> = all_metrics.iter().map(|(name, m)| (name.as_str(), m)).collect();
    println!("{}", eval::scores_table(&columns));
    println!("report: {}", files.html.display());
    println!("metrics: {}", eval::metrics_path(&args.out).display());
    Ok(())
}

fn plan<'a>(args: &'a CompareArgs, train: &'a std::path::Path, mix: MixArg) -> EvalPlan<'a> {
    EvalPlan {
        train,
        test: &args.test,
        real_train: args.real_train.as_deref(),
        mix,
        runs: args.runs,
        rng_seed: args.seed,
        finetune: None,
        agreement: None,
    }
}

fn label_index(labels: &[String], label: &str) -> usize {
    labels.iter().position(|l| l == label).unwrap_or(labels.len())
}

fn project(pca: &Pca2, x: &Embeddings, labels: impl Iterator<Item = String>, real: bool) -> Vec<ProjectedPoint> {
    x.rows()
        .zip(labels)
        .map(|(row, label)| {
            let (px, py) = pca.project(row);
            ProjectedPoint { x: px, y: py, label, real }
        })
        .collect()
}

/// Micro-F1 of probes trained on seeded random subsets of the synthetic rows.
fn learning_curve(
    x: &Embeddings,
    y: &[usize],
    test_x: &Embeddings,
    test_y: &[usize],
    labels: &[String],
    args: &CompareArgs,
) -> Vec<CurvePoint> {
    let n_labels = labels.len() + 1; // one spare index for test labels the task does not declare
    let mut names = labels.to_vec();
    names.push("(undeclared)".to_string());
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
    let mut curve = Vec::new();
    for share in CURVE_SHARES {
        let size = ((y.len() as f64 * share).round() as usize).max(2).min(y.len());
        let mut subset = Embeddings::new(x.dim());
        let mut subset_y = Vec::new();
        for &idx in &order[..size] {
            subset.push(x.row(idx));
            subset_y.push(y[idx]);
        }
        let scores: Vec<f64> = (0..args.runs)
            .filter_map(|run| {
                let config = ProbeConfig { rng_seed: args.seed + run as u64, ..ProbeConfig::standard() };
                let probe = Probe::train(&subset, &subset_y, n_labels, &config).ok()?;
                Some(classification_report(&names, test_y, &probe.predict(test_x)).micro_f1)
            })
            .collect();
        if scores.is_empty() {
            continue;
        }
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
        curve.push(CurvePoint { size, mean, std });
    }
    curve
}
