//! Domain types of genprompt: Task, Label, Gene, Row, Crossover, Lineage, Manifest, and the seeded
//! random streams every method draws from.
//!
//! Architecture invariant: this crate does no IO, reads no environment and no clock. Everything
//! that varies between runs comes in as an argument, which is what makes runs reproducible.

mod manifest;
mod rng;
mod row;
mod task;

pub use manifest::{
    Cost, EndpointUsage, LabelCounts, MANIFEST_FORMAT_VERSION, Manifest, ManifestError, ModelInfo, ReasonCount,
    RejectionCounts, RequestCounts, ShortLabel, Timings, TokenUsage, short_labels,
};
pub use rng::{RngStream, rng_for, run_seed, stream_seed};
pub use row::{Crossover, GeneRole, Lineage, Row, SeedRow};
pub use task::{Attributes, Gene, Label, LabelId, RelationSpec, SeedSelection, Task, TaskKind, ValueLists};
