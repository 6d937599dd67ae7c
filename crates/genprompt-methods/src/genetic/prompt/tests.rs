use std::path::PathBuf;

use genprompt_core::{Gene, LabelId, RelationSpec, SeedSelection, TaskKind};

use super::*;

fn task(relation: Option<[&str; 2]>) -> Task {
    let mut task = Task::new(
        "support".into(),
        if relation.is_some() { TaskKind::RelationExtraction } else { TaskKind::Classification },
        "customer support routing".into(),
        "customer message".into(),
        vec![Label { name: "billing".into(), definition: "charges, invoices and refunds".into() }],
        vec![Gene { name: "length".into() }, Gene { name: "tone".into() }, Gene { name: "voice".into() }],
        SeedSelection { path: PathBuf::from("seeds.jsonl"), per_label: 2 },
    );
    task.relation = relation.map(|[a, b]| RelationSpec { tags: [a.to_string(), b.to_string()] });
    task
}

fn crossover(genes: [&str; 3]) -> Crossover {
    Crossover {
        roles: vec![
            (genes[0].into(), GeneRole::FromParent2),
            (genes[1].into(), GeneRole::Mutate),
            (genes[2].into(), GeneRole::FromParent1),
        ],
    }
}

#[test]
fn classification_prompt_snapshot() {
    let task = task(None);
    let prompt = render_prompt(
        &task,
        task.label(LabelId(0)),
        ["I was charged\ntwice.", "Refund  my order"],
        &crossover(["length", "tone", "voice"]),
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

#[test]
fn relation_prompt_snapshot() {
    let task = task(Some(["chemical", "protein"]));
    let prompt = render_prompt(
        &task,
        task.label(LabelId(0)),
        ["a <chemical>x</chemical>", "b"],
        &crossover(["length", "tone", "voice"]),
    );
    let expected = "\
You need to generate synthetic data for the customer support routing task.

Example 1: a <chemical>x</chemical>
Example 2: b

Write a new customer message about the 'billing' relation between two entities. The 'billing' relation means: charges, invoices and refunds.
The two entities should be marked with XML-style tags as <chemical> chemical </chemical> and <protein> protein </protein>.
Treat these attributes of the customer message as genes:
1. The length of the customer message should inherit from Example 2.
2. The tone of the customer message must be different from both examples.
3. The voice of the customer message should inherit from Example 1.
Reply with the new customer message only, without any explanation.

Relation: billing
Text:";
    assert_eq!(prompt, expected);
}

#[test]
fn word_as_gene_prompt_talks_about_words() {
    let task = task(Some(["entity", "entity"]));
    let prompt = render_prompt(&task, task.label(LabelId(0)), ["a", "b"], &crossover(["words", "words", "words"]));
    assert!(prompt.contains("Treat the words of the customer message as genes:\n1. Some words of the customer message should inherit from Example 2.\n2. Some words of the customer message must be different from both examples."), "{prompt}");
    assert!(
        prompt.contains("Both entities should be marked with XML-style tags as <entity> entity </entity>.\n"),
        "{prompt}"
    );
}
