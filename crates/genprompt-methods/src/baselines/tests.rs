//! Prompt snapshots for every baseline, and what each one draws.

use std::path::PathBuf;

use genprompt_core::{Attributes, Gene, Label, LabelId, RelationSpec, SeedRow, SeedSelection, Task, TaskKind};
use genprompt_embed::Embeddings;
use genprompt_llm::Role;

use super::*;
use crate::Method;

fn task(relation: bool) -> Task {
    let mut task = Task::new(
        "t".into(),
        if relation { TaskKind::RelationExtraction } else { TaskKind::Classification },
        "news topic classification".into(),
        "news sentence".into(),
        vec![
            Label { name: "sports".into(), definition: "sport events and athletes".into() },
            Label { name: "politics".into(), definition: "governments and elections.".into() },
        ],
        vec![Gene { name: "length".into() }],
        SeedSelection { path: PathBuf::from("s.jsonl"), per_label: 3 },
    );
    if relation {
        task.relation = Some(RelationSpec { tags: ["entity".into(), "entity".into()] });
    }
    task.max_words = Some(30);
    task.attributes = Attributes {
        shared: vec![("length".into(), vec!["short".into()]), ("style".into(), vec!["formal".into(), "casual".into()])],
        per_label: vec![("sports".into(), vec![("style".into(), vec!["breathless".into()])])],
    };
    task
}

fn seeds() -> Vec<Vec<SeedRow>> {
    vec![
        vec![
            SeedRow { line: 1, text: "The striker scored.".into() },
            SeedRow { line: 3, text: "She won gold.".into() },
        ],
        vec![
            SeedRow { line: 2, text: "Parliament voted.".into() },
            SeedRow { line: 4, text: "The minister resigned.".into() },
        ],
    ]
}

fn first_prompt(method: &mut dyn Method, label: usize, batch: usize) -> crate::Draft {
    let rows = &seeds()[label];
    method.start_label(LabelId(label), rows, Embeddings::new(2)).unwrap();
    method.next_batch(1, batch).remove(0)
}

#[test]
fn simprompt_snapshot() {
    let task = task(false);
    let draft = first_prompt(&mut SimPrompt::new(&task, 1), 0, 0);
    let mut examples = draft.lineage.examples.clone();
    examples.sort();
    assert_eq!(examples, ["seed:1", "seed:3"]);
    let prompt = &draft.messages[0].content;
    let expected_head = "\
Suppose you are a writer for news topic classification. Please write a synthetic news sentence for the category 'sports'. The category 'sports' means: sport events and athletes.

Example 1: ";
    assert!(prompt.starts_with(expected_head), "{prompt}");
    assert!(
        prompt.ends_with(
            "\n\nReply with the new news sentence only, without any explanation.\n\nCategory: sports\nText:"
        ),
        "{prompt}"
    );
}

#[test]
fn simprompt_relation_snapshot() {
    let task = task(true);
    let prompt = super::simprompt::render(&task, LabelId(1), &["<entity>A</entity> met <entity>B</entity>", "x"]);
    let expected = "\
Your task is to write a news sentence about the 'politics' relation between two entities. The 'politics' relation means: governments and elections.
Both entities should be marked with XML-style tags as <entity> entity </entity>.

Example 1: <entity>A</entity> met <entity>B</entity>
Example 2: x

Reply with the new news sentence only, without any explanation.

Relation: politics
Text:";
    assert_eq!(prompt, expected);
}

#[test]
fn attrprompt_snapshot_uses_the_labels_own_values() {
    let task = task(false);
    let prompt =
        super::attrprompt::render(&task, LabelId(0), &[("length", "short"), ("style", "breathless")], &["a", "b"]);
    let expected = "\
You need to generate synthetic data for the news topic classification task.
Write a new news sentence for the category 'sports'. The category 'sports' means: sport events and athletes.
Requirements:
1. The length should be: short.
2. The style should be: breathless.

Example 1: a
Example 2: b

Reply with the new news sentence only, without any explanation.

Category: sports
Text:";
    assert_eq!(prompt, expected);
    let draft = first_prompt(&mut AttrPrompt::new(&task, 1), 0, 0);
    assert_eq!(draft.lineage.attributes["style"], "breathless", "sports overrides the shared style list");
    let draft = first_prompt(&mut AttrPrompt::new(&task, 1), 1, 0);
    assert!(["formal", "casual"].contains(&draft.lineage.attributes["style"].as_str()));
}

#[test]
fn attrprompt_without_attributes_is_an_error() {
    let mut task = task(false);
    task.attributes = Attributes::default();
    let err = AttrPrompt::new(&task, 1).start_label(LabelId(0), &seeds()[0], Embeddings::new(2)).unwrap_err();
    assert_eq!(err.to_string(), "AttrPrompt needs value lists: add an [attributes] table to the task file");
}

#[test]
fn zeroshot_snapshot_and_diversity_request() {
    let mut task = task(false);
    task.context = Some("Suppose you are a sports reporter.".into());
    let mut method = ZeroShot::new(&task);
    method.start_label(LabelId(0), &seeds()[0], Embeddings::new(2)).unwrap();
    let drafts = method.next_batch(4, 0);
    let expected = "\
Suppose you are a sports reporter.
Write a news sentence with the label 'sports'. 'sports' means: sport events and athletes.
Use at most 30 words. Reply with the news sentence only.";
    assert_eq!(drafts[0].messages.len(), 1);
    assert_eq!(drafts[0].messages[0].content, expected);
    method
        .kept(
            &[("gen:sports:0".into(), "First text".into()), ("gen:sports:1".into(), "Second text".into())],
            &Embeddings::new(2),
        )
        .unwrap();
    let fifth = method.next_batch(1, 1).remove(0);
    let roles: Vec<Role> = fifth.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::User, Role::Assistant, Role::User]);
    assert_eq!(fifth.messages[1].content, "First text");
    assert!(
        fifth.messages[4]
            .content
            .starts_with("Can you provide something more diverse compared to the previously generated data?\n")
    );
    assert_eq!(fifth.shown_texts, ["First text", "Second text"], "repeating an earlier reply is a copy");
}

#[test]
fn fewshot_shows_labelled_real_examples_of_every_label() {
    let task = task(true);
    let seeds = seeds();
    let mut method = FewShot::new(&task, &seeds, 3);
    let draft = first_prompt(&mut method, 1, 0);
    let prompt = &draft.messages[0].content;
    assert_eq!(draft.lineage.examples.len(), 4, "4 shots drawn from the 4 seed rows of both labels");
    assert!(prompt.starts_with("Suppose you are writing news sentences for news topic classification.\nHere are examples with their labels:\nLabel: "), "{prompt}");
    assert!(prompt.contains("Label: sports\nText: The striker scored.\n"), "{prompt}");
    assert!(prompt.contains("You should imitate the examples I have provided, but you cannot simply modify or rewrite the examples I have given.\nWrite a news sentence expressing the 'politics' relation between two entities. 'politics' means: governments and elections.\nBoth entities should be marked"), "{prompt}");
    assert!(prompt.ends_with("Use at most 30 words. Reply with the news sentence only."), "{prompt}");
}

#[test]
fn draws_are_seeded() {
    let task = task(false);
    let a = first_prompt(&mut SimPrompt::new(&task, 5), 0, 2);
    let b = first_prompt(&mut SimPrompt::new(&task, 5), 0, 2);
    assert_eq!(a, b);
}

#[test]
fn curated_screens_with_the_judge_and_drafts_like_simprompt() {
    struct FirstRowOnly;
    impl crate::LabelJudge for FirstRowOnly {
        fn judge(&self, candidates: &Embeddings, _: LabelId) -> Vec<crate::Confidence> {
            (0..candidates.len())
                .map(|row| crate::Confidence { mean: if row == 0 { 0.9 } else { 0.4 }, aleatoric: 0.1 })
                .collect()
        }
    }
    let task = task(false);
    let judge = FirstRowOnly;
    let mut curated = crate::Curated::new(&task, &judge, crate::CurationThresholds::standard(), 5);
    let draft = first_prompt(&mut curated, 0, 2);
    assert_eq!(draft, first_prompt(&mut SimPrompt::new(&task, 5), 0, 2));
    let candidates = Embeddings::from_rows_normalised(2, &[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).unwrap();
    assert_eq!(curated.screen(&candidates), [true, false, false]);
}
