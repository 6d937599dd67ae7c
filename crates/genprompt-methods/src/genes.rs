//! Gene identification (paper §2.1): ask the LLM which attributes of a text, viewed as genes,
//! matter for the task. The answer is a list of names for a person to review, not values.

use genprompt_core::{SeedRow, Task};
use genprompt_llm::schema;
use serde_json::Value;

use crate::prompt_parts::one_line;

/// Real rows shown per label when asking for genes.
pub const GENE_EXAMPLES_PER_LABEL: usize = 2;

/// The question, with the task's labels and a few real rows.
pub fn render_gene_prompt(task: &Task, seed_rows: &[Vec<SeedRow>]) -> String {
    let mut prompt =
        format!("We are building a dataset for the {} task. Each text is a {}.\n", task.domain, task.text_kind);
    prompt.push_str("The labels are:\n");
    for label in task.labels() {
        prompt.push_str(&format!("- {}: {}\n", label.name, label.definition));
    }
    prompt.push_str("Examples:\n");
    for label_id in task.label_ids() {
        for row in seed_rows[label_id.0].iter().take(GENE_EXAMPLES_PER_LABEL) {
            prompt.push_str(&format!("- ({}) {}\n", task.label(label_id).name, one_line(&row.text)));
        }
    }
    prompt.push_str(&format!(
        "\nIf text attributes are viewed as genes, which genes are most important in the given {} task? \
Answer with 4 to 7 attribute names such as length or style, one per line, without explanations.",
        task.domain
    ));
    prompt
}

/// Gene names from a free-form reply: list markers, numbering, explanations after ':' or ' - ',
/// and markdown are dropped; names are lowercased snake_case of at most four words, deduplicated.
pub fn parse_gene_list(reply: &str) -> Vec<String> {
    let mut genes: Vec<String> = Vec::new();
    for line in reply.lines().map(str::trim) {
        if line.ends_with(':') {
            continue; // a heading such as "Here are the genes:"
        }
        // "length, style, tone" on one line is a list; "Tone: polite, angry" is a name and its notes.
        let items: Vec<&str> = if line.contains(':') { vec![line] } else { line.split(',').collect() };
        for item in items {
            let item = item.trim().trim_start_matches(|c: char| c.is_ascii_digit() || "-*•.)# ".contains(c));
            let name = item.split([':', '(']).next().unwrap_or("").split(" - ").next().unwrap_or("");
            let name = name.replace(['*', '`', '"', '\''], "");
            let words: Vec<String> =
                name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
            if words.is_empty() || words.len() > 4 || words.iter().any(|w| w.len() > 24) {
                continue;
            }
            let gene = words.join("_");
            if !genes.contains(&gene) {
                genes.push(gene);
            }
        }
    }
    genes
}

/// What structured-output backends are asked for: `{"genes": [name, ...]}`. The prompt still asks
/// for 4 to 7 names; the bounds leave room around that.
pub fn gene_list_schema() -> Value {
    schema::string_list("genes", 1, 10, 40)
}

/// AttrPrompt values as structured output: `{"values": [value, ...]}`.
pub fn value_list_schema() -> Value {
    schema::string_list("values", 1, 10, 80)
}

/// Gene names from a reply that fits [`gene_list_schema`], cleaned like free-text ones.
pub fn genes_from_json(reply: &Value) -> Vec<String> {
    parse_gene_list(&strings(reply, "genes").join("\n"))
}

/// Values from a reply that fits [`value_list_schema`], cleaned like free-text ones.
pub fn values_from_json(reply: &Value) -> Vec<String> {
    parse_value_list(&strings(reply, "values").join("\n"))
}

fn strings<'v>(reply: &'v Value, field: &str) -> Vec<&'v str> {
    reply.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_lists_are_cleaned_like_free_text() {
        let reply = serde_json::json!({"genes": ["Tone", "**Length**: words", "sports", "tone", "a b c d e"]});
        assert_eq!(genes_from_json(&reply), ["tone", "length", "sports"]);
        let reply = serde_json::json!({"values": ["Polite.", "polite", "1. angry"]});
        assert_eq!(values_from_json(&reply), ["Polite", "angry"]);
        assert!(genes_from_json(&serde_json::json!({"values": ["x"]})).is_empty());
        let schema = gene_list_schema();
        assert!(schema::parse(r#"{"genes": ["tone"]}"#, &schema).is_ok());
        assert!(schema::parse(r#"{"genes": []}"#, &schema).is_err());
    }

    #[test]
    fn gene_lists_in_the_shapes_models_answer_with() {
        let reply = "Here are the genes:\n1. **Length**: how long the text is\n2. Tone - polite or angry\n- Voice (active/passive)\n* sub-topic\n3. Length\nThis list covers the main aspects of the messages in the dataset.";
        assert_eq!(parse_gene_list(reply), ["length", "tone", "voice", "sub_topic"]);
        assert_eq!(parse_gene_list("length, style, sentence structure"), ["length", "style", "sentence_structure"]);
        assert!(parse_gene_list("").is_empty());
    }
}

/// AttrPrompt's value proposal (Yu et al. 2023): ask for values of one attribute, for the whole
/// task or, with `label`, for one label (class-dependent values such as subtopics).
pub fn render_attribute_prompt(task: &Task, attribute: &str, label: Option<genprompt_core::LabelId>) -> String {
    let scope = match label {
        Some(id) => {
            let label = task.label(id);
            format!("{}s of the category '{}' ({})", task.text_kind, label.name, label.definition)
        }
        None => format!("{}s", task.text_kind),
    };
    format!(
        "We are building a dataset for the {} task. List 5 distinct, concrete values of the attribute \
'{attribute}' for {scope}. Answer with one short value per line, without explanations.",
        task.domain
    )
}

/// Values from a free-form reply: one per line, list markers and numbering dropped, explanations
/// after ':' or ' - ' dropped, at most 8 words each, deduplicated (case-insensitively).
pub fn parse_value_list(reply: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for line in reply.lines().map(str::trim) {
        if line.ends_with(':') {
            continue;
        }
        let line = line.trim_start_matches(|c: char| c.is_ascii_digit() || "-*•.)# ".contains(c));
        let value = line.split(" - ").next().unwrap_or("").split(": ").next().unwrap_or("");
        let value = value.replace(['*', '`', '"'], "").trim().trim_end_matches(['.', ',', ';']).to_string();
        let n_words = value.split_whitespace().count();
        if n_words == 0 || n_words > 8 || values.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            continue;
        }
        values.push(value);
    }
    values
}

#[cfg(test)]
mod value_tests {
    use super::*;

    #[test]
    fn value_lists_in_the_shapes_models_answer_with() {
        let reply = "Here are some values:\n1. Short (under 10 words) - quick notes\n2. **Medium**: a few sentences\n- long\n- Long.\nThis is a sentence that is far too long to be a value at all.";
        assert_eq!(parse_value_list(reply), ["Short (under 10 words)", "Medium", "long"]);
    }
}
