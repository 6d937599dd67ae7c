//! The human-in-the-loop proposals: genes (which attributes matter for a task, Genetic Prompt's
//! first step) and AttrPrompt's value lists. Each asks the LLM and writes a reviewable TOML file
//! beside the task file; nothing is used until a person copies it into the task file.

use std::path::PathBuf;

use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, LlmError, Sampling, schema};
use genprompt_methods::{SYSTEM_PROMPT, gene_list_schema, genes_from_json, parse_gene_list, render_gene_prompt};
use serde_json::Value;

use crate::error::ResultExt;
use crate::{Backends, Error, Result, TaskSource};

/// A proposal request: the task, optional other real rows, where to write, and the LLM.
#[derive(Clone, Debug, Default)]
pub struct ProposalConfig {
    pub task: TaskSource,
    /// Real labelled rows instead of the task's `[seeds].path`.
    pub examples: Option<PathBuf>,
    /// Where to write the proposal (default: beside the task file, `<task>.genes.toml` or
    /// `<task>.attributes.toml`).
    pub out: Option<PathBuf>,
    /// Random seed of the LLM calls.
    pub seed: u64,
    /// For attributes: the genes whose values depend on the label, asked once per label.
    pub per_label: Vec<String>,
    pub backends: Backends,
}

/// Genes proposed by the LLM and the file they were written to.
#[derive(Clone, Debug)]
pub struct GenesProposal {
    pub genes: Vec<String>,
    pub out: PathBuf,
    /// The model's reply, for reference.
    pub reply: String,
}

/// One LLM call, then a reviewable file: the paper's human-AI step keeps a person in the loop.
pub fn propose_genes(config: &ProposalConfig) -> Result<GenesProposal> {
    let loaded = config.task.load(config.examples.as_deref())?;
    let chat = config.backends.load_llm(loaded.llm.as_ref())?.model;
    let prompt = render_gene_prompt(&loaded.task, &loaded.seed_rows);
    let request = ChatRequest {
        messages: vec![ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(prompt)],
        sampling: Sampling::new(0.2, 1.0, 160, config.seed),
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
        return Err(Error::failed(format!("the model named no usable genes; its reply was:\n{}", reply.trim())));
    }
    let out = config.out.clone().unwrap_or_else(|| config.task.path().with_extension("genes.toml"));
    let quoted: Vec<String> = genes.iter().map(|g| format!("\"{g}\"")).collect();
    let text = format!(
        "# Genes proposed by {} for task \"{}\" (genprompt genes, seed {}).\n\
# Review them: rename, drop or add genes, then copy the line into the task file.\n\
genes = [{}]\n\n# The model's reply, for reference:\n{}\n",
        chat.identity(),
        loaded.task.name,
        config.seed,
        quoted.join(", "),
        reply.trim().lines().map(|line| format!("# {line}")).collect::<Vec<_>>().join("\n")
    );
    write_text(&out, &text)?;
    Ok(GenesProposal { genes, out, reply })
}

pub(crate) fn write_text(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|err| Error::new(err).context(format!("cannot write {}", path.display())))
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
