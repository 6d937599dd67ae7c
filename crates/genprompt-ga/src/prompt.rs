//! The crossover-and-mutation prompt (paper Appendix B.6, official code `GeneticPrompt.py`),
//! reworded only where the code's text is broken (a stray apostrophe) and with one added line
//! asking for the text alone, which small models need.

use genprompt_core::{Crossover, GeneRole, Label, Task};

/// Sent as the system message: llama.cpp's built-in templates add no default system prompt,
/// while Jinja-based servers do, so we always pass one to get the same prompt everywhere.
pub const SYSTEM_PROMPT: &str = "You write realistic synthetic training data for text classifiers.";

/// Renders the user message for one offspring of `label` from `parents` (texts, in order).
pub fn render_prompt(task: &Task, label: &Label, parents: [&str; 2], crossover: &Crossover) -> String {
    let text_kind = &task.text_kind;
    let mut prompt = format!("You need to generate synthetic data for the {} task.\n\n", task.domain);
    prompt.push_str(&format!("Example 1: {}\nExample 2: {}\n\n", one_line(parents[0]), one_line(parents[1])));
    prompt.push_str(&format!(
        "Write a new {text_kind} for the category '{}'. The category '{}' means: {}\n",
        label.name,
        label.name,
        label.definition.trim_end_matches('.').to_string() + "."
    ));
    prompt.push_str(&format!("Treat these attributes of the {text_kind} as genes:\n"));
    for (idx, (gene, role)) in crossover.roles.iter().enumerate() {
        let rule = match role {
            GeneRole::FromParent1 => "should inherit from Example 1",
            GeneRole::FromParent2 => "should inherit from Example 2",
            GeneRole::Mutate => "must be different from both examples",
        };
        prompt.push_str(&format!("{}. The {gene} of the {text_kind} {rule}.\n", idx + 1));
    }
    prompt.push_str(&format!("Reply with the new {text_kind} only, without any explanation.\n\n"));
    prompt.push_str(&format!("Category: {}\nText:", label.name));
    prompt
}

/// Parents are shown on one line each so that the examples cannot break the prompt's layout.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use genprompt_core::{Gene, SeedSelection, TaskKind};

    use super::*;

    #[test]
    fn prompt_snapshot() {
        let task = Task::new(
            "support".into(),
            TaskKind::Classification,
            "customer support routing".into(),
            "customer message".into(),
            vec![Label { name: "billing".into(), definition: "charges, invoices and refunds".into() }],
            vec![Gene { name: "length".into() }, Gene { name: "tone".into() }, Gene { name: "voice".into() }],
            SeedSelection { path: PathBuf::from("seeds.jsonl"), per_label: 2 },
        );
        let crossover = Crossover {
            roles: vec![
                ("length".into(), GeneRole::FromParent2),
                ("tone".into(), GeneRole::Mutate),
                ("voice".into(), GeneRole::FromParent1),
            ],
        };
        let prompt = render_prompt(
            &task,
            task.label(genprompt_core::LabelId(0)),
            ["I was charged\ntwice.", "Refund  my order"],
            &crossover,
        );
        let expected = "\
You need to generate synthetic data for the customer support routing task.

Example 1: I was charged twice.
Example 2: Refund my order

Write a new customer message for the category 'billing'. The category 'billing' means: charges, invoices and refunds.
Treat these attributes of the customer message as genes:
1. The length of the customer message should inherit from Example 2.
2. The tone of the customer message must be different from both examples.
3. The voice of the customer message should inherit from Example 1.
Reply with the new customer message only, without any explanation.

Category: billing
Text:";
        assert_eq!(prompt, expected);
    }
}
