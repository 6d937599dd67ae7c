//! AttrPrompt's value lists, proposed by the LLM: one call per attribute (per label for the
//! per-label ones), written as a reviewable TOML file in the task-file format, so reviewed lists
//! can be pasted as they are.

use std::path::PathBuf;

use genprompt_core::LabelId;
use genprompt_llm::{ChatMessage, ChatRequest, Sampling};
use genprompt_methods::{
    SYSTEM_PROMPT, parse_value_list, render_attribute_prompt, value_list_schema, values_from_json,
};

use crate::error::ResultExt;
use crate::genes::{ProposalConfig, ask_lists, write_text};
use crate::{Error, Result};

/// Value lists proposed by the LLM and the file they were written to.
#[derive(Clone, Debug)]
pub struct AttributesProposal {
    /// Questions asked (one per shared attribute, one per label and per-label attribute).
    pub n_questions: usize,
    /// Questions whose reply held no usable value (written as comments).
    pub n_empty: usize,
    pub out: PathBuf,
}

pub fn propose_attributes(config: &ProposalConfig) -> Result<AttributesProposal> {
    let loaded = config.task.load(config.examples.as_deref())?;
    let task = &loaded.task;
    if task.genes.is_empty() {
        return Err(Error::bad_input("the task has no genes; list the attributes under `genes` first"));
    }
    for name in &config.per_label {
        if !task.genes.iter().any(|g| &g.name == name) {
            return Err(Error::bad_input(format!("--per-label {name}: not one of the task's genes")));
        }
    }
    let chat = config.backends.load_llm(loaded.llm.as_ref())?.model;
    // (label or None, attribute) for every question, shared ones first.
    let mut questions: Vec<(Option<LabelId>, &str)> = Vec::new();
    for gene in task.genes.iter().filter(|g| !config.per_label.contains(&g.name)) {
        questions.push((None, &gene.name));
    }
    for label in task.label_ids() {
        for name in &config.per_label {
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
            sampling: Sampling::new(0.7, 0.95, 120, config.seed.wrapping_add(idx as u64)),
            json_schema: Some(value_list_schema()),
        })
        .collect();
    let replies = ask_lists(chat.as_ref(), requests, values_from_json, parse_value_list);
    let mut shared = String::from("[attributes]\n");
    let mut per_label = String::new();
    let mut current_label = None;
    let mut n_empty = 0;
    for ((label, attribute), reply) in questions.iter().zip(replies) {
        let (values, _) = reply.with_context(|| format!("asking for values of \"{attribute}\" failed"))?;
        n_empty += usize::from(values.is_empty());
        let quoted: Vec<String> = values.iter().map(|v| toml::Value::String(v.clone()).to_string()).collect();
        let line = if values.is_empty() {
            format!("# {} = []  # the model proposed nothing usable; write values yourself\n", toml_key(attribute))
        } else {
            format!("{} = [{}]\n", toml_key(attribute), quoted.join(", "))
        };
        match label {
            None => shared.push_str(&line),
            Some(id) => {
                if current_label != Some(*id) {
                    per_label.push_str(&format!("\n[attributes_per_label.{}]\n", toml_key(&task.label(*id).name)));
                    current_label = Some(*id);
                }
                per_label.push_str(&line);
            }
        }
    }
    let out = config.out.clone().unwrap_or_else(|| config.task.path().with_extension("attributes.toml"));
    let text = format!(
        "# AttrPrompt values proposed by {} for task \"{}\" (genprompt attributes, seed {}).\n\
# Review them: fix, drop or add values, then copy the tables into the task file.\n{shared}{per_label}",
        chat.identity(),
        task.name,
        config.seed
    );
    write_text(&out, &text)?;
    Ok(AttributesProposal { n_questions: questions.len(), n_empty, out })
}

/// `name` as a TOML key: bare where TOML allows it, else a string quoted by the toml crate, so a
/// label such as AG News's `Sci/Tech` gives a table header that parses.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_string() } else { toml::Value::String(name.to_string()).to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_that_are_not_bare_are_quoted_so_the_table_parses() {
        for name in ["Sci/Tech", "a b", "naïve", "", "x.y", "\"q\"", "style"] {
            let text =
                format!("[attributes_per_label.{}]\n{} = [\"v\"]\n", super::toml_key(name), super::toml_key(name));
            let parsed: toml::Table = toml::from_str(&text).unwrap_or_else(|err| panic!("{name:?}: {err}\n{text}"));
            assert_eq!(parsed["attributes_per_label"][name][name][0].as_str(), Some("v"), "{name:?}");
        }
        assert_eq!(super::toml_key("style"), "style");
    }
}
