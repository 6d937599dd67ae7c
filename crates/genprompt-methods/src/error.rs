use genprompt_embed::EmbedError;

#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    #[error("label \"{label}\" has {n_seed_rows} seed row(s); {method} needs at least {needed}")]
    TooFewSeedRows { label: String, n_seed_rows: usize, method: &'static str, needed: usize },
    #[error("the task has no genes; list them under `genes` in the task file")]
    NoGenes,
    #[error("AttrPrompt needs value lists: add an [attributes] table to the task file")]
    NoAttributes,
    #[error("attribute \"{attribute}\" has no values for label \"{label}\"")]
    NoAttributeValues { attribute: String, label: String },
    /// Embeddings that do not match what they embed: a bug of the encoder or the caller.
    #[error("{what} do not fit: {detail}")]
    EmbeddingShape { what: &'static str, detail: String },
    #[error("embedding failed: {0}")]
    Embed(#[from] EmbedError),
    #[error(
        "{failed} of {calls} LLM calls failed, more than the allowed share of {:.0}%; last error: {last_error}",
        limit * 100.0
    )]
    TooManyFailures { failed: usize, calls: usize, limit: f64, last_error: String },
    #[error("interrupted")]
    Interrupted,
    /// A method, chat session or encoder used out of its documented contract (e.g. a session
    /// returning a request it was never given): a bug outside the loop, reported, not a panic.
    #[error("{0}")]
    Contract(String),
    /// The observer (e.g. the run journal) could not take a batch.
    #[error(transparent)]
    Observer(Box<dyn std::error::Error + Send + Sync>),
}

impl MethodError {
    /// Whether the error comes from the task or its data (exit code 2) rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            MethodError::Embed(_)
                | MethodError::EmbeddingShape { .. }
                | MethodError::TooManyFailures { .. }
                | MethodError::Interrupted
                | MethodError::Contract(_)
                | MethodError::Observer(_)
        )
    }
}
