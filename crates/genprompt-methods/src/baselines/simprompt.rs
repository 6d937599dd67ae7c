use genprompt_core::{LabelId, Lineage, RngStream, SeedRow, Task, rng_for};
use genprompt_embed::Embeddings;
use genprompt_llm::ChatMessage;
use serde_json::json;

use super::draw_examples;
use crate::prompt_parts::{examples_and_cue, meaning, tag_instruction};
use crate::{Draft, Method, MethodError};

/// SimPrompt (Ye et al. 2022; Yu et al. 2023): a class-conditional prompt plus two random real
/// examples of the label, as the Genetic Prompt paper runs it.
#[derive(Clone)]
pub struct SimPrompt<'a> {
    task: &'a Task,
    rng_seed: u64,
    label: LabelId,
    seed_rows: Vec<SeedRow>,
}

/// Real examples shown per prompt (the paper: 2).
const N_EXAMPLES: usize = 2;

impl<'a> SimPrompt<'a> {
    pub fn new(task: &'a Task, rng_seed: u64) -> SimPrompt<'a> {
        SimPrompt { task, rng_seed, label: LabelId(0), seed_rows: Vec::new() }
    }
}

/// Renders SimPrompt's user message: the official code's classification wording ("Suppose you are
/// a writer for ...") or its relation wording, then the examples.
pub(crate) fn render(task: &Task, label_id: LabelId, examples: &[&str]) -> String {
    let label = task.label(label_id);
    let mut prompt = match &task.relation {
        Some(_) => format!(
            "Your task is to write a {} about the '{}' relation between two entities. {}\n",
            task.text_kind,
            label.name,
            meaning(task, label)
        ),
        None => format!(
            "Suppose you are a writer for {}. Please write a synthetic {} for the category '{}'. {}\n",
            task.domain,
            task.text_kind,
            label.name,
            meaning(task, label)
        ),
    };
    prompt.push_str(&tag_instruction(task));
    prompt.push('\n');
    prompt.push_str(&examples_and_cue(task, label, examples));
    prompt
}

impl Method for SimPrompt<'_> {
    fn fresh(&self) -> Box<dyn Method + '_> {
        Box::new(self.clone())
    }

    fn name(&self) -> &'static str {
        "simprompt"
    }

    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("examples_per_prompt", json!(N_EXAMPLES))]
    }

    fn start_label(&mut self, label: LabelId, seed_rows: &[SeedRow], _: Embeddings) -> Result<(), MethodError> {
        if seed_rows.len() < N_EXAMPLES {
            return Err(MethodError::TooFewSeedRows {
                label: self.task.label(label).name.clone(),
                n_seed_rows: seed_rows.len(),
                method: "SimPrompt",
                needed: N_EXAMPLES,
            });
        }
        self.label = label;
        self.seed_rows = seed_rows.to_vec();
        Ok(())
    }

    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft> {
        let mut rng = rng_for(self.rng_seed, RngStream::Draws { label: self.label.0, batch });
        (0..n)
            .map(|_| {
                let examples = draw_examples(&self.seed_rows, N_EXAMPLES, &mut rng);
                let texts: Vec<&str> = examples.iter().map(|row| row.text.as_str()).collect();
                Draft {
                    messages: vec![ChatMessage::user(render(self.task, self.label, &texts))],
                    lineage: Lineage {
                        examples: examples.iter().map(|row| row.id()).collect(),
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
