//! Structured output: ask for a JSON schema, check the reply, retry a bounded number of times.

use genprompt_llm::{ChatRequest, FinishReason};
use serde_json::Value;

use crate::client::Client;
use crate::{HttpError, JsonReply};

pub(crate) async fn answer(client: &Client, request: &ChatRequest, schema: &Value) -> Result<JsonReply, HttpError> {
    let tries = client.config.json_retries.saturating_add(1);
    let mut last = String::new();
    for attempt in 0..tries {
        let seed = request.sampling.seed.wrapping_add(u64::from(attempt));
        let reply = client.answer(request, seed, Some(schema)).await?;
        match parse(&reply.text, schema) {
            Ok(value) => return Ok(JsonReply { reply, value }),
            Err(why) => {
                client.count_invalid_json();
                last = match reply.finish {
                    FinishReason::Length => format!("{why} (the reply was cut at max_tokens; raise it)"),
                    FinishReason::Stop => why,
                };
                tracing::debug!(attempt, reason = %last, "invalid JSON reply; asking again");
            }
        }
    }
    client.count_failed();
    Err(HttpError::InvalidJson { tries, message: last })
}

/// Parses the reply, tolerating a Markdown code fence (servers that ignore `response_format`
/// often add one), and checks it against the schema.
pub(crate) fn parse(text: &str, schema: &Value) -> Result<Value, String> {
    let mut text = text.trim();
    if let Some(fenced) = text.strip_prefix("```") {
        let body = fenced.split_once('\n').map_or("", |(_, rest)| rest);
        text = body.trim_end().strip_suffix("```").unwrap_or(body).trim();
    }
    let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    fits(&value, schema, "$")?;
    Ok(value)
}

/// The subset of JSON Schema worth checking client-side: `type`, `required`, `properties`, `items`.
fn fits(value: &Value, schema: &Value, path: &str) -> Result<(), String> {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
        return Err(format!("{path} should be of type {}", types.join(" or ")));
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
    if let (Some(items), Some(sub)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            fits(item, sub, &format!("{path}[{i}]"))?;
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
}
