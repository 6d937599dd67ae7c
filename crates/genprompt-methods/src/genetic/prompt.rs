//! The crossover-and-mutation prompt (paper Appendix B.6, official code `GeneticPrompt.py`),
//! reworded only where the code's text is broken (a stray apostrophe) and with one added line
//! asking for the text alone, which small models need.

use genprompt_core::{Crossover, GeneRole, Label, Task};

use crate::prompt_parts::{cue, meaning, one_line, tag_instruction, target};

/// Renders the user message for one offspring of `label` from `parents` (texts, in order).
///
/// A crossover whose genes are all named "words" renders the word-as-gene ablation: the words of
/// the parents, not attributes, are inherited and mutated.
pub fn render_prompt(task: &Task, label: &Label, parents: [&str; 2], crossover: &Crossover) -> String {
    let text_kind = &task.text_kind;
    let mut prompt = format!("You need to generate synthetic data for the {} task.\n\n", task.domain);
    prompt.push_str(&format!("Example 1: {}\nExample 2: {}\n\n", one_line(parents[0]), one_line(parents[1])));
    prompt.push_str(&format!("Write {}. {}\n", target(task, label), meaning(task, label)));
    prompt.push_str(&tag_instruction(task));
    let words_as_genes = crossover.roles.iter().all(|(gene, _)| gene == "words");
    if words_as_genes {
        prompt.push_str(&format!("Treat the words of the {text_kind} as genes:\n"));
    } else {
        prompt.push_str(&format!("Treat these attributes of the {text_kind} as genes:\n"));
    }
    for (idx, (gene, role)) in crossover.roles.iter().enumerate() {
        let rule = match role {
            GeneRole::FromParent1 => "should inherit from Example 1",
            GeneRole::FromParent2 => "should inherit from Example 2",
            GeneRole::Mutate => "must be different from both examples",
        };
        if words_as_genes {
            prompt.push_str(&format!("{}. Some words of the {text_kind} {rule}.\n", idx + 1));
        } else {
            prompt.push_str(&format!("{}. The {gene} of the {text_kind} {rule}.\n", idx + 1));
        }
    }
    prompt.push_str(&format!("Reply with the new {text_kind} only, without any explanation.\n\n"));
    prompt.push_str(&cue(task, label));
    prompt
}

#[cfg(test)]
mod tests;
