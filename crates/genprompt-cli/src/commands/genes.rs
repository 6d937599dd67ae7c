use anyhow::{Context, Result};
use genprompt_data::load_task;
use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, LlmError, Sampling, schema};
use genprompt_methods::{SYSTEM_PROMPT, gene_list_schema, genes_from_json, parse_gene_list, render_gene_prompt};
use serde_json::Value;

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
        json_schema: Some(gene_list_schema()),
    };
    let (genes, reply) = ask_lists(chat.as_ref(), vec![request], genes_from_json, parse_gene_list)
        .remove(0)
        .context("the gene identification call failed")?;
    // A label is not a gene; small models often answer with the labels.
    let label_names: Vec<String> =
        loaded.task.labels().iter().map(|l| l.name.to_lowercase().replace(' ', "_")).collect();
    let genes: Vec<String> = genes.into_iter().filter(|g| !label_names.contains(g)).collect();
    if genes.is_empty() {
        anyhow::bail!("the model named no usable genes; its reply was:\n{}", reply.trim());
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
        reply.trim().lines().map(|line| format!("# {line}")).collect::<Vec<_>>().join("\n")
    );
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("proposed genes: {}", genes.join(", "));
    println!("written to {} for review; copy the reviewed list into `genes` in {}", out.display(), args.task.display());
    Ok(())
}

/// Asks for lists as structured output (requests carry their schema) and reads them with
/// `from_json`; a request whose backend cannot produce valid JSON (invalid after its retries, or
/// a schema the endpoint refuses) is asked again as free text and read with `from_text`.
/// Returns each list with the reply text it came from.
pub(crate) fn ask_lists(
    chat: &dyn ChatModel,
    requests: Vec<ChatRequest>,
    from_json: fn(&Value) -> Vec<String>,
    from_text: fn(&str) -> Vec<String>,
) -> Vec<Result<(Vec<String>, String), LlmError>> {
    let replies = chat.chat(&requests);
    let mut lists = Vec::with_capacity(requests.len());
    let mut fallback = Vec::new();
    for (idx, (request, reply)) in requests.iter().zip(replies).enumerate() {
        let parsed = reply.and_then(|reply| match &request.json_schema {
            Some(shape) => schema::parse(&reply.text, shape)
                .map(|value| (from_json(&value), reply.text.clone()))
                .map_err(LlmError::InvalidOutput),
            None => Ok((from_text(&reply.text), reply.text)),
        });
        if let Err(err @ (LlmError::InvalidOutput(_) | LlmError::Rejected(_))) = &parsed {
            tracing::warn!(request = idx, error = %err, "no valid structured reply; asking for free text instead");
            fallback.push(idx);
        }
        lists.push(parsed);
    }
    if !fallback.is_empty() {
        let free: Vec<ChatRequest> =
            fallback.iter().map(|&idx| ChatRequest { json_schema: None, ..requests[idx].clone() }).collect();
        for (idx, reply) in fallback.into_iter().zip(chat.chat(&free)) {
            lists[idx] = reply.map(|reply| (from_text(&reply.text), reply.text));
        }
    }
    lists
}
