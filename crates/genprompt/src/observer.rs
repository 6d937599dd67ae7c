//! How long work reports to its caller: steps, per-label generation progress with the rows kept in
//! each batch, counters for embedding and fine-tuning, and notices for the user. The CLI draws
//! these on stderr; the Python package forwards them to a callback. Every method has a default
//! that does nothing, so an observer implements only what it shows.

use genprompt_methods::Offspring;

/// Receives progress events; called from the thread doing the work.
pub trait Observer: Sync {
    /// A step of a longer job ("loading models", "== genetic").
    fn step(&self, _message: &str) {}

    /// Something the user should read: why a run stopped and how to go on, an ignored input.
    fn notice(&self, _message: &str) {}

    /// Generation of a label starts.
    fn label_started(&self, _label: &str, _n_seed_rows: usize, _wanted: usize) {}

    /// A batch of a label is finished and its kept rows are journaled.
    fn batch_finished(&self, _batch: &BatchProgress<'_>) {}

    /// A counter of `total` items starts (0: unknown), e.g. rows to embed.
    fn counter_started(&self, _what: &str, _total: u64) {}

    /// The counter reached `done`; `message` says of what (rows, steps and loss).
    fn counter_updated(&self, _done: u64, _message: &str) {}

    /// The current counter or label is over; a progress bar can be cleared.
    fn cleared(&self) {}
}

/// The observer that shows nothing.
impl Observer for () {}

/// One finished generation batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchProgress<'a> {
    pub label: &'a str,
    pub batch: usize,
    pub n_requests: usize,
    pub n_kept: usize,
    pub kept_so_far: usize,
    pub wanted: usize,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The rows kept in this batch, as they go into the dataset.
    pub kept: &'a [Offspring],
    /// Replay, cache, retry and spending figures of the run so far, as one line.
    pub status: &'a str,
}
