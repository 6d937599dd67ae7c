//! Cancellation: a flag the caller sets (the CLI from its Ctrl-C handler, Python on
//! `KeyboardInterrupt`) and the flows read between batches. Nothing received is lost: every reply
//! and kept row is journaled as it arrives, so running the same call again continues the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cloneable stop request; all clones share one flag.
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// A token reading (and setting) `flag`, e.g. one a signal handler sets.
    pub fn from_flag(flag: Arc<AtomicBool>) -> CancelToken {
        CancelToken { flag }
    }

    /// The shared flag, for code that sets it without knowing this type (signal handlers).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Asks the work to stop after the batch in flight.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once cancelled, for loops outside the generation run (embedding, eval).
    pub(crate) fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() { Err(genprompt_methods::MethodError::Interrupted.into()) } else { Ok(()) }
    }
}
