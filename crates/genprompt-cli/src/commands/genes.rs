use anyhow::{Context, Result};
use genprompt_data::load_task;
use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, Sampling};
use genprompt_methods::{SYSTEM_PROMPT, parse_gene_list, render_gene_prompt};

use crate::args::GenesArgs;
use crate::backends::{LlmChoice, load_llm};

/// One LLM call, then a reviewable file: the paper's human-AI step keeps a person in the loop.
pub fn run(args: GenesArgs) -> Result<()> {
    let loaded = load_task(&args.task, args.examples.as_deref())?;
    let chat = load_llm(&args.models, &LlmChoice::resolve(&args.models, loaded.llm.as_ref()))?;
    let prompt = render_gene_prompt(&loaded.task, &loaded.seed_rows);
    let request = ChatRequest {
        messages: vec![ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(prompt)],
        sampling: Sampling { temperature: 0.2, top_p: 1.0, max_tokens: 160, stop: Vec::new(), seed: args.seed },
        json_schema: None,
    };
    let reply = chat.chat(&[request]).remove(0).context("the gene identification call failed")?;
    // A label is not a gene; small models often answer with the labels.
    let label_names: Vec<String> =
        loaded.task.labels().iter().map(|l| l.name.to_lowercase().replace(' ', "_")).collect();
    let genes: Vec<String> = parse_gene_list(&reply.text).into_iter().filter(|g| !label_names.contains(g)).collect();
    if genes.is_empty() {
        anyhow::bail!("the model named no usable genes; its reply was:\n{}", reply.text.trim());
    }
    let out = args.out.unwrap_or_else(|| args.task.with_extension("genes.toml"));
    let quoted: Vec<String> = genes.iter().map(|g| format!("\"{g}\"")).collect();
    let text = format!(
        "# Genes proposed by {} for task \"{}\" (genprompt genes, seed {}).\n\
# Review them: rename, drop or add genes, then copy the line into the task file.\n\
genes = [{}]\n\n# The model's reply, for reference:\n{}\n",
        chat.identity(),
        loaded.task.name,
        args.seed,
        quoted.join(", "),
        reply.text.trim().lines().map(|line| format!("# {line}")).collect::<Vec<_>>().join("\n")
    );
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("proposed genes: {}", genes.join(", "));
    println!("written to {} for review; copy the reviewed list into `genes` in {}", out.display(), args.task.display());
    Ok(())
}
