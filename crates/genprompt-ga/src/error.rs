use genprompt_embed::EmbedError;

#[derive(Debug, thiserror::Error)]
pub enum GaError {
    #[error("label \"{label}\" has {n_seed_rows} seed row(s); Genetic Prompt needs at least 2 to form parents")]
    TooFewSeedRows { label: String, n_seed_rows: usize },
    #[error("the task has no genes; list them under `genes` in the task file")]
    NoGenes,
    #[error("relation extraction tasks are not supported by this version of Genetic Prompt yet")]
    UnsupportedKind,
    #[error("embedding failed: {0}")]
    Embed(#[from] EmbedError),
}
