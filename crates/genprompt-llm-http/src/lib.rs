//! An OpenAI-compatible chat backend (OpenAI, vLLM, Ollama, llama.cpp server) behind the same
//! `ChatModel` trait as the embedded model, built to survive real providers.
//!
//! A call's requests are sent concurrently from a tokio runtime the model owns; results come back
//! in request order, one per request. Admission control (see `admission.rs`) keeps requests in
//! flight under a cap that halves on 429s, overload codes, timeouts and queueing latency, and
//! grows back by one after a run of successes; it also honours `Retry-After` for every request
//! and enforces optional per-minute budgets, tightened by `x-ratelimit-*` headers. Failed attempts
//! are retried with full-jitter exponential backoff a bounded number of times; other 4xx fail at
//! once with the server's message. The API key is a [`Secret`] and never reaches a log or error.
//! [`HttpEncoder`] puts `/v1/embeddings` behind `genprompt_embed::Encoder` with the same machinery.

mod admission;
mod client;
mod config;
mod embeddings;
mod error;
mod fleet;
mod health;
mod json;
/// The response parsers, for fuzzing; behind the `testing` feature.
#[cfg(feature = "testing")]
pub mod parsers;
mod session;
/// The fault-injecting test server; behind the `testing` feature.
#[cfg(feature = "testing")]
pub mod testing;
mod wire;

use std::fmt;
use std::sync::{Arc, Once};

use genprompt_llm::{BackendStats, ChatModel, ChatReply, ChatRequest, ChatSession, LlmError, ModelIdentity, OnReply};
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tracing::instrument::WithSubscriber;

use admission::{Admission, Aimd, Bucket, Budgets};
use client::{ChatResult, Client, Counters};
pub use config::{DEFAULT_API_KEY_ENV, HttpConfig, Secret};
pub use embeddings::{DEFAULT_EMBED_BATCH, HttpEncoder};
pub use error::HttpError;
pub use fleet::EndpointStats;
use fleet::Fleet;
use health::Health;
use session::HttpSession;

/// Fault and usage counters since the model was built, for the CLI's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Completions asked for, answered or failed: one per entry of a `chat` call, one per try of
    /// `chat_json`.
    pub requests: u64,
    /// HTTP requests sent, retries included.
    pub attempts: u64,
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    pub timeouts: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Refused, reset or dropped connections.
    pub connection_errors: u64,
    /// 2xx answers with an empty or malformed body or no choices.
    pub invalid_responses: u64,
    /// `chat_json` replies that were not valid JSON for the schema.
    pub invalid_json: u64,
    /// Requests that ended in an error after their retries.
    pub failed: u64,
    /// Replies cut at `max_tokens` (`finish_reason = "length"`).
    pub truncated: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The adaptive limit on requests in flight right now.
    pub current_concurrency: usize,
    /// Attempts holding a slot under that limit right now: sent, or about to be.
    pub in_flight: usize,
    /// Attempts waiting for a slot under that limit (or for a `Retry-After` pause) right now.
    pub waiting_for_admission: usize,
}

/// A reply of [`HttpChatModel::chat_json`] and the JSON value parsed from it.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonReply {
    pub reply: ChatReply,
    pub value: Value,
}

impl HttpStats {
    /// Counters of several endpoints together; the concurrency limits add up.
    fn add(self, other: HttpStats) -> HttpStats {
        HttpStats {
            requests: self.requests + other.requests,
            attempts: self.attempts + other.attempts,
            retries: self.retries + other.retries,
            rate_limited: self.rate_limited + other.rate_limited,
            timeouts: self.timeouts + other.timeouts,
            server_errors: self.server_errors + other.server_errors,
            connection_errors: self.connection_errors + other.connection_errors,
            invalid_responses: self.invalid_responses + other.invalid_responses,
            invalid_json: self.invalid_json + other.invalid_json,
            failed: self.failed + other.failed,
            truncated: self.truncated + other.truncated,
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            current_concurrency: self.current_concurrency + other.current_concurrency,
            in_flight: self.in_flight + other.in_flight,
            waiting_for_admission: self.waiting_for_admission + other.waiting_for_admission,
        }
    }
}

/// The OpenAI-compatible chat backend, over one endpoint or a fleet of several serving the same
/// model.
pub struct HttpChatModel {
    identity: ModelIdentity,
    fleet: Arc<Fleet>,
    /// `Option` only so `Drop` can shut it down without blocking.
    runtime: Option<Runtime>,
}

impl fmt::Debug for HttpChatModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let configs: Vec<&HttpConfig> = self.fleet.endpoints.iter().map(|client| &client.config).collect();
        f.debug_struct("HttpChatModel").field("endpoints", &configs).finish_non_exhaustive()
    }
}

static TLS_PROVIDER: Once = Once::new();

impl HttpChatModel {
    /// Checks the settings and builds the client and its runtime; sends nothing.
    pub fn new(config: HttpConfig) -> Result<HttpChatModel, LlmError> {
        HttpChatModel::with_endpoints(vec![config])
    }

    /// A fleet of endpoints serving the same model, each with its own settings and admission
    /// control (see `fleet.rs`); the first one's settings also govern `chat_json`.
    pub fn with_endpoints(configs: Vec<HttpConfig>) -> Result<HttpChatModel, LlmError> {
        let Some(first) = configs.first() else {
            let message = "no endpoint given; pass --base-url".to_string();
            return Err(LlmError::Load { path: String::new(), message });
        };
        let identity = ModelIdentity {
            backend: "openai-compatible".to_string(),
            name: first.model.clone(),
            sha256: String::new(),
            batch_settings: None,
        };
        let up = Arc::new(std::sync::atomic::AtomicUsize::new(configs.len()));
        let mut clients = Vec::with_capacity(configs.len());
        for config in &configs {
            let load = |err: HttpError| LlmError::Load { path: config.base_url.clone(), message: err.to_string() };
            if config.model != first.model {
                return Err(load(HttpError::Config("every endpoint must serve the same model name".to_string())));
            }
            let health = if configs.len() > 1 { Health::in_fleet(up.clone()) } else { Health::default() };
            clients.push(endpoint_client(config.clone(), "chat/completions", health).map_err(load)?);
        }
        let runtime =
            runtime().map_err(|err| LlmError::Load { path: first.base_url.clone(), message: err.to_string() })?;
        Ok(HttpChatModel { identity, fleet: Arc::new(Fleet::new(clients)), runtime: Some(runtime) })
    }

    /// Counters over all endpoints.
    pub fn stats(&self) -> HttpStats {
        self.endpoint_stats().into_iter().map(|e| e.stats).reduce(HttpStats::add).unwrap_or_default()
    }

    /// Requests, failures and tokens per endpoint, in the order they were given.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.fleet.stats()
    }

    /// Like `chat`, but asks for JSON matching `schema` (`response_format: json_schema`) and
    /// retries replies that do not parse or do not fit (up to `json_retries` more calls, each with
    /// a different but deterministic seed, since the same seed would give the same bad reply).
    /// The schema check covers `type`, `required`, `properties` and `items`; the server enforces
    /// the rest where it supports schemas.
    pub fn chat_json(&self, requests: &[ChatRequest], schema: &Value) -> Vec<Result<JsonReply, LlmError>> {
        let schema = Arc::new(schema.clone());
        self.run(
            requests,
            move |fleet, request| {
                let schema = schema.clone();
                async move { json::answer(&fleet, &request, &schema).await }
            },
            |_, _| {},
        )
    }

    /// Runs one task per request on the model's runtime; see [`run_tasks`].
    fn run<T, F, Fut>(
        &self,
        requests: &[ChatRequest],
        task: F,
        on_done: impl Fn(usize, &Result<T, LlmError>) + Sync,
    ) -> Vec<Result<T, LlmError>>
    where
        T: Send + 'static,
        F: Fn(Arc<Fleet>, ChatRequest) -> Fut,
        Fut: Future<Output = Result<T, HttpError>> + Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        run_tasks(runtime, &self.fleet, requests.iter().cloned(), task, LlmError::from, on_done)
    }
}

/// Runs one task per item on `runtime` and collects the results in item order, handing each to
/// `on_done` as it completes.
pub(crate) fn run_tasks<C, I, T, E, F, Fut>(
    runtime: &Runtime,
    client: &Arc<C>,
    items: impl IntoIterator<Item = I>,
    task: F,
    map_err: fn(HttpError) -> E,
    on_done: impl Fn(usize, &Result<T, E>) + Sync,
) -> Vec<Result<T, E>>
where
    T: Send + 'static,
    E: Send,
    F: Fn(Arc<C>, I) -> Fut,
    Fut: Future<Output = Result<T, HttpError>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut index = std::collections::HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        // Carry the caller's log subscriber into the worker threads.
        let future = task(client.clone(), item).with_current_subscriber();
        index.insert(tasks.spawn_on(future, runtime.handle()).id(), i);
    }
    let on_done = &on_done;
    let collect = async move {
        let mut results: Vec<Option<Result<T, E>>> = std::iter::repeat_with(|| None).take(index.len()).collect();
        while let Some(joined) = tasks.join_next_with_id().await {
            let (id, result) = match joined {
                Ok((id, result)) => (id, result),
                Err(err) => (err.id(), Err(HttpError::Internal(format!("a request task failed: {err}")))),
            };
            let result = result.map_err(map_err);
            on_done(index[&id], &result);
            results[index[&id]] = Some(result);
        }
        results
    };
    // `block_on` panics inside an async context; there, block a helper thread instead.
    let results = if tokio::runtime::Handle::try_current().is_ok() {
        // A panic there can only come from the caller's `on_done` callback: it goes on unwinding
        // in the caller, as it would have without the helper thread.
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(collect)).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    } else {
        runtime.block_on(collect)
    };
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(map_err(HttpError::Internal("a request task vanished".to_string())))))
        .collect()
}

impl ChatModel for HttpChatModel {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.chat_each(requests, &|_, _| {})
    }

    fn streams_replies(&self) -> bool {
        true
    }

    fn backend_stats(&self) -> Option<BackendStats> {
        let stats = self.stats();
        Some(BackendStats {
            retries: stats.retries,
            rate_limited: stats.rate_limited,
            timeouts: stats.timeouts,
            server_errors: stats.server_errors,
            connection_errors: stats.connection_errors,
            concurrency: stats.current_concurrency,
        })
    }

    /// Replies reach `on_reply` as they arrive, so a caller can commit them before the batch ends.
    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        self.run(requests, |fleet, request| async move { answer(&fleet, &request).await }, on_reply)
    }

    fn endpoint_counts(&self) -> Vec<genprompt_llm::EndpointCounts> {
        let counts = self.endpoint_stats().into_iter().map(|e| genprompt_llm::EndpointCounts {
            base_url: e.base_url,
            requests: e.stats.requests,
            failed: e.stats.failed,
            retries: e.stats.retries,
            connection_errors: e.stats.connection_errors,
            timeouts: e.stats.timeouts,
            server_errors: e.stats.server_errors,
            prompt_tokens: e.stats.prompt_tokens,
            completion_tokens: e.stats.completion_tokens,
            set_aside: e.set_aside,
        });
        counts.collect()
    }

    /// Each request is a task on the model's runtime from the moment it is submitted, under the
    /// same admission control as `chat`; results come back through a channel as they complete.
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(HttpSession::new(self))
    }
}

/// One request through the fleet: with a JSON schema, the structured path and its fallbacks.
pub(crate) async fn answer(fleet: &Fleet, request: &ChatRequest) -> ChatResult {
    match &request.json_schema {
        Some(schema) => json::answer(fleet, request, schema).await.map(|json| json.reply),
        None => fleet.answer(request, request.sampling.seed, None).await,
    }
}

impl Drop for HttpChatModel {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime; this never blocks.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The shared client for one endpoint (`path` under the base URL) and the runtime that drives it.
fn connect(config: HttpConfig, path: &str) -> Result<(Client, Runtime), HttpError> {
    Ok((endpoint_client(config, path, Health::default())?, runtime()?))
}

/// The client of one endpoint: connection pool, admission control and counters.
fn endpoint_client(config: HttpConfig, path: &str, health: Health) -> Result<Client, HttpError> {
    let url = config.endpoint_for(path)?;
    // reqwest is built without a default TLS provider; the error only says one is installed.
    TLS_PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let auth = config.api_key.as_ref().map(|key| client::bearer(key.expose())).transpose()?;
    let mut builder = reqwest::Client::builder()
        .connect_timeout(config.timeout.min(std::time::Duration::from_secs(10)))
        .pool_max_idle_per_host(config.max_in_flight)
        // Our own loop retries; the client's would hide attempts from the stats.
        .retry(reqwest::retry::never())
        // Following a redirect turns a POST into a GET; report it instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("genprompt/", env!("CARGO_PKG_VERSION")));
    if is_loopback(&url) {
        // A local server must not be sent through a system proxy.
        builder = builder.no_proxy();
    }
    let http = builder.build().map_err(|err| HttpError::Config(err.without_url().to_string()))?;
    let now = std::time::Instant::now();
    let bucket = |per_minute: Option<u32>| per_minute.map(|n| Bucket::new(f64::from(n), now));
    let budgets = Budgets {
        requests: bucket(config.requests_per_minute),
        input: bucket(config.input_tokens_per_minute),
        output: bucket(config.output_tokens_per_minute),
    };
    let admission = Admission::new(Aimd::new(config.max_in_flight, config.latency_factor), budgets);
    let counters = Counters::default();
    Ok(Client { http, url, auth, config, admission, counters, json_object: Default::default(), health })
}

fn runtime() -> Result<Runtime, HttpError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4)))
        .thread_name("genprompt-http")
        .enable_all()
        .build()
        .map_err(|err| HttpError::Internal(format!("cannot start the async runtime: {err}")))
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
