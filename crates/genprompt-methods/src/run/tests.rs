use std::path::PathBuf;
use std::sync::Mutex;

use genprompt_core::{Gene, Label, SeedSelection};
use genprompt_embed::{EmbedError, Embeddings, EncoderIdentity};
use genprompt_llm::{ChatReply, LlmError, ModelIdentity, Usage};

use super::*;
use crate::{Genetic, GeneticConfig};
use genprompt_core::TaskKind;

/// Embeds a text as its byte histogram folded into 16 dimensions: cheap, deterministic and
/// different for different texts.
struct HistogramEncoder(EncoderIdentity);

impl Encoder for HistogramEncoder {
    fn identity(&self) -> &EncoderIdentity {
        &self.0
    }
    fn dim(&self) -> usize {
        16
    }
    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        let rows: Vec<Vec<f32>> = texts
            .iter()
            .map(|text| {
                let mut row = vec![0.0f32; 16];
                for (idx, byte) in text.bytes().enumerate() {
                    row[(byte as usize + idx) % 16] += 1.0;
                }
                row
            })
            .collect();
        Embeddings::from_rows_normalised(16, &rows)
    }
}

/// Answers from a script, cycling through it; `{seed}` is replaced by the request's seed.
struct ScriptedChat {
    identity: ModelIdentity,
    script: Vec<Result<&'static str, ()>>,
    calls: Mutex<Vec<ChatRequest>>,
}

impl ScriptedChat {
    fn new(script: Vec<Result<&'static str, ()>>) -> ScriptedChat {
        let identity = ModelIdentity {
            backend: "script".into(),
            name: "script".into(),
            sha256: String::new(),
            batch_settings: None,
        };
        ScriptedChat { identity, script, calls: Mutex::new(Vec::new()) }
    }
}

impl ChatModel for ScriptedChat {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }
    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        let mut calls = self.calls.lock().unwrap();
        requests
            .iter()
            .map(|request| {
                let step = self.script[calls.len() % self.script.len()];
                calls.push(request.clone());
                step.map(|text| ChatReply {
                    text: text.replace("{seed}", &(request.sampling.seed % 100_000).to_string()),
                    finish: FinishReason::Stop,
                    usage: Usage { prompt_tokens: 100, completion_tokens: 10 },
                })
                .map_err(|()| LlmError::Engine("scripted failure".into()))
            })
            .collect()
    }
}

fn task() -> (Task, Vec<Vec<SeedRow>>) {
    let task = Task::new(
        "support".into(),
        TaskKind::Classification,
        "customer support routing".into(),
        "customer message".into(),
        vec![
            Label { name: "billing".into(), definition: "charges".into() },
            Label { name: "delivery".into(), definition: "parcels".into() },
        ],
        vec![Gene { name: "length".into() }, Gene { name: "tone".into() }, Gene { name: "voice".into() }],
        SeedSelection { path: PathBuf::from("seeds.jsonl"), per_label: 3 },
    );
    let seeds = vec![
        vec![
            SeedRow { line: 1, text: "I was charged twice".into() },
            SeedRow { line: 3, text: "Refund please, now".into() },
            SeedRow { line: 5, text: "Why is my invoice so high?".into() },
        ],
        vec![
            SeedRow { line: 2, text: "Where is my parcel?".into() },
            SeedRow { line: 4, text: "The box arrived crushed".into() },
        ],
    ];
    (task, seeds)
}

fn encoder() -> HistogramEncoder {
    HistogramEncoder(EncoderIdentity { name: "hist".into(), weights_sha256: String::new() })
}

fn run(chat: &ScriptedChat, config: &RunConfig) -> GenerationOutcome {
    let (task, seeds) = task();
    let mut method = Genetic::new(&task, GeneticConfig::paper(), config.rng_seed);
    run_method(&task, &seeds, &mut method, config, chat, &encoder(), &()).unwrap()
}

fn small_config() -> RunConfig {
    let mut config = RunConfig::paper(4, 7);
    config.batch_size = 3;
    config.near_duplicate_threshold = None;
    config
}

#[test]
fn keeps_exactly_n_per_label_and_counts_every_rejection() {
    let chat = ScriptedChat::new(vec![
        Ok("Here is a new message:\nMessage number {seed}"),
        Ok("I'm sorry, but I cannot do that."),
        Ok("Refund please, now"),
        Err(()),
        Ok("   "),
        Ok("Message number {seed}"),
    ]);
    let outcome = run(&chat, &small_config());
    for (label_idx, counts) in outcome.counts.iter().enumerate() {
        let n_label = outcome.offspring.iter().filter(|o| o.label.0 == label_idx).count();
        assert_eq!(counts.kept, 4);
        assert_eq!(n_label, 4);
        let rejected = counts.rejected.total();
        assert_eq!(counts.llm_calls, counts.kept + rejected, "every call is kept or counted: {counts:?}");
    }
    let total = |f: fn(&LabelCounts) -> usize| outcome.counts.iter().map(f).sum::<usize>();
    assert!(total(|c| c.rejected.refusal) > 0);
    assert!(total(|c| c.rejected.llm_error) > 0);
    assert!(total(|c| c.rejected.empty) > 0);
    assert!(total(|c| c.rejected.copies_parent) > 0, "a copy of a seed row is never kept");
    assert!(
        outcome.offspring.iter().all(|o| o.text.starts_with("Message number ")),
        "preamble stripped: {:?}",
        outcome.offspring
    );
    assert_eq!(outcome.tokens.completion, 10 * total(|c| c.llm_calls - c.rejected.llm_error) as u64);
}

#[test]
fn lineage_points_at_pool_members_and_later_batches_breed_from_offspring() {
    let chat = ScriptedChat::new(vec![Ok("Offspring text number {seed}")]);
    let mut config = small_config();
    config.n_per_label = 9;
    config.max_calls_per_row = 1;
    let outcome = run(&chat, &config);
    let billing: Vec<&Offspring> = outcome.offspring.iter().filter(|o| o.label.0 == 0).collect();
    assert_eq!(billing.len(), 9);
    for offspring in &billing {
        let known =
            |id: &String| ["seed:1", "seed:3", "seed:5"].contains(&id.as_str()) || id.starts_with("gen:billing:");
        assert!(offspring.lineage.parents.iter().all(known), "{:?}", offspring.lineage);
        assert_ne!(offspring.lineage.parents[0], offspring.lineage.parents[1]);
        let n_genes = offspring.lineage.from_parent1.len()
            + offspring.lineage.from_parent2.len()
            + offspring.lineage.mutated.len();
        assert_eq!(n_genes, 3);
    }
    assert_eq!(billing[0].lineage.batch, 0);
    assert!(
        billing.iter().any(|o| o.lineage.parents.iter().any(|p| p.starts_with("gen:"))),
        "the pool grows with offspring and they become parents"
    );
    let first_prompt = &chat.calls.lock().unwrap()[0].messages[1].content;
    assert!(first_prompt.contains("Category: billing"), "{first_prompt}");
}

#[test]
fn same_seed_gives_the_same_requests_and_rows() {
    let script = vec![Ok("Generated message {seed}")];
    let (a_chat, b_chat) = (ScriptedChat::new(script.clone()), ScriptedChat::new(script));
    let a = run(&a_chat, &small_config());
    let b = run(&b_chat, &small_config());
    assert_eq!(a.offspring, b.offspring);
    assert_eq!(*a_chat.calls.lock().unwrap(), *b_chat.calls.lock().unwrap());
    let mut other = small_config();
    other.rng_seed = 8;
    let c = run(&ScriptedChat::new(vec![Ok("Generated message {seed}")]), &other);
    assert_ne!(a.offspring, c.offspring);
}

#[test]
fn a_model_that_only_fails_stops_at_the_call_cap() {
    let chat = ScriptedChat::new(vec![Err(())]);
    let mut config = small_config();
    config.max_failure_share = 1.0;
    let outcome = run(&chat, &config);
    assert!(outcome.offspring.is_empty());
    for counts in &outcome.counts {
        assert_eq!(counts.llm_calls, 4 * 4);
        assert_eq!(counts.rejected.llm_error, 16);
    }
}

#[test]
fn too_many_failures_stop_the_run_once_enough_calls_were_made() {
    let chat = ScriptedChat::new(vec![Err(())]);
    let (task, seeds) = task();
    let config = small_config();
    let mut method = Genetic::new(&task, GeneticConfig::paper(), config.rng_seed);
    let err = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap_err();
    // Batches of 3: the share is checked after each batch, from the 10th call on (4 batches).
    match err {
        MethodError::TooManyFailures { failed, calls, .. } => assert_eq!((failed, calls), (12, 12)),
        other => panic!("expected TooManyFailures, got {other}"),
    }
    // Below the threshold the run goes on: one failure in four calls is under 0.5.
    let chat = ScriptedChat::new(vec![Err(()), Ok("a"), Ok("b"), Ok("c")]);
    let mut config = small_config();
    config.max_failure_share = 0.5;
    let mut method = Genetic::new(&task, GeneticConfig::paper(), config.rng_seed);
    assert!(run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).is_ok());
}

#[test]
fn too_few_seed_rows_is_an_error() {
    let (task, mut seeds) = task();
    seeds[1].truncate(1);
    let chat = ScriptedChat::new(vec![Ok("x")]);
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let err = run_method(&task, &seeds, &mut method, &small_config(), &chat, &encoder(), &()).unwrap_err();
    assert_eq!(err.to_string(), "label \"delivery\" has 1 seed row(s); Genetic Prompt needs at least 2");
}

#[test]
fn ablations_and_per_offspring_updates() {
    use crate::{GeneticVariant, PoolUpdate};
    let (task, seeds) = task();
    let chat = ScriptedChat::new(vec![Ok("A brand new text {seed}")]);
    let mut config = GeneticConfig::paper();
    config.variant = GeneticVariant::NoMutation;
    config.pool_update = PoolUpdate::PerOffspring;
    let mut method = Genetic::new(&task, config, 7);
    let outcome = run_method(&task, &seeds, &mut method, &small_config(), &chat, &encoder(), &()).unwrap();
    assert!(outcome.offspring.iter().all(|o| o.lineage.mutated.is_empty()), "no gene mutates");
    assert_eq!(outcome.counts[0].batches, 4, "one request per batch when the pool grows per offspring");

    config.variant = GeneticVariant::WordAsGene;
    config.pool_update = PoolUpdate::PerBatch;
    let mut method = Genetic::new(&task, config, 7);
    let outcome = run_method(&task, &seeds, &mut method, &small_config(), &chat, &encoder(), &()).unwrap();
    let lineage = &outcome.offspring[0].lineage;
    assert_eq!(
        (lineage.from_parent1.as_slice(), lineage.mutated.as_slice()),
        (&["words".to_string()][..], &["words".to_string()][..])
    );
    let prompt = chat.calls.lock().unwrap().last().unwrap().messages[1].content.clone();
    assert!(prompt.contains("Some words of the customer message"), "{prompt}");
}

#[test]
fn near_duplicates_are_counted_and_relation_tags_enforced() {
    let (mut task, seeds) = task();
    // The histogram encoder maps texts with the same bytes at the same offsets mod 16 together.
    let chat = ScriptedChat::new(vec![Ok("Same words here"), Ok("same words here "), Ok("Other text {seed} entirely")]);
    let mut config = small_config();
    config.near_duplicate_threshold = Some(0.999);
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let outcome = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap();
    let rejected = &outcome.counts[0].rejected;
    assert!(rejected.duplicate + rejected.near_duplicate > 0, "{rejected:?}");

    task.kind = TaskKind::RelationExtraction;
    task.relation = Some(genprompt_core::RelationSpec { tags: ["chemical".into(), "protein".into()] });
    let chat = ScriptedChat::new(vec![
        Ok("<chemical>A{seed}</chemical> binds <protein>P</protein>."),
        Ok("A binds P without tags."),
    ]);
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let outcome = run_method(&task, &seeds, &mut method, &small_config(), &chat, &encoder(), &()).unwrap();
    assert!(outcome.counts.iter().all(|c| c.rejected.missing_entity_tags > 0));
    assert!(outcome.offspring.iter().all(|o| o.text.contains("<chemical>")));
}

#[test]
fn structured_replies_ask_for_a_text_field_and_keep_only_it() {
    let chat = ScriptedChat::new(vec![Ok("{\"text\": \"Message number {seed}\"}"), Ok("not json: Message {seed} b")]);
    let mut config = small_config();
    config.structured = true;
    let outcome = run(&chat, &config);
    let calls = chat.calls.lock().unwrap();
    assert!(calls.iter().all(|call| call.json_schema.as_ref() == Some(&text_schema(config.sampling.max_tokens, None))));
    assert_eq!(outcome.offspring.len(), 8);
    assert!(outcome.offspring.iter().any(|o| o.text.starts_with("Message number ")), "{:?}", outcome.offspring);
    assert!(outcome.offspring.iter().all(|o| !o.text.contains('{')), "{:?}", outcome.offspring);
}

mod contract;
mod steady;

/// The word-as-gene ablation as sent: every prompt shows two parents and asks for some of their
/// words to be inherited from each and some to change, and names none of the task's genes.
#[test]
fn word_as_gene_prompts_breed_the_words_of_both_parents() {
    use crate::GeneticVariant;
    let (task, seeds) = task();
    let chat = ScriptedChat::new(vec![Ok("A brand new text {seed}")]);
    let mut config = GeneticConfig::paper();
    config.variant = GeneticVariant::WordAsGene;
    let mut method = Genetic::new(&task, config, 7);
    run_method(&task, &seeds, &mut method, &small_config(), &chat, &encoder(), &()).unwrap();
    let calls = chat.calls.lock().unwrap();
    assert!(calls.len() >= 8, "{} requests", calls.len());
    let words = "Treat the words of the customer message as genes:\n\
        1. Some words of the customer message should inherit from Example 1.\n\
        2. Some words of the customer message should inherit from Example 2.\n\
        3. Some words of the customer message must be different from both examples.\n";
    for call in calls.iter() {
        let prompt = &call.messages.last().unwrap().content;
        assert!(prompt.contains(words), "{prompt}");
        for gene in &task.genes {
            assert!(!prompt.contains(&format!("The {} of", gene.name)), "{prompt}");
        }
        let example = |n: usize| prompt.lines().find_map(|l| l.strip_prefix(&format!("Example {n}: "))).unwrap();
        assert_ne!(example(1), example(2), "two distinct parents: {prompt}");
    }
    // The first request of the first label breeds two of its seed rows.
    let first = &calls[0].messages.last().unwrap().content;
    let shown = seeds[0].iter().filter(|seed| first.contains(&format!(": {}\n", seed.text))).count();
    assert_eq!(shown, 2, "{first}");
    drop(calls);

    // Control: the paper's variant sends the task's genes, not words.
    let chat = ScriptedChat::new(vec![Ok("A brand new text {seed}")]);
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    run_method(&task, &seeds, &mut method, &small_config(), &chat, &encoder(), &()).unwrap();
    let prompt = chat.calls.lock().unwrap()[0].messages.last().unwrap().content.clone();
    assert!(prompt.contains("Treat these attributes of the customer message as genes:\n"), "{prompt}");
    assert!(!prompt.contains("Some words of"), "{prompt}");
}

#[test]
fn structured_relation_replies_must_carry_the_tags_in_a_sentence() {
    let (mut task, seeds) = task();
    task.kind = TaskKind::RelationExtraction;
    let relation = genprompt_core::RelationSpec { tags: ["chemical".into(), "protein".into()] };
    task.relation = Some(relation.clone());
    let chat = ScriptedChat::new(vec![Ok(
        "{\"text\": \"<protein>P{seed}</protein> blocks <chemical>A{seed}</chemical> in cell line {seed}.\"}",
    )]);
    let mut config = small_config();
    config.structured = true;
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let outcome = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap();
    assert_eq!(outcome.offspring.len(), 8, "{:?}", outcome.counts);
    let schema = chat.calls.lock().unwrap()[0].json_schema.clone().unwrap();
    assert_eq!(schema, text_schema(config.sampling.max_tokens, Some(&relation)));
    let fits = |text: &str| genprompt_llm::schema::parse(&serde_json::json!({"text": text}).to_string(), &schema);
    // Either order, spaces inside the tags (as in the ChemProt seeds), words around them.
    fits("<chemical>Aspirin</chemical> irreversibly inhibits <protein>COX-1</protein> in platelets.").unwrap();
    fits("Levels of <protein> CYP3A4 </protein> rose after <chemical> rifampicin </chemical>.").unwrap();
    for bad in [
        "Aspirin inhibits COX-1.",                                                      // no tags
        "<chemical>Aspirin</chemical>",                                                 // one entity
        "<chemical>Aspirin</chemical><protein>COX-1</protein>",                         // nothing between them
        "<chemical>A</chemical> and <chemical>B</chemical> bind <protein>P</protein>",  // a tag twice
        "<chemical></chemical> inhibits <protein>COX-1</protein>",                      // an empty name
        &format!("{} <chemical>A</chemical> x <protein>P</protein>", "w".repeat(2000)), // too long
    ] {
        assert!(fits(bad).is_err(), "{bad}");
    }
    // A stretch at its bound was ended by the grammar, not by the model: rejected.
    let limit = 3 * config.sampling.max_tokens.max(8) as usize / 2;
    let cut = format!("{{\"text\": \"<chemical>A</chemical> blocks <protein>P</protein>{}\"}}", " and".repeat(limit));
    let chat = ScriptedChat::new(vec![Ok(Box::leak(cut.into_boxed_str()))]);
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let outcome = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap();
    assert!(outcome.offspring.is_empty() && outcome.counts.iter().all(|c| c.rejected.cut_by_grammar > 0));

    // Two entities of one type: one order, the tag twice.
    let same = genprompt_core::RelationSpec { tags: ["entity".into(), "entity".into()] };
    let pattern = tagged_sentence_pattern(&same, 480);
    assert!(!pattern.contains('|') && pattern.matches("<entity>").count() == 2, "{pattern}");
}
