//! The `ChatModel` seam: chat requests in, replies out, whatever engine sits behind it.
//!
//! Methods (Genetic Prompt, baselines) only see these types; the embedded llama.cpp engine and,
//! later, OpenAI-compatible endpoints implement the trait. The trait is batch-shaped so that each
//! backend owns its own concurrency: llama.cpp packs a batch into parallel sequences, an HTTP
//! backend keeps requests in flight. [`ChatSession`] is the streaming shape for schedules that
//! keep a window of requests in flight and use each reply as it arrives.

pub mod schema;
mod session;

pub use session::{BatchSession, ChatSession, Completed};

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: Role::System, content: content.into() }
    }

    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: Role::User, content: content.into() }
    }
}

/// Sampling parameters of one request; `seed` makes a request reproducible on engines that
/// support it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    /// Drop tokens whose probability is below this share of the most likely one's (0 = off).
    pub min_p: f32,
    /// Divide the logits of tokens among the last [`REPEAT_PENALTY_WINDOW`] generated ones by
    /// this (1 = off), as llama.cpp's `repeat_penalty`.
    pub repeat_penalty: f32,
    pub max_tokens: u32,
    pub stop: Vec<String>,
    pub seed: u64,
}

/// Generated tokens the repetition penalty looks back over (llama.cpp's default `repeat_last_n`).
pub const REPEAT_PENALTY_WINDOW: i32 = 64;

impl Sampling {
    /// Temperature and top_p only (min_p and the repetition penalty off), no stop strings.
    pub fn new(temperature: f32, top_p: f32, max_tokens: u32, seed: u64) -> Sampling {
        Sampling { temperature, top_p, min_p: 0.0, repeat_penalty: 1.0, max_tokens, stop: Vec::new(), seed }
    }

    /// Whether min_p or the repetition penalty is on (both off is the paper's sampling).
    pub fn has_extras(&self) -> bool {
        self.min_p > 0.0 || self.repeat_penalty != 1.0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub sampling: Sampling,
    /// Ask for JSON matching this schema: endpoints get `response_format: json_schema` and the
    /// embedded model samples under a grammar built from it. Backends check the reply against it
    /// and retry invalid ones a bounded number of times.
    pub json_schema: Option<serde_json::Value>,
}

impl ChatRequest {
    /// A free-text request.
    pub fn new(messages: Vec<ChatMessage>, sampling: Sampling) -> ChatRequest {
        ChatRequest { messages, sampling, json_schema: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// End of turn or a stop string.
    Stop,
    /// Cut at `max_tokens`.
    Length,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChatReply {
    pub text: String,
    pub finish: FinishReason,
    pub usage: Usage,
}

/// Names the model behind a backend, and what else its replies depend on; goes into manifests
/// and cache keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelIdentity {
    /// e.g. "llama.cpp".
    pub backend: String,
    /// e.g. the GGUF file name or the endpoint's model name.
    pub name: String,
    /// sha256 of the weights file where there is one, else empty.
    pub sha256: String,
    /// `Some(engine settings)` for a backend whose reply to a request also depends on the other
    /// requests of the call (its batch-mates) and on these settings: the embedded engine, where
    /// llama.cpp picks kernels by batch shape and thread count, so the last bits of the logits
    /// differ. Caches then key a reply by its whole call. `None`: a reply depends on its request
    /// alone (endpoints).
    pub batch_settings: Option<String>,
}

impl fmt::Display for ModelIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.name, self.backend)
    }
}

/// Answers chat requests.
pub trait ChatModel: Send + Sync {
    fn identity(&self) -> &ModelIdentity;

    /// Answers every request; the result has one entry per request, in order. A failed request
    /// does not fail the others.
    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>>;

    /// Like `chat`, but also hands each result to `on_reply` as soon as the backend has it, so
    /// callers can commit paid-for replies before the whole batch is done. Backends that finish a
    /// batch all at once keep this default.
    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        let results = self.chat(requests);
        for (i, result) in results.iter().enumerate() {
            on_reply(i, result);
        }
        results
    }

    /// Retry and fault counters so far, for backends that keep them.
    fn backend_stats(&self) -> Option<BackendStats> {
        None
    }

    /// Whether `chat_each` hands replies over one by one as they arrive (HTTP) rather than all
    /// at the end of the batch (the embedded engine, whose replies also depend on which requests
    /// share the batch, so a journal must record such a batch all or nothing).
    fn streams_replies(&self) -> bool {
        false
    }

    /// Requests, failures and tokens per endpoint, for backends spread over several (empty
    /// otherwise); manifests record them.
    fn endpoint_counts(&self) -> Vec<EndpointCounts> {
        Vec::new()
    }

    /// A session that takes requests one at a time and hands results back as they complete.
    /// Backends that answer in batches keep this default, which answers everything queued in one
    /// `chat` call when a result is asked for and none is ready.
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(BatchSession::new(self))
    }
}

/// Fault counters of a backend that retries (HTTP endpoints), for progress lines and manifests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendStats {
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    pub timeouts: u64,
    pub server_errors: u64,
    pub connection_errors: u64,
    /// The adaptive cap on requests in flight right now.
    pub concurrency: usize,
}

/// One endpoint's share of a run; see [`ChatModel::endpoint_counts`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointCounts {
    pub base_url: String,
    /// Requests answered or failed there (a request moved to another endpoint counts there).
    pub requests: u64,
    pub failed: u64,
    pub retries: u64,
    pub connection_errors: u64,
    pub timeouts: u64,
    pub server_errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Times it stopped answering and was set aside.
    pub set_aside: u64,
}

/// Called with a request's index and its result; see [`ChatModel::chat_each`].
pub type OnReply<'a> = dyn Fn(usize, &Result<ChatReply, LlmError>) + Sync + 'a;

impl<T: ChatModel + ?Sized> ChatModel for Box<T> {
    fn identity(&self) -> &ModelIdentity {
        (**self).identity()
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        (**self).chat(requests)
    }

    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        (**self).chat_each(requests, on_reply)
    }

    fn backend_stats(&self) -> Option<BackendStats> {
        (**self).backend_stats()
    }

    fn streams_replies(&self) -> bool {
        (**self).streams_replies()
    }

    fn session(&self) -> Box<dyn ChatSession + '_> {
        (**self).session()
    }

    fn endpoint_counts(&self) -> Vec<EndpointCounts> {
        (**self).endpoint_counts()
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum LlmError {
    #[error("cannot load model {path}: {message}")]
    Load { path: String, message: String },
    #[error(
        "prompt of {n_tokens} tokens plus {max_tokens} new tokens does not fit the context of {n_ctx}; raise --n-ctx or shorten the prompt"
    )]
    ContextOverflow { n_tokens: usize, max_tokens: u32, n_ctx: u32 },
    #[error("the model engine failed: {0}")]
    Engine(String),
    /// The provider kept answering 429 after every retry.
    #[error("rate limited: {0}")]
    RateLimited(String),
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server refused the request itself (4xx other than 429); retrying will not help.
    #[error("the request was rejected: {0}")]
    Rejected(String),
    /// The reply did not fit the requested JSON schema after the allowed retries.
    #[error("invalid structured output: {0}")]
    InvalidOutput(String),
}
