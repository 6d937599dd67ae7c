//! One module per subcommand; each maps its flags onto a library config, makes one library call
//! and prints the result.

pub mod attributes;
pub mod compare;
pub mod embed;
pub mod eval;
pub mod generate;
pub mod genes;
pub mod models;
pub mod preview;
pub mod quickstart;
pub mod subjectivity;
