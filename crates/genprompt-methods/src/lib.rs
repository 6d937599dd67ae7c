//! Generation methods: Genetic Prompt (Han et al., EMNLP Findings 2025), its ablations, and the
//! baselines it is measured against (SimPrompt, AttrPrompt, Li et al.'s zero-shot and few-shot).
//!
//! Every method implements `Method`: per label, it drafts the prompts of the next batch and learns
//! which offspring were kept. `run_method` is the shared machinery around it: it calls the
//! `ChatModel`, cleans replies (refusals, chatter, entity tags), drops exact and near duplicates,
//! counts every rejection, embeds kept rows and reports progress.
//!
//! Architecture invariant: no IO, no clock, no environment. The world is reached only through the
//! `ChatModel`, `Encoder` and `RunObserver` traits, and randomness only through `rng_for`.

mod baselines;
mod clean;
mod error;
mod genes;
mod genetic;
mod method;
mod prompt_parts;
mod run;

pub use baselines::{AttrPrompt, Confidence, Curated, CurationThresholds, FewShot, LabelJudge, SimPrompt, ZeroShot};
pub use clean::{
    Cleaning, MIN_WORDS_OUTSIDE_TAGS, NEAR_COPY_SIMILARITY, Rejection, check_entity_tags, clean_reply, is_near_copy,
};
pub use error::MethodError;
pub use genes::{
    GENE_EXAMPLES_PER_LABEL, gene_list_schema, genes_from_json, parse_gene_list, parse_value_list,
    render_attribute_prompt, render_gene_prompt, value_list_schema, values_from_json,
};
pub use genetic::{
    GeneSchedule, Genetic, GeneticConfig, GeneticVariant, Member, ParentSelection, Parents, Pool, PoolUpdate,
    assign_genes, render_prompt, select_parents,
};
pub use method::{Draft, Method, SYSTEM_PROMPT};
pub use run::{
    BatchReport, FailedRequest, GenerationOutcome, MIN_CALLS_FOR_FAILURE_SHARE, Offspring, RunConfig, RunObserver,
    SamplingConfig, Schedule, run_method, tagged_sentence_pattern, text_schema,
};
