//! The worker thread: owns the llama.cpp model and context and answers batches of requests.
//!
//! A batch of requests is split into groups that fit the context together; each group is one set
//! of parallel sequences in a unified KV cache. The longest common prefix of a group's prompts
//! (system message, instructions) is prefilled once, its tokens tagged with every sequence id, so
//! one KV cell serves all sequences; then the rest of each prompt is prefilled in chunks of
//! `N_BATCH` tokens, and every live sequence advances by one token per `decode`.
//!
//! The one rule that keeps llama.cpp from aborting the process: sample a sequence only at a batch
//! index that requested logits in the latest `decode`. `Group::decode` enforces it by sampling
//! right after each decode, from the indices it recorded while filling that same batch.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use genprompt_llm::{ChatReply, ChatRequest, FinishReason, LlmError, Usage, schema};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use crate::sequence::{Prepared, Sequence};
use crate::{Job, LlamaOptions, Stats, gbnf};

/// Extra tries for a structured reply that does not fit its schema (each with the next seed).
const JSON_RETRIES: u32 = 2;

/// Most tokens in one `decode` call (llama.cpp's `n_batch`).
const N_BATCH: usize = 512;

pub(crate) fn run_worker(
    backend: &'static LlamaBackend,
    path: &Path,
    options: &LlamaOptions,
    stats: &Stats,
    ready: mpsc::Sender<Result<(), LlmError>>,
    jobs: mpsc::Receiver<Job>,
) {
    let load_err = |message: String| LlmError::Load { path: path.display().to_string(), message };
    let model = match LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()) {
        Ok(model) => model,
        Err(err) => {
            let _ = ready.send(Err(load_err(err.to_string())));
            return;
        }
    };
    let template = match model.chat_template(None) {
        Ok(template) => template,
        Err(err) => {
            let _ = ready.send(Err(load_err(format!("no usable chat template in the GGUF file: {err}"))));
            return;
        }
    };
    let n_ctx = options.n_ctx.max(512);
    let threads = i32::try_from(options.threads.max(1)).unwrap_or(1);
    let n_parallel = options.n_parallel.clamp(1, N_BATCH);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(N_BATCH as u32)
        .with_n_ubatch(N_BATCH as u32)
        .with_n_seq_max(n_parallel as u32)
        .with_kv_unified(true)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(err) => {
            let _ = ready.send(Err(load_err(format!("cannot create a context: {err}"))));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let engine = Engine { model: &model, template, n_ctx, n_parallel, share_prefix: options.share_prefix, stats };
    for job in jobs {
        let replies = engine.answer(&mut ctx, &job.requests);
        let _ = job.done.send(replies);
    }
}

struct Engine<'m> {
    model: &'m LlamaModel,
    template: LlamaChatTemplate,
    n_ctx: u32,
    n_parallel: usize,
    share_prefix: bool,
    stats: &'m Stats,
}

impl Engine<'_> {
    /// Answers every request; a structured request whose reply does not fit its schema is asked
    /// again with the next seed, up to `JSON_RETRIES` times, in a batch of the failed ones only.
    fn answer(&self, ctx: &mut LlamaContext<'_>, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        let mut replies: Vec<Option<Result<ChatReply, LlmError>>> = vec![None; requests.len()];
        // Tokens of the earlier, invalid tries: retries cost too, so the final usage counts them.
        let mut spent = vec![Usage::default(); requests.len()];
        let mut todo: Vec<usize> = (0..requests.len()).collect();
        for attempt in 0..=JSON_RETRIES {
            let mut prepared = Vec::new();
            for &idx in &todo {
                match self.prepare(idx, &requests[idx], attempt) {
                    Ok(request) => prepared.push(request),
                    Err(err) => replies[idx] = Some(Err(err)),
                }
            }
            self.answer_prepared(ctx, prepared, &mut replies);
            for idx in std::mem::take(&mut todo) {
                let (Some(schema), Some(Ok(reply))) = (&requests[idx].json_schema, &mut replies[idx]) else { continue };
                reply.usage.prompt_tokens += spent[idx].prompt_tokens;
                reply.usage.completion_tokens += spent[idx].completion_tokens;
                let Err(why) = schema::parse(&reply.text, schema) else { continue };
                tracing::debug!(request = idx, attempt, reason = %why, "reply does not fit the schema");
                spent[idx] = reply.usage;
                if attempt < JSON_RETRIES {
                    todo.push(idx);
                } else {
                    let cut = if reply.finish == FinishReason::Length { " (cut at max_tokens; raise it)" } else { "" };
                    let tries = attempt + 1;
                    replies[idx] = Some(Err(LlmError::InvalidOutput(format!("{why}{cut}; {tries} tries"))));
                }
            }
            if todo.is_empty() {
                break;
            }
        }
        // Invariant: every index is in `todo` until it gets a reply or its last try's error.
        replies.into_iter().map(|reply| reply.expect("every request is answered; this is a bug")).collect()
    }

    fn prepare(&self, request_idx: usize, request: &ChatRequest, attempt: u32) -> Result<Prepared, LlmError> {
        let grammar = match &request.json_schema {
            Some(schema) => Some(gbnf::from_schema(schema).map_err(LlmError::Rejected)?),
            None => None,
        };
        let prompt = self.prompt_tokens(request)?;
        let need = prompt.len() + request.sampling.max_tokens as usize;
        if need > self.n_ctx as usize {
            let (n_tokens, max_tokens) = (prompt.len(), request.sampling.max_tokens);
            return Err(LlmError::ContextOverflow { n_tokens, max_tokens, n_ctx: self.n_ctx });
        }
        let mut sampling = request.sampling.clone();
        sampling.seed = sampling.seed.wrapping_add(u64::from(attempt));
        Ok(Prepared { request_idx, prompt, grammar, sampling })
    }

    /// Packs requests into groups that fit the context together and answers each group.
    fn answer_prepared(
        &self,
        ctx: &mut LlamaContext<'_>,
        prepared: Vec<Prepared>,
        replies: &mut [Option<Result<ChatReply, LlmError>>],
    ) {
        let mut group: Vec<Prepared> = Vec::new();
        for request in prepared {
            group.push(request);
            if group.len() > self.n_parallel || self.kv_need(&group) > self.n_ctx as usize {
                // Invariant: `request` was pushed on the line above, so the group is not empty.
                let request = group.pop().expect("just pushed");
                self.run_group(ctx, std::mem::take(&mut group), replies);
                group.push(request);
            }
        }
        self.run_group(ctx, group, replies);
    }

    /// Tokens of shared prefix: the longest common prefix of the prompts, leaving every prompt at
    /// least one token of its own, whose logits start its reply.
    fn shared_prefix(&self, prompts: &[&[LlamaToken]]) -> usize {
        if !self.share_prefix || prompts.len() < 2 {
            return 0;
        }
        let first = prompts[0];
        let common = prompts[1..]
            .iter()
            .map(|p| first.iter().zip(p.iter()).take_while(|(a, b)| a == b).count())
            .min()
            .unwrap_or(0);
        common.min(prompts.iter().map(|p| p.len()).min().unwrap_or(0).saturating_sub(1))
    }

    /// KV cells a group needs: the shared prefix once, then each prompt's rest and its replies.
    fn kv_need(&self, group: &[Prepared]) -> usize {
        let prompts: Vec<&[LlamaToken]> = group.iter().map(|p| p.prompt.as_slice()).collect();
        let shared = self.shared_prefix(&prompts);
        shared + group.iter().map(|p| p.prompt.len() - shared + p.sampling.max_tokens as usize).sum::<usize>()
    }

    fn prompt_tokens(&self, request: &ChatRequest) -> Result<Vec<LlamaToken>, LlmError> {
        let messages = request
            .messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| LlmError::Engine(format!("message contains a NUL byte: {err}")))?;
        let text = self
            .model
            .apply_chat_template(&self.template, &messages, true)
            .map_err(|err| LlmError::Engine(format!("cannot apply the chat template: {err}")))?;
        let tokens = self.model.vocab().tokenize(text.as_bytes(), false, true);
        if tokens.is_empty() {
            return Err(LlmError::Engine("the prompt tokenized to nothing".to_string()));
        }
        Ok(tokens)
    }

    fn run_group(
        &self,
        ctx: &mut LlamaContext<'_>,
        group: Vec<Prepared>,
        replies: &mut [Option<Result<ChatReply, LlmError>>],
    ) {
        if group.is_empty() {
            return;
        }
        ctx.clear_kv_cache();
        let mut sequences = Vec::with_capacity(group.len());
        for prepared in group {
            let idx = prepared.request_idx;
            match Sequence::new(self.model, prepared) {
                Ok(sequence) => sequences.push(sequence),
                Err(err) => replies[idx] = Some(Err(err)),
            }
        }
        let result = self.generate(ctx, &mut sequences);
        for sequence in sequences {
            let idx = sequence.request_idx;
            replies[idx] = Some(match &result {
                Ok(()) => Ok(sequence.into_reply()),
                Err(err) => Err(err.clone()),
            });
        }
    }

    fn generate(&self, ctx: &mut LlamaContext<'_>, sequences: &mut [Sequence]) -> Result<(), LlmError> {
        let mut batch = LlamaBatch::new(N_BATCH, sequences.len() as i32);
        let mut want_logits: Vec<(usize, i32)> = Vec::new();
        let prompts: Vec<&[LlamaToken]> = sequences.iter().map(|s| s.prompt.as_slice()).collect();
        let shared = self.shared_prefix(&prompts);
        let total: usize = prompts.iter().map(|p| p.len()).sum();
        let started = Instant::now();
        tracing::debug!(sequences = sequences.len(), prompt_tokens = total, shared_prefix = shared, "prefill");
        // The shared prefix once, each token carrying every sequence id: one KV cell serves all.
        let all_ids: Vec<i32> = (0..sequences.len() as i32).collect();
        for pos in 0..shared {
            if batch.n_tokens() as usize == N_BATCH {
                self.decode(ctx, &mut batch, &mut want_logits, sequences)?;
            }
            add(&mut batch, sequences[0].prompt[pos], pos as i32, &all_ids, false)?;
        }
        // Then the rest of each prompt, packed into full batches.
        for seq_idx in 0..sequences.len() {
            let n_prompt = sequences[seq_idx].prompt.len();
            for pos in shared..n_prompt {
                if batch.n_tokens() as usize == N_BATCH {
                    self.decode(ctx, &mut batch, &mut want_logits, sequences)?;
                }
                let is_last = pos + 1 == n_prompt;
                let token = sequences[seq_idx].prompt[pos];
                add(&mut batch, token, pos as i32, &[seq_idx as i32], is_last)?;
                if is_last {
                    want_logits.push((seq_idx, batch.n_tokens() - 1));
                }
            }
        }
        self.decode(ctx, &mut batch, &mut want_logits, sequences)?;
        let prefilled = Instant::now();
        self.stats.record_prefill(total, shared * sequences.len().saturating_sub(1), micros(prefilled - started));
        // The first token of each sequence was sampled by the prefill; count the rest here.
        let first_tokens: u64 = sequences.iter().map(|s| u64::from(s.n_generated())).sum();
        let result = self.decode_all(ctx, &mut batch, &mut want_logits, sequences);
        let generated: u64 = sequences.iter().map(|s| u64::from(s.n_generated())).sum();
        self.stats.record_decode(generated - first_tokens, micros(prefilled.elapsed()));
        result
    }

    /// Every live sequence advances one token per step until all have finished.
    fn decode_all(
        &self,
        ctx: &mut LlamaContext<'_>,
        batch: &mut LlamaBatch,
        want_logits: &mut Vec<(usize, i32)>,
        sequences: &mut [Sequence],
    ) -> Result<(), LlmError> {
        loop {
            for (seq_idx, sequence) in sequences.iter_mut().enumerate() {
                if let Some(token) = sequence.pending.take() {
                    add(batch, token, sequence.next_pos(), &[seq_idx as i32], true)?;
                    want_logits.push((seq_idx, batch.n_tokens() - 1));
                }
            }
            if want_logits.is_empty() {
                return Ok(());
            }
            self.decode(ctx, batch, want_logits, sequences)?;
        }
    }

    /// Decodes `batch`, then samples every sequence whose logits it asked for, then clears both.
    fn decode(
        &self,
        ctx: &mut LlamaContext<'_>,
        batch: &mut LlamaBatch,
        want_logits: &mut Vec<(usize, i32)>,
        sequences: &mut [Sequence],
    ) -> Result<(), LlmError> {
        if batch.n_tokens() == 0 {
            return Ok(());
        }
        ctx.decode(batch).map_err(|err| LlmError::Engine(format!("decode failed: {err}")))?;
        for (seq_idx, batch_idx) in want_logits.drain(..) {
            let sequence = &mut sequences[seq_idx];
            let token = sequence.sampler.sample(ctx, batch_idx);
            sequence.accept(self.model, token);
        }
        batch.clear();
        Ok(())
    }
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

fn add(batch: &mut LlamaBatch, token: LlamaToken, pos: i32, seq_ids: &[i32], logits: bool) -> Result<(), LlmError> {
    batch
        .add(token, pos, seq_ids, logits)
        .map_err(|err| LlmError::Engine(format!("batch is full: {err}; this is a bug")))
}
