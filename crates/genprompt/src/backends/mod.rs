//! Which engines a command runs on: passed in by the caller, or built from settings (the embedded
//! GGUF model, an OpenAI-compatible endpoint, the embedded or an HTTP sentence encoder), after the
//! caller's settings, the task file's `[llm]` table and the environment, in that order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use genprompt_data::LlmSettings;
use genprompt_embed::Encoder;
use genprompt_embed_candle::{EncoderOptions, MiniLmEncoder};
use genprompt_llm::ChatModel;
use genprompt_llm_llama::{LlamaChatModel, LlamaOptions};
use genprompt_models::{DEFAULT_ENCODER, DEFAULT_LLM, Home, ModelSpec};

use crate::error::ResultExt;
use crate::{Error, Result};

mod wrappers;
pub use wrappers::Timed;
pub(crate) use wrappers::{EncoderRef, SharedChat, encoder_info, llm_info};

/// The LLM to build when none is passed in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmConfig {
    /// A catalogue LLM by name (`genprompt models list`) or a GGUF chat model file, instead of the
    /// default (`GENPROMPT_LLM` if set, else the fetched default model).
    pub gguf: Option<PathBuf>,
    /// CPU threads of the embedded engine (default: one fewer than the machine has).
    pub threads: Option<usize>,
    /// An OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8080/v1`; without it the task file's
    /// `[llm] base_url`, else `OPENAI_BASE_URL`, else the embedded model.
    pub base_url: Option<String>,
    /// More endpoints serving the same model, beside `base_url`: requests go where there is free
    /// capacity, and one that stops answering is set aside while the others carry the run.
    pub more_base_urls: Vec<String>,
    /// The endpoint's model name.
    pub model: Option<String>,
    /// The environment variable holding the API key (default `OPENAI_API_KEY` if set).
    pub api_key_env: Option<String>,
    /// Most requests in flight to the endpoint (default 32).
    pub max_in_flight: Option<usize>,
    /// US dollars per million prompt and completion tokens, to count spending.
    pub price_input: Option<f64>,
    pub price_output: Option<f64>,
}

/// The sentence encoder to build when none is passed in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncoderConfig {
    /// A BERT-family folder instead of the fetched default (all-MiniLM-L6-v2).
    pub dir: Option<PathBuf>,
    /// An OpenAI-compatible `/v1/embeddings` endpoint and its model name, instead of the embedded
    /// encoder.
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub max_in_flight: Option<usize>,
}

/// The engines of a command: built from `llm` and `encoder`, unless given ready-made. Each command
/// builds or takes each engine once.
#[derive(Clone, Default)]
pub struct Backends {
    pub llm: LlmConfig,
    pub encoder: EncoderConfig,
    chat_model: Option<Arc<dyn ChatModel>>,
    encoder_model: Option<Arc<dyn Encoder>>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("llm", &self.llm)
            .field("encoder", &self.encoder)
            .field("chat_model", &self.chat_model.as_ref().map(|m| m.identity().to_string()))
            .field("encoder_model", &self.encoder_model.as_ref().map(|e| e.identity().to_string()))
            .finish()
    }
}

impl Backends {
    pub fn with_llm(mut self, llm: LlmConfig) -> Self {
        self.llm = llm;
        self
    }

    pub fn with_encoder(mut self, encoder: EncoderConfig) -> Self {
        self.encoder = encoder;
        self
    }

    /// Uses `model` for chat instead of building one; `llm.base_url` still names it in caches.
    pub fn with_chat_model(mut self, model: impl ChatModel + 'static) -> Self {
        self.chat_model = Some(Arc::new(model));
        self
    }

    /// Uses `encoder` instead of building one.
    pub fn with_encoder_model(mut self, encoder: impl Encoder + 'static) -> Self {
        self.encoder_model = Some(Arc::new(encoder));
        self
    }

    /// Uses a chat model the caller keeps a handle on (to share it between calls, or to read its
    /// statistics afterwards).
    pub fn with_shared_chat_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.chat_model = Some(model);
        self
    }

    /// Uses an encoder the caller keeps a handle on.
    pub fn with_shared_encoder_model(mut self, encoder: Arc<dyn Encoder>) -> Self {
        self.encoder_model = Some(encoder);
        self
    }

    /// The LLM for a task with `task`'s `[llm]` table: the one passed in, else built.
    pub(crate) fn load_llm(&self, task: Option<&LlmSettings>) -> Result<LoadedLlm> {
        let choice = LlmChoice::resolve(&self.llm, task, self.chat_model.is_none());
        if let Some(model) = &self.chat_model {
            return Ok(LoadedLlm { model: model.clone(), choice, engine: None, catalogue: None });
        }
        let Some(base_url) = &choice.base_url else {
            let options = self.llama_options();
            let (path, catalogue) = self.llm_file()?;
            tracing::info!(path = %path.display(), threads = options.threads, "loading LLM");
            let engine = serde_json::json!({
                "threads": options.threads,
                "n_parallel": options.n_parallel,
                "n_ctx": options.n_ctx,
                "share_prefix": options.share_prefix,
            });
            let model = LlamaChatModel::load(&path, options)?;
            return Ok(LoadedLlm { model: Arc::new(model), choice, engine: Some(engine), catalogue });
        };
        let Some(model) = &choice.model else {
            return Err(Error::bad_input(
                "an endpoint needs a model name: pass --model NAME or set `model` under [llm] in the task file",
            ));
        };
        let mut configs = Vec::new();
        for url in std::iter::once(base_url).chain(&choice.more_base_urls) {
            let mut config = genprompt_llm_http::HttpConfig::new(url.clone(), model.clone())
                .with_api_key_env(choice.api_key_env.as_deref())?;
            config.max_in_flight = choice.max_in_flight;
            config.requests_per_minute = choice.requests_per_minute;
            config.input_tokens_per_minute = choice.input_tokens_per_minute;
            config.output_tokens_per_minute = choice.output_tokens_per_minute;
            if let Some(timeout) = choice.timeout_s {
                config.timeout = Duration::from_secs_f64(timeout);
            }
            tracing::info!(base_url = %url, model = %model, "using an OpenAI-compatible endpoint");
            configs.push(config);
        }
        let model = genprompt_llm_http::HttpChatModel::with_endpoints(configs)?;
        Ok(LoadedLlm { model: Arc::new(model), choice, engine: None, catalogue: None })
    }

    /// The encoder passed in, else the embeddings endpoint when one is set, else the embedded one.
    pub(crate) fn load_encoder(&self) -> Result<Arc<dyn Encoder>> {
        if let Some(encoder) = &self.encoder_model {
            return Ok(encoder.clone());
        }
        let settings = &self.encoder;
        if let (Some(base_url), Some(model)) = (&settings.base_url, &settings.model) {
            let mut config = genprompt_llm_http::HttpConfig::new(base_url.clone(), model.clone())
                .with_api_key_env(settings.api_key_env.as_deref())?;
            config.max_in_flight = settings.max_in_flight.unwrap_or(32).max(1);
            tracing::info!(base_url = %base_url, model = %model, "using an OpenAI-compatible embeddings endpoint");
            let encoder = genprompt_llm_http::HttpEncoder::new(config, genprompt_llm_http::DEFAULT_EMBED_BATCH, None)?;
            return Ok(Arc::new(encoder));
        }
        let dir = self.encoder_dir()?;
        tracing::info!(dir = %dir.display(), "loading encoder");
        let encoder = MiniLmEncoder::load(&dir, EncoderOptions::default())
            .with_context(|| format!("cannot load the sentence encoder from {}", dir.display()))?;
        Ok(Arc::new(encoder))
    }

    /// The GGUF file to run: the configured one, or the fetched default.
    pub fn llm_path(&self) -> Result<PathBuf> {
        Ok(self.llm_file()?.0)
    }

    /// The GGUF file to run and its catalogue entry: `gguf` (a catalogue name or a path), else
    /// `GENPROMPT_LLM` (the same), else the fetched default.
    fn llm_file(&self) -> Result<(PathBuf, Option<&'static ModelSpec>)> {
        let home = Home::from_env()?;
        let from_env = std::env::var("GENPROMPT_LLM").ok().filter(|value| !value.trim().is_empty());
        let value = self.llm.gguf.as_ref().map(|path| path.to_string_lossy().into_owned()).or(from_env);
        match value {
            Some(value) => {
                let choice = home.resolve_llm(&value)?;
                Ok((choice.path, choice.spec))
            }
            None => {
                home.require(&DEFAULT_LLM)?;
                Ok((home.model_file(&DEFAULT_LLM), genprompt_models::find(DEFAULT_LLM.name)))
            }
        }
    }

    /// The embedded encoder's folder: the configured one, or the fetched default.
    pub fn encoder_dir(&self) -> Result<PathBuf> {
        match &self.encoder.dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(Home::from_env()?.require(&DEFAULT_ENCODER)?),
        }
    }

    fn llama_options(&self) -> LlamaOptions {
        let mut options = LlamaOptions::for_this_machine();
        if let Some(threads) = self.llm.threads {
            options.threads = threads.max(1);
        }
        options
    }

    /// Whether a run would use an endpoint and at what prices, without loading anything.
    pub(crate) fn llm_choice(&self, task: Option<&LlmSettings>) -> LlmChoice {
        LlmChoice::resolve(&self.llm, task, self.chat_model.is_none())
    }
}

/// An LLM ready for a command, with what was chosen.
#[derive(Clone)]
pub(crate) struct LoadedLlm {
    pub model: Arc<dyn ChatModel>,
    pub choice: LlmChoice,
    /// The embedded engine's settings that change its replies (thread count and batching change
    /// llama.cpp's kernels), for the manifest and the journal; `None` for other backends.
    pub engine: Option<serde_json::Value>,
    /// The catalogue entry of the embedded model, when it is one (its sampling defaults apply).
    pub catalogue: Option<&'static ModelSpec>,
}

/// Which LLM a command runs on, after the settings, the task file's `[llm]` table and the
/// environment, in that order of precedence.
#[derive(Clone, Debug, Default)]
pub struct LlmChoice {
    /// `None`: the embedded GGUF model (or the model passed in).
    pub base_url: Option<String>,
    /// Further endpoints serving the same model.
    pub more_base_urls: Vec<String>,
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
    /// `read_env`: whether `OPENAI_BASE_URL` may choose an endpoint (not when a model is passed in).
    fn resolve(args: &LlmConfig, task: Option<&LlmSettings>, read_env: bool) -> LlmChoice {
        let task = task.cloned().unwrap_or_default();
        let env_url =
            read_env.then(|| std::env::var("OPENAI_BASE_URL").ok().filter(|url| !url.trim().is_empty())).flatten();
        let (base_url, more_base_urls) = match (&args.base_url, task.base_urls.split_first()) {
            (Some(url), _) => (Some(url.clone()), args.more_base_urls.clone()),
            (None, Some((first, rest))) => (Some(first.clone()), rest.to_vec()),
            (None, None) => (task.base_url.or(env_url), Vec::new()),
        };
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
            more_base_urls,
        }
    }

    /// Endpoints the run is spread over (0 for the embedded engine).
    pub fn n_endpoints(&self) -> usize {
        self.base_url.as_ref().map_or(0, |_| 1 + self.more_base_urls.len())
    }
}
