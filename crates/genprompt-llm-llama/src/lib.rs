//! The embedded LLM: any GGUF chat model run in-process on CPU by llama.cpp.
//!
//! llama.cpp's backend is a process singleton and its context is not `Send`, so one worker thread
//! owns the model and the context and the `ChatModel` handle talks to it through a channel.
//! Requests of a call are packed into parallel sequences of one unified KV cache, so a batch of
//! distinct prompts is prefilled and decoded together, their common prefix only once (see
//! `engine.rs`). Requests with a JSON schema are sampled under a grammar built from it
//! (`gbnf.rs`), checked with `genprompt_llm::schema` and retried with the next seed if invalid.

mod engine;
mod gbnf;
mod sequence;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;

use genprompt_llm::{ChatModel, ChatReply, ChatRequest, LlmError, ModelIdentity};
use llama_cpp_2::llama_backend::LlamaBackend;

/// Engine settings; `threads` sets both llama.cpp thread counts (prefill and decode), because
/// oversubscribing cores collapses its throughput.
#[derive(Clone, Debug)]
pub struct LlamaOptions {
    pub threads: usize,
    /// Context size shared by all parallel sequences of a call.
    pub n_ctx: u32,
    /// Most sequences decoded together.
    pub n_parallel: usize,
    /// Prefill the common prefix of a batch's prompts once for all its sequences. Off only to
    /// measure what it saves.
    pub share_prefix: bool,
}

impl LlamaOptions {
    /// One thread fewer than the machine has (at least one): llama.cpp collapses when another
    /// busy process competes for every core, and a 135M model gains little from a second thread
    /// at decode time.
    pub fn for_this_machine() -> LlamaOptions {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        LlamaOptions { threads: cores.saturating_sub(1).max(1), n_ctx: 8192, n_parallel: 8, share_prefix: true }
    }

    /// The settings that change replies (all of them: thread count and batching change
    /// llama.cpp's kernels), as one line for cache keys.
    pub fn reply_settings(&self) -> String {
        format!(
            "threads={} n_ctx={} n_parallel={} share_prefix={}",
            self.threads, self.n_ctx, self.n_parallel, self.share_prefix
        )
    }
}

/// The llama.cpp grammar (GBNF, start rule `root`) that requests with `schema` are sampled
/// under, or why the schema cannot be turned into one.
pub fn grammar_for_schema(schema: &serde_json::Value) -> Result<String, String> {
    gbnf::from_schema(schema)
}

/// A GGUF chat model behind the `ChatModel` trait.
pub struct LlamaChatModel {
    identity: ModelIdentity,
    stats: Arc<Stats>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Option<thread::JoinHandle<()>>,
}

struct Job {
    requests: Vec<ChatRequest>,
    done: mpsc::Sender<Vec<Result<ChatReply, LlmError>>>,
}

/// What the engine did since loading: prompt tokens (all of them, and those served by a shared
/// prefix instead of being prefilled again), generated tokens, and the wall time of each phase,
/// so that its speed can be set against llama.cpp's own tools (`bench/llama_cpp_vs_engine.sh`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub prompt_tokens: u64,
    pub shared_tokens: u64,
    pub generated_tokens: u64,
    /// Prompt processing, up to and including the first sampled token of each sequence.
    pub prefill_micros: u64,
    /// Every later step: decoding, sampling, detokenising, stop strings.
    pub decode_micros: u64,
}

#[derive(Default)]
pub(crate) struct Stats {
    prompt_tokens: AtomicU64,
    shared_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    prefill_micros: AtomicU64,
    decode_micros: AtomicU64,
}

impl Stats {
    pub(crate) fn record_prefill(&self, prompt_tokens: usize, shared_tokens: usize, micros: u64) {
        self.prompt_tokens.fetch_add(prompt_tokens as u64, Ordering::Relaxed);
        self.shared_tokens.fetch_add(shared_tokens as u64, Ordering::Relaxed);
        self.prefill_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn record_decode(&self, generated_tokens: u64, micros: u64) {
        self.generated_tokens.fetch_add(generated_tokens, Ordering::Relaxed);
        self.decode_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, LlmError> {
    // `LlamaBackend::init` fails on a second call, so two models loading at once must not both
    // try it.
    static INIT: Mutex<()> = Mutex::new(());
    let _init = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(backend) = BACKEND.get() {
        return Ok(backend);
    }
    let mut backend = LlamaBackend::init().map_err(|err| LlmError::Engine(err.to_string()))?;
    backend.void_logs();
    Ok(BACKEND.get_or_init(|| backend))
}

impl LlamaChatModel {
    /// Loads `path` on a new worker thread and returns once the model is ready.
    pub fn load(path: &Path, options: LlamaOptions) -> Result<LlamaChatModel, LlmError> {
        let load_err = |message: String| LlmError::Load { path: path.display().to_string(), message };
        if !path.is_file() {
            return Err(load_err("no such file".to_string()));
        }
        let sha256 = sha256_file(path).map_err(|err| load_err(err.to_string()))?;
        let identity = ModelIdentity {
            backend: "llama.cpp".to_string(),
            name: path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            sha256,
            batch_settings: Some(options.reply_settings()),
        };
        let backend = backend()?;
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), LlmError>>();
        let model_path: PathBuf = path.to_path_buf();
        let stats = Arc::new(Stats::default());
        let worker_stats = Arc::clone(&stats);
        let worker = thread::Builder::new()
            .name("llama.cpp".to_string())
            .spawn(move || engine::run_worker(backend, &model_path, &options, &worker_stats, ready_tx, jobs_rx))
            .map_err(|err| load_err(err.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(LlamaChatModel { identity, stats, jobs: Mutex::new(Some(jobs_tx)), worker: Some(worker) }),
            Ok(Err(err)) => {
                let _ = worker.join();
                Err(err)
            }
            Err(_) => Err(load_err("the engine thread stopped while loading".to_string())),
        }
    }

    /// Tokens and time so far (what prefix sharing saved, how fast each phase ran).
    pub fn stats(&self) -> EngineStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        EngineStats {
            prompt_tokens: load(&self.stats.prompt_tokens),
            shared_tokens: load(&self.stats.shared_tokens),
            generated_tokens: load(&self.stats.generated_tokens),
            prefill_micros: load(&self.stats.prefill_micros),
            decode_micros: load(&self.stats.decode_micros),
        }
    }
}

impl ChatModel for LlamaChatModel {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        let gone = || vec![Err(LlmError::Engine("the engine thread has stopped".to_string())); requests.len()];
        let (done_tx, done_rx) = mpsc::channel();
        {
            let jobs = self.jobs.lock().expect("jobs lock is never poisoned: no code panics while holding it");
            let Some(jobs) = jobs.as_ref() else { return gone() };
            if jobs.send(Job { requests: requests.to_vec(), done: done_tx }).is_err() {
                return gone();
            }
        }
        done_rx.recv().unwrap_or_else(|_| gone())
    }
}

impl Drop for LlamaChatModel {
    fn drop(&mut self) {
        // Closing the channel ends the worker loop; join so the model is freed before we return.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
