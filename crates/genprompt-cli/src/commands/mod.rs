//! One module per subcommand; each turns its arguments into library calls and renders results.

pub mod attributes;
pub mod card;
pub mod compare;
pub mod dry_run;
pub mod embed;
pub mod eval;
pub mod generate;
pub mod genes;
pub mod models;
pub mod preview;
pub mod quickstart;
pub mod subjectivity;
