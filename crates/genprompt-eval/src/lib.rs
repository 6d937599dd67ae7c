//! Downstream evaluation of a generated dataset: how well a classifier trained on it labels real
//! test texts (a linear probe on frozen embeddings, scored with accuracy and F1), and how diverse
//! the texts are (APS).
//!
//! Architecture invariant: pure computation. No IO, no printing, no clock; randomness comes in as
//! `ProbeConfig::rng_seed`, so the same inputs give the same numbers.

mod error;
mod metrics;
mod probe;

pub use error::EvalError;
pub use metrics::{Aps, ClassificationReport, LabelScores, aps, classification_report};
pub use probe::{Probe, ProbeConfig};

#[cfg(test)]
mod tests;
