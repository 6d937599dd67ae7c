//! Command-line definitions; doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod run;
pub use run::*;

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
    /// Fetch or list models (kept in GENPROMPT_HOME, default the user's cache dir).
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
    /// Download and verify models: the defaults, or the named catalogue models.
    Fetch {
        /// Catalogue names (see `genprompt models list`); none: the default models.
        names: Vec<String>,
    },
    /// Show every model genprompt knows: size, licence, whether it is present, what it is good for.
    List,
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
    /// Exit with 0 even when a label got fewer rows than asked (its call cap was reached);
    /// without it such a run exits with 3. The manifest marks the run incomplete either way.
    #[arg(long)]
    pub allow_short: bool,
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
    /// Fine-tune the whole encoder with a linear head on CPU (slow: a step of 16 tweets takes about 0.7 s on one core, longer texts more).
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
    /// Exit with 0 even when a method's label got fewer rows than asked; without it such a
    /// compare writes its report and exits with 3. The report and metrics.json mark it either way.
    #[arg(long)]
    pub allow_short: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub models: ModelArgs,
}
