//! genprompt as a library: breed labelled synthetic text datasets with LLMs and evaluate them.
//!
//! Every flow is one call on a plain config struct, with progress through an [`Observer`] and
//! cancellation through a [`CancelToken`]:
//!
//! ```no_run
//! use genprompt::{CancelToken, EvalConfig, GenerateConfig, Method};
//!
//! let cancel = CancelToken::new();
//! let config = GenerateConfig::new("task.toml", 50).with_method(Method::Genetic).with_out("out");
//! let generated = genprompt::generate(&config, &(), &cancel)?;
//! let metrics = genprompt::evaluate(&EvalConfig::new(generated.dataset, "test.jsonl"), &(), &cancel)?;
//! println!("micro-F1 {:.3}", metrics.summary.micro_f1.mean);
//! # Ok::<(), genprompt::Error>(())
//! ```
//!
//! Engines are built from [`Backends`] (the fetched embedded models, a GGUF file, an
//! OpenAI-compatible endpoint) or passed in ready-made; each call loads each engine once. The
//! CLI and the Python package are thin layers over this crate: they map their arguments onto the
//! configs, call, and render the result. Errors are one [`Error`] whose variant says who can fix
//! it (bad input, interrupted, endpoint, other failure).

mod attributes;
mod backends;
mod cancel;
mod card;
mod compare;
mod config;
mod curation;
mod dry_run;
mod embed_cache;
mod embed_file;
mod error;
mod eval;
mod generate;
mod genes;
mod models;
mod observer;
mod preview;
mod quickstart;
mod run_store;
mod subjectivity;

pub use attributes::{AttributesProposal, propose_attributes};
pub use backends::{Backends, EncoderConfig, LlmConfig, Prices, Timed};
pub use cancel::CancelToken;
pub use compare::{COMPARE_METHODS, CompareConfig, Compared, compare, method_spec};
pub use config::{
    CacheMode, Cleaning, GeneSchedule, GenerationSettings, GeneticVariant, Method, ParentSelection, PoolUpdate,
    RowSource, ScheduleKind, StoreConfig, TaskSource,
};
pub use dry_run::{DryRun, dry_run};
pub use embed_file::{Embedded, embed_file};
pub use error::{Cause, Error, ErrorKind, Result, ResultExt};
pub use eval::{
    Agreement, AgreementCurve, AgreementSummary, Classifier, EvalConfig, FinetuneOptions, FinetuneSettings,
    METRICS_FORMAT_VERSION, MeanStd, Metrics, Mix, Summary, entity_tags, evaluate, metrics_path,
};
pub use generate::{GenerateConfig, Generated, generate};
pub use genes::{GenesProposal, ProposalConfig, propose_genes};
pub use models::{ModelEntry, fetch_models, list_models};
pub use observer::{BatchProgress, Observer};
pub use preview::{Preview, PreviewLabel, preview};
pub use quickstart::{Quickstart, QuickstartConfig, quickstart};
pub use run_store::{FailedItem, journal_dir, journal_path};
pub use subjectivity::{Subjectivity, SubjectivityConfig, SubjectivityReport, TaskGap, subjectivity};

/// The domain types a caller meets in results.
pub use genprompt_core::{Manifest, Row, ShortLabel};
/// The engine seams, for callers that pass their own engines in.
pub use genprompt_embed::{EmbedError, Embeddings, Encoder, EncoderIdentity};
pub use genprompt_eval::{BootstrapReport, Interval};
pub use genprompt_llm::{ChatModel, ChatReply, ChatRequest, FinishReason, LlmError, ModelIdentity, Usage};
pub use genprompt_methods::Offspring;
