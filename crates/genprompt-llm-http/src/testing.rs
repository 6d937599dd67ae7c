//! A fault-injecting OpenAI-compatible server on loopback, for tests of anything that talks to an
//! endpoint: a test scripts, per request key, the answers to successive hits (429, 5xx, slow,
//! reset, bad bodies, refusals, truncation) and then checks what the server saw.
//!
//! A request's key is the content of its last message (for `/v1/embeddings`, its first input), so
//! scripts do not depend on the order in which concurrent requests arrive. Once a key's script is
//! used up, hits get the default answer. Embeddings are deterministic, unnormalised vectors
//! ([`embedding`]) of a settable dimension.
//!
//! Test harness only (feature `testing`): its `expect`s are the harness's own preconditions (a
//! loopback port, a runtime, scripts with valid status codes and headers); a panic there fails
//! the test that wrote the script, which is what a broken script should do.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use genprompt_llm::{ChatMessage, ChatRequest, Sampling};
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use crate::HttpConfig;

mod answer;
mod embeddings;
mod gate;
pub use answer::varied_reply;
use answer::{answer, completions};
use embeddings::embeddings;
pub use embeddings::{EMBEDDING_DIM, embedding};

/// The text of [`Fault::Refusal`].
pub const REFUSAL: &str = "I'm sorry, but I can't help with that.";

/// One answer of the server.
#[derive(Clone, Debug)]
pub enum Fault {
    /// `reply to {key}`, `finish_reason: "stop"`, with usage.
    Ok,
    /// A normal answer with this content.
    Reply(String),
    /// A normal answer with the refusal text [`REFUSAL`].
    Refusal,
    /// A normal answer cut at `max_tokens`: `finish_reason: "length"`.
    Length,
    /// A normal answer plus these headers (e.g. `x-ratelimit-*`).
    WithHeaders(Vec<(String, String)>),
    /// 429 with this `Retry-After` value, if any.
    RateLimited(Option<String>),
    /// 429 with OpenAI's `insufficient_quota` body: the account is out of credit.
    QuotaExceeded,
    /// This status with an OpenAI-style error body carrying the message.
    Status(u16, String),
    /// 401 whose message echoes the bearer token received, as careless servers do.
    Unauthorized,
    /// A normal answer after this delay (longer than the client's timeout, usually).
    Slow(Duration),
    /// The other fault, after this delay.
    After(Duration, Box<Fault>),
    /// The connection is dropped without an answer.
    Reset,
    /// 200 with a truncated JSON body.
    InvalidJson,
    /// 200 with no body at all.
    EmptyBody,
    /// 200 with `choices: []`.
    EmptyChoices,
}

impl Fault {
    pub fn status(code: u16) -> Fault {
        Fault::Status(code, format!("injected HTTP {code}"))
    }
}

/// What the server saw of one hit.
#[derive(Clone, Debug)]
pub struct Hit {
    pub key: String,
    /// 1 for the first hit of this key.
    pub attempt: usize,
    /// Requests at the server when this one arrived, itself included.
    pub in_flight: usize,
    /// Hits already answered (or dropped) when this one arrived.
    pub completed_before: usize,
    pub authorization: Option<String>,
    pub body: Value,
    /// When the hit arrived, for tests of waits the client must honour (a lower bound on the
    /// gap between two hits never depends on scheduling).
    pub at: Instant,
}

#[derive(Default)]
pub(crate) struct Script {
    faults: HashMap<String, VecDeque<Fault>>,
    /// Answers to the next hits whatever their key, before per-key scripts.
    upcoming: VecDeque<Fault>,
    default: Option<Fault>,
    hits: Vec<Hit>,
    latency: Duration,
    /// Delay of `/v1/embeddings` answers, if not `latency`.
    embedding_latency: Option<Duration>,
    workers: Option<Arc<Semaphore>>,
    /// `false` keeps no hits, for long benchmark runs.
    not_recording: bool,
    /// Answer `response_format: json_schema` as llama-cpp-python's server does.
    no_json_schema: bool,
    /// Normal answers are a sentence drawn from the request's key and seed ([`varied_reply`]).
    varied: bool,
    /// While set, every hit waits here for a permit that [`FaultServer::release`] gives.
    gate: Option<Arc<Semaphore>>,
    pub(crate) embedding_dim: Option<usize>,
}

#[derive(Default)]
pub(crate) struct Shared {
    script: Mutex<Script>,
    /// Notified at every hit, for [`FaultServer::wait_for_hits`].
    hit: std::sync::Condvar,
    n_hits: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    completed: AtomicUsize,
    /// Hits waiting at the gate, and hits that went through it.
    held: AtomicUsize,
    passed: AtomicUsize,
}

impl Shared {
    pub(crate) fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The server; it stops when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

impl FaultServer {
    /// Listens on `127.0.0.1` on a free port, on a runtime of its own.
    pub fn start() -> FaultServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-server")
            .enable_all()
            .build()
            .expect("a test runtime starts");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback has a free port");
        listener.set_nonblocking(true).expect("sockets can be non-blocking");
        let addr = listener.local_addr().expect("a bound socket has an address");
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        let _entered = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio adopts the socket");
        runtime.spawn(async move { axum::serve(listener, app).await });
        FaultServer { addr, shared, runtime: Some(runtime) }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Answers the next hits of `key` with `faults`, in order.
    pub fn script(&self, key: &str, faults: impl IntoIterator<Item = Fault>) {
        self.shared.script().faults.entry(key.to_string()).or_default().extend(faults);
    }

    /// Answers the next hits with `faults`, in arrival order, whatever their key: for tests that
    /// cannot know the prompts in advance (a whole generation run).
    pub fn script_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.script().upcoming.extend(faults);
    }

    /// The answer once a key's script is used up (initially [`Fault::Ok`]).
    pub fn set_default(&self, fault: Fault) {
        self.shared.script().default = Some(fault);
    }

    /// Delay of every normal answer.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.script().latency = latency;
    }

    /// Delay of every normal `/v1/embeddings` answer (initially the chat latency): an embeddings
    /// server is usually much faster than a chat model.
    pub fn set_embedding_latency(&self, latency: Duration) {
        self.shared.script().embedding_latency = Some(latency);
    }

    /// Works on at most `n` requests at once and queues the rest, as vLLM does.
    pub fn set_parallel(&self, n: usize) {
        self.shared.script().workers = Some(Arc::new(Semaphore::new(n)));
    }

    /// Whether hits are kept for [`FaultServer::hits`] (initially yes); a benchmark sending
    /// thousands of requests turns this off so the server's work per request stays constant.
    pub fn set_recording(&self, on: bool) {
        self.shared.script().not_recording = !on;
    }

    /// Rejects `response_format: {"type": "json_schema"}` with llama-cpp-python's HTTP 500 (which
    /// takes only `text` or `json_object` with a `schema`); such hits are not recorded.
    pub fn reject_json_schema(&self) {
        self.shared.script().no_json_schema = true;
    }

    /// Normal answers become distinct made-up sentences ([`varied_reply`]) instead of
    /// `reply to {key}`, so that generation runs keep their rows (benchmarks, end-to-end tests).
    pub fn set_varied_replies(&self, on: bool) {
        self.shared.script().varied = on;
    }

    /// Length of the vectors `/v1/embeddings` answers (initially [`EMBEDDING_DIM`]).
    pub fn set_embedding_dim(&self, dim: usize) {
        self.shared.script().embedding_dim = Some(dim);
    }

    /// Blocks until `n` requests have reached the server (counted even when not recording) or
    /// `timeout` passed; returns how many had: tests synchronise on what the server saw, not on
    /// sleeps.
    pub fn wait_for_hits(&self, n: usize, timeout: Duration) -> usize {
        let deadline = std::time::Instant::now() + timeout;
        let mut script = self.shared.script();
        loop {
            let seen = self.shared.n_hits.load(Ordering::SeqCst);
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if seen >= n || left.is_zero() {
                return seen;
            }
            script = self.shared.hit.wait_timeout(script, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Hits so far, recorded or not.
    pub fn n_hits(&self) -> usize {
        self.shared.n_hits.load(Ordering::SeqCst)
    }

    /// Stops serving now, as a crashed server would: the port refuses connections and requests
    /// being answered lose their connection.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Every hit so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.script().hits.clone()
    }

    pub fn hits_for(&self, key: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|hit| hit.key == key).collect()
    }

    /// Most requests at the server at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn reset_max_in_flight(&self) {
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The key tests use for request `i`.
pub fn key(i: usize) -> String {
    format!("request {i}")
}

/// Request `i`: a system and a user message (the key), every sampling field set, seed `i`.
pub fn request(i: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("Answer briefly."), ChatMessage::user(key(i))],
        sampling: Sampling {
            temperature: 0.7,
            top_p: 0.9,
            min_p: 0.0,
            repeat_penalty: 1.0,
            max_tokens: 64,
            stop: vec!["\n\n".to_string()],
            seed: i as u64,
        },
        json_schema: None,
    }
}

/// Settings for tests: 500 ms timeout, millisecond backoffs, 4 retries, 8 in flight, and no
/// latency signal (a busy test machine's scheduling noise would look like queueing).
pub fn fast_config(base_url: &str) -> HttpConfig {
    HttpConfig {
        max_in_flight: 8,
        latency_factor: None,
        timeout: Duration::from_millis(500),
        max_retries: 4,
        backoff_base: Duration::from_millis(2),
        backoff_max: Duration::from_millis(20),
        ..HttpConfig::new(base_url, "test-model")
    }
}
