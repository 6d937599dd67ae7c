//! What small instruct models wrap around the text they were asked for, and how to tell it from
//! a real text. Every rule here was seen in replies of Qwen2.5-Coder 0.5B/1.5B or SmolLM2 (see
//! BENCHMARKS.md, "Hygiene"); all compare lowercase text, so inputs are lowercased by the caller
//! unless a function says otherwise.

use super::Rejection;

/// Phrases that only a model declining the task writes.
const REFUSAL_PHRASES: [&str; 20] = [
    "as an ai",
    "language model",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i cannot provide",
    "i can't provide",
    "i can not provide",
    "i cannot generate",
    "i can't generate",
    "i cannot create",
    "i can't create",
    "i cannot write",
    "i can't write",
    "i cannot fulfill",
    "i can't fulfill",
    "i cannot assist",
    "i can't assist",
    "i can't help with that",
    "due to the ethical",
];

/// Refusals recognised at the start only, so that "sorry to bother you" and "I can't log in" survive.
const REFUSAL_OPENINGS: [&str; 6] =
    ["i'm sorry", "i am sorry", "sorry, but", "i apologize", "unfortunately, i", "sorry, i can"];

pub(super) fn is_refusal(lower: &str) -> bool {
    let lower = lower.trim_start();
    REFUSAL_OPENINGS.iter().any(|o| lower.starts_with(o)) || REFUSAL_PHRASES.iter().any(|p| has_phrase(lower, p))
}

/// `phrase` occurs in `lower` as whole words ("as an ai" is not in "as an aid").
pub(super) fn has_phrase(lower: &str, phrase: &str) -> bool {
    lower.match_indices(phrase).any(|(idx, _)| {
        let before = lower[..idx].chars().next_back();
        let after = lower[idx + phrase.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        (boundary(before) || !phrase.starts_with(char::is_alphanumeric))
            && (boundary(after) || !phrase.ends_with(char::is_alphanumeric))
    })
}

/// `lower` starts with `phrase` as whole words ("sure," but not "surely").
fn starts_with_phrase(lower: &str, phrase: &str) -> bool {
    lower.starts_with(phrase)
        && (!phrase.ends_with(char::is_alphanumeric) || !lower[phrase.len()..].starts_with(char::is_alphanumeric))
}

/// One of `words` is a word of `lower`.
fn has_word(lower: &str, words: &[&str]) -> bool {
    lower.split(|c: char| !c.is_alphanumeric()).any(|word| words.contains(&word))
}

/// Acknowledgements a reply opens with before the text: "Sure!", "Certainly.".
const ACKS: [&str; 7] = ["sure", "certainly", "of course", "absolutely", "okay", "ok", "great"];

/// Openings of a line that introduces the text rather than being it.
const PREAMBLE_OPENINGS: [&str; 11] = [
    "here is",
    "here's",
    "here are",
    "sure",
    "certainly",
    "okay",
    "ok,",
    "of course",
    "absolutely",
    "below is",
    "the following",
];

/// Words by which an introduction ("Here is a new customer message:") names what follows.
const INTRO_MARKERS: [&str; 9] =
    ["new", "example", "one", "synthetic", "generated", "version", "sample", "text", "message"];

/// A line that introduces the text ("Here is a new message:", "### Customer message for billing",
/// "**Text:**", "Example 3:"), dropped when text follows it.
pub(super) fn is_lead_in(line: &str, text_kind: &str) -> bool {
    let lower = line.to_lowercase();
    let bare = lower.trim_matches(|c: char| c == '*' || c == '_' || c == '#' || c.is_whitespace());
    let ack = ACKS.iter().any(|a| bare.strip_prefix(a).is_some_and(|rest| rest.chars().all(|c| !c.is_alphanumeric())));
    let preamble = PREAMBLE_OPENINGS.iter().any(|o| starts_with_phrase(bare, o))
        && (bare.ends_with(':') || bare.len() < 80)
        && !bare.contains(". ");
    let heading = lower.starts_with("# ") || lower.starts_with("##");
    let bold_only = line.starts_with("**") && line.ends_with("**");
    let label_only = bare.ends_with(':') && (bare.contains(text_kind) || has_word(bare, &INTRO_MARKERS));
    ack || preamble || heading || bold_only || label_only || is_example_label(bare)
}

/// "example 3:", "text:", "output:" alone on a line.
fn is_example_label(bare: &str) -> bool {
    let Some(head) = bare.strip_suffix(':') else { return false };
    let head = head.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ' || c == '#');
    matches!(head, "example" | "text" | "output" | "answer" | "response" | "new example" | "result")
}

/// Lines after the text that talk about it: "Note: ...", "This message inherits...".
pub(super) fn is_trailer(line: &str) -> bool {
    let lower = line.to_lowercase();
    let bare = lower.trim_start_matches(['(', '*', '_', '-', ' ']);
    const TRAILERS: [&str; 14] = [
        "note:",
        "note that",
        "explanation",
        "this message",
        "this tweet",
        "this sentence",
        "this text",
        "this example",
        "i hope this",
        "let me know",
        "feel free",
        "category:",
        "relation:",
        "label:",
    ];
    TRAILERS.iter().any(|t| bare.starts_with(t)) || bare.is_empty() && line.starts_with("---")
}

/// Echoed prompt scaffolding that can sit on any line: "Category: billing", "Text:".
pub(super) fn is_scaffold_line(line: &str, label: &str, text_kind: &str) -> bool {
    let lower = line.to_lowercase();
    let bare = lower.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
    bare == format!("category: {}", label.to_lowercase())
        || bare == format!("relation: {}", label.to_lowercase())
        || bare == "text:"
        || bare == format!("{text_kind}:")
        || (bare.starts_with("category:") || bare.starts_with("relation:")) && bare.len() < 60
}

/// Strips introductions that share the text's own line: "Certainly. Example 2: Order..." gives
/// "Order...". `text_kind` is lowercase.
pub(super) fn strip_inline_lead_in<'t>(mut text: &'t str, text_kind: &str) -> &'t str {
    for _ in 0..4 {
        let before = text;
        text = text.trim_start_matches(['*', '_', ' ']).trim_start();
        // "Sure! ", "Certainly. "
        for ack in ACKS {
            if let Some(rest) = strip_prefix_ci(text, ack)
                && rest.starts_with(['.', '!', ',', ':'])
            {
                text = rest[1..].trim_start();
            }
        }
        // "Here is a new customer message: ..." (not "Here is my complaint: ...")
        let introduces = |head: &str| {
            let head = head.to_lowercase();
            has_word(&head, &INTRO_MARKERS) || head.contains(text_kind)
        };
        if ["here is", "here's", "here are", "below is"].iter().any(|o| strip_prefix_ci(text, o).is_some())
            && let Some(colon) = text.find(':').filter(|&c| c < 100 && introduces(&text[..c]))
        {
            text = text[colon + 1..].trim_start();
        }
        // "Text:", "Customer message:", "New customer message:", "Example 2:", "Output:"
        if let Some(colon) = text.find(':').filter(|&c| c <= 40) {
            let head = text[..colon].trim_matches(['*', '_', ' ']).to_lowercase();
            let head = head.strip_prefix("new ").unwrap_or(&head);
            if is_example_label(&format!("{head}:")) || head == text_kind {
                text = text[colon + 1..].trim_start_matches(['*', '_']).trim_start();
            }
        }
        if text == before {
            break;
        }
    }
    text
}

/// `text` without `prefix`, compared ASCII-case-insensitively; `None` if it does not start so.
/// Slices only at a boundary of `text` itself, so non-ASCII text can never split a character.
pub(super) fn strip_prefix_ci<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Why a cleaned text is still not a text of the asked kind, if it is not.
pub(super) fn judge(text: &str, label: &str, text_kind: &str) -> Result<(), Rejection> {
    let lower = text.to_lowercase();
    if is_refusal(&lower) {
        return Err(Rejection::Refusal);
    }
    if is_chatter(&lower, text_kind) {
        return Err(Rejection::Chatter);
    }
    if is_prompt_echo(&lower) {
        return Err(Rejection::PromptEcho);
    }
    if is_markdown(text) {
        return Err(Rejection::Markdown);
    }
    if is_list_scaffolding(text, &lower) {
        return Err(Rejection::ListScaffolding);
    }
    if is_key_value(text) {
        return Err(Rejection::KeyValue);
    }
    if has_placeholder(&lower) {
        return Err(Rejection::Placeholder);
    }
    if other_script_share(text) > 0.1 && is_latin(label) && is_latin(text_kind) {
        return Err(Rejection::OtherScript);
    }
    Ok(())
}

fn is_chatter(lower: &str, text_kind: &str) -> bool {
    const OPENINGS: [&str; 10] = [
        "below is",
        "to generate",
        "to create",
        "to write",
        "we need to",
        "let's",
        "understanding the",
        "the following is",
        "here is a new",
        "here's a new",
    ];
    const ANYWHERE: [&str; 7] = [
        "i hope this helps",
        "let me know if",
        "feel free to",
        "inherits from",
        "\nnote:",
        "explanation:",
        "this message is written",
    ];
    let starts_new_kind = lower.starts_with("new ") && lower.get(4..).is_some_and(|rest| rest.starts_with(text_kind));
    let ack = ACKS.iter().any(|a| lower.strip_prefix(a).is_some_and(|rest| rest.starts_with(['!', '.', ',', ':'])));
    ack || OPENINGS.iter().any(|o| starts_with_phrase(lower, o))
        || ANYWHERE.iter().any(|a| lower.contains(a))
        || starts_new_kind
}

fn is_prompt_echo(lower: &str) -> bool {
    const ECHOES: [&str; 11] = [
        "example 1",
        "example 2",
        "example 3",
        "category:",
        "relation:",
        "genotype:",
        "inherit from",
        "synthetic data",
        "synthetic training",
        "xml-style",
        "both examples",
    ];
    ECHOES.iter().any(|e| lower.contains(e))
}

fn is_markdown(text: &str) -> bool {
    text.contains("**")
        || text.contains("__")
        || text.contains("```")
        || text.lines().map(str::trim_start).any(|line| {
            line.starts_with("# ") || line.starts_with("##") || line.starts_with('|') && line.trim_end().ends_with('|')
        })
}

/// Two or more bullet or numbered lines, or instructions ("follow these steps").
fn is_list_scaffolding(text: &str, lower: &str) -> bool {
    let list_lines = text.lines().filter(|line| is_list_line(line.trim_start())).count();
    list_lines >= 2 || ["these steps", "step 1", "step-by-step", "steps:"].iter().any(|s| lower.contains(s))
}

fn is_list_line(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix(['-', '*', '•']) {
        return rest.starts_with(' ');
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && digits < 3 && line[digits..].starts_with(['.', ')']) && line[digits + 1..].starts_with(' ')
}

/// `key="value"` pairs, JSON, or two or more "Key: value" lines: an attribute dump, not a text.
fn is_key_value(text: &str) -> bool {
    let trimmed = text.trim_start();
    // Not "[3H]dopamine binds...": a JSON array opens with a string or an object.
    let array = trimmed.strip_prefix('[').is_some_and(|rest| rest.trim_start().starts_with(['"', '{']));
    if trimmed.starts_with('{') || array {
        return true;
    }
    let bytes = text.as_bytes();
    let assigns = bytes.iter().enumerate().any(|(idx, &b)| {
        b == b'=' && {
            let after = text[idx + 1..].trim_start();
            let before = text[..idx].trim_end();
            (after.starts_with('"') || after.starts_with('\''))
                && before.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_')
        }
    });
    let json_pairs = text.contains("\":") && text.matches('"').count() >= 4;
    let key_lines = text
        .lines()
        .filter(|line| {
            let Some((key, value)) = line.split_once(':') else { return false };
            let key = key.trim();
            !value.trim().is_empty()
                && key.split_whitespace().count() <= 3
                && key.chars().next().is_some_and(char::is_alphabetic)
                && key.chars().all(|c| c.is_alphanumeric() || c == ' ' || c == '_')
        })
        .count();
    assigns || json_pairs || key_lines >= 2
}

fn has_placeholder(lower: &str) -> bool {
    const HOLES: [&str; 12] = [
        "[your ",
        "[insert",
        "[name]",
        "[customer",
        "[order",
        "[product",
        "[company",
        "[date]",
        "<your ",
        "<insert",
        "lorem ipsum",
        "quick brown fox",
    ];
    HOLES.iter().any(|h| lower.contains(h))
}

/// Share of the letters outside the Latin script (Latin-1 and Latin Extended included).
fn other_script_share(text: &str) -> f64 {
    let (mut letters, mut other) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        other += usize::from(c as u32 > 0x24F);
    }
    if letters == 0 { 0.0 } else { other as f64 / letters as f64 }
}

/// The task is written in a Latin-script language (its label and text kind are).
fn is_latin(words: &str) -> bool {
    words.chars().all(|c| !c.is_alphabetic() || (c as u32) <= 0x24F)
}

/// Words outside the entity tags of a relation text (tag contents and the tags themselves removed).
pub(super) fn words_outside_tags(text: &str, tags: &[&str]) -> usize {
    let mut rest = text.to_string();
    for tag in tags {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        while let Some(start) = rest.find(&open) {
            let Some(end) = rest[start..].find(&close).map(|e| e + start + close.len()) else { break };
            rest.replace_range(start..end, " ");
        }
    }
    rest.split_whitespace().filter(|word| word.chars().any(char::is_alphabetic)).count()
}
