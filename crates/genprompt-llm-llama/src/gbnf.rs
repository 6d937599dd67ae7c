//! JSON Schema to GBNF (llama.cpp's grammar format), for the subset methods ask for.
//!
//! llama-cpp-2 ships a converter behind its `common` feature, which this workspace leaves off
//! because it compiles much more C++. Supported: `type` (object, array, string, number, integer,
//! boolean, null, or a list of them), `properties`, `items`, `minItems`/`maxItems`,
//! `minLength`/`maxLength`, a string's `pattern` (see [`pattern`]), `enum` and `const`. Anything
//! else is refused rather than ignored.
//!
//! The grammar describes a subset of the valid documents, chosen to keep a small model on track:
//! every listed property is produced, in schema order (optional ones too: an object holding
//! every property still fits), whitespace is at most one space, and strings hold no raw control
//! characters.

use serde_json::Value;

/// Largest repetition bound (`maxItems`, `maxLength`...) put in a grammar: llama.cpp expands
/// `x{m,n}` into about `n` rules, so a huge bound would exhaust memory instead of failing.
const MAX_REPEAT: u64 = 4096;

const UNSUPPORTED: [&str; 8] = ["$ref", "anyOf", "oneOf", "allOf", "not", "patternProperties", "if", "format"];

/// The grammar for `schema`, with start rule `root`.
pub(crate) fn from_schema(schema: &Value) -> Result<String, String> {
    let mut rules = Rules::default();
    let root = rules.expr(schema, "root", "$")?;
    let mut grammar = format!("root ::= {root}\n");
    for (name, body) in &rules.named {
        grammar.push_str(&format!("{name} ::= {body}\n"));
    }
    grammar.push_str(PRIMITIVES);
    Ok(grammar)
}

/// Shared rules; unused ones are harmless to llama.cpp's parser.
const PRIMITIVES: &str = r#"ws ::= " "?
char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
string ::= "\"" char* "\""
integer ::= "-"? ("0" | [1-9] [0-9]{0,15})
number ::= integer ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?
boolean ::= "true" | "false"
null ::= "null"
"#;

#[derive(Default)]
struct Rules {
    named: Vec<(String, String)>,
}

impl Rules {
    /// Adds a rule under a name derived from `hint` and returns the name.
    fn add(&mut self, hint: &str, body: String) -> String {
        let base: String = hint.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let taken = |name: &str| name == "root" || self.named.iter().any(|(n, _)| n == name);
        let mut name = format!("{base}-r");
        let mut n = 1;
        while taken(&name) {
            n += 1;
            name = format!("{base}-r{n}");
        }
        self.named.push((name.clone(), body));
        name
    }

    /// A GBNF expression matching `schema`; `path` names it in errors.
    fn expr(&mut self, schema: &Value, hint: &str, path: &str) -> Result<String, String> {
        let Some(object) = schema.as_object() else {
            return Err(format!("{path}: a schema must be an object"));
        };
        if let Some(keyword) = UNSUPPORTED.iter().find(|k| object.contains_key(**k)) {
            return Err(format!("{path}: `{keyword}` is not supported by the embedded model's grammar"));
        }
        if let Some(value) = object.get("const") {
            return Ok(literal(value));
        }
        if let Some(values) = object.get("enum") {
            let values = values.as_array().filter(|v| !v.is_empty()).ok_or(format!("{path}: empty enum"))?;
            return Ok(format!("({})", values.iter().map(literal).collect::<Vec<_>>().join(" | ")));
        }
        let types: Vec<&str> = match object.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ if object.contains_key("properties") => vec!["object"],
            _ if object.contains_key("items") => vec!["array"],
            _ => vec![],
        };
        if types.is_empty() {
            return Err(format!("{path}: the schema names no type"));
        }
        let alternatives =
            types.iter().map(|t| self.typed(t, schema, hint, path)).collect::<Result<Vec<String>, String>>()?;
        Ok(if alternatives.len() == 1 { alternatives[0].clone() } else { format!("({})", alternatives.join(" | ")) })
    }

    fn typed(&mut self, kind: &str, schema: &Value, hint: &str, path: &str) -> Result<String, String> {
        let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
        for key in ["minItems", "maxItems", "minLength", "maxLength"] {
            if bound(key).is_some_and(|n| n > MAX_REPEAT) {
                return Err(format!("{path}: {key} above {MAX_REPEAT} is too large for the embedded model's grammar"));
            }
        }
        match kind {
            "object" => {
                let mut fields = Vec::new();
                for (key, sub) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                    let value = self.expr(sub, &format!("{hint}-{key}"), &format!("{path}.{key}"))?;
                    fields.push(format!("{} ws \":\" ws {value}", literal(&Value::String(key.clone()))));
                }
                let body = if fields.is_empty() {
                    r#""{" ws "}""#.to_string()
                } else {
                    format!(r#""{{" ws {} ws "}}""#, fields.join(r#" "," ws "#))
                };
                Ok(self.add(hint, body))
            }
            "array" => {
                let items = schema.get("items").ok_or(format!("{path}: an array schema needs `items`"))?;
                let (min, max) = (bound("minItems").unwrap_or(0), bound("maxItems"));
                if max.is_some_and(|max| max < min) {
                    return Err(format!("{path}: maxItems is below minItems"));
                }
                let item = self.expr(items, &format!("{hint}-item"), &format!("{path}[]"))?;
                let more = format!(r#"("," ws {item})"#);
                let body = match (min, max) {
                    (_, Some(0)) => r#""[" ws "]""#.to_string(),
                    (0, None) => format!(r#""[" ws ({item} {more}*)? ws "]""#),
                    (0, Some(max)) => format!(r#""[" ws ({item} {more}{{0,{}}})? ws "]""#, max - 1),
                    (min, None) => format!(r#""[" ws {item} {more}{{{},}} ws "]""#, min - 1),
                    (min, Some(max)) => format!(r#""[" ws {item} {more}{{{},{}}} ws "]""#, min - 1, max - 1),
                };
                Ok(self.add(hint, body))
            }
            "string" if let Some(pattern) = schema.get("pattern") => {
                let Some(regex) = pattern.as_str() else {
                    return Err(format!("{path}: `pattern` must be a string"));
                };
                if bound("minLength").is_some() || bound("maxLength").is_some() {
                    return Err(format!(
                        "{path}: `pattern` with minLength/maxLength is not supported; bound the pattern"
                    ));
                }
                pattern::string(regex, MAX_REPEAT, path)
            }
            "string" => match (bound("minLength"), bound("maxLength")) {
                (Some(min), Some(max)) if max < min => Err(format!("{path}: maxLength is below minLength")),
                (None, None) => Ok("string".to_string()),
                (min, Some(max)) => Ok(format!(r#"("\"" char{{{},{max}}} "\"")"#, min.unwrap_or(0))),
                (Some(min), None) => Ok(format!(r#"("\"" char{{{min},}} "\"")"#)),
            },
            "number" | "integer" | "boolean" | "null" => Ok(kind.to_string()),
            other => Err(format!("{path}: unknown type `{other}`")),
        }
    }
}

/// A GBNF string literal matching exactly the JSON text of `value`.
fn literal(value: &Value) -> String {
    quote(&value.to_string())
}

/// A GBNF string literal matching exactly `text`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

mod pattern;
#[cfg(test)]
mod tests;
