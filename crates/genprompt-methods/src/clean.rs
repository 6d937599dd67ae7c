//! Turning a raw reply into a dataset text, or a counted `Rejection`.

mod rules;

use genprompt_core::RejectionCounts;

/// Post-processing mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleaning {
    /// Default: refusal filter, strip chatter ("Here is...", "Text:", quotes), drop duplicates.
    Clean,
    /// The paper's behaviour: only the refusal filter (its exact substrings); text kept verbatim.
    Raw,
}

impl Cleaning {
    pub fn as_str(self) -> &'static str {
        match self {
            Cleaning::Clean => "clean",
            Cleaning::Raw => "raw",
        }
    }
}

/// Why a reply did not become a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    Refusal,
    Empty,
    Duplicate,
    /// Cosine similarity to an already kept row of the label at or above the threshold.
    NearDuplicate,
    /// The reply repeats a seed row or a text shown in its prompt, exactly or nearly.
    CopiesParent,
    /// A relation task's reply without exactly the required entity tags.
    MissingEntityTags,
    /// Curated LLM: a classifier trained on real rows is not confident about its label.
    CuratedOut,
    LlmError,
    /// Talk about the text instead of the text ("Sure! To generate...", "I hope this helps").
    Chatter,
    /// The prompt's scaffolding repeated ("Example 2", "Category:", "Genotype:", "synthetic data").
    PromptEcho,
    /// Leftover markdown: bold, headings, code fences, tables.
    Markdown,
    /// A list or instructions ("follow these steps", two or more bullet or numbered lines).
    ListScaffolding,
    /// An attribute dump: `key="value"`, JSON, or "Key: value" lines.
    KeyValue,
    /// A template hole or filler: "[Your Name]", "lorem ipsum", "the quick brown fox".
    Placeholder,
    /// Mostly letters of another script than the task's (Latin).
    OtherScript,
    /// A relation text with too few words outside its entity tags to be a sentence about them.
    TooFewWords,
    /// A relation text whose tags stand on a line of their own, not in the sentence.
    TagsOutsideSentence,
    /// A structured relation text that the grammar ended at a length bound: the sentence (or an
    /// entity's name) was cut there, whatever the model was writing.
    CutByGrammar,
}

impl Rejection {
    /// Adds one to this reason's counter.
    pub fn count(self, rejected: &mut RejectionCounts) {
        *match self {
            Rejection::Refusal => &mut rejected.refusal,
            Rejection::Empty => &mut rejected.empty,
            Rejection::Duplicate => &mut rejected.duplicate,
            Rejection::NearDuplicate => &mut rejected.near_duplicate,
            Rejection::CopiesParent => &mut rejected.copies_parent,
            Rejection::MissingEntityTags => &mut rejected.missing_entity_tags,
            Rejection::CuratedOut => &mut rejected.curated_out,
            Rejection::LlmError => &mut rejected.llm_error,
            Rejection::Chatter => &mut rejected.chatter,
            Rejection::PromptEcho => &mut rejected.prompt_echo,
            Rejection::Markdown => &mut rejected.markdown,
            Rejection::ListScaffolding => &mut rejected.list_scaffolding,
            Rejection::KeyValue => &mut rejected.key_value,
            Rejection::Placeholder => &mut rejected.placeholder,
            Rejection::OtherScript => &mut rejected.other_script,
            Rejection::TooFewWords => &mut rejected.too_few_words,
            Rejection::TagsOutsideSentence => &mut rejected.tags_outside_sentence,
            Rejection::CutByGrammar => &mut rejected.cut_by_grammar,
        } += 1;
    }
}

/// The official code's filter: any of these substrings drops the reply.
const RAW_REFUSAL_SUBSTRINGS: [&str; 5] = ["I apologize", "sorry", "Sorry", "an AI language model", "I cannot perform"];

/// A relation text needs this many words outside its entity tags ("<chemical>X</chemical> binds
/// <protein>Y</protein>" has one; a bare pair of tagged names has none).
pub const MIN_WORDS_OUTSIDE_TAGS: usize = 3;

/// Most words of an entity's name: the longest in the paper's gold train splits (ChemProt, DDI,
/// SemEval, CoNLL04). A longer span is a clause wrapped in tags, not a name.
pub const MAX_ENTITY_WORDS: usize = 8;

/// A text needs this many words ("technical_swap_msg1" is an identifier, "Order 30577." a
/// fragment, not a message).
pub const MIN_WORDS: usize = 3;

/// Share of a label definition's words, in order, at or above which a text repeats it.
pub const DEFINITION_ECHO_SHARE: f64 = 0.8;

/// Word-level similarity (2 x longest common subsequence / total words) at or above which a reply
/// counts as a copy of a text shown in its prompt.
pub const NEAR_COPY_SIMILARITY: f64 = 0.85;

/// Cleans one reply. `label` and `text_kind` are the prompt's own words, which small models like
/// to echo ("Category: billing", "Customer message: ...").
pub fn clean_reply(raw: &str, cleaning: Cleaning, label: &str, text_kind: &str) -> Result<String, Rejection> {
    match cleaning {
        Cleaning::Raw => {
            if RAW_REFUSAL_SUBSTRINGS.iter().any(|s| raw.contains(s)) {
                return Err(Rejection::Refusal);
            }
            let text = raw.trim();
            if text.is_empty() { Err(Rejection::Empty) } else { Ok(text.to_string()) }
        }
        Cleaning::Clean => clean(raw, label, text_kind),
    }
}

/// Strips what wraps the text (introductions, headings, echoed cues, code fences, closing notes,
/// quotes), then judges what is left: every reason it is still not a text is a `Rejection`.
fn clean(raw: &str, label: &str, text_kind: &str) -> Result<String, Rejection> {
    if rules::is_refusal(&raw.to_lowercase()) {
        return Err(Rejection::Refusal);
    }
    let text_kind = text_kind.to_lowercase();
    let mut lines: Vec<&str> =
        raw.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("```")).collect();
    // A horizontal rule ("---") before the text opens it; after the text, it starts notes (below).
    let is_rule = |line: &str| line.len() >= 3 && line.chars().all(|c| matches!(c, '-' | '*' | '_' | '='));
    while lines.len() > 1 && is_rule(lines[0]) {
        lines.remove(0);
    }
    while lines.len() > 1 && rules::is_lead_in(lines[0], &text_kind) {
        lines.remove(0);
    }
    // Notes, a second text or its introduction after the text: keep what came before them.
    if let Some(cut) = (1..lines.len()).find(|&idx| rules::starts_notes(lines[idx], &text_kind)) {
        lines.truncate(cut);
    }
    while lines.len() > 1 && rules::is_trailer(lines[lines.len() - 1]) {
        lines.pop();
    }
    lines.retain(|line| !rules::is_scaffold_line(line, label, &text_kind));
    let joined = lines.join("\n");
    let text = strip_quotes(rules::strip_inline_lead_in(joined.trim(), &text_kind).trim());
    if !text.chars().any(char::is_alphanumeric) {
        return Err(Rejection::Empty);
    }
    rules::judge(text, label, &text_kind)?;
    if text.split_whitespace().filter(|word| word.chars().any(char::is_alphanumeric)).count() < MIN_WORDS {
        return Err(Rejection::TooFewWords);
    }
    Ok(text.to_string())
}

fn strip_quotes(text: &str) -> &str {
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\'')] {
        if let Some(inner) = text.strip_prefix(open).and_then(|t| t.strip_suffix(close))
            && !inner.contains(open)
            && !inner.contains(close)
        {
            return inner.trim();
        }
    }
    text
}

/// Checks that `text` is a sentence about exactly the entities of `relation`: each required tag
/// opens and closes the required number of times, in order, around a name (non-empty, at most
/// [`MAX_ENTITY_WORDS`] words), and at least
/// [`MIN_WORDS_OUTSIDE_TAGS`] words stand outside the tags, on every line that holds a tag (a
/// sentence followed by a line of bare tagged names is not a sentence about them).
pub fn check_entity_tags(text: &str, relation: &genprompt_core::RelationSpec) -> Result<(), Rejection> {
    for (tag, count) in relation.required_counts() {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        if text.matches(&open).count() != count || text.matches(&close).count() != count {
            return Err(Rejection::MissingEntityTags);
        }
        let mut rest = text;
        for _ in 0..count {
            let start = rest.find(&open).ok_or(Rejection::MissingEntityTags)? + open.len();
            let end = rest[start..].find(&close).ok_or(Rejection::MissingEntityTags)? + start;
            let name = &rest[start..end];
            if name.trim().is_empty() || name.contains('<') || name.split_whitespace().count() > MAX_ENTITY_WORDS {
                return Err(Rejection::MissingEntityTags);
            }
            rest = &rest[end + close.len()..];
        }
    }
    let tags: Vec<&str> = relation.required_counts().into_iter().map(|(tag, _)| tag).collect();
    if rules::words_outside_tags(text, &tags) < MIN_WORDS_OUTSIDE_TAGS {
        return Err(Rejection::TooFewWords);
    }
    let holds_a_tag =
        |line: &str| tags.iter().any(|tag| line.contains(&format!("<{tag}>")) || line.contains(&format!("</{tag}>")));
    if text.lines().any(|line| holds_a_tag(line) && rules::words_outside_tags(line, &tags) < MIN_WORDS_OUTSIDE_TAGS) {
        return Err(Rejection::TagsOutsideSentence);
    }
    Ok(())
}

/// Whether `text` nearly repeats `shown` (a parent or an example of its prompt): word-level
/// similarity at or above [`NEAR_COPY_SIMILARITY`], so a copy with a changed word or two counts.
pub fn is_near_copy(text: &str, shown: &str) -> bool {
    let (common, a, b) = common_words(text, shown);
    a > 0 && b > 0 && 2.0 * common as f64 / (a + b) as f64 >= NEAR_COPY_SIMILARITY
}

/// Whether `text` repeats most of a label's definition ("Technical support for the website or
/// app: login, password reset, ..."), which small models offer instead of an example of it.
/// Definitions under five words are too short to tell.
pub fn repeats_definition(text: &str, definition: &str) -> bool {
    let (common, _, n_definition) = common_words(text, definition);
    n_definition >= 5 && common as f64 >= DEFINITION_ECHO_SHARE * n_definition as f64
}

/// The longest common subsequence of the lowercased words of `a` and `b`, and their word counts.
fn common_words(a: &str, b: &str) -> (usize, usize, usize) {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    };
    let (a, b) = (words(a), words(b));
    // Longest common subsequence of words, one row at a time.
    let mut row = vec![0usize; b.len() + 1];
    for word in &a {
        let mut diagonal = 0;
        for (j, other) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if word == other { diagonal + 1 } else { row[j + 1].max(row[j]) };
            diagonal = above;
        }
    }
    (row[b.len()], a.len(), b.len())
}

/// The key under which two texts count as the same: case and whitespace do not matter.
pub(crate) fn duplicate_key(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests;
