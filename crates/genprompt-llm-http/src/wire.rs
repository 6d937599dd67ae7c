//! The OpenAI chat-completions wire format (only the fields every compatible server knows) and
//! the response headers that steer retries and budgets.

use std::time::{Duration, SystemTime};

use genprompt_llm::{ChatReply, ChatRequest, FinishReason, Usage};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest server error message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    temperature: f32,
    top_p: f32,
    /// Sent only when on: OpenAI does not know them; vLLM, llama.cpp's server and Ollama do.
    #[serde(skip_serializing_if = "Option::is_none")]
    min_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_penalty: Option<f32>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    seed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

/// The JSON body of one request; `schema` asks for structured output, as OpenAI's
/// `json_schema` or, with `json_object`, as `{"type": "json_object", "schema": ...}`, the form
/// llama-cpp-python's server takes (it rejects `json_schema`); llama.cpp's own server takes both.
pub(crate) fn request_body(
    model: &str,
    request: &ChatRequest,
    seed: u64,
    schema: Option<&Value>,
    json_object: bool,
) -> Vec<u8> {
    let body = Body {
        model,
        messages: request.messages.iter().map(|m| Message { role: m.role.as_str(), content: &m.content }).collect(),
        temperature: request.sampling.temperature,
        top_p: request.sampling.top_p,
        min_p: Some(request.sampling.min_p).filter(|&p| p > 0.0),
        // vLLM reads `repetition_penalty`, llama.cpp's server `repeat_penalty`.
        repetition_penalty: Some(request.sampling.repeat_penalty).filter(|&p| p != 1.0),
        repeat_penalty: Some(request.sampling.repeat_penalty).filter(|&p| p != 1.0),
        max_tokens: request.sampling.max_tokens,
        stop: &request.sampling.stop,
        seed: fold_seed(seed),
        response_format: schema.map(|schema| match json_object {
            true => serde_json::json!({"type": "json_object", "schema": schema}),
            false => serde_json::json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}),
        }),
    };
    serde_json::to_vec(&body).expect("a struct of strings and numbers always serializes")
}

/// Folds the 64-bit seed into 31 bits: llama.cpp reads a `uint32`, Ollama a signed int, and
/// some servers reject anything above `i32::MAX`. Deterministic, so runs stay reproducible.
pub(crate) fn fold_seed(seed: u64) -> u32 {
    ((seed ^ (seed >> 32)) as u32) & 0x7fff_ffff
}

/// Prompt tokens guessed before the call: characters / 4 plus a few per message for the template.
pub(crate) fn estimate_prompt_tokens(request: &ChatRequest) -> u32 {
    let chars: usize = request.messages.iter().map(|m| m.content.chars().count()).sum();
    (chars / 4 + 4 * request.messages.len()) as u32
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<WireMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
    /// OpenAI's structured-output refusal; passed on as the reply text so it is counted as one.
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
}

/// Reads a 2xx body; `Err` says why it is unusable (and so worth another try).
pub(crate) fn parse_reply(body: &[u8]) -> Result<(ChatReply, bool), String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("empty body".to_string());
    }
    let completion: Completion = serde_json::from_slice(body).map_err(|err| format!("not a chat completion: {err}"))?;
    let choice = completion.choices.into_iter().next().ok_or("no choices in the reply")?;
    let message = choice.message.ok_or("the first choice has no message")?;
    let text = message.refusal.filter(|r| !r.is_empty()).or(message.content).unwrap_or_default();
    let finish = match choice.finish_reason.as_deref() {
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    };
    let has_usage = completion.usage.is_some();
    let usage = completion.usage.map_or(Usage::default(), |u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens.unwrap_or(0),
    });
    Ok((ChatReply { text, finish, usage }, has_usage))
}

/// The human part of an error body: OpenAI, llama.cpp and vLLM send `{"error": {"message"}}`,
/// Ollama `{"error": "..."}`, older vLLM `{"message"}`; anything else is shown as text. Cut to
/// a few hundred characters so a whole HTML page never lands in a log.
pub(crate) fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message").or_else(|| v.get("error")).or_else(|| v.get("message")).and_then(Value::as_str)
    });
    let text = match found {
        Some(text) => text.to_string(),
        None => String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" "),
    };
    if text.is_empty() { "(no message)".to_string() } else { truncate(&text, MAX_MESSAGE_CHARS) }
}

/// The machine-readable part of an error body (`error.code`, else `error.type`).
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    let parsed: Value = serde_json::from_slice(body).ok()?;
    let code = parsed.pointer("/error/code").and_then(Value::as_str);
    code.or_else(|| parsed.pointer("/error/type").and_then(Value::as_str)).map(str::to_string)
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// How long the server asked us to wait: `retry-after-ms` (OpenAI), else `Retry-After` as
/// seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    // Capped like the numeric forms: a date centuries ahead is "very long", not an overflow risk.
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_WAIT))
}

/// The longest wait any header can ask for (about 31 years); callers refuse far less anyway.
const MAX_WAIT: Duration = Duration::from_secs(1_000_000_000);

fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(MAX_WAIT.as_secs_f64())))
}

/// What `x-ratelimit-*` headers say about one budget (requests or tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LimitHint {
    pub limit: Option<f64>,
    pub remaining: Option<f64>,
    pub reset: Option<Duration>,
}

/// Reads `x-ratelimit-{limit,remaining,reset}-{kind}` for `kind` = `requests` or `tokens`.
pub(crate) fn limit_hint(headers: &HeaderMap, kind: &str) -> Option<LimitHint> {
    let header = |what: &str| headers.get(format!("x-ratelimit-{what}-{kind}")).and_then(|v| v.to_str().ok());
    let hint = LimitHint {
        limit: header("limit").and_then(|v| v.trim().parse().ok()),
        remaining: header("remaining").and_then(|v| v.trim().parse().ok()),
        reset: header("reset").and_then(parse_duration),
    };
    (hint != LimitHint::default()).then_some(hint)
}

/// Parses OpenAI's reset durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`) or plain seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return seconds(secs);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..split].parse().ok()?;
        rest = &rest[split..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    seconds(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (reqwest::header::HeaderName::from_static(k), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn min_p_and_the_repetition_penalty_are_sent_only_when_on() {
        let messages = vec![genprompt_llm::ChatMessage::user("hi")];
        let mut request = ChatRequest::new(messages, genprompt_llm::Sampling::new(0.7, 0.9, 16, 1));
        let body = |r: &ChatRequest| serde_json::from_slice::<Value>(&request_body("m", r, 1, None, false)).unwrap();
        let plain = body(&request);
        assert!(plain.get("min_p").is_none() && plain.get("repeat_penalty").is_none(), "{plain}");
        request.sampling.min_p = 0.05;
        request.sampling.repeat_penalty = 1.05;
        let on = body(&request);
        assert_eq!(on["min_p"].as_f64().map(|p| (p * 100.0).round()), Some(5.0), "{on}");
        assert_eq!(on["repeat_penalty"], on["repetition_penalty"], "{on}");
        assert!(on["repeat_penalty"].as_f64().is_some_and(|p| p > 1.0), "{on}");
    }

    #[test]
    fn parses_replies_and_rejects_bad_bodies() {
        let body = br#"{"choices":[{"message":{"content":"hi"},"finish_reason":"length"}],
            "usage":{"prompt_tokens":7,"completion_tokens":2}}"#;
        let (reply, has_usage) = parse_reply(body).unwrap();
        assert_eq!((reply.text.as_str(), reply.finish, reply.usage.completion_tokens), ("hi", FinishReason::Length, 2));
        assert!(has_usage);
        assert!(parse_reply(b" \n").unwrap_err().contains("empty"));
        assert!(parse_reply(br#"{"choices":[]}"#).unwrap_err().contains("no choices"));
        assert!(parse_reply(b"{\"choices\": [").is_err());
        let refusal = br#"{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"stop"}]}"#;
        assert_eq!(parse_reply(refusal).unwrap().0.text, "no");
    }

    #[test]
    fn error_messages_from_each_server_family() {
        assert_eq!(error_message(br#"{"error":{"message":"bad model","type":"x"}}"#), "bad model");
        assert_eq!(error_message(br#"{"error":"model not found"}"#), "model not found");
        let quota = br#"{"error":{"message":"You exceeded your quota","type":"insufficient_quota","code":null}}"#;
        assert_eq!(error_code(quota).as_deref(), Some("insufficient_quota"));
        assert_eq!(error_message(br#"{"object":"error","message":"too long"}"#), "too long");
        assert_eq!(error_message(b"<html>\n Bad   Gateway</html>"), "<html> Bad Gateway</html>");
        let long = error_message("é".repeat(1000).as_bytes());
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 3);
    }

    #[test]
    fn retry_after_in_every_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after(&headers(&[("retry-after", "3")]), now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&headers(&[("retry-after-ms", "250")]), now), Some(Duration::from_millis(250)));
        let date = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")]);
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn a_date_centuries_ahead_is_capped_like_the_numeric_forms() {
        // Found by `genprompt-bench fuzz --target headers`.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let far = headers(&[("retry-after", "Wed, 21 Oct 6015 07:28:00 GMT")]);
        assert_eq!(retry_after(&far, now), Some(MAX_WAIT));
        assert_eq!(retry_after(&headers(&[("retry-after", "1e300")]), now), Some(MAX_WAIT));
    }

    #[test]
    fn ratelimit_headers_and_durations() {
        assert_eq!(parse_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_duration("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("5 parsecs"), None);
        let h = headers(&[("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "1s")]);
        let hint = limit_hint(&h, "requests").unwrap();
        assert_eq!((hint.remaining, hint.reset, hint.limit), (Some(0.0), Some(Duration::from_secs(1)), None));
        assert_eq!(limit_hint(&h, "tokens"), None);
    }

    #[test]
    fn seeds_fit_31_bits() {
        assert!(fold_seed(u64::MAX) <= i32::MAX as u32);
        assert_ne!(fold_seed(1), fold_seed(2));
    }
}
