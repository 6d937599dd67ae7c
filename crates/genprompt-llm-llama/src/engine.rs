//! The worker thread: owns the llama.cpp model and context and answers batches of requests.
//!
//! A batch of requests is split into groups that fit the context together; each group is one set
//! of parallel sequences in a unified KV cache: prompts are prefilled in chunks of `N_BATCH`
//! tokens, then every live sequence advances by one token per `decode`.
//!
//! The one rule that keeps llama.cpp from aborting the process: sample a sequence only at a batch
//! index that requested logits in the latest `decode`. `Group::decode` enforces it by sampling
//! right after each decode, from the indices it recorded while filling that same batch.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::mpsc;

use genprompt_llm::{ChatReply, ChatRequest, FinishReason, LlmError, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::{Job, LlamaOptions};

/// Most tokens in one `decode` call (llama.cpp's `n_batch`).
const N_BATCH: usize = 512;

pub(crate) fn run_worker(
    backend: &'static LlamaBackend,
    path: &Path,
    options: &LlamaOptions,
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
    let engine = Engine { model: &model, template, n_ctx, n_parallel };
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
}

impl Engine<'_> {
    fn answer(&self, ctx: &mut LlamaContext<'_>, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        let mut replies: Vec<Option<Result<ChatReply, LlmError>>> = vec![None; requests.len()];
        let mut group: Vec<(usize, Vec<LlamaToken>)> = Vec::new();
        let mut group_tokens = 0usize;
        for (request_idx, request) in requests.iter().enumerate() {
            let prompt = match self.prompt_tokens(request) {
                Ok(prompt) => prompt,
                Err(err) => {
                    replies[request_idx] = Some(Err(err));
                    continue;
                }
            };
            let need = prompt.len() + request.sampling.max_tokens as usize;
            if need > self.n_ctx as usize {
                let n_tokens = prompt.len();
                replies[request_idx] = Some(Err(LlmError::ContextOverflow {
                    n_tokens,
                    max_tokens: request.sampling.max_tokens,
                    n_ctx: self.n_ctx,
                }));
                continue;
            }
            if group.len() == self.n_parallel || group_tokens + need > self.n_ctx as usize {
                self.run_group(ctx, requests, std::mem::take(&mut group), &mut replies);
                group_tokens = 0;
            }
            group_tokens += need;
            group.push((request_idx, prompt));
        }
        self.run_group(ctx, requests, group, &mut replies);
        replies.into_iter().map(|reply| reply.expect("every request is answered; this is a bug")).collect()
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
        requests: &[ChatRequest],
        group: Vec<(usize, Vec<LlamaToken>)>,
        replies: &mut [Option<Result<ChatReply, LlmError>>],
    ) {
        if group.is_empty() {
            return;
        }
        ctx.clear_kv_cache();
        let mut sequences: Vec<Sequence> =
            group.into_iter().map(|(idx, prompt)| Sequence::new(idx, prompt, &requests[idx])).collect();
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
        // Prefill, packing the prompts of all sequences into full batches.
        for seq_idx in 0..sequences.len() {
            let n_prompt = sequences[seq_idx].prompt.len();
            for pos in 0..n_prompt {
                if batch.n_tokens() as usize == N_BATCH {
                    self.decode(ctx, &mut batch, &mut want_logits, sequences)?;
                }
                let is_last = pos + 1 == n_prompt;
                let token = sequences[seq_idx].prompt[pos];
                add(&mut batch, token, pos as i32, seq_idx as i32, is_last)?;
                if is_last {
                    want_logits.push((seq_idx, batch.n_tokens() - 1));
                }
            }
        }
        self.decode(ctx, &mut batch, &mut want_logits, sequences)?;
        // Decode: every live sequence advances one token per step.
        loop {
            for (seq_idx, sequence) in sequences.iter_mut().enumerate() {
                if let Some(token) = sequence.pending.take() {
                    add(&mut batch, token, sequence.next_pos(), seq_idx as i32, true)?;
                    want_logits.push((seq_idx, batch.n_tokens() - 1));
                }
            }
            if want_logits.is_empty() {
                return Ok(());
            }
            self.decode(ctx, &mut batch, &mut want_logits, sequences)?;
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

fn add(batch: &mut LlamaBatch, token: LlamaToken, pos: i32, seq_id: i32, logits: bool) -> Result<(), LlmError> {
    batch
        .add(token, pos, &[seq_id], logits)
        .map_err(|err| LlmError::Engine(format!("batch is full: {err}; this is a bug")))
}

/// One request being answered.
struct Sequence {
    request_idx: usize,
    prompt: Vec<LlamaToken>,
    sampler: LlamaSampler,
    max_tokens: u32,
    stop: Vec<String>,
    output: Vec<u8>,
    n_generated: u32,
    /// The token sampled last, still to be fed back to the model.
    pending: Option<LlamaToken>,
    finish: Option<FinishReason>,
    /// Byte length of the decoded text to keep when a stop string was found.
    cut_at: Option<usize>,
}

impl Sequence {
    fn new(request_idx: usize, prompt: Vec<LlamaToken>, request: &ChatRequest) -> Sequence {
        let sampling = &request.sampling;
        // llama.cpp takes a 32-bit seed; fold the 64-bit one so both halves matter.
        let seed = (sampling.seed ^ (sampling.seed >> 32)) as u32;
        let sampler = if sampling.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_p(sampling.top_p.clamp(0.0, 1.0), 1),
                LlamaSampler::temp(sampling.temperature),
                LlamaSampler::dist(seed),
            ])
        };
        Sequence {
            request_idx,
            prompt,
            sampler,
            max_tokens: sampling.max_tokens.max(1),
            stop: sampling.stop.iter().filter(|s| !s.is_empty()).cloned().collect(),
            output: Vec::new(),
            n_generated: 0,
            pending: None,
            finish: None,
            cut_at: None,
        }
    }

    /// Position of the pending token: right after the prompt and the tokens already fed back.
    fn next_pos(&self) -> i32 {
        (self.prompt.len() + self.n_generated as usize - 1) as i32
    }

    fn accept(&mut self, model: &LlamaModel, token: LlamaToken) {
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            self.finish = Some(FinishReason::Stop);
            return;
        }
        self.n_generated += 1;
        self.output.extend(vocab.token_to_piece(token, false, None));
        if !self.stop.is_empty() {
            let text = String::from_utf8_lossy(&self.output);
            if let Some(idx) = self.stop.iter().filter_map(|stop| text.find(stop.as_str())).min() {
                self.cut_at = Some(idx);
                self.finish = Some(FinishReason::Stop);
                return;
            }
        }
        if self.n_generated >= self.max_tokens {
            self.finish = Some(FinishReason::Length);
            return;
        }
        self.pending = Some(token);
    }

    fn into_reply(self) -> ChatReply {
        let mut text = String::from_utf8_lossy(&self.output).into_owned();
        if let Some(cut_at) = self.cut_at {
            text.truncate(cut_at);
        }
        ChatReply {
            text,
            finish: self.finish.unwrap_or(FinishReason::Length),
            usage: Usage { prompt_tokens: self.prompt.len() as u32, completion_tokens: self.n_generated },
        }
    }
}
