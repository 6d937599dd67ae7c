//! Builds the LLM and the encoder from the command line, and wraps them to measure time spent.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use genprompt_core::ModelInfo;
use genprompt_data::LlmSettings;
use genprompt_embed::{EmbedError, Embeddings, Encoder, EncoderIdentity};
use genprompt_embed_candle::{EncoderOptions, MiniLmEncoder};
use genprompt_llm::{BackendStats, ChatModel, ChatReply, ChatRequest, LlmError, ModelIdentity, OnReply};
use genprompt_llm_llama::{LlamaChatModel, LlamaOptions};
use genprompt_models::{DEFAULT_ENCODER, DEFAULT_LLM, Home};

use crate::args::ModelArgs;

/// The GGUF file to run: the user's, or the fetched default (with a hint when it is missing).
pub fn llm_path(args: &ModelArgs) -> Result<PathBuf> {
    match &args.llm {
        Some(path) => Ok(path.clone()),
        None => {
            let home = Home::from_env()?;
            let dir = home.require(&DEFAULT_LLM)?;
            Ok(dir.join(DEFAULT_LLM.files[0].file_name))
        }
    }
}

pub fn encoder_dir(args: &ModelArgs) -> Result<PathBuf> {
    match &args.encoder {
        Some(dir) => Ok(dir.clone()),
        None => Ok(Home::from_env()?.require(&DEFAULT_ENCODER)?),
    }
}

/// Which LLM a command runs on, after the command line, the task file's `[llm]` table and the
/// environment, in that order of precedence.
#[derive(Clone, Debug, Default)]
pub struct LlmChoice {
    /// `None`: the embedded GGUF model.
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub max_in_flight: usize,
    pub requests_per_minute: Option<u32>,
    pub input_tokens_per_minute: Option<u32>,
    pub output_tokens_per_minute: Option<u32>,
    pub timeout_s: Option<f64>,
    pub prices: Prices,
}

/// US dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Prices {
    pub input: Option<f64>,
    pub output: Option<f64>,
}

impl Prices {
    /// The cost of these tokens, if both prices are known.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> Option<f64> {
        Some(self.input? * prompt_tokens as f64 / 1e6 + self.output? * completion_tokens as f64 / 1e6)
    }
}

impl LlmChoice {
    pub fn resolve(args: &ModelArgs, task: Option<&LlmSettings>) -> LlmChoice {
        let task = task.cloned().unwrap_or_default();
        let env_url = std::env::var("OPENAI_BASE_URL").ok().filter(|url| !url.trim().is_empty());
        let base_url = args.base_url.clone().or(task.base_url).or(env_url);
        // The embedded model costs nothing; an endpoint's price is unknown unless given.
        let free = base_url.is_none().then_some(0.0);
        LlmChoice {
            model: args.model.clone().or(task.model),
            api_key_env: args.api_key_env.clone().or(task.api_key_env),
            max_in_flight: args.max_in_flight.or(task.max_in_flight).unwrap_or(32).max(1),
            requests_per_minute: task.requests_per_minute,
            input_tokens_per_minute: task.input_tokens_per_minute,
            output_tokens_per_minute: task.output_tokens_per_minute,
            timeout_s: task.timeout_s,
            prices: Prices {
                input: args.price_input.or(task.price_input_per_million).or(free),
                output: args.price_output.or(task.price_output_per_million).or(free),
            },
            base_url,
        }
    }
}

/// The endpoint when one is chosen (see [`LlmChoice`]), else the embedded GGUF model.
pub fn load_llm(args: &ModelArgs, choice: &LlmChoice) -> Result<Box<dyn ChatModel>> {
    let Some(base_url) = &choice.base_url else {
        return Ok(Box::new(load_gguf(args)?));
    };
    let Some(model) = &choice.model else {
        return Err(crate::BadInput(
            "an endpoint needs a model name: pass --model NAME or set `model` under [llm] in the task file".to_string(),
        )
        .into());
    };
    let mut config = genprompt_llm_http::HttpConfig::new(base_url.clone(), model.clone())
        .with_api_key_env(choice.api_key_env.as_deref())
        .map_err(|err| crate::BadInput(err.to_string()))?;
    config.max_in_flight = choice.max_in_flight;
    config.requests_per_minute = choice.requests_per_minute;
    config.input_tokens_per_minute = choice.input_tokens_per_minute;
    config.output_tokens_per_minute = choice.output_tokens_per_minute;
    if let Some(timeout) = choice.timeout_s {
        config.timeout = Duration::from_secs_f64(timeout);
    }
    tracing::info!(base_url = %base_url, model = %model, "using an OpenAI-compatible endpoint");
    Ok(Box::new(genprompt_llm_http::HttpChatModel::new(config)?))
}

fn llama_options(args: &ModelArgs) -> LlamaOptions {
    let mut options = LlamaOptions::for_this_machine();
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    options
}

/// The embedded engine's settings that change its replies (thread count and batching change
/// llama.cpp's kernels and so the last bits of the logits), for the manifest and the journal;
/// `None` for an endpoint.
pub fn engine_settings(args: &ModelArgs, choice: &LlmChoice) -> Option<serde_json::Value> {
    choice.base_url.is_none().then(|| {
        let options = llama_options(args);
        serde_json::json!({
            "threads": options.threads,
            "n_parallel": options.n_parallel,
            "n_ctx": options.n_ctx,
            "share_prefix": options.share_prefix,
        })
    })
}

fn load_gguf(args: &ModelArgs) -> Result<LlamaChatModel> {
    let path = llm_path(args)?;
    let options = llama_options(args);
    tracing::info!(path = %path.display(), threads = options.threads, "loading LLM");
    Ok(LlamaChatModel::load(&path, options)?)
}

/// The embeddings endpoint when `--encoder-base-url` is given, else the embedded encoder.
pub fn load_encoder(args: &ModelArgs) -> Result<Box<dyn Encoder>> {
    if let (Some(base_url), Some(model)) = (&args.encoder_base_url, &args.encoder_model) {
        let mut config = genprompt_llm_http::HttpConfig::new(base_url.clone(), model.clone())
            .with_api_key_env(args.api_key_env.as_deref())
            .map_err(|err| crate::BadInput(err.to_string()))?;
        config.max_in_flight = args.max_in_flight.unwrap_or(32).max(1);
        tracing::info!(base_url = %base_url, model = %model, "using an OpenAI-compatible embeddings endpoint");
        let encoder = genprompt_llm_http::HttpEncoder::new(config, genprompt_llm_http::DEFAULT_EMBED_BATCH, None)?;
        return Ok(Box::new(encoder));
    }
    Ok(Box::new(load_minilm(args)?))
}

fn load_minilm(args: &ModelArgs) -> Result<MiniLmEncoder> {
    let dir = encoder_dir(args)?;
    tracing::info!(dir = %dir.display(), "loading encoder");
    MiniLmEncoder::load(&dir, EncoderOptions::default())
        .with_context(|| format!("cannot load the sentence encoder from {}", dir.display()))
}

pub fn llm_info(identity: &ModelIdentity) -> ModelInfo {
    ModelInfo { backend: identity.backend.clone(), name: identity.name.clone(), sha256: identity.sha256.clone() }
}

pub fn encoder_info(identity: &EncoderIdentity) -> ModelInfo {
    // Only an endpoint has no weights file to hash.
    let backend = if identity.weights_sha256.is_empty() { "openai-compatible" } else { "candle" };
    ModelInfo { backend: backend.to_string(), name: identity.name.clone(), sha256: identity.weights_sha256.clone() }
}

/// Adds up the wall time spent inside a backend, so the library needs no clock.
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

impl<T: Encoder> Timed<T> {
    /// The wrapped encoder's identity as one line, e.g. for report headers.
    pub fn inner_identity(&self) -> String {
        self.inner.identity().to_string()
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

/// Refuses to overwrite a finished dataset unless asked to. The manifest is written last, so a
/// folder without one holds an unfinished run, which the next run continues.
pub fn check_out_dir(out: &Path, force: bool) -> Result<()> {
    let manifest = out.join("manifest.json");
    if manifest.exists() && !force {
        return Err(crate::BadInput(format!(
            "{} holds a finished dataset; pass --force to replace it or choose another --out",
            out.display()
        ))
        .into());
    }
    Ok(())
}
