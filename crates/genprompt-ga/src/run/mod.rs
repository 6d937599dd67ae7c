//! The generation loop: per label, batch after batch, until enough offspring are kept.

use std::collections::HashSet;

use genprompt_core::{LabelCounts, LabelId, Lineage, RngStream, SeedRow, Task, TaskKind, TokenUsage, rng_for};
use genprompt_embed::Encoder;
use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, FinishReason, Sampling};

use crate::clean::duplicate_key;
use crate::{
    Cleaning, GaError, GeneSchedule, Member, ParentSelection, Pool, Rejection, SYSTEM_PROMPT, assign_genes,
    clean_reply, render_prompt, select_parents,
};

/// Everything that shapes a Genetic Prompt run; build it with `GaConfig::paper` and adjust.
#[derive(Clone, Debug)]
pub struct GaConfig {
    pub n_per_label: usize,
    /// Prompts per batch; the pool is updated after each batch (official code: 20).
    pub batch_size: usize,
    pub parents: ParentSelection,
    pub schedule: GeneSchedule,
    pub cleaning: Cleaning,
    pub sampling: SamplingConfig,
    /// Stop a label after this many LLM calls per wanted offspring, however many were kept.
    pub max_calls_per_offspring: usize,
    pub rng_seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    pub temperature: f32,
    pub top_p: f32,
    pub max_tokens: u32,
}

impl GaConfig {
    /// The paper's settings (temperature 1, top_p 1, active selection, random partition), with a
    /// 256-token cap instead of 1024 because single texts are short.
    pub fn paper(n_per_label: usize, rng_seed: u64) -> GaConfig {
        GaConfig {
            n_per_label,
            batch_size: 20,
            parents: ParentSelection::Active,
            schedule: GeneSchedule::RandomPartition,
            cleaning: Cleaning::Clean,
            sampling: SamplingConfig { temperature: 1.0, top_p: 1.0, max_tokens: 256 },
            max_calls_per_offspring: 4,
            rng_seed,
        }
    }
}

/// One generated row with its lineage.
#[derive(Clone, Debug, PartialEq)]
pub struct Offspring {
    pub id: String,
    pub label: LabelId,
    pub text: String,
    pub lineage: Lineage,
    /// The reply was cut at `max_tokens`.
    pub truncated: bool,
}

/// What a run produced: offspring in label order, then batch order, and the counts per label.
#[derive(Debug)]
pub struct GaOutcome {
    pub offspring: Vec<Offspring>,
    pub counts: Vec<LabelCounts>,
    pub tokens: TokenUsage,
}

/// Progress after one batch, for display.
#[derive(Clone, Debug)]
pub struct BatchReport<'a> {
    pub label: &'a str,
    pub batch: usize,
    pub n_requests: usize,
    pub n_kept: usize,
    pub kept_so_far: usize,
    pub wanted: usize,
    pub tokens: TokenUsage,
}

/// Receives progress events; the CLI draws progress bars, tests record them.
pub trait RunObserver: Sync {
    fn label_started(&self, _label: &str, _n_seed_rows: usize, _wanted: usize) {}
    fn batch_finished(&self, _report: &BatchReport<'_>) {}
}

impl RunObserver for () {}

/// Runs Genetic Prompt on every label of `task`. `seed_rows[label]` seeds each label's pool.
pub fn run_genetic(
    task: &Task,
    seed_rows: &[Vec<SeedRow>],
    config: &GaConfig,
    chat: &dyn ChatModel,
    encoder: &dyn Encoder,
    observer: &dyn RunObserver,
) -> Result<GaOutcome, GaError> {
    if task.kind != TaskKind::Classification {
        return Err(GaError::UnsupportedKind);
    }
    if task.genes.is_empty() {
        return Err(GaError::NoGenes);
    }
    for label_id in task.label_ids() {
        let n_seed_rows = seed_rows[label_id.0].len();
        if n_seed_rows < 2 {
            return Err(GaError::TooFewSeedRows { label: task.label(label_id).name.clone(), n_seed_rows });
        }
    }
    // Seed rows never reach the output, whichever label they belong to.
    let seed_keys: HashSet<String> = seed_rows.iter().flatten().map(|row| duplicate_key(&row.text)).collect();
    let mut outcome = GaOutcome { offspring: Vec::new(), counts: Vec::new(), tokens: TokenUsage::default() };
    for label_id in task.label_ids() {
        let label_seeds = &seed_rows[label_id.0];
        let counts = run_label(task, label_id, label_seeds, &seed_keys, config, chat, encoder, observer, &mut outcome)?;
        outcome.counts.push(counts);
    }
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
fn run_label(
    task: &Task,
    label_id: LabelId,
    seed_rows: &[SeedRow],
    seed_keys: &HashSet<String>,
    config: &GaConfig,
    chat: &dyn ChatModel,
    encoder: &dyn Encoder,
    observer: &dyn RunObserver,
    outcome: &mut GaOutcome,
) -> Result<LabelCounts, GaError> {
    let label = task.label(label_id);
    let wanted = config.n_per_label;
    observer.label_started(&label.name, seed_rows.len(), wanted);
    let seed_texts: Vec<&str> = seed_rows.iter().map(|row| row.text.as_str()).collect();
    let members = seed_rows.iter().map(|row| Member { id: row.id(), text: row.text.clone() }).collect();
    let mut pool = Pool::new(members, encoder.encode(&seed_texts)?);
    let mut seen: HashSet<String> = HashSet::new();
    let mut counts = LabelCounts { seed_rows: seed_rows.len(), requested: wanted, ..LabelCounts::default() };
    let max_calls = wanted * config.max_calls_per_offspring.max(1);
    let mut n_kept = 0;
    let mut batch = 0;
    while n_kept < wanted && counts.llm_calls < max_calls {
        let n_prompts = config.batch_size.min(wanted - n_kept).min(max_calls - counts.llm_calls);
        let mut parents_rng = rng_for(config.rng_seed, RngStream::Parents { label: label_id.0, batch });
        let mut all_parents = select_parents(&mut pool, config.parents, n_prompts, &mut parents_rng);
        if all_parents.len() < n_prompts {
            // Every pair has been used once: start a new round over all pairs rather than stop.
            pool.forget_used_pairs();
            let missing = n_prompts - all_parents.len();
            all_parents.extend(select_parents(&mut pool, config.parents, missing, &mut parents_rng));
        }
        let mut crossover_rng = rng_for(config.rng_seed, RngStream::Crossover { label: label_id.0, batch });
        let mut batch_crossover = None;
        let mut jobs = Vec::new();
        for (request_idx, parents) in all_parents.iter().enumerate() {
            let crossover = match config.schedule {
                GeneSchedule::Alternating => batch_crossover
                    .get_or_insert_with(|| assign_genes(&task.genes, config.schedule, batch, &mut crossover_rng))
                    .clone(),
                GeneSchedule::RandomPartition => assign_genes(&task.genes, config.schedule, batch, &mut crossover_rng),
            };
            let texts = [pool.member(parents.first()).text.as_str(), pool.member(parents.second()).text.as_str()];
            let request = ChatRequest {
                messages: vec![
                    ChatMessage::system(SYSTEM_PROMPT),
                    ChatMessage::user(render_prompt(task, label, texts, &crossover)),
                ],
                sampling: Sampling {
                    temperature: config.sampling.temperature,
                    top_p: config.sampling.top_p,
                    max_tokens: config.sampling.max_tokens,
                    stop: Vec::new(),
                    seed: genprompt_core::stream_seed(
                        config.rng_seed,
                        RngStream::Sampling { label: label_id.0, batch, request: request_idx },
                    ),
                },
            };
            let parent_ids = [pool.member(parents.first()).id.clone(), pool.member(parents.second()).id.clone()];
            let parent_keys = [duplicate_key(texts[0]), duplicate_key(texts[1])];
            jobs.push((request, Lineage::new(parent_ids, &crossover, batch), parent_keys, *parents));
        }
        let requests: Vec<ChatRequest> = jobs.iter().map(|(request, ..)| request.clone()).collect();
        let replies = chat.chat(&requests);
        counts.llm_calls += requests.len();
        counts.batches += 1;
        let mut batch_tokens = TokenUsage::default();
        let mut kept_members = Vec::new();
        let mut kept_texts = Vec::new();
        for ((_, lineage, parent_keys, parents), reply) in jobs.into_iter().zip(replies) {
            let verdict = match reply {
                Err(_) => {
                    // A failed call says nothing about the pair: let it be chosen again.
                    pool.release_pair(parents);
                    Err(Rejection::LlmError)
                }
                Ok(reply) => {
                    batch_tokens.prompt += u64::from(reply.usage.prompt_tokens);
                    batch_tokens.completion += u64::from(reply.usage.completion_tokens);
                    let truncated = reply.finish == FinishReason::Length;
                    counts.truncated += usize::from(truncated);
                    clean_reply(&reply.text, config.cleaning, &label.name, &task.text_kind).and_then(|text| {
                        let key = duplicate_key(&text);
                        if seed_keys.contains(&key) || parent_keys.contains(&key) {
                            Err(Rejection::CopiesParent)
                        } else if config.cleaning == Cleaning::Clean && !seen.insert(key) {
                            Err(Rejection::Duplicate)
                        } else {
                            Ok((text, truncated))
                        }
                    })
                }
            };
            match verdict {
                Ok((text, truncated)) if n_kept < wanted => {
                    let id = format!("gen:{}:{}", label.name, n_kept);
                    n_kept += 1;
                    kept_members.push(Member { id: id.clone(), text: text.clone() });
                    kept_texts.push(text.clone());
                    outcome.offspring.push(Offspring { id, label: label_id, text, lineage, truncated });
                }
                Ok(_) => {}
                Err(rejection) => count_rejection(&mut counts, rejection),
            }
        }
        if !kept_texts.is_empty() {
            let texts: Vec<&str> = kept_texts.iter().map(String::as_str).collect();
            let embeddings = encoder.encode(&texts)?;
            pool.add(kept_members, &embeddings);
        }
        outcome.tokens.prompt += batch_tokens.prompt;
        outcome.tokens.completion += batch_tokens.completion;
        observer.batch_finished(&BatchReport {
            label: &label.name,
            batch,
            n_requests: requests.len(),
            n_kept: kept_texts.len(),
            kept_so_far: n_kept,
            wanted,
            tokens: batch_tokens,
        });
        batch += 1;
    }
    counts.kept = n_kept;
    Ok(counts)
}

fn count_rejection(counts: &mut LabelCounts, rejection: Rejection) {
    let rejected = &mut counts.rejected;
    match rejection {
        Rejection::Refusal => rejected.refusal += 1,
        Rejection::Empty => rejected.empty += 1,
        Rejection::Duplicate => rejected.duplicate += 1,
        Rejection::CopiesParent => rejected.copies_parent += 1,
        Rejection::LlmError => rejected.llm_error += 1,
    }
}

#[cfg(test)]
mod tests;
