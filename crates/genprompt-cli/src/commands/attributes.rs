//! `genprompt attributes`: the LLM proposes AttrPrompt's value lists; a person reviews them.

use anyhow::Result;
use genprompt::ProposalConfig;

use crate::args::AttributesArgs;
use crate::convert;

pub fn run(args: AttributesArgs) -> Result<()> {
    let config = ProposalConfig {
        task: args.task.clone().into(),
        examples: args.examples,
        out: args.out,
        seed: args.seed,
        per_label: args.per_label,
        backends: convert::backends(&args.models),
    };
    let proposal = genprompt::propose_attributes(&config)?;
    println!("asked {} questions; {} got no usable values", proposal.n_questions, proposal.n_empty);
    println!("written to {} for review; copy the reviewed tables into {}", proposal.out.display(), args.task.display());
    Ok(())
}
