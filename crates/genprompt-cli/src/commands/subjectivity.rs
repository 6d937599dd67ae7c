//! `genprompt subjectivity`: task-level gaps between real and synthetic training, next to a
//! subjectivity ranking (Li et al. 2023).

use anyhow::Result;
use genprompt::SubjectivityConfig;

use crate::args::SubjectivityArgs;
use crate::progress::Progress;
use crate::tables::gap_table;

pub fn run(args: SubjectivityArgs, progress: &Progress) -> Result<()> {
    let config = SubjectivityConfig { ranking: args.ranking, results: args.results, out: args.out };
    let result = genprompt::subjectivity(&config, progress)?;
    let report = &result.report;
    println!("{}", gap_table(report));
    match report.spearman_rho {
        Some(rho) => println!("Spearman rho (subjectivity vs gap) over {} tasks: {rho:.3}", report.n_tasks),
        None => println!(
            "Spearman rho: undefined over {} tasks (needs 2 or more with both results, and neither side constant)",
            report.n_tasks
        ),
    }
    if let Some(note) = &result.note {
        println!("ranking note: {}", note.trim());
    }
    if let Some(path) = &result.written {
        println!("subjectivity: {}", path.display());
    }
    Ok(())
}
