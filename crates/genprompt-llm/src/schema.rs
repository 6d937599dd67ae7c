//! Checking structured replies against the JSON schema a request asked for.
//!
//! Every backend validates the same way (the HTTP backend after `response_format`, the embedded
//! model after grammar-constrained sampling), so a reply that one backend accepts the other would
//! accept too.

use serde_json::Value;

/// Parses the reply, tolerating a Markdown code fence (servers that ignore `response_format`
/// often add one), and checks it against the schema.
pub fn parse(text: &str, schema: &Value) -> Result<Value, String> {
    let mut text = text.trim();
    if let Some(fenced) = text.strip_prefix("```") {
        let body = fenced.split_once('\n').map_or("", |(_, rest)| rest);
        text = body.trim_end().strip_suffix("```").unwrap_or(body).trim();
    }
    let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    fits(&value, schema, "$")?;
    Ok(value)
}

/// The subset of JSON Schema worth checking client-side: `type`, `enum`, `required`,
/// `properties`, `items`, `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern` (searched,
/// as JSON Schema says: anchor it to match the whole string). `path` names `value` in error messages.
pub fn fits(value: &Value, schema: &Value, path: &str) -> Result<(), String> {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
        return Err(format!("{path} should be of type {}", types.join(" or ")));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!("{path} should be one of {}", Value::Array(allowed.clone())));
    }
    if let Some(text) = value.as_str() {
        let (n, bound) = (text.chars().count() as u64, |key: &str| schema.get(key).and_then(Value::as_u64));
        if bound("minLength").is_some_and(|min| n < min) || bound("maxLength").is_some_and(|max| n > max) {
            return Err(format!("{path} has {n} characters, outside minLength..maxLength"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            let regex = regex::Regex::new(pattern).map_err(|err| format!("the schema's pattern at {path}: {err}"))?;
            if !regex.is_match(text) {
                return Err(format!("{path} does not match the pattern {pattern:?}"));
            }
        }
    }
    if let Some(object) = value.as_object() {
        let required = schema.get("required").and_then(Value::as_array).into_iter().flatten();
        if let Some(missing) = required.filter_map(Value::as_str).find(|key| !object.contains_key(*key)) {
            return Err(format!("{path} lacks the required field \"{missing}\""));
        }
        for (key, sub) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            if let Some(field) = object.get(key) {
                fits(field, sub, &format!("{path}.{key}"))?;
            }
        }
    }
    if let Some(items) = value.as_array() {
        let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
        if let Some(min) = bound("minItems").filter(|min| (items.len() as u64) < *min) {
            return Err(format!("{path} should have at least {min} items, not {}", items.len()));
        }
        if let Some(max) = bound("maxItems").filter(|max| (items.len() as u64) > *max) {
            return Err(format!("{path} should have at most {max} items, not {}", items.len()));
        }
        if let Some(sub) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                fits(item, sub, &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// `{"<field>": [string, ...]}` with `min..=max` items of at most `max_chars` characters: the
/// shape of every list a method asks for (gene names, attribute values). The length bound keeps a
/// small model under a grammar from running one string to `max_tokens`.
pub fn string_list(field: &str, min: u64, max: u64, max_chars: u64) -> Value {
    let items = serde_json::json!({"type": "string", "maxLength": max_chars});
    serde_json::json!({
        "type": "object",
        "properties": {field: {"type": "array", "items": items, "minItems": min, "maxItems": max}},
        "required": [field],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_the_common_schema_subset() {
        let schema = json!({"type": "object", "required": ["genes"],
            "properties": {"genes": {"type": "array", "items": {"type": "string"}}}});
        assert_eq!(parse(r#"{"genes": ["tone", "topic"]}"#, &schema).unwrap()["genes"][1], "topic");
        assert_eq!(parse("```json\n{\"genes\": []}\n```", &schema).unwrap(), json!({"genes": []}));
        assert!(parse(r#"{"genes": ["tone", 3]}"#, &schema).unwrap_err().contains("$.genes[1]"));
        assert!(parse(r#"{"gene": []}"#, &schema).unwrap_err().contains("\"genes\""));
        assert!(parse(r#"["tone"]"#, &schema).unwrap_err().contains("object"));
        assert!(parse(r#"{"genes": ["to"#, &schema).unwrap_err().starts_with("not JSON"));
        assert!(parse("2.0", &json!({"type": ["integer", "null"]})).is_ok());
    }

    #[test]
    fn a_pattern_is_searched_in_the_string() {
        let schema = json!({"type": "string", "pattern": "<e>[^<>]+</e>"});
        assert!(parse(r#""the <e>cat</e> sat""#, &schema).is_ok());
        assert!(parse(r#""the cat sat""#, &schema).unwrap_err().contains("does not match the pattern"));
        let anchored = json!({"type": "string", "pattern": "^<e>[a-z]+</e>$"});
        assert!(parse(r#""x <e>cat</e>""#, &anchored).is_err());
        assert!(parse(r#""<e>cat</e>""#, &anchored).is_ok());
        assert!(
            parse(r#""a""#, &json!({"type": "string", "pattern": "("})).unwrap_err().contains("the schema's pattern")
        );
    }

    #[test]
    fn checks_enums_and_list_lengths() {
        let schema = string_list("values", 2, 3, 20);
        assert!(parse(r#"{"values": ["a", "b"]}"#, &schema).is_ok());
        assert!(parse(r#"{"values": ["a"]}"#, &schema).unwrap_err().contains("at least 2 items, not 1"));
        assert!(parse(r#"{"values": ["a", "b", "c", "d"]}"#, &schema).unwrap_err().contains("at most 3"));
        let colour = json!({"type": "string", "enum": ["red", "green"]});
        assert!(parse(r#""green""#, &colour).is_ok());
        assert!(parse(r#""blue""#, &colour).unwrap_err().contains("one of [\"red\",\"green\"]"));
        let short = json!({"type": "string", "maxLength": 3});
        assert!(parse(r#""abc""#, &short).is_ok());
        assert!(parse(r#""abcd""#, &short).unwrap_err().contains("4 characters"));
    }
}
