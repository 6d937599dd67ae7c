//! Turning a raw reply into a dataset text, or a counted `Rejection`.

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
    /// The reply repeats a seed row or a text shown in its prompt.
    CopiesParent,
    /// A relation task's reply without exactly the required entity tags.
    MissingEntityTags,
    /// Curated LLM: a classifier trained on real rows is not confident about its label.
    CuratedOut,
    LlmError,
}

/// The official code's filter: any of these substrings drops the reply.
const RAW_REFUSAL_SUBSTRINGS: [&str; 5] = ["I apologize", "sorry", "Sorry", "an AI language model", "I cannot perform"];

/// Refusals recognised in clean mode: only at the start of the reply, so that a customer message
/// saying "sorry to bother you" survives, plus the unmistakable "as an AI" anywhere.
const REFUSAL_OPENINGS: [&str; 9] = [
    "i'm sorry",
    "i am sorry",
    "sorry, but",
    "i apologize",
    "i cannot",
    "i can't",
    "i can not",
    "as an ai",
    "i'm unable",
];

const PREAMBLE_OPENINGS: [&str; 8] = ["here is", "here's", "here are", "sure", "certainly", "okay", "ok,", "of course"];

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

fn clean(raw: &str, label: &str, text_kind: &str) -> Result<String, Rejection> {
    let lower = raw.trim_start().to_lowercase();
    if REFUSAL_OPENINGS.iter().any(|opening| lower.starts_with(opening)) || lower.contains("as an ai language model") {
        return Err(Rejection::Refusal);
    }
    let label_line = format!("category: {}", label.to_lowercase());
    let mut lines: Vec<&str> = raw.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    // Drop a leading chatter line ("Here is a new message:") when real text follows it.
    if lines.len() > 1 && is_preamble(lines[0]) {
        lines.remove(0);
    }
    // Drop echoed prompt scaffolding anywhere.
    lines.retain(|line| {
        let lower = line.to_lowercase();
        !(lower == label_line || lower == "text:" || lower.starts_with("category:") && lower.len() < 60)
    });
    let mut text = lines.join("\n");
    for prefix in ["text:", &format!("{}:", text_kind.to_lowercase()), "example 3:", "new example:"] {
        if let Some(rest) = strip_prefix_ignoring_case(&text, prefix) {
            text = rest.trim_start().to_string();
        }
    }
    let text = strip_quotes(text.trim());
    if text.chars().any(char::is_alphanumeric) { Ok(text.to_string()) } else { Err(Rejection::Empty) }
}

/// `text` after a prefix whose lowercase is `prefix`. Lowercasing can change a character's
/// length in bytes ('İ', the Kelvin sign), so the cut is found character by character.
fn strip_prefix_ignoring_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let mut lowered = String::with_capacity(prefix.len());
    for (idx, c) in text.char_indices() {
        if lowered.len() >= prefix.len() {
            return (lowered == prefix).then(|| &text[idx..]);
        }
        lowered.extend(c.to_lowercase());
        if !prefix.starts_with(lowered.as_str()) {
            return None;
        }
    }
    (lowered == prefix).then_some("")
}

fn is_preamble(line: &str) -> bool {
    let lower = line.to_lowercase();
    PREAMBLE_OPENINGS.iter().any(|opening| lower.starts_with(opening)) && (lower.ends_with(':') || lower.len() < 80)
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

/// Checks that `text` marks exactly the entities of `relation`: each required tag opens and closes
/// the required number of times, in order, around non-empty text.
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
            if rest[start..end].trim().is_empty() || rest[start..end].contains('<') {
                return Err(Rejection::MissingEntityTags);
            }
            rest = &rest[end + close.len()..];
        }
    }
    Ok(())
}

/// The key under which two texts count as the same: case and whitespace do not matter.
pub(crate) fn duplicate_key(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: Result<&str, Rejection>) {
        let got = clean_reply(raw, Cleaning::Clean, "billing", "customer message");
        assert_eq!(got.as_deref().map_err(|r| *r), expected, "raw reply: {raw:?}");
    }

    #[test]
    fn cleaning_cases() {
        check("I was charged twice for order 1234.", Ok("I was charged twice for order 1234."));
        check("Here is a new customer message:\n\"Why was I billed twice?\"", Ok("Why was I billed twice?"));
        check("Sure! Here's one:\nMy invoice is wrong.\nCategory: billing", Ok("My invoice is wrong."));
        check("Text: The refund never arrived.", Ok("The refund never arrived."));
        check("Customer message: Please cancel the charge.", Ok("Please cancel the charge."));
        check("  \n ", Err(Rejection::Empty));
        check("\"\"", Err(Rejection::Empty));
        check("🙂🙂🙂", Err(Rejection::Empty));
        check("I'm sorry, but I can't help with that.", Err(Rejection::Refusal));
        check("As an AI, I cannot write that.", Err(Rejection::Refusal));
        check("Sorry to bother you, but I was charged twice.", Ok("Sorry to bother you, but I was charged twice."));
        check(
            "Here is my complaint: the bill doubled this month and nobody answers.",
            Ok("Here is my complaint: the bill doubled this month and nobody answers."),
        );
    }

    #[test]
    fn a_prefix_that_changes_length_when_lowercased_is_cut_at_the_right_place() {
        // 'İ' is 2 bytes and lowercases to 3; the Kelvin sign is 3 bytes and lowercases to 1.
        let got = clean_reply("İstanbul haberi:Derbi bitti.", Cleaning::Clean, "spor", "İstanbul haberi");
        assert_eq!(got.as_deref(), Ok("Derbi bitti."));
        // Cutting by the lowercase's length would land inside 'é' here.
        assert_eq!(clean_reply("İ:é bien", Cleaning::Clean, "x", "İ").as_deref(), Ok("é bien"));
        let got = clean_reply("\u{212a}elvin note: it is cold.", Cleaning::Clean, "x", "kelvin note");
        assert_eq!(got.as_deref(), Ok("it is cold."));
        assert_eq!(strip_prefix_ignoring_case("İİx", "i̇i̇"), Some("x"));
        assert_eq!(strip_prefix_ignoring_case("İ", "i"), None);
        assert_eq!(strip_prefix_ignoring_case("Text:", "text:"), Some(""));
    }

    #[test]
    fn raw_mode_keeps_text_and_uses_the_papers_substrings() {
        let raw = |text| clean_reply(text, Cleaning::Raw, "billing", "customer message");
        assert_eq!(raw("Here is one:\nBilled twice."), Ok("Here is one:\nBilled twice.".to_string()));
        assert_eq!(raw("sorry to bother you"), Err(Rejection::Refusal));
        assert_eq!(raw(" "), Err(Rejection::Empty));
    }

    #[test]
    fn entity_tags_must_be_exactly_the_required_pairs() {
        use genprompt_core::RelationSpec;
        let pair = RelationSpec { tags: ["chemical".into(), "protein".into()] };
        let same = RelationSpec { tags: ["entity".into(), "entity".into()] };
        let check = |text: &str, spec: &RelationSpec| check_entity_tags(text, spec).is_ok();
        assert!(check("<chemical>Aspirin</chemical> inhibits <protein>COX-1</protein>.", &pair));
        assert!(check("<protein>COX-1</protein> is blocked by <chemical>aspirin</chemical>", &pair));
        assert!(!check("<chemical>Aspirin</chemical> inhibits COX-1.", &pair), "one entity missing");
        assert!(!check("<chemical>A</chemical> and <chemical>B</chemical> bind <protein>P</protein>", &pair));
        assert!(!check("<chemical></chemical> binds <protein>P</protein>", &pair), "empty entity");
        assert!(!check("<chemical>A binds <protein>P</protein></chemical>", &pair), "nested");
        assert!(!check("<chemical>A</chemical binds <protein>P</protein>", &pair), "broken closing tag");
        assert!(check("<entity>John</entity> works for <entity>Acme</entity>.", &same));
        assert!(!check("<entity>John</entity> works for Acme.", &same));
    }

    #[test]
    fn duplicate_key_ignores_case_and_spacing() {
        assert_eq!(duplicate_key(" Billed  Twice\n"), duplicate_key("billed twice"));
    }
}
