//! One request being answered: its prompt tokens, its own sampler, and the text so far.

use genprompt_llm::{ChatReply, FinishReason, LlmError, REPEAT_PENALTY_WINDOW, Sampling, Usage};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

/// A request after the chat template and tokenizer, ready to become a `Sequence`.
pub(crate) struct Prepared {
    pub request_idx: usize,
    pub prompt: Vec<LlamaToken>,
    /// GBNF built from the request's JSON schema.
    pub grammar: Option<String>,
    pub sampling: Sampling,
}

pub(crate) struct Sequence {
    pub request_idx: usize,
    pub prompt: Vec<LlamaToken>,
    pub sampler: LlamaSampler,
    max_tokens: u32,
    stop: Vec<String>,
    output: Vec<u8>,
    n_generated: u32,
    /// The token sampled last, still to be fed back to the model.
    pub pending: Option<LlamaToken>,
    finish: Option<FinishReason>,
    /// Byte length of the decoded text to keep when a stop string was found.
    cut_at: Option<usize>,
}

impl Sequence {
    pub fn new(model: &LlamaModel, prepared: Prepared) -> Result<Sequence, LlmError> {
        let sampling = &prepared.sampling;
        // llama.cpp takes a 32-bit seed; fold the 64-bit one so both halves matter.
        let seed = (sampling.seed ^ (sampling.seed >> 32)) as u32;
        // The grammar comes first, so that top-p and the draw only see tokens it allows.
        let mut chain = Vec::new();
        if let Some(gbnf) = &prepared.grammar {
            let grammar = LlamaSampler::grammar(model, gbnf, "root").map_err(|err| {
                LlmError::Engine(format!("llama.cpp refused the grammar built from the schema: {err}"))
            })?;
            chain.push(grammar);
        }
        // llama.cpp's own order: penalties, then the truncations, then temperature and the draw.
        if sampling.repeat_penalty != 1.0 {
            let n_vocab = model.n_vocab();
            chain.push(LlamaSampler::penalties(n_vocab, REPEAT_PENALTY_WINDOW, sampling.repeat_penalty, 0.0, 0.0));
        }
        if sampling.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.push(LlamaSampler::top_p(sampling.top_p.clamp(0.0, 1.0), 1));
            if sampling.min_p > 0.0 {
                chain.push(LlamaSampler::min_p(sampling.min_p.clamp(0.0, 1.0), 1));
            }
            chain.push(LlamaSampler::temp(sampling.temperature));
            chain.push(LlamaSampler::dist(seed));
        }
        Ok(Sequence {
            request_idx: prepared.request_idx,
            prompt: prepared.prompt,
            sampler: LlamaSampler::chain_simple(chain),
            max_tokens: sampling.max_tokens.max(1),
            stop: sampling.stop.iter().filter(|s| !s.is_empty()).cloned().collect(),
            output: Vec::new(),
            n_generated: 0,
            pending: None,
            finish: None,
            cut_at: None,
        })
    }

    /// Tokens sampled so far (end-of-generation tokens not counted).
    pub fn n_generated(&self) -> u32 {
        self.n_generated
    }

    /// Position of the pending token: right after the prompt and the tokens already fed back.
    pub fn next_pos(&self) -> i32 {
        (self.prompt.len() + self.n_generated as usize - 1) as i32
    }

    pub fn accept(&mut self, model: &LlamaModel, token: LlamaToken) {
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

    pub fn into_reply(self) -> ChatReply {
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
