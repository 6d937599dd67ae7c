/// Why a probe could not be trained or a measure computed. Inputs come from datasets, caches and
/// encoders outside this crate, so bad input is reported as an error rather than a panic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    #[error("cannot train a probe on an empty training set")]
    EmptyTrainingSet,
    #[error("cannot train a probe with no labels")]
    NoLabels,
    #[error("{n_rows} embedding rows but {n_row_labels} row labels")]
    LengthMismatch { n_rows: usize, n_row_labels: usize },
    #[error("row {row_idx} has label index {label_idx}, but there are only {n_labels} labels")]
    LabelOutOfRange { row_idx: usize, label_idx: usize, n_labels: usize },
    #[error("embedding row {row_idx} contains a non-finite value")]
    NonFinite { row_idx: usize },
    #[error("invalid probe config: {0}")]
    InvalidConfig(&'static str),
    #[error("synthetic embeddings of dimension {synthetic} compared with real ones of dimension {real}")]
    DimensionMismatch { synthetic: usize, real: usize },
    #[error("{n_rows} embedding rows but {n_texts} texts")]
    TextCountMismatch { n_rows: usize, n_texts: usize },
    #[error("CMD needs at least one moment")]
    NoMoments,
}
