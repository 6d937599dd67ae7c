//! `genprompt preview`: a few rows per label on screen, to check prompts and model before paying
//! for a long run. It writes no files; replies go to the shared cache, so a following `generate`
//! with the same settings reuses them.

use anyhow::Result;
use genprompt_data::load_task;
use genprompt_methods::run_method;

use super::generate::{self, Job};
use crate::args::PreviewArgs;
use crate::backends::{LlmChoice, load_encoder, load_llm};
use crate::progress::Progress;
use crate::run_store::{Recorder, open_chat};

pub fn run(args: PreviewArgs, progress: &Progress) -> Result<()> {
    if args.n_per_label == 0 {
        return Err(crate::BadInput("-n must be at least 1".to_string()).into());
    }
    generate::check_store_args(&args.store)?;
    let loaded = load_task(&args.task, args.examples.as_deref())?;
    let config = generate::run_config(&args.generation, &args.store, args.n_per_label, args.seed);
    let job = Job {
        loaded: &loaded,
        method: args.method,
        generation: &args.generation,
        config: &config,
        models: &args.models,
        store: &args.store,
        out: std::path::Path::new(""),
    };
    progress.step("loading models");
    let choice = LlmChoice::resolve(&args.models, loaded.llm.as_ref());
    let llm = load_llm(&args.models, &choice)?;
    let encoder = load_encoder(&args.models)?;
    let judge = generate::train_judge(&job, &encoder)?;
    let mut method = generate::build_method(&job, judge.as_ref());
    let chat = open_chat(llm, choice.base_url.as_deref(), &args.store, None, progress)?;
    let recorder = Recorder::new(&chat, progress, choice.prices);
    let outcome = run_method(&loaded.task, &loaded.seed_rows, method.as_mut(), &config, &chat, &encoder, &recorder)?;
    progress.clear();
    for (label_id, counts) in loaded.task.label_ids().zip(&outcome.counts) {
        let label = loaded.task.label(label_id);
        println!("== {} ({} kept from {} calls)", label.name, counts.kept, counts.llm_calls);
        for (i, row) in outcome.offspring.iter().filter(|row| row.label == label_id).enumerate() {
            println!("{:>3}. {}", i + 1, row.text.replace('\n', " "));
        }
        for failure in recorder.failures().iter().filter(|f| f.label == label.name) {
            println!("  failed (batch {}, request {}): {}", failure.batch, failure.request, failure.error);
        }
    }
    let stats = chat.stats();
    println!(
        "{} requests ({} from the cache), {} prompt + {} completion tokens paid",
        stats.requests, stats.cache_hits, stats.paid_prompt_tokens, stats.paid_completion_tokens
    );
    Ok(())
}
