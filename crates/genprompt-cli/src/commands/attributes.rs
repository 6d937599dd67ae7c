use anyhow::{Context, Result};
use genprompt_core::LabelId;
use genprompt_data::load_task;
use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, Sampling};
use genprompt_methods::{
    SYSTEM_PROMPT, parse_value_list, render_attribute_prompt, value_list_schema, values_from_json,
};

use crate::args::AttributesArgs;
use crate::backends::{LlmChoice, load_llm};

/// One LLM call per attribute (per label for `--per-label` ones), then a reviewable TOML file in
/// the task-file format, so reviewed lists can be pasted as they are.
pub fn run(args: AttributesArgs) -> Result<()> {
    let loaded = load_task(&args.task, args.examples.as_deref())?;
    let task = &loaded.task;
    if task.genes.is_empty() {
        return Err(crate::BadInput("the task has no genes; list the attributes under `genes` first".into()).into());
    }
    for name in &args.per_label {
        if !task.genes.iter().any(|g| &g.name == name) {
            return Err(crate::BadInput(format!("--per-label {name}: not one of the task's genes")).into());
        }
    }
    let chat = load_llm(&args.models, &LlmChoice::resolve(&args.models, loaded.llm.as_ref()))?;
    // (label or None, attribute) for every question, shared ones first.
    let mut questions: Vec<(Option<LabelId>, &str)> = Vec::new();
    for gene in task.genes.iter().filter(|g| !args.per_label.contains(&g.name)) {
        questions.push((None, &gene.name));
    }
    for label in task.label_ids() {
        for name in &args.per_label {
            questions.push((Some(label), name));
        }
    }
    let requests: Vec<ChatRequest> = questions
        .iter()
        .enumerate()
        .map(|(idx, (label, attribute))| ChatRequest {
            messages: vec![
                ChatMessage::system(SYSTEM_PROMPT),
                ChatMessage::user(render_attribute_prompt(task, attribute, *label)),
            ],
            sampling: Sampling {
                temperature: 0.7,
                top_p: 0.95,
                max_tokens: 120,
                stop: Vec::new(),
                seed: args.seed.wrapping_add(idx as u64),
            },
            json_schema: Some(value_list_schema()),
        })
        .collect();
    let replies = super::genes::ask_lists(chat.as_ref(), requests, values_from_json, parse_value_list);
    let mut shared = String::from("[attributes]\n");
    let mut per_label = String::new();
    let mut current_label = None;
    let mut n_empty = 0;
    for ((label, attribute), reply) in questions.iter().zip(replies) {
        let (values, _) = reply.with_context(|| format!("asking for values of \"{attribute}\" failed"))?;
        n_empty += usize::from(values.is_empty());
        let quoted: Vec<String> = values.iter().map(|v| toml::Value::String(v.clone()).to_string()).collect();
        let line = if values.is_empty() {
            format!("# {attribute} = []  # the model proposed nothing usable; write values yourself\n")
        } else {
            format!("{attribute} = [{}]\n", quoted.join(", "))
        };
        match label {
            None => shared.push_str(&line),
            Some(id) => {
                if current_label != Some(*id) {
                    per_label.push_str(&format!("\n[attributes_per_label.{}]\n", task.label(*id).name));
                    current_label = Some(*id);
                }
                per_label.push_str(&line);
            }
        }
    }
    let out = args.out.unwrap_or_else(|| args.task.with_extension("attributes.toml"));
    let text = format!(
        "# AttrPrompt values proposed by {} for task \"{}\" (genprompt attributes, seed {}).\n\
# Review them: fix, drop or add values, then copy the tables into the task file.\n{shared}{per_label}",
        chat.identity(),
        task.name,
        args.seed
    );
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("asked {} questions; {} got no usable values", questions.len(), n_empty);
    println!("written to {} for review; copy the reviewed tables into {}", out.display(), args.task.display());
    Ok(())
}
