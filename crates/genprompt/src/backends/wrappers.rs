//! Wrappers around engines: `Timed` adds up the wall time spent inside a backend (so the methods
//! need no clock), and the shared handles let one loaded engine serve several runs of a command.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genprompt_core::ModelInfo;
use genprompt_embed::{EmbedError, Embeddings, Encoder, EncoderIdentity};
use genprompt_llm::{BackendStats, ChatModel, ChatReply, ChatRequest, LlmError, ModelIdentity, OnReply};

/// Adds up the wall time spent inside a backend.
pub struct Timed<T> {
    pub inner: T,
    spent: Mutex<Duration>,
}

impl<T> Timed<T> {
    pub fn new(inner: T) -> Timed<T> {
        Timed { inner, spent: Mutex::new(Duration::ZERO) }
    }

    pub fn spent(&self) -> Duration {
        *self.spent.lock().expect("timer lock is never poisoned")
    }

    fn time<R>(&self, work: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let result = work();
        *self.spent.lock().expect("timer lock is never poisoned") += started.elapsed();
        result
    }
}

impl<T: ChatModel> ChatModel for Timed<T> {
    fn identity(&self) -> &ModelIdentity {
        self.inner.identity()
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.time(|| self.inner.chat(requests))
    }

    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        self.time(|| self.inner.chat_each(requests, on_reply))
    }

    fn backend_stats(&self) -> Option<BackendStats> {
        self.inner.backend_stats()
    }

    fn streams_replies(&self) -> bool {
        self.inner.streams_replies()
    }
}

impl<T: Encoder> Encoder for Timed<T> {
    fn identity(&self) -> &EncoderIdentity {
        self.inner.identity()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        self.time(|| self.inner.encode(texts))
    }
}

/// A loaded chat model shared by the runs of one command.
#[derive(Clone)]
pub(crate) struct SharedChat(pub Arc<dyn ChatModel>);

impl ChatModel for SharedChat {
    fn identity(&self) -> &ModelIdentity {
        self.0.identity()
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.0.chat(requests)
    }

    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        self.0.chat_each(requests, on_reply)
    }

    fn backend_stats(&self) -> Option<BackendStats> {
        self.0.backend_stats()
    }

    fn streams_replies(&self) -> bool {
        self.0.streams_replies()
    }
}

/// A borrowed encoder as an owned one, so wrappers such as `Timed` can hold it.
#[derive(Clone, Copy)]
pub(crate) struct EncoderRef<'a>(pub &'a dyn Encoder);

impl Encoder for EncoderRef<'_> {
    fn identity(&self) -> &EncoderIdentity {
        self.0.identity()
    }

    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        self.0.encode(texts)
    }
}

pub(crate) fn llm_info(identity: &ModelIdentity) -> ModelInfo {
    ModelInfo { backend: identity.backend.clone(), name: identity.name.clone(), sha256: identity.sha256.clone() }
}

pub(crate) fn encoder_info(identity: &EncoderIdentity) -> ModelInfo {
    // Only an endpoint has no weights file to hash.
    let backend = if identity.weights_sha256.is_empty() { "openai-compatible" } else { "candle" };
    ModelInfo { backend: backend.to_string(), name: identity.name.clone(), sha256: identity.weights_sha256.clone() }
}
