//! `genprompt genes`: the LLM proposes genes; a person reviews the file it writes.

use anyhow::Result;
use genprompt::ProposalConfig;

use crate::args::GenesArgs;
use crate::convert;

pub fn run(args: GenesArgs) -> Result<()> {
    let config = ProposalConfig {
        task: args.task.clone().into(),
        examples: args.examples,
        out: args.out,
        seed: args.seed,
        per_label: Vec::new(),
        backends: convert::backends(&args.models),
    };
    let proposal = genprompt::propose_genes(&config)?;
    println!("proposed genes: {}", proposal.genes.join(", "));
    println!(
        "written to {} for review; copy the reviewed list into `genes` in {}",
        proposal.out.display(),
        args.task.display()
    );
    Ok(())
}
