//! How the fault server answers one hit: the scripted fault, or a normal completion after the
//! set latency, with the hit recorded first so that tests can wait for it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Fault, Hit, REFUSAL, Shared};

/// Counts a request out of the server however its handler ends (even by unwinding).
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.completed.fetch_add(1, Ordering::SeqCst);
    }
}

pub(super) async fn completions(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = body.pointer("/messages").and_then(Value::as_array).and_then(|m| m.last());
    let key = key.and_then(|m| m["content"].as_str()).unwrap_or_default().to_string();
    if shared.script().no_json_schema && body.pointer("/response_format/type") == Some(&json!("json_schema")) {
        let message = "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), \
                       'msg': \"Input should be 'text' or 'json_object'\"}";
        let body = json!({"error": {"message": message, "type": "internal_server_error"}});
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
    }
    answer(shared, headers, body, key, false, completion).await
}

/// Plays the scripted fault for one hit; `normal` builds a successful body from the request,
/// the reply text and the finish reason.
pub(super) async fn answer(
    shared: Arc<Shared>,
    headers: HeaderMap,
    body: Value,
    key: String,
    embeddings: bool,
    normal_body: impl Fn(&Value, &str, &str) -> Response,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
    let _in_flight = InFlight(shared.clone());
    let (mut fault, latency, workers, varied, gate) = {
        let mut script = shared.script();
        let attempt =
            if script.not_recording { 0 } else { 1 + script.hits.iter().filter(|hit| hit.key == key).count() };
        let next = script.upcoming.pop_front().or_else(|| script.faults.get_mut(&key).and_then(VecDeque::pop_front));
        let fault = next.or_else(|| script.default.clone()).unwrap_or(Fault::Ok);
        let completed_before = shared.completed.load(Ordering::SeqCst);
        if !script.not_recording {
            let at = Instant::now();
            let hit =
                Hit { key: key.clone(), attempt, in_flight, completed_before, authorization, body: body.clone(), at };
            script.hits.push(hit);
        }
        shared.n_hits.fetch_add(1, Ordering::SeqCst);
        shared.hit.notify_all();
        let latency = script.embedding_latency.filter(|_| embeddings).unwrap_or(script.latency);
        (fault, latency, script.workers.clone(), script.varied, script.gate.clone())
    };
    if let Some(gate) = gate {
        shared.held.fetch_add(1, Ordering::SeqCst);
        // A closed gate (release_all) lets everyone through.
        if let Ok(permit) = gate.acquire().await {
            permit.forget();
        }
        shared.passed.fetch_add(1, Ordering::SeqCst);
        shared.held.fetch_sub(1, Ordering::SeqCst);
    }
    while let Fault::After(delay, inner) = fault {
        tokio::time::sleep(delay).await;
        fault = *inner;
    }
    let normal_body = &normal_body;
    let body = &body;
    let normal = |text: String, finish: &'static str| async move {
        let _worker = match &workers {
            Some(workers) => Some(workers.acquire().await.expect("the semaphore is never closed")),
            None => None,
        };
        tokio::time::sleep(latency).await;
        normal_body(body, &text, finish)
    };
    let error = |status: u16, message: String| {
        let status = StatusCode::from_u16(status).expect("scripts use valid status codes");
        (status, axum::Json(json!({"error": {"message": message, "type": "injected", "code": null}}))).into_response()
    };
    match fault {
        Fault::Ok if varied => normal(varied_reply(&key, body["seed"].as_u64().unwrap_or(0)), "stop").await,
        Fault::Ok => normal(format!("reply to {key}"), "stop").await,
        Fault::Reply(text) => normal(text, "stop").await,
        Fault::Refusal => normal(REFUSAL.to_string(), "stop").await,
        Fault::Length => normal(format!("reply to {key} cut"), "length").await,
        Fault::WithHeaders(extra) => {
            let mut response = normal(format!("reply to {key}"), "stop").await;
            for (name, value) in extra {
                let name = HeaderName::try_from(name).expect("scripts use valid header names");
                response.headers_mut().insert(name, HeaderValue::try_from(value).expect("valid header value"));
            }
            response
        }
        Fault::RateLimited(retry_after) => {
            let mut response = error(429, "Rate limit reached; slow down".to_string());
            if let Some(value) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::try_from(value).expect("valid value"));
            }
            response
        }
        Fault::QuotaExceeded => {
            let message = "You exceeded your current quota, please check your plan and billing details.";
            let body =
                json!({"error": {"message": message, "type": "insufficient_quota", "code": "insufficient_quota"}});
            (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
        }
        Fault::Status(code, message) => error(code, message),
        Fault::Unauthorized => {
            let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
            error(401, format!("Incorrect API key provided: {}", token.trim_start_matches("Bearer ")))
        }
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            normal(format!("reply to {key}"), "stop").await
        }
        // Unwinding ends the connection task, which drops the socket with no answer written.
        // `resume_unwind` skips the panic hook, so nothing is printed.
        Fault::Reset => std::panic::resume_unwind(Box::new("injected connection reset")),
        Fault::After(..) => unreachable!("unwrapped above"),
        Fault::InvalidJson => json_body(r#"{"id": "chatcmpl-test", "choices": [{"message": {"content": "#),
        Fault::EmptyBody => json_body(""),
        Fault::EmptyChoices => json_body(r#"{"id": "chatcmpl-test", "object": "chat.completion", "choices": []}"#),
    }
}

/// Twelve words drawn from a fixed list by a hash of `key` and `seed`: the same request gets the
/// same sentence, different requests different ones.
pub fn varied_reply(key: &str, seed: u64) -> String {
    const WORDS: [&str; 48] = [
        "parcel", "refund", "invoice", "late", "driver", "account", "password", "screen", "order", "voucher",
        "weekend", "morning", "urgent", "free", "prize", "call", "meeting", "lunch", "tonight", "train", "ticket",
        "winner", "claim", "reply", "mobile", "update", "bonus", "offer", "friend", "dinner", "cinema", "holiday",
        "office", "sorry", "thanks", "great", "quick", "question", "answer", "message", "number", "cash", "week",
        "home", "school", "doctor", "garden", "music",
    ];
    let mut state =
        seed ^ key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut words = Vec::with_capacity(12);
    for _ in 0..12 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        words.push(WORDS[(state >> 33) as usize % WORDS.len()]);
    }
    let mut sentence = words.join(" ");
    sentence[..1].make_ascii_uppercase();
    sentence.push('.');
    sentence
}

fn json_body(text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A chat completion as OpenAI sends it; usage counts characters / 4 and words.
fn completion(request: &Value, text: &str, finish: &str) -> Response {
    let messages = request["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
    let prompt_chars: usize = messages.iter().filter_map(|m| m["content"].as_str()).map(str::len).sum();
    let (prompt_tokens, completion_tokens) = (prompt_chars / 4, text.split_whitespace().count());
    axum::Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": request["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }))
    .into_response()
}
