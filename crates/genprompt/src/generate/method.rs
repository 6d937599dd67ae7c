//! From settings to a runnable method: the run configuration, the Genetic Prompt configuration,
//! the Curated judge, and what identifies a run in its journal and manifest.

use std::collections::BTreeMap;

use genprompt_data::LoadedTask;
use genprompt_embed::Encoder;
use genprompt_methods::{
    AttrPrompt, Curated, CurationThresholds, FewShot, Genetic, GeneticConfig, GeneticVariant, Method as RunnableMethod,
    RunConfig, Schedule, SimPrompt, ZeroShot,
};
use serde_json::{Value, json};

use super::Job;
use crate::config::{GenerationSettings, ScheduleKind, StoreConfig};
use crate::curation::ProbeJudge;
use crate::{Error, Method, Result};

pub(crate) fn run_config(
    settings: &GenerationSettings,
    store: &StoreConfig,
    n_per_label: usize,
    rng_seed: u64,
) -> RunConfig {
    let mut config = RunConfig::paper(n_per_label, rng_seed);
    config.batch_size = settings.batch_size.max(1);
    config.cleaning = settings.cleaning;
    // The LLM is not known yet: the paper's sampling stands in until `with_model_sampling`.
    config.sampling = settings.sampling_for(None).0;
    config.structured = settings.structured;
    config.near_duplicate_threshold = settings.near_duplicates;
    config.max_failure_share = store.max_failure_share;
    config
}

/// `config` with the sampling of `settings` on `model` (a catalogue LLM, if it is one), and where
/// the defaults came from ("qwen2.5-coder-0.5b" or "paper").
pub(crate) fn with_model_sampling(
    config: &RunConfig,
    settings: &GenerationSettings,
    model: Option<&genprompt_models::ModelSpec>,
) -> (RunConfig, String) {
    let (sampling, source) = settings.sampling_for(model);
    (RunConfig { sampling, ..config.clone() }, source)
}

fn genetic_config(settings: &GenerationSettings) -> GeneticConfig {
    GeneticConfig {
        parents: settings.parents,
        schedule: settings.genes_schedule,
        variant: settings.variant,
        pool_update: settings.pool_update,
    }
}

/// Settings that only Genetic Prompt reads are refused for other methods rather than ignored.
pub(crate) fn check_method_settings(method: Method, settings: &GenerationSettings) -> Result<()> {
    if method != Method::Genetic && settings.variant != GeneticVariant::Full {
        return Err(Error::bad_input("--ablation only applies to --method genetic"));
    }
    Ok(())
}

/// The method of a job; Curated needs its judge, trained beforehand on the seed rows.
pub(crate) fn build_method<'a>(job: &Job<'a>, judge: Option<&'a ProbeJudge>) -> Result<Box<dyn RunnableMethod + 'a>> {
    let (task, config) = (&job.loaded.task, job.config);
    Ok(match job.method {
        Method::Genetic => Box::new(Genetic::new(task, genetic_config(job.settings), config.rng_seed)),
        Method::SimPrompt => Box::new(SimPrompt::new(task, config.rng_seed)),
        Method::AttrPrompt => Box::new(AttrPrompt::new(task, config.rng_seed)),
        Method::ZeroShot => Box::new(ZeroShot::new(task)),
        Method::FewShot => Box::new(FewShot::new(task, &job.loaded.seed_rows, config.rng_seed)),
        Method::Curated => {
            let Some(judge) = judge else {
                return Err(Error::failed("the Curated LLM method needs its judge; train it with train_judge first"));
            };
            Box::new(Curated::new(task, judge, CurationThresholds::standard(), config.rng_seed))
        }
    })
}

/// Curated's judge: probes trained on the seed rows; `None` for other methods.
pub(crate) fn train_judge(job: &Job<'_>, encoder: &dyn Encoder) -> Result<Option<ProbeJudge>> {
    Ok(match job.method {
        Method::Curated => Some(ProbeJudge::train(&job.loaded.seed_rows, encoder, job.config.rng_seed)?),
        _ => None,
    })
}

/// What identifies a run for its journal: a rerun with the same settings resumes it.
pub(super) fn run_settings(
    job: &Job<'_>,
    parameters: &BTreeMap<String, Value>,
    llm: &genprompt_llm::ModelIdentity,
    encoder: &genprompt_embed::EncoderIdentity,
    base_url: Option<&str>,
) -> BTreeMap<String, String> {
    let loaded = job.loaded;
    [
        ("task_file_sha256", loaded.task_file_sha256.clone()),
        ("seed_rows_sha256", loaded.seed_rows_sha256.clone()),
        ("method", job.method.journal_name().to_string()),
        ("parameters", json!(parameters).to_string()),
        ("n_per_label", job.config.n_per_label.to_string()),
        ("rng_seed", job.config.rng_seed.to_string()),
        ("llm", json!([llm.backend, base_url.unwrap_or_default(), llm.name, llm.sha256]).to_string()),
        ("encoder", json!([encoder.name, encoder.weights_sha256]).to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// Method and run parameters, as the manifest records them.
pub(super) fn parameters(
    loaded: &LoadedTask,
    method: &dyn RunnableMethod,
    config: &RunConfig,
) -> BTreeMap<String, Value> {
    let mut parameters: BTreeMap<String, Value> = [
        ("postprocess", json!(config.cleaning.as_str())),
        ("near_duplicate_threshold", json!(config.near_duplicate_threshold)),
        ("batch_size", json!(config.batch_size)),
        ("temperature", json!(config.sampling.temperature)),
        ("top_p", json!(config.sampling.top_p)),
        ("min_p", json!(config.sampling.min_p)),
        ("repeat_penalty", json!(config.sampling.repeat_penalty)),
        ("structured", json!(config.structured)),
        ("max_tokens", json!(config.sampling.max_tokens)),
        ("max_calls_per_row", json!(config.max_calls_per_row)),
        ("seeds_per_label", json!(loaded.task.seeds.per_label)),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    parameters.extend(method.parameters().into_iter().map(|(key, value)| (key.to_string(), value)));
    // Absent: the generational schedule (runs made before there was another).
    if let Schedule::Steady { window } = config.schedule {
        parameters.insert("schedule".to_string(), json!("steady"));
        parameters.insert("window".to_string(), json!(window));
    }
    parameters
}

/// The schedule of a run: as set, else steady on endpoints (keeps them busy; replies do not
/// depend on each other) and generational on the embedded engine (its replies depend on their
/// batch-mates, and its runs promise the same bytes for the same seed).
pub(crate) fn schedule(settings: &GenerationSettings, choice: &crate::backends::LlmChoice) -> Schedule {
    let endpoints = choice.n_endpoints();
    let kind =
        settings.schedule.unwrap_or(if endpoints > 0 { ScheduleKind::Steady } else { ScheduleKind::Generational });
    match kind {
        ScheduleKind::Generational => Schedule::Generational,
        ScheduleKind::Steady => {
            let window = settings.window.unwrap_or(choice.max_in_flight * endpoints.max(1));
            Schedule::Steady { window: window.max(1) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreConfig;

    #[test]
    fn curated_without_its_judge_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("seeds.jsonl"),
            "{\"text\": \"a goal\", \"label\": \"sports\"}\n{\"text\": \"a vote\", \"label\": \"politics\"}\n",
        )
        .unwrap();
        let task = "name = \"t\"\nkind = \"classification\"\ndomain = \"news\"\ntext_kind = \"sentence\"\n\
[seeds]\npath = \"seeds.jsonl\"\n[[labels]]\nname = \"sports\"\ndefinition = \"sport\"\n\
[[labels]]\nname = \"politics\"\ndefinition = \"politics\"\n";
        let loaded = genprompt_data::load_task_text(&dir.path().join("task.toml"), task, None).unwrap();
        let settings = GenerationSettings::default();
        let store = StoreConfig::default();
        let config = run_config(&settings, &store, 2, 0);
        let job = Job {
            loaded: &loaded,
            method: Method::Curated,
            settings: &settings,
            config: &config,
            store: &store,
            out: dir.path(),
        };
        let err = build_method(&job, None).err().expect("no judge, no Curated method");
        assert_eq!(err.kind(), crate::ErrorKind::Failed);
        assert!(build_method(&Job { method: Method::SimPrompt, ..job }, None).is_ok());
    }
}
