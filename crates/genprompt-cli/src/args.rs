//! Command-line definitions; doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Breed labelled synthetic text datasets with LLMs, and measure how good they are.
#[derive(Parser, Debug)]
#[command(name = "genprompt", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); GENPROMPT_LOG or RUST_LOG also work.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bars, only plain progress lines.
    #[arg(long, global = true)]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fetch or list the default models (kept in GENPROMPT_HOME, default the user's cache dir).
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Fetch models if needed, generate a small dataset from the shipped example task, evaluate
    /// it on real test rows and print the result.
    Quickstart(QuickstartArgs),
    /// Add an `embedding` field to every row of a JSONL file.
    Embed(EmbedArgs),
    /// Ask the LLM which attributes (genes) matter for a task; writes a list beside the task file
    /// for you to review and copy into `genes`.
    Genes(GenesArgs),
    /// Ask the LLM for AttrPrompt's attribute values (one list per gene, shared or per label);
    /// writes them beside the task file for you to review and copy into the task file.
    Attributes(AttributesArgs),
    /// Generate a labelled synthetic dataset for a task. Rerunning an interrupted run continues it.
    Generate(GenerateArgs),
    /// Generate a few rows per label and print them, to check prompts and model before a long run.
    Preview(PreviewArgs),
    /// Train a probe on one JSONL dataset and test it on another.
    Eval(EvalArgs),
    /// Run several methods on one task with equal budgets and seeds, evaluate each, and write a
    /// self-contained HTML report.
    Compare(CompareArgs),
    /// Put each task's gap between training on real and on synthetic rows (from `eval` results)
    /// next to a task subjectivity ranking, and report their rank correlation (Li et al. 2023).
    Subjectivity(SubjectivityArgs),
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Download, unpack and verify the default LLM and sentence encoder (idempotent).
    Fetch,
    /// Show which models are present and where.
    List,
}

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
    /// http://127.0.0.1:8080/v1. Without it: the task file's [llm] base_url, else the
    /// OPENAI_BASE_URL environment variable, else the embedded model.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
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

#[derive(Args, Debug)]
pub struct QuickstartArgs {
    /// Where to write the example task, the dataset and the metrics.
    #[arg(long, default_value = "genprompt-quickstart")]
    pub out: PathBuf,
    /// Offspring per label.
    #[arg(short = 'n', long, default_value_t = 8)]
    pub n_per_label: usize,
    /// Random seed of the run.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub models: ModelArgs,
}

#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// JSONL rows with a "text" field.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the rows with their embeddings.
    #[arg(long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub models: ModelArgs,
}

#[derive(Args, Debug)]
pub struct GenesArgs {
    /// The task file (its `genes` may be empty).
    #[arg(long)]
    pub task: PathBuf,
    /// Real labelled rows to show the LLM, instead of the task file's `[seeds].path`.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Where to write the proposed genes (default: <task>.genes.toml beside the task file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Random seed of the LLM call.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub models: ModelArgs,
}

#[derive(Args, Debug)]
pub struct AttributesArgs {
    /// The task file; its `genes` are the attributes.
    #[arg(long)]
    pub task: PathBuf,
    /// Real labelled rows, instead of the task file's `[seeds].path` (only checked, not shown).
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Attributes whose values depend on the label (e.g. subtopic), comma-separated: asked once
    /// per label.
    #[arg(long, value_delimiter = ',')]
    pub per_label: Vec<String>,
    /// Where to write the proposal (default: <task>.attributes.toml beside the task file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub models: ModelArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Genetic Prompt (Han et al. 2025).
    Genetic,
    /// SimPrompt: class-conditional prompt + 2 random real examples.
    Simprompt,
    /// AttrPrompt: one value per attribute from the task's [attributes] lists + 2 real examples.
    Attrprompt,
    /// Zero-shot (Li et al. 2023): context + label + word limit, periodic diversity request.
    Zeroshot,
    /// Few-shot (Li et al. 2023): the same with labelled real examples it must not copy.
    Fewshot,
    /// Curated LLM (Seedat et al. 2024): SimPrompt, keeping rows a classifier trained on the real
    /// seed rows labels confidently.
    Curated,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AblationArg {
    /// Every gene inherited, none mutated.
    NoMutation,
    /// The parents' words, not attributes, are inherited and mutated.
    WordAsGene,
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

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The task file (TOML; see docs/task-file.md).
    #[arg(long)]
    pub task: PathBuf,
    #[arg(long, value_enum, default_value_t = Method::Genetic)]
    pub method: Method,
    /// Offspring to keep per label.
    #[arg(short = 'n', long = "n-per-label", value_name = "N")]
    pub n_per_label: usize,
    /// Real labelled rows (JSONL) that seed the pools, instead of the task file's `[seeds].path`.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Output folder for dataset.jsonl and manifest.json.
    #[arg(long, default_value = "genprompt-out")]
    pub out: PathBuf,
    /// Random seed: the same seed, task, seed rows and model give the same dataset.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replace an existing dataset in --out, or start an interrupted run there over.
    #[arg(long)]
    pub force: bool,
    /// Print how many requests, tokens and dollars the run would take, and stop.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub models: ModelArgs,
}

/// Knobs of the method; defaults reproduce the paper.
#[derive(Args, Debug)]
pub struct PreviewArgs {
    #[arg(long)]
    pub task: PathBuf,
    #[arg(long, value_enum, default_value_t = Method::Genetic)]
    pub method: Method,
    /// Rows per label.
    #[arg(short = 'n', long = "n-per-label", value_name = "N", default_value_t = 3)]
    pub n_per_label: usize,
    /// Real labelled rows to use as seeds instead of the task file's `[seeds].path`.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub models: ModelArgs,
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
    /// Prompts per batch; the pool is updated after each batch.
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Most tokens per generated text.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MixArg {
    /// Train on --train only.
    Synthetic,
    /// Train on --real-train only (the upper bound).
    Real,
    /// Train on --train and --real-train together.
    Fusion,
    /// Like fusion, with as many synthetic as real rows (the paper's equal-proportion setting):
    /// the larger set is subsampled with the run's seed.
    FusionEqual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClassifierArg {
    /// Frozen encoder + multinomial logistic regression (fast, any size).
    Probe,
    /// Fine-tune the whole encoder with a linear head on CPU (slow: about 2-4 s per step of 16).
    Finetune,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Rows to train on (usually synthetic).
    #[arg(long)]
    pub train: PathBuf,
    /// Real rows to test on.
    #[arg(long)]
    pub test: PathBuf,
    /// Real training rows: for --mix real or fusion, and for the label-faithfulness probe.
    #[arg(long, value_name = "FILE")]
    pub real_train: Option<PathBuf>,
    /// What the classifier is trained on.
    #[arg(long, value_enum, default_value_t = MixArg::Synthetic)]
    pub mix: MixArg,
    #[arg(long, value_enum, default_value_t = ClassifierArg::Probe)]
    pub classifier: ClassifierArg,
    /// Fine-tuning epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Fine-tuning learning rate (AdamW, constant).
    #[arg(long, default_value_t = 5e-5)]
    pub learning_rate: f64,
    /// Fine-tuning batch size.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Fine-tuning: most tokens per text.
    #[arg(long, default_value_t = 128)]
    pub max_length: usize,
    /// Training runs with seeds seed, seed+1, ...; scores are reported as mean and std.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Folder for metrics.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Random seed of the first run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Test-row field holding each row's annotator agreement (a share in [0, 1] or a count of
    /// agreeing annotators): also report accuracy on the rows at or above rising thresholds.
    #[arg(long, value_name = "FIELD")]
    pub agreement_field: Option<String>,
    /// Thresholds for --agreement-field, comma-separated (default: the distinct values present, or
    /// 10 quantiles when there are more).
    #[arg(long, value_delimiter = ',', value_name = "X,Y,...", requires = "agreement_field")]
    pub agreement_thresholds: Vec<f64>,
    #[command(flatten)]
    pub models: ModelArgs,
}

#[derive(Args, Debug)]
pub struct SubjectivityArgs {
    /// TOML file ranking tasks by subjectivity (example: examples/subjectivity/li2023.toml).
    #[arg(long)]
    pub ranking: PathBuf,
    /// metrics.json files of `genprompt eval` (or folders holding one): per task one with
    /// --mix real and one with --mix synthetic, matched to a ranked task by the test file's folder.
    #[arg(long, num_args = 1.., required = true, value_name = "PATH")]
    pub results: Vec<PathBuf>,
    /// Folder for subjectivity.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The task file.
    #[arg(long)]
    pub task: PathBuf,
    /// Methods to compare, comma-separated: genetic, simprompt, attrprompt, zeroshot, fewshot,
    /// curated, and the Genetic Prompt variants genetic-random (w/o active selection),
    /// genetic-argmax, genetic-no-mutation, genetic-word-as-gene.
    #[arg(long, value_delimiter = ',', default_value = "genetic,simprompt,attrprompt,genetic-random")]
    pub methods: Vec<String>,
    /// Rows to keep per label, for every method.
    #[arg(short = 'n', long = "n-per-label", value_name = "N")]
    pub n_per_label: usize,
    /// Real rows to test on.
    #[arg(long)]
    pub test: PathBuf,
    /// Real labelled rows that seed the methods, instead of the task file's `[seeds].path`.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Real training rows: adds a "real data" reference row and the label-faithfulness probe.
    #[arg(long, value_name = "FILE")]
    pub real_train: Option<PathBuf>,
    /// Output folder: report.html, plots/, metrics.json, and one folder per method.
    #[arg(long, default_value = "genprompt-compare")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Probe runs per evaluation.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub models: ModelArgs,
}
