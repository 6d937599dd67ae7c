//! Pieces of prompt text shared by several methods.

use genprompt_core::{Label, Task};

/// Examples are shown on one line each so that they cannot break a prompt's layout.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The label's definition as a sentence.
pub(crate) fn definition(label: &Label) -> String {
    format!("{}.", label.definition.trim_end_matches('.'))
}

/// What to write: "a new news article for the category 'World'" or, for relation tasks,
/// "a new sentence about the 'upregulator' relation between two entities".
pub(crate) fn target(task: &Task, label: &Label) -> String {
    match &task.relation {
        Some(_) => format!("a new {} about the '{}' relation between two entities", task.text_kind, label.name),
        None => format!("a new {} for the category '{}'", task.text_kind, label.name),
    }
}

/// "The category 'x' means: ..." or "The 'x' relation means: ...".
pub(crate) fn meaning(task: &Task, label: &Label) -> String {
    match &task.relation {
        Some(_) => format!("The '{}' relation means: {}", label.name, definition(label)),
        None => format!("The category '{}' means: {}", label.name, definition(label)),
    }
}

/// For relation tasks, how the entities must be tagged (the official code's wording); empty otherwise.
pub(crate) fn tag_instruction(task: &Task) -> String {
    let Some(relation) = &task.relation else { return String::new() };
    let [first, second] = &relation.tags;
    if first == second {
        format!("Both entities should be marked with XML-style tags as <{first}> {first} </{first}>.\n")
    } else {
        format!(
            "The two entities should be marked with XML-style tags as <{first}> {first} </{first}> and <{second}> {second} </{second}>.\n"
        )
    }
}

/// The closing cue: "Category: x\nText:" or "Relation: x\nText:".
pub(crate) fn cue(task: &Task, label: &Label) -> String {
    let kind = if task.relation.is_some() { "Relation" } else { "Category" };
    format!("{kind}: {}\nText:", label.name)
}

/// The tail of the example-based baselines: numbered real examples, the reply-only line, the cue.
pub(crate) fn examples_and_cue(task: &Task, label: &Label, examples: &[&str]) -> String {
    let mut tail = String::new();
    for (idx, example) in examples.iter().enumerate() {
        tail.push_str(&format!("Example {}: {}\n", idx + 1, one_line(example)));
    }
    tail.push_str(&format!("\nReply with the new {} only, without any explanation.\n\n", task.text_kind));
    tail.push_str(&cue(task, label));
    tail
}
