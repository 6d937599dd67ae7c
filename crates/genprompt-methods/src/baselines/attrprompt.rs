use std::collections::BTreeMap;

use genprompt_core::{LabelId, Lineage, RngStream, SeedRow, Task, rng_for};
use genprompt_embed::Embeddings;
use genprompt_llm::ChatMessage;
use rand::Rng;
use serde_json::json;

use super::draw_examples;
use crate::prompt_parts::{examples_and_cue, meaning, tag_instruction, target};
use crate::{Draft, Method, MethodError};

/// AttrPrompt (Yu et al. 2023): one value per attribute drawn uniformly from the task's value lists
/// (the label's own list where it has one), plus two random real examples.
#[derive(Clone)]
pub struct AttrPrompt<'a> {
    task: &'a Task,
    rng_seed: u64,
    label: LabelId,
    seed_rows: Vec<SeedRow>,
    /// Attribute name and the label's values, in task order.
    values: Vec<(String, Vec<String>)>,
}

const N_EXAMPLES: usize = 2;

impl<'a> AttrPrompt<'a> {
    pub fn new(task: &'a Task, rng_seed: u64) -> AttrPrompt<'a> {
        AttrPrompt { task, rng_seed, label: LabelId(0), seed_rows: Vec::new(), values: Vec::new() }
    }
}

pub(crate) fn render(task: &Task, label_id: LabelId, attributes: &[(&str, &str)], examples: &[&str]) -> String {
    let label = task.label(label_id);
    let mut prompt = format!("You need to generate synthetic data for the {} task.\n", task.domain);
    prompt.push_str(&format!("Write {}. {}\n", target(task, label), meaning(task, label)));
    prompt.push_str(&tag_instruction(task));
    prompt.push_str("Requirements:\n");
    for (idx, (attribute, value)) in attributes.iter().enumerate() {
        prompt.push_str(&format!("{}. The {attribute} should be: {value}.\n", idx + 1));
    }
    prompt.push('\n');
    prompt.push_str(&examples_and_cue(task, label, examples));
    prompt
}

impl Method for AttrPrompt<'_> {
    fn fresh(&self) -> Box<dyn Method + '_> {
        Box::new(self.clone())
    }

    fn name(&self) -> &'static str {
        "attrprompt"
    }

    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("examples_per_prompt", json!(N_EXAMPLES)), ("attributes", json!(self.task.attributes.names()))]
    }

    fn start_label(&mut self, label: LabelId, seed_rows: &[SeedRow], _: Embeddings) -> Result<(), MethodError> {
        let label_name = &self.task.label(label).name;
        if self.task.attributes.is_empty() {
            return Err(MethodError::NoAttributes);
        }
        if seed_rows.len() < N_EXAMPLES {
            return Err(MethodError::TooFewSeedRows {
                label: label_name.clone(),
                n_seed_rows: seed_rows.len(),
                method: "AttrPrompt",
                needed: N_EXAMPLES,
            });
        }
        self.values = Vec::new();
        for attribute in self.task.attributes.names() {
            let values = self.task.attributes.values(label_name, attribute).unwrap_or_default();
            if values.is_empty() {
                return Err(MethodError::NoAttributeValues {
                    attribute: attribute.to_string(),
                    label: label_name.clone(),
                });
            }
            self.values.push((attribute.to_string(), values.to_vec()));
        }
        self.label = label;
        self.seed_rows = seed_rows.to_vec();
        Ok(())
    }

    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft> {
        let mut rng = rng_for(self.rng_seed, RngStream::Draws { label: self.label.0, batch });
        (0..n)
            .map(|_| {
                let chosen: Vec<(&str, &str)> = self
                    .values
                    .iter()
                    .map(|(attribute, values)| (attribute.as_str(), values[rng.random_range(0..values.len())].as_str()))
                    .collect();
                let examples = draw_examples(&self.seed_rows, N_EXAMPLES, &mut rng);
                let texts: Vec<&str> = examples.iter().map(|row| row.text.as_str()).collect();
                let attributes: BTreeMap<String, String> =
                    chosen.iter().map(|(a, v)| (a.to_string(), v.to_string())).collect();
                Draft {
                    messages: vec![ChatMessage::user(render(self.task, self.label, &chosen, &texts))],
                    lineage: Lineage {
                        examples: examples.iter().map(|row| row.id()).collect(),
                        attributes,
                        batch,
                        ..Lineage::default()
                    },
                    shown_texts: texts.iter().map(|t| t.to_string()).collect(),
                }
            })
            .collect()
    }

    fn kept(&mut self, _: &[(String, String)], _: &Embeddings) -> Result<(), MethodError> {
        Ok(())
    }
}
