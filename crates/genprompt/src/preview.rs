//! A preview: a few rows per label, to check prompts and model before paying for a long run. It
//! writes no files; replies go to the shared cache, so a following generation with the same
//! settings reuses them.

use genprompt_methods::run_method;

use crate::backends::SharedChat;
use crate::generate::{GenerateConfig, Job, build_method, train_judge, with_model_sampling};
use crate::run_store::{FailedItem, Recorder, open_chat};
use crate::{CancelToken, Observer, Result};

/// The rows of one label.
#[derive(Clone, Debug)]
pub struct PreviewLabel {
    pub label: String,
    pub kept: usize,
    pub llm_calls: usize,
    pub texts: Vec<String>,
    pub failures: Vec<FailedItem>,
}

#[derive(Clone, Debug)]
pub struct Preview {
    pub labels: Vec<PreviewLabel>,
    pub requests: u64,
    pub cache_hits: u64,
    pub paid_prompt_tokens: u64,
    pub paid_completion_tokens: u64,
}

/// Generates `config.n_per_label` rows per label without writing any file (`out` is unused).
pub fn preview(config: &GenerateConfig, observer: &dyn Observer, cancel: &CancelToken) -> Result<Preview> {
    let (loaded, run_config) = config.prepare()?;
    observer.step("loading models");
    let llm = config.backends.load_llm(loaded.llm.as_ref())?;
    // The sampling `generate` will use on this model, so that its requests hit what preview cached.
    let (run_config, _) = with_model_sampling(&run_config, &config.settings, llm.catalogue);
    let job = Job { out: std::path::Path::new(""), ..config.job(&loaded, &run_config) };
    let encoder = config.backends.load_encoder()?;
    let judge = train_judge(&job, &*encoder)?;
    let mut method = build_method(&job, judge.as_ref())?;
    let chat = open_chat(SharedChat(llm.model.clone()), llm.choice.base_url.as_deref(), &config.store, None, observer)?;
    let recorder = Recorder::new(&chat, observer, cancel, llm.choice.prices);
    let outcome =
        run_method(&loaded.task, &loaded.seed_rows, method.as_mut(), &run_config, &chat, &*encoder, &recorder)?;
    observer.cleared();
    let failures = recorder.failures();
    let labels = loaded
        .task
        .label_ids()
        .zip(&outcome.counts)
        .map(|(label_id, counts)| {
            let name = loaded.task.label(label_id).name.clone();
            PreviewLabel {
                kept: counts.kept,
                llm_calls: counts.llm_calls,
                texts: outcome
                    .offspring
                    .iter()
                    .filter(|row| row.label == label_id)
                    .map(|row| row.text.clone())
                    .collect(),
                failures: failures.iter().filter(|f| f.label == name).cloned().collect(),
                label: name,
            }
        })
        .collect();
    let stats = chat.stats();
    Ok(Preview {
        labels,
        requests: stats.requests,
        cache_hits: stats.cache_hits,
        paid_prompt_tokens: stats.paid_prompt_tokens,
        paid_completion_tokens: stats.paid_completion_tokens,
    })
}
