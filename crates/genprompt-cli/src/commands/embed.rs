//! `genprompt embed`: an `embedding` field on every row of a JSONL file.

use anyhow::Result;
use genprompt::CancelToken;

use crate::args::EmbedArgs;
use crate::convert;
use crate::progress::Progress;

pub fn run(args: EmbedArgs, progress: &Progress, cancel: &CancelToken) -> Result<()> {
    let backends = convert::backends(&args.models);
    let embedded = genprompt::embed_file(&args.input, &args.output, &backends, progress, cancel)?;
    println!(
        "embedded {} rows ({:.1} rows/s) with {} into {}",
        embedded.n_rows,
        embedded.rows_per_s,
        embedded.encoder,
        embedded.output.display()
    );
    Ok(())
}
