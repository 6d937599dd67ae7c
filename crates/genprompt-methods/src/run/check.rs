//! What every reply goes through, whatever the schedule: the request built from a draft, the
//! checks of the reply's text, and the rejection counts.

use std::collections::HashSet;

use genprompt_core::{LabelCounts, LabelId, RelationSpec, RngStream, Task, stream_seed};
use genprompt_embed::{Embeddings, Encoder};
use genprompt_llm::{ChatMessage, ChatRequest, Sampling};

use super::RunConfig;
use crate::clean::{duplicate_key, is_near_copy, repeats_definition};
use crate::{Cleaning, MethodError, Rejection, SYSTEM_PROMPT, check_entity_tags, clean_reply};

/// Embeds `texts`, refusing an answer without exactly one row of the encoder's dimension per
/// text: an encoder is outside code, and a short answer would otherwise be a panic further on.
pub(super) fn encode_all(encoder: &dyn Encoder, texts: &[&str]) -> Result<Embeddings, MethodError> {
    let embeddings = encoder.encode(texts)?;
    if embeddings.len() != texts.len() || (!embeddings.is_empty() && embeddings.dim() != encoder.dim()) {
        let detail = format!(
            "{} rows of dimension {} for {} texts, from an encoder of dimension {}",
            embeddings.len(),
            embeddings.dim(),
            texts.len(),
            encoder.dim()
        );
        return Err(MethodError::EmbeddingShape { what: "the encoder's rows", detail });
    }
    Ok(embeddings)
}

/// The request of `draft`, with its own sampling seed.
pub(super) fn build_request(
    task: &Task,
    config: &RunConfig,
    label: LabelId,
    draft: &crate::Draft,
    batch: usize,
    request: usize,
) -> ChatRequest {
    let mut messages = vec![ChatMessage::system(SYSTEM_PROMPT)];
    messages.extend(draft.messages.iter().cloned());
    let sampling = &config.sampling;
    ChatRequest {
        messages,
        sampling: Sampling {
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            min_p: sampling.min_p,
            repeat_penalty: sampling.repeat_penalty,
            max_tokens: sampling.max_tokens,
            stop: Vec::new(),
            seed: stream_seed(config.rng_seed, RngStream::Sampling { label: label.0, batch, request }),
        },
        json_schema: config.structured.then(|| text_schema(sampling.max_tokens, task.relation.as_ref())),
    }
}

/// The checks of a reply that need nothing but the reply and its draft: cleaning, entity tags,
/// copies. Returns the text and its duplicate key.
pub(super) fn check_reply(
    task: &Task,
    label_id: LabelId,
    config: &RunConfig,
    seed_keys: &HashSet<String>,
    raw: &str,
    draft: &crate::Draft,
) -> Result<(String, String), Rejection> {
    let label = task.label(label_id);
    let cleaning = config.cleaning;
    let raw = if config.structured { text_field(raw) } else { raw.to_string() };
    if config.structured && task.relation.is_some() && cut_by_grammar(&raw, config.sampling.max_tokens) {
        return Err(Rejection::CutByGrammar);
    }
    let text = clean_reply(&raw, cleaning, &label.name, &task.text_kind)?;
    if cleaning == Cleaning::Clean && repeats_definition(&text, &label.definition) {
        return Err(Rejection::PromptEcho);
    }
    if let (Cleaning::Clean, Some(relation)) = (cleaning, &task.relation) {
        check_entity_tags(&text, relation)?;
    }
    let key = duplicate_key(&text);
    let copies =
        |shown: &String| duplicate_key(shown) == key || cleaning == Cleaning::Clean && is_near_copy(&text, shown);
    if seed_keys.contains(&key) || draft.shown_texts.iter().any(copies) {
        return Err(Rejection::CopiesParent);
    }
    Ok((text, key))
}

/// Exact duplicates of a kept text (`Clean` only); records the key of a text that passes.
pub(super) fn check_duplicate(config: &RunConfig, key: String, seen: &mut HashSet<String>) -> Result<(), Rejection> {
    if config.cleaning == Cleaning::Clean && !seen.insert(key) {
        return Err(Rejection::Duplicate);
    }
    Ok(())
}

pub(super) fn is_near_duplicate(config: &RunConfig, embedding: &[f32], kept: &Embeddings) -> bool {
    let Some(threshold) = config.near_duplicate_threshold.filter(|_| config.cleaning == Cleaning::Clean) else {
        return false;
    };
    kept.rows().any(|row| genprompt_embed::dot(row, embedding) >= threshold)
}

/// The structured reply's shape: one non-empty string, short enough to close within `max_tokens`
/// (about 3 characters a token), so that a long reply is cut inside the string, not left invalid.
/// For a relation task the string must also hold each entity tag around a name, in either
/// order, on one line (see [`tagged_sentence_pattern`]): under a grammar the model cannot leave
/// the tags out, which is why most relation replies of small models were rejected.
pub fn text_schema(max_tokens: u32, relation: Option<&RelationSpec>) -> serde_json::Value {
    let budget = text_budget(max_tokens);
    let text = match relation {
        None => serde_json::json!({"type": "string", "minLength": 1, "maxLength": budget}),
        Some(relation) => serde_json::json!({"type": "string", "pattern": tagged_sentence_pattern(relation, budget)}),
    };
    serde_json::json!({"type": "object", "properties": {"text": text}, "required": ["text"]})
}

/// Most characters of an entity's name inside its tags.
const ENTITY_CHARS: u32 = 60;

/// `^(?:free <a>name</a> free <b>name</b> free|...)$` for both orders of the two tags, where a
/// free stretch holds no angle bracket and at most half of `budget` characters. A grammar ends a
/// stretch at its bound whatever the model was writing, so the bound is set above what a
/// sentence needs (with a third of the budget, the Qwen 1.5B model had 4 of 15 ChemProt
/// sentences cut mid-word); a reply that runs past `max_tokens` instead no longer fits and is
/// asked again. The stretch between the entities is not empty; whether there are enough words
/// outside the tags is left to [`check_entity_tags`], which a regular grammar would make very large.
pub fn tagged_sentence_pattern(relation: &RelationSpec, budget: u32) -> String {
    let [first, second] = &relation.tags;
    let free = free_chars(budget);
    let entity = |tag: &str| {
        let tag = regex::escape(tag);
        format!("<{tag}>[^<>]{{1,{ENTITY_CHARS}}}</{tag}>")
    };
    let order =
        |a: &str, b: &str| format!("[^<>]{{0,{free}}}{}[^<>]{{1,{free}}}{}[^<>]{{0,{free}}}", entity(a), entity(b));
    let branches =
        if first == second { vec![order(first, second)] } else { vec![order(first, second), order(second, first)] };
    format!("^(?:{})$", branches.join("|"))
}

/// Most characters of a structured text: about 3 a token, so that it closes within `max_tokens`.
fn text_budget(max_tokens: u32) -> u32 {
    3 * max_tokens.max(8)
}

/// Most characters of a free stretch of a tagged sentence within `budget` characters.
fn free_chars(budget: u32) -> u32 {
    (budget / 2).max(40)
}

/// Whether a stretch of a structured relation text (outside the tags, or a name inside them)
/// reached its bound in [`tagged_sentence_pattern`]: the grammar ended it there.
fn cut_by_grammar(text: &str, max_tokens: u32) -> bool {
    let free = free_chars(text_budget(max_tokens)) as usize;
    // Splitting at angle brackets gives: outside, tag, name, tag, outside, tag, name, tag, outside.
    text.split(['<', '>']).enumerate().any(|(i, part)| match i % 4 {
        0 => part.chars().count() >= free,
        2 => part.chars().count() >= ENTITY_CHARS as usize,
        _ => false,
    })
}

/// The `text` of a structured reply; a reply that is not such an object is cleaned as it is.
pub(super) fn text_field(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(map)) => match map.get("text") {
            Some(serde_json::Value::String(text)) => text.clone(),
            _ => raw.to_string(),
        },
        _ => raw.to_string(),
    }
}

pub(super) fn count_rejection(counts: &mut LabelCounts, rejection: Rejection) {
    rejection.count(&mut counts.rejected);
}
