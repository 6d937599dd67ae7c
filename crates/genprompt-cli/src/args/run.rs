//! Flags shared by the commands that run models: which models, the cache and journal, and how
//! a method generates.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Which models to run; defaults are the fetched ones.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// A GGUF chat model file to use instead of the default SmolLM2-135M-Instruct.
    #[arg(long, value_name = "FILE.gguf")]
    pub llm: Option<PathBuf>,
    /// A BERT-family sentence encoder folder (config.json, tokenizer.json, model.safetensors)
    /// to use instead of the default all-MiniLM-L6-v2.
    #[arg(long, value_name = "DIR")]
    pub encoder: Option<PathBuf>,
    /// CPU threads for the LLM (default: one fewer than the machine has, at least one).
    #[arg(long)]
    pub threads: Option<usize>,
    /// An OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server), e.g.
    /// http://127.0.0.1:8080/v1; repeat it for several endpoints serving the same model (requests
    /// go where there is free capacity; one that stops answering is set aside). Without it: the
    /// task file's [llm] base_url or base_urls, else OPENAI_BASE_URL, else the embedded model.
    #[arg(long, value_name = "URL")]
    pub base_url: Vec<String>,
    /// The endpoint's model name (required with --base-url).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Environment variable that holds the API key (default OPENAI_API_KEY if set; local servers
    /// need none). The key itself never goes on the command line.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Most requests in flight to the endpoint (it adapts downwards on 429s and slow replies;
    /// default 32, or the task file's [llm] max_in_flight).
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Price in US dollars per million prompt tokens, to show spending (or [llm] in the task file).
    #[arg(long, value_name = "USD")]
    pub price_input: Option<f64>,
    /// Price in US dollars per million completion tokens.
    #[arg(long, value_name = "USD")]
    pub price_output: Option<f64>,
    /// An OpenAI-compatible `/v1/embeddings` endpoint to use as the sentence encoder instead of
    /// the embedded one (key from --api-key-env, as for chat).
    #[arg(long, value_name = "URL", requires = "encoder_model")]
    pub encoder_base_url: Option<String>,
    /// The embeddings endpoint's model name (required with --encoder-base-url).
    #[arg(long, value_name = "NAME", requires = "encoder_base_url")]
    pub encoder_model: Option<String>,
}

/// The response cache and the run journal that makes runs resumable.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Folder of the shared response cache (default: GENPROMPT_HOME/cache).
    #[arg(long, env = "GENPROMPT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the shared response cache (the run's own journal still lets an
    /// interrupted run resume without paying twice).
    #[arg(long, conflicts_with = "refresh_cache")]
    pub no_cache: bool,
    /// Ask the LLM again instead of answering from the cache, and store the new replies.
    #[arg(long)]
    pub refresh_cache: bool,
    /// Send again the requests that failed earlier in this run; without it a resumed run replays
    /// them as failures, so it takes the same course as before.
    #[arg(long)]
    pub retry_failed: bool,
    /// Stop the run when more than this share of LLM calls fail after their retries (checked once
    /// 10 calls were made).
    #[arg(long, default_value_t = 0.2, value_name = "SHARE")]
    pub max_failure_share: f64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AblationArg {
    /// Every gene inherited, none mutated.
    NoMutation,
    /// The parents' words, not attributes, are inherited and mutated.
    WordAsGene,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    Steady,
    Generational,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PoolUpdateArg {
    /// Offspring join the pool after each batch (official code).
    Batch,
    /// After each offspring (paper's Algorithm 1; batches of one request).
    Offspring,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ParentsArg {
    /// Paper: the most distant pair never used before.
    Active,
    /// Official code: the global most distant pair, reused.
    Argmax,
    /// Ablation: random parents.
    Random,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GenesScheduleArg {
    /// Paper: random three-way partition per offspring.
    Paper,
    /// Official code: shuffle per batch, alternate parents, last gene mutated.
    Code,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PostprocessArg {
    /// Strip chatter, drop refusals, empty replies and duplicates.
    Clean,
    /// The paper's refusal filter only.
    Raw,
}

#[derive(Args, Debug, Clone)]
pub struct GenerationArgs {
    #[arg(long, value_enum, default_value_t = ParentsArg::Active)]
    pub parents: ParentsArg,
    #[arg(long, value_enum, default_value_t = GenesScheduleArg::Paper)]
    pub genes_schedule: GenesScheduleArg,
    /// Genetic Prompt ablation.
    #[arg(long, value_enum)]
    pub ablation: Option<AblationArg>,
    #[arg(long, value_enum, default_value_t = PoolUpdateArg::Batch)]
    pub pool_update: PoolUpdateArg,
    #[arg(long, value_enum, default_value_t = PostprocessArg::Clean)]
    pub postprocess: PostprocessArg,
    /// In clean mode, drop a row whose cosine similarity to a kept row of its label reaches this.
    #[arg(long, default_value_t = 0.95, value_name = "COSINE")]
    pub near_duplicates: f32,
    /// Keep near duplicates (exact duplicates are still dropped in clean mode).
    #[arg(long)]
    pub keep_near_duplicates: bool,
    /// Prompts per batch on the generational schedule; the pool is updated after each batch.
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,
    /// steady: every label at once, --window requests always in flight, each reply used as it
    /// arrives (default with an endpoint); generational: batches with a barrier, the paper's
    /// (default with the embedded model, whose runs give the same bytes for the same seed).
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// Requests always in flight on the steady schedule (default: --max-in-flight times the
    /// number of endpoints).
    #[arg(long)]
    pub window: Option<usize>,
    /// Sampling temperature (default: the LLM's catalogue default, else the paper's 1).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Nucleus sampling (default: the LLM's catalogue default, else the paper's 1).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Drop tokens below this share of the top token's probability (default: the LLM's
    /// catalogue default, else 0 = off).
    #[arg(long)]
    pub min_p: Option<f32>,
    /// Repetition penalty over the last 64 tokens (default: the LLM's catalogue default, else 1 = off).
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// The paper's sampling (temperature 1, top_p 1, no min_p, no repetition penalty) for every
    /// value not given, whatever the model.
    #[arg(long)]
    pub paper_sampling: bool,
    /// Ask for a JSON object {"text": ...} under a schema (a grammar on the embedded model,
    /// response_format on endpoints) instead of free text; for a relation task the schema's
    /// pattern makes the text hold both entity tags.
    #[arg(long)]
    pub structured: bool,
    /// Most tokens per generated text.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
}
