//! `genprompt quickstart`: the whole loop on a small shipped task, from a fresh machine.

use std::path::Path;

use anyhow::{Context, Result};
use genprompt_data::{load_task, write_json_atomic};
use genprompt_models::{DEFAULT_MODELS, Home, ModelStatus};

use crate::args::{
    GenerationArgs, GenesScheduleArg, Method, MixArg, ParentsArg, PoolUpdateArg, PostprocessArg, QuickstartArgs,
};
use crate::backends::{Timed, load_encoder};
use crate::commands::{eval, generate, models};
use crate::progress::Progress;

/// The example task ships inside the binary so the quickstart works from any folder.
const TASK: &str = include_str!("../../../../examples/quickstart/task.toml");
const SEEDS: &str = include_str!("../../../../examples/quickstart/seeds.jsonl");
const TEST: &str = include_str!("../../../../examples/quickstart/test.jsonl");

pub fn run(args: QuickstartArgs, progress: &Progress) -> Result<()> {
    let home = Home::from_env()?;
    if args.models.llm.is_none() || args.models.encoder.is_none() {
        if DEFAULT_MODELS.iter().any(|spec| home.status(spec) == ModelStatus::Missing) {
            progress.step("[1/4] fetching the default models");
        } else {
            progress.step("[1/4] models present");
        }
        models::fetch_defaults(&home)?;
    }

    progress.step(&format!("[2/4] writing the example task to {}", args.out.display()));
    let task_path = args.out.join("task.toml");
    let test_path = args.out.join("test.jsonl");
    for (name, text) in [("task.toml", TASK), ("seeds.jsonl", SEEDS), ("test.jsonl", TEST)] {
        write_file(&args.out.join(name), text)?;
    }
    let loaded = load_task(&task_path, None)?;

    progress.step(&format!(
        "[3/4] Genetic Prompt: {} offspring per label for {} labels with {}",
        args.n_per_label,
        loaded.task.labels().len(),
        args.models.llm.as_ref().map_or("SmolLM2-135M-Instruct".to_string(), |p| p.display().to_string())
    ));
    // Paper settings, except a short length cap (these are one-paragraph messages) and batches
    // that match the engine's parallel sequences.
    let generation = GenerationArgs {
        parents: ParentsArg::Active,
        genes_schedule: GenesScheduleArg::Paper,
        ablation: None,
        pool_update: PoolUpdateArg::Batch,
        postprocess: PostprocessArg::Clean,
        near_duplicates: 0.95,
        keep_near_duplicates: false,
        batch_size: 8,
        temperature: 1.0,
        top_p: 1.0,
        max_tokens: 96,
    };
    let config = generate::run_config(&generation, &args.store, args.n_per_label, args.seed);
    generate::replace_finished_run(&args.out)?;
    crate::interrupt::install()?;
    let job = generate::Job {
        loaded: &loaded,
        method: Method::Genetic,
        generation: &generation,
        config: &config,
        models: &args.models,
        store: &args.store,
        out: &args.out,
    };
    let generated = generate::generate(&job, progress)?;

    progress.step("[4/4] evaluating on real test rows (probe: frozen encoder + logistic regression)");
    let encoder = Timed::new(load_encoder(&args.models)?);
    let seeds_path = args.out.join("seeds.jsonl");
    let plan = |train| eval::EvalPlan {
        train,
        test: &test_path,
        real_train: Some(&seeds_path),
        mix: MixArg::Synthetic,
        runs: 3,
        rng_seed: args.seed,
        finetune: None,
        agreement: None,
    };
    let synthetic = eval::evaluate(&plan(&generated.dataset), &encoder, progress)?;
    let real = eval::evaluate(&plan(&seeds_path), &encoder, progress)?;
    write_json_atomic(&eval::metrics_path(&args.out), &synthetic)?;
    write_json_atomic(&args.out.join("metrics-real-seeds.json"), &real)?;

    let manifest = &generated.manifest;
    let kept: usize = manifest.labels.values().map(|c| c.kept).sum();
    let calls: usize = manifest.labels.values().map(|c| c.llm_calls).sum();
    println!();
    println!(
        "Generated {kept} rows from {calls} LLM calls in {:.0}s ({} prompt + {} completion tokens).",
        manifest.timings.total_s, manifest.tokens.prompt, manifest.tokens.completion
    );
    println!("Test set: {} real rows. Columns: what the probe was trained on.", synthetic.n_test);
    println!("{}", eval::scores_table(&[("synthetic (Genetic Prompt)", &synthetic), ("real seed rows", &real)]));
    println!("files:");
    for name in ["dataset.jsonl", "manifest.json", "metrics.json", "metrics-real-seeds.json", "task.toml"] {
        println!("  {}", args.out.join(name).display());
    }
    println!("SmolLM2-135M proves the pipeline offline; for datasets worth training on, use a 1.5B+ GGUF (--llm).");
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
