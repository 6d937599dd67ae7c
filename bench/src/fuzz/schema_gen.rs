//! The JSON-schema checker and the GBNF builder, on mutated and generated schemas.
//!
//! Generated inputs come with a value built to fit their schema: the checker must accept it (a
//! false rejection is a finding), and the grammar built from the schema must name only rules it
//! defines.

use std::collections::BTreeSet;

use genprompt_llm::schema;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::targets::Target;

const TYPES: [&str; 7] = ["object", "array", "string", "number", "integer", "boolean", "null"];

/// A schema of the supported subset, at most `depth` levels deep, and a value that fits it.
fn schema_and_value(rng: &mut ChaCha8Rng, depth: u32) -> (Value, Value) {
    let kind =
        if depth == 0 { TYPES[rng.random_range(2..TYPES.len())] } else { TYPES[rng.random_range(0..TYPES.len())] };
    if rng.random_bool(0.1) {
        let values: Vec<Value> = (0..rng.random_range(1..4)).map(|_| scalar(rng)).collect();
        let pick = values[rng.random_range(0..values.len())].clone();
        return (json!({"enum": values}), pick);
    }
    match kind {
        "object" => {
            let (mut properties, mut object, mut required) = (Map::new(), Map::new(), Vec::new());
            for i in 0..rng.random_range(0..4) {
                let name = key(rng, i);
                if properties.contains_key(&name) {
                    continue;
                }
                let (sub, value) = schema_and_value(rng, depth - 1);
                properties.insert(name.clone(), sub);
                if rng.random_bool(0.7) {
                    object.insert(name.clone(), value);
                    if rng.random_bool(0.5) {
                        required.push(Value::String(name));
                    }
                }
            }
            (json!({"type": "object", "properties": properties, "required": required}), Value::Object(object))
        }
        "array" => {
            let (min, max) = (rng.random_range(0..3u64), rng.random_range(3..6u64));
            let (items, _) = schema_and_value(rng, depth - 1);
            let n = rng.random_range(min..=max);
            let values = (0..n).map(|_| fit(&items, rng, depth - 1)).collect();
            (json!({"type": "array", "items": items, "minItems": min, "maxItems": max}), Value::Array(values))
        }
        "string" => {
            let (min, max) = (rng.random_range(0..3u64), rng.random_range(3..12u64));
            let n = rng.random_range(min..=max);
            let text: String = (0..n).map(|_| rng.random_range(' '..='\u{24f}')).collect();
            (json!({"type": "string", "minLength": min, "maxLength": max}), Value::String(text))
        }
        "number" => (json!({"type": "number"}), json!(rng.random_range(-1e6..1e6))),
        "integer" => (json!({"type": ["integer", "null"]}), json!(rng.random_range(-1000..1000))),
        "boolean" => (json!({"type": "boolean"}), json!(rng.random_bool(0.5))),
        _ => (json!({"type": "null"}), Value::Null),
    }
}

/// Another value fitting `schema`, for array items.
fn fit(schema: &Value, rng: &mut ChaCha8Rng, depth: u32) -> Value {
    // Regenerate until the shape matches: cheap, since item schemas are small.
    for _ in 0..64 {
        let (candidate_schema, value) = schema_and_value(rng, depth);
        if candidate_schema == *schema || schema::fits(&value, schema, "$").is_ok() {
            return value;
        }
    }
    match schema.get("enum").and_then(Value::as_array).and_then(|v| v.first()) {
        Some(first) => first.clone(),
        None => minimal(schema),
    }
}

/// The smallest value of a schema the generator made.
fn minimal(schema: &Value) -> Value {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64).unwrap_or(0);
    match types.first().copied() {
        Some("object") => {
            let required = schema.get("required").and_then(Value::as_array).into_iter().flatten();
            let properties = schema.get("properties").cloned().unwrap_or(json!({}));
            let object: Map<String, Value> =
                required.filter_map(Value::as_str).map(|k| (k.to_string(), minimal(&properties[k]))).collect();
            Value::Object(object)
        }
        Some("array") => Value::Array(vec![minimal(&schema["items"]); bound("minItems") as usize]),
        Some("string") => Value::String("x".repeat(bound("minLength") as usize)),
        Some("number") | Some("integer") => json!(0),
        Some("boolean") => json!(false),
        _ => match schema.get("enum").and_then(Value::as_array).and_then(|v| v.first()) {
            Some(first) => first.clone(),
            None => Value::Null,
        },
    }
}

fn scalar(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..4) {
        0 => json!(rng.random_range(-5..5)),
        1 => json!(["a", "b\"c", "\\", "\u{130}", "line\nbreak"][rng.random_range(0..5)]),
        2 => json!(rng.random_bool(0.5)),
        _ => Value::Null,
    }
}

fn key(rng: &mut ChaCha8Rng, i: usize) -> String {
    let names = ["genes", "values", "a b", "\u{e9}t\u{e9}", "x-y", "\"q\"", "\\", "", "root", "1"];
    format!(
        "{}{}",
        names[rng.random_range(0..names.len())],
        if rng.random_bool(0.5) { i.to_string() } else { String::new() }
    )
}

const SEEDS: [&str; 4] = [
    r#"{"type":"object","properties":{"genes":{"type":"array","items":{"type":"string","maxLength":40},"minItems":1,"maxItems":10}},"required":["genes"]}"#,
    r#"{"type":["string","null"],"minLength":2}"#,
    r#"{"enum":["a",1,null,{"k":[true]}]}"#,
    r#"{"properties":{"n":{"type":"integer"},"m":{"const":"x"}},"items":{"type":"boolean"}}"#,
];

const DICTIONARY: [&str; 12] = [
    "\"type\":",
    "\"properties\":",
    "\"items\":",
    "\"required\":",
    "\"enum\":",
    "\"const\":",
    "\"minItems\":",
    "\"maxItems\":",
    "\"minLength\":",
    "\"maxLength\":",
    "\"anyOf\":",
    "{\"type\":\"object\"}",
];

/// `schema::parse` on `schema\0reply`.
pub struct SchemaCheck;

impl Target for SchemaCheck {
    fn name(&self) -> &'static str {
        "schema-check"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let replies = [r#"{"genes":["length","tone"]}"#, "null", "```json\n{\"genes\": []}\n```", "\"xy\""];
        SEEDS.iter().zip(replies).map(|(s, r)| format!("{s}\0{r}").into_bytes()).collect()
    }

    fn dictionary(&self) -> Vec<&'static str> {
        let mut words = DICTIONARY.to_vec();
        words.extend(["```", "```json\n", "\0"]);
        words
    }

    fn run(&mut self, input: &[u8]) {
        let text = String::from_utf8_lossy(input);
        let (schema_text, reply) = text.split_once('\0').unwrap_or((&text, ""));
        let Ok(shape) = serde_json::from_str::<Value>(schema_text) else { return };
        if let Ok(value) = schema::parse(reply, &shape) {
            assert!(schema::fits(&value, &shape, "$").is_ok(), "parse and fits agree");
        }
    }

    fn can_generate(&self) -> bool {
        true
    }

    fn generate(&mut self, rng: &mut ChaCha8Rng) -> Vec<u8> {
        let depth = rng.random_range(0..4);
        let (shape, value) = schema_and_value(rng, depth);
        let reply = if rng.random_bool(0.5) { value.to_string() } else { format!("```json\n{value:#}\n```") };
        if let Err(why) = schema::parse(&reply, &shape) {
            panic!("a value built to fit was refused: {why}\nschema: {shape}\nreply: {reply}");
        }
        format!("{shape}\0{reply}").into_bytes()
    }
}

/// `grammar_for_schema` on a schema.
pub struct Gbnf;

impl Target for Gbnf {
    fn name(&self) -> &'static str {
        "gbnf"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn dictionary(&self) -> Vec<&'static str> {
        DICTIONARY.to_vec()
    }

    fn run(&mut self, input: &[u8]) {
        let Ok(shape) = serde_json::from_slice::<Value>(input) else { return };
        if let Ok(grammar) = genprompt_llm_llama::grammar_for_schema(&shape) {
            check_grammar(&grammar);
        }
    }

    fn can_generate(&self) -> bool {
        true
    }

    fn generate(&mut self, rng: &mut ChaCha8Rng) -> Vec<u8> {
        let depth = rng.random_range(0..4);
        let (shape, _) = schema_and_value(rng, depth);
        match genprompt_llm_llama::grammar_for_schema(&shape) {
            Ok(grammar) => check_grammar(&grammar),
            Err(why) => panic!("a supported schema was refused: {why}\nschema: {shape}"),
        }
        shape.to_string().into_bytes()
    }
}

/// Every rule is defined once, `root` first, and every name a rule uses is defined.
fn check_grammar(grammar: &str) {
    assert!(grammar.starts_with("root ::= "), "{grammar}");
    assert!(grammar.len() < 1 << 20, "a grammar of {} bytes", grammar.len());
    let mut defined = BTreeSet::new();
    let mut bodies = Vec::new();
    for line in grammar.lines() {
        let (name, body) = line.split_once(" ::= ").unwrap_or_else(|| panic!("not a rule: {line:?}"));
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "rule name {name:?}");
        assert!(defined.insert(name), "{name} defined twice");
        bodies.push(body);
    }
    for body in bodies {
        for name in names_used(body) {
            assert!(defined.contains(name.as_str()), "{name} is used but not defined in\n{grammar}");
        }
    }
}

/// Rule names in a GBNF body: words outside string literals, character classes and `{m,n}`.
fn names_used(body: &str) -> Vec<String> {
    let (mut names, mut word, mut chars) = (Vec::new(), String::new(), body.chars().peekable());
    let flush = |word: &mut String, names: &mut Vec<String>| {
        if !word.is_empty() {
            names.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' | '[' => {
                flush(&mut word, &mut names);
                let close = if c == '"' { '"' } else { ']' };
                while let Some(inner) = chars.next() {
                    if inner == '\\' {
                        chars.next();
                    } else if inner == close {
                        break;
                    }
                }
            }
            '{' => {
                flush(&mut word, &mut names);
                for inner in chars.by_ref() {
                    if inner == '}' {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphanumeric() || c == '-' => word.push(c),
            _ => flush(&mut word, &mut names),
        }
    }
    flush(&mut word, &mut names);
    names
}
