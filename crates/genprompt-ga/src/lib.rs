//! Genetic Prompt (Han et al., EMNLP Findings 2025) for classification tasks.
//!
//! Per label: a `Pool` seeded with real rows; each batch selects `Parents` (most distant unused
//! pair by default), assigns every gene a role (`Crossover`: inherit from parent 1, from parent 2,
//! or mutate), renders one prompt per offspring, asks the `ChatModel`, cleans the replies, embeds
//! the kept offspring and adds them to the pool so the next batch can breed from them.
//!
//! Architecture invariant: no IO, no clock, no environment. The world is reached only through the
//! `ChatModel`, `Encoder` and `RunObserver` traits, and randomness only through `rng_for`.

mod clean;
mod crossover;
mod error;
mod pool;
mod prompt;
mod run;
mod selection;

pub use clean::{Cleaning, Rejection, clean_reply};
pub use crossover::{GeneSchedule, assign_genes};
pub use error::GaError;
pub use pool::{Member, Pool};
pub use prompt::{SYSTEM_PROMPT, render_prompt};
pub use run::{BatchReport, GaConfig, GaOutcome, Offspring, RunObserver, SamplingConfig, run_genetic};
pub use selection::{ParentSelection, Parents, select_parents};
