//! Zero-shot and few-shot generation as in Li, Zhu, Lu, Yin (EMNLP 2023): a context prompt that
//! sets the scene, a generation prompt naming the label and a word limit, and for zero-shot, every
//! few requests, a request for something more diverse than before.

use genprompt_core::{LabelId, Lineage, RngStream, SeedRow, Task, rng_for};
use genprompt_embed::Embeddings;
use genprompt_llm::ChatMessage;
use serde_json::json;

use super::draw_examples;
use crate::prompt_parts::{definition, one_line, tag_instruction};
use crate::{Draft, Method, MethodError};

/// Every this many requests of a label, zero-shot shows its last replies and asks for more diversity.
const DIVERSITY_EVERY: usize = 5;
/// Earlier replies shown before the diversity request.
const N_PREVIOUS: usize = 2;
/// Real examples (of any label) shown per few-shot prompt.
const N_SHOTS: usize = 4;
/// The paper's diversity prompt, verbatim.
const DIVERSITY_PROMPT: &str = "Can you provide something more diverse compared to the previously generated data?";
const NO_COPY: &str = "You should imitate the examples I have provided, but you cannot simply modify or rewrite the examples I have given.";

fn context(task: &Task) -> String {
    task.context.clone().unwrap_or_else(|| format!("Suppose you are writing {}s for {}.", task.text_kind, task.domain))
}

/// The generation prompt: label, its meaning, tags for relations, word limit.
fn generation_prompt(task: &Task, label_id: LabelId) -> String {
    let label = task.label(label_id);
    let what = match &task.relation {
        Some(_) => format!("a {} expressing the '{}' relation between two entities", task.text_kind, label.name),
        None => format!("a {} with the label '{}'", task.text_kind, label.name),
    };
    let mut prompt = format!("Write {what}. '{}' means: {}\n", label.name, definition(label));
    prompt.push_str(&tag_instruction(task));
    if let Some(max_words) = task.max_words {
        prompt.push_str(&format!("Use at most {max_words} words. "));
    }
    prompt.push_str(&format!("Reply with the {} only.", task.text_kind));
    prompt
}

#[derive(Clone)]
pub struct ZeroShot<'a> {
    task: &'a Task,
    label: LabelId,
    n_requests: usize,
    /// The label's most recent kept texts, newest last.
    recent: Vec<String>,
}

impl<'a> ZeroShot<'a> {
    pub fn new(task: &'a Task) -> ZeroShot<'a> {
        ZeroShot { task, label: LabelId(0), n_requests: 0, recent: Vec::new() }
    }
}

impl Method for ZeroShot<'_> {
    fn fresh(&self) -> Box<dyn Method + '_> {
        Box::new(self.clone())
    }

    fn name(&self) -> &'static str {
        "zeroshot"
    }

    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("diversity_every", json!(DIVERSITY_EVERY)), ("context", json!(context(self.task)))]
    }

    fn start_label(&mut self, label: LabelId, _: &[SeedRow], _: Embeddings) -> Result<(), MethodError> {
        self.label = label;
        self.n_requests = 0;
        self.recent.clear();
        Ok(())
    }

    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft> {
        let generation = generation_prompt(self.task, self.label);
        let opening = format!("{}\n{generation}", context(self.task));
        (0..n)
            .map(|_| {
                self.n_requests += 1;
                let mut messages = vec![ChatMessage::user(opening.clone())];
                if self.n_requests.is_multiple_of(DIVERSITY_EVERY) && !self.recent.is_empty() {
                    // Replay the last replies as the conversation so far, then ask for diversity.
                    for (idx, previous) in self.recent.iter().enumerate() {
                        if idx > 0 {
                            messages.push(ChatMessage::user(generation.clone()));
                        }
                        messages.push(ChatMessage { role: genprompt_llm::Role::Assistant, content: previous.clone() });
                    }
                    messages.push(ChatMessage::user(format!("{DIVERSITY_PROMPT}\n{generation}")));
                }
                Draft { messages, lineage: Lineage { batch, ..Lineage::default() }, shown_texts: self.recent.clone() }
            })
            .collect()
    }

    fn kept(&mut self, offspring: &[(String, String)], _: &Embeddings) -> Result<(), MethodError> {
        self.recent.extend(offspring.iter().map(|(_, text)| text.clone()));
        let excess = self.recent.len().saturating_sub(N_PREVIOUS);
        self.recent.drain(..excess);
        Ok(())
    }
}

#[derive(Clone)]
pub struct FewShot<'a> {
    task: &'a Task,
    rng_seed: u64,
    label: LabelId,
    /// Every label's seed rows, with the label name, to draw shots from.
    shots: Vec<(String, SeedRow)>,
}

impl<'a> FewShot<'a> {
    /// `seed_rows[label]` are the real rows of each label; shots are drawn across all labels.
    pub fn new(task: &'a Task, seed_rows: &[Vec<SeedRow>], rng_seed: u64) -> FewShot<'a> {
        let shots = task
            .label_ids()
            .flat_map(|id| seed_rows[id.0].iter().map(move |row| (task.label(id).name.clone(), row.clone())))
            .collect();
        FewShot { task, rng_seed, label: LabelId(0), shots }
    }
}

impl Method for FewShot<'_> {
    fn fresh(&self) -> Box<dyn Method + '_> {
        Box::new(self.clone())
    }

    fn name(&self) -> &'static str {
        "fewshot"
    }

    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("shots_per_prompt", json!(N_SHOTS)), ("context", json!(context(self.task)))]
    }

    fn start_label(&mut self, label: LabelId, _: &[SeedRow], _: Embeddings) -> Result<(), MethodError> {
        self.label = label;
        Ok(())
    }

    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft> {
        let mut rng = rng_for(self.rng_seed, RngStream::Draws { label: self.label.0, batch });
        let rows: Vec<SeedRow> = self.shots.iter().map(|(_, row)| row.clone()).collect();
        (0..n)
            .map(|_| {
                let drawn = draw_examples(&rows, N_SHOTS, &mut rng);
                let mut prompt = format!("{}\nHere are examples with their labels:\n", context(self.task));
                for row in &drawn {
                    // Invariant: `rows` are the shots' rows, so each drawn row has its shot.
                    let label = &self.shots.iter().find(|(_, shot)| shot.line == row.line).expect("drawn from shots").0;
                    prompt.push_str(&format!("Label: {label}\nText: {}\n", one_line(&row.text)));
                }
                prompt.push_str(&format!("{NO_COPY}\n{}", generation_prompt(self.task, self.label)));
                Draft {
                    messages: vec![ChatMessage::user(prompt)],
                    lineage: Lineage {
                        examples: drawn.iter().map(|row| row.id()).collect(),
                        batch,
                        ..Lineage::default()
                    },
                    shown_texts: drawn.iter().map(|row| row.text.clone()).collect(),
                }
            })
            .collect()
    }

    fn kept(&mut self, _: &[(String, String)], _: &Embeddings) -> Result<(), MethodError> {
        Ok(())
    }
}
