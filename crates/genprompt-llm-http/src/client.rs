//! One request's life: admission, the attempt, classification of what came back, and retries.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use genprompt_llm::{ChatReply, ChatRequest, FinishReason};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::admission::{Admission, Cost};
use crate::health::Health;
use crate::{HttpConfig, HttpError, HttpStats, wire};

/// Counters behind [`HttpStats`].
#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    timeouts: AtomicU64,
    server_errors: AtomicU64,
    connection_errors: AtomicU64,
    invalid_responses: AtomicU64,
    invalid_json: AtomicU64,
    failed: AtomicU64,
    truncated: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self, admission: &Admission) -> HttpStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (limit, in_flight) = admission.load();
        HttpStats {
            requests: get(&self.requests),
            attempts: get(&self.attempts),
            retries: get(&self.retries),
            rate_limited: get(&self.rate_limited),
            timeouts: get(&self.timeouts),
            server_errors: get(&self.server_errors),
            connection_errors: get(&self.connection_errors),
            invalid_responses: get(&self.invalid_responses),
            invalid_json: get(&self.invalid_json),
            failed: get(&self.failed),
            truncated: get(&self.truncated),
            prompt_tokens: get(&self.prompt_tokens),
            completion_tokens: get(&self.completion_tokens),
            current_concurrency: limit,
            in_flight,
            waiting_for_admission: admission.waiting(),
        }
    }
}

/// What one attempt came to.
enum Outcome<T> {
    Reply(T),
    /// Worth another try; `wait` is the server's `Retry-After`; `congestion` halves concurrency.
    Retry {
        error: HttpError,
        wait: Option<Duration>,
        congestion: bool,
    },
    Fail(HttpError),
}

/// Everything the request tasks share.
pub(crate) struct Client {
    pub http: reqwest::Client,
    pub url: reqwest::Url,
    pub auth: Option<HeaderValue>,
    pub config: HttpConfig,
    pub admission: Admission,
    pub counters: Counters,
    /// Set once the server rejected `response_format: json_schema`; schemas then go as
    /// `json_object` with a `schema` field.
    pub json_object: AtomicBool,
    /// Whether this endpoint answers, for a fleet of several.
    pub health: Health,
}

impl Client {
    /// Answers one chat request, retrying what is worth retrying.
    pub(crate) async fn answer(&self, request: &ChatRequest, seed: u64, schema: Option<&Value>) -> ChatResult {
        // Which form the latest attempt used; concurrent requests may have switched the shared flag.
        let sent_json_object = AtomicBool::new(false);
        let body = || {
            let json_object = self.json_object.load(Ordering::Relaxed);
            sent_json_object.store(json_object, Ordering::Relaxed);
            wire::request_body(&self.config.model, request, seed, schema, json_object)
        };
        // A server that does not know `json_schema` says so about `response_format` (llama-cpp-python
        // answers 500 with a validation error): switch to the other form, for every request.
        let adapt = |error: &HttpError| {
            let rejected = matches!(error, HttpError::Status { message, .. } if message.contains("response_format"));
            let switch = schema.is_some() && rejected && !sent_json_object.load(Ordering::Relaxed);
            if switch && !self.json_object.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "the server does not take response_format json_schema; sending json_object with a schema"
                );
            }
            switch
        };
        let reserved = Cost {
            input: f64::from(wire::estimate_prompt_tokens(request)),
            output: f64::from(request.sampling.max_tokens),
        };
        let parse = |body: &[u8]| wire::parse_reply(body).map(|(reply, _)| reply);
        let generated = |reply: &ChatReply| reply.usage.completion_tokens;
        let reply = self.send(body, adapt, reserved, parse, generated).await?;
        self.on_reply(&reply, reserved);
        Ok(reply)
    }

    /// Sends `body()` to the endpoint until `parse` accepts a 2xx reply, at most `1 + max_retries`
    /// attempts, each admitted first; `generated` tells admission how many tokens a reply took.
    /// An error for which `adapt` returns true is tried again at once (the body changed).
    pub(crate) async fn send<T>(
        &self,
        body: impl Fn() -> Vec<u8>,
        adapt: impl Fn(&HttpError) -> bool,
        reserved: Cost,
        parse: impl Fn(&[u8]) -> Result<T, String>,
        generated: impl Fn(&T) -> u32,
    ) -> Result<T, HttpError> {
        let tries = self.config.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if self.health.refuses() {
                return Err(HttpError::EndpointDown);
            }
            let permit = self.admission.admit(reserved).await;
            let sent = Instant::now();
            bump(&self.counters.attempts, 1);
            let outcome = self.attempt(body(), &parse).await;
            let (error, wait) = match outcome {
                Outcome::Reply(reply) => {
                    self.admission.success(sent, generated(&reply));
                    self.health.success();
                    drop(permit);
                    return Ok(reply);
                }
                Outcome::Fail(error) if attempt < tries && adapt(&error) => {
                    drop(permit);
                    self.admission.refund(reserved);
                    bump(&self.counters.retries, 1);
                    continue;
                }
                Outcome::Fail(error) => {
                    drop(permit);
                    self.admission.refund(reserved);
                    return Err(self.fail(error));
                }
                Outcome::Retry { error, wait, congestion } => {
                    if congestion && self.admission.congestion(sent) {
                        tracing::info!(
                            limit = self.admission.limit(),
                            "the server is congested; fewer requests in flight"
                        );
                    }
                    // Pause before freeing the slot, or a waiting request takes it at once.
                    if let Some(wait) = wait.filter(|wait| *wait <= self.config.max_retry_after) {
                        self.admission.pause_until(Instant::now() + wait);
                    }
                    drop(permit);
                    self.admission.refund(reserved);
                    if endpoint_trouble(&error) && self.health.failure(Instant::now()) {
                        return Err(HttpError::EndpointDown);
                    }
                    (error, wait)
                }
            };
            if let Some(wait) = wait.filter(|wait| *wait > self.config.max_retry_after) {
                return Err(self.fail(HttpError::RetryAfterTooLong(wait)));
            }
            if attempt >= tries {
                return Err(self.fail(HttpError::GaveUp { tries, last: Box::new(error) }));
            }
            let wait = wait.filter(|w| !w.is_zero()).unwrap_or_else(|| self.backoff(attempt));
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, %error, "retrying a request");
            bump(&self.counters.retries, 1);
            tokio::time::sleep(wait).await;
        }
    }

    /// Full jitter: uniform below `base * 2^(attempt-1)`, capped at `backoff_max`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.config.backoff_base.saturating_mul(1 << (attempt - 1).min(20)).min(self.config.backoff_max);
        Duration::from_secs_f64(rand::random_range(0.0..=ceiling.as_secs_f64()))
    }

    fn on_reply(&self, reply: &ChatReply, reserved: Cost) {
        bump(&self.counters.requests, 1);
        bump(&self.counters.prompt_tokens, u64::from(reply.usage.prompt_tokens));
        bump(&self.counters.completion_tokens, u64::from(reply.usage.completion_tokens));
        if reply.finish == FinishReason::Length {
            bump(&self.counters.truncated, 1);
        }
        if reply.usage != Default::default() {
            self.admission.refund(Cost {
                input: reserved.input - f64::from(reply.usage.prompt_tokens),
                output: reserved.output - f64::from(reply.usage.completion_tokens),
            });
        }
    }

    /// Counts an answered embeddings request and corrects the input budget from its usage.
    pub(crate) fn on_embedded(&self, prompt_tokens: Option<u32>, reserved: Cost) {
        bump(&self.counters.requests, 1);
        if let Some(tokens) = prompt_tokens {
            bump(&self.counters.prompt_tokens, u64::from(tokens));
            self.admission.refund(Cost { input: reserved.input - f64::from(tokens), output: 0.0 });
        }
    }

    fn fail(&self, error: HttpError) -> HttpError {
        bump(&self.counters.requests, 1);
        bump(&self.counters.failed, 1);
        tracing::warn!(%error, "a chat request failed");
        error
    }

    pub(crate) fn count_invalid_json(&self) {
        bump(&self.counters.invalid_json, 1);
    }

    /// A `chat_json` request whose every reply was invalid (its attempts were counted already).
    pub(crate) fn count_failed(&self) {
        bump(&self.counters.failed, 1);
    }

    /// Sends once and sorts the result into reply, retry or failure.
    async fn attempt<T>(&self, body: Vec<u8>, parse: impl Fn(&[u8]) -> Result<T, String>) -> Outcome<T> {
        let mut request = self.http.post(self.url.clone()).header(CONTENT_TYPE, "application/json").body(body);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        let (status, headers, body) = match tokio::time::timeout(self.config.timeout, exchange).await {
            Err(_) => {
                bump(&self.counters.timeouts, 1);
                let error = HttpError::Timeout(self.config.timeout);
                return Outcome::Retry { error, wait: None, congestion: true };
            }
            Ok(Err(err)) => {
                bump(&self.counters.connection_errors, 1);
                let error = HttpError::Connection(self.redact(&describe(err)));
                return Outcome::Retry { error, wait: None, congestion: false };
            }
            Ok(Ok(parts)) => parts,
        };
        self.admission.observe(wire::limit_hint(&headers, "requests"), wire::limit_hint(&headers, "tokens"));
        if status.is_success() {
            return match parse(&body) {
                Ok(reply) => Outcome::Reply(reply),
                Err(why) => {
                    bump(&self.counters.invalid_responses, 1);
                    Outcome::Retry { error: HttpError::InvalidResponse(why), wait: None, congestion: false }
                }
            };
        }
        let message = self.redact(&wire::error_message(&body));
        let error = HttpError::Status { status: status.as_u16(), message };
        let wait = wire::retry_after(&headers, SystemTime::now());
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                bump(&self.counters.rate_limited, 1);
                // OpenAI's exhausted credit is a 429 too; waiting will not fix it.
                if wire::error_code(&body).as_deref() == Some("insufficient_quota") {
                    return Outcome::Fail(error);
                }
                Outcome::Retry { error, wait, congestion: true }
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::CONFLICT => Outcome::Retry { error, wait, congestion: false },
            // A request format the server rejects (llama-cpp-python answers 500) never passes.
            s if s.is_server_error() && error.to_string().contains("response_format") => {
                bump(&self.counters.server_errors, 1);
                Outcome::Fail(error)
            }
            s if s.is_server_error() => {
                bump(&self.counters.server_errors, 1);
                // 503, 504 and Anthropic-style 529 mean "overloaded".
                let congestion = matches!(s.as_u16(), 503 | 504 | 529);
                Outcome::Retry { error, wait, congestion }
            }
            s if s.is_redirection() => {
                let to = headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("elsewhere");
                let message = format!("redirected to {}; use that as the base URL", wire::truncate(to, 200));
                Outcome::Fail(HttpError::Status { status: s.as_u16(), message: self.redact(&message) })
            }
            _ => Outcome::Fail(error),
        }
    }

    fn redact(&self, text: &str) -> String {
        match &self.config.api_key {
            Some(key) => key.redact(text),
            None => text.to_string(),
        }
    }
}

pub(crate) type ChatResult = Result<ChatReply, HttpError>;

/// Failures that say the endpoint itself may be gone, rather than this request or the load.
fn endpoint_trouble(error: &HttpError) -> bool {
    match error {
        HttpError::Connection(_) | HttpError::Timeout(_) => true,
        HttpError::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

/// The error and its causes in one line, without the URL (it could carry credentials).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    wire::truncate(&text, 300)
}

/// The `Authorization` header, marked sensitive so `http`'s Debug never shows it.
pub(crate) fn bearer(key: &str) -> Result<HeaderValue, HttpError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| HttpError::Config("the API key contains characters not allowed in a header".to_string()))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bearer_header_is_masked_in_debug() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, super::bearer("sk-hidden").unwrap());
        assert!(!format!("{headers:?}").contains("sk-hidden"));
        assert!(super::bearer("bad\nkey").is_err());
    }
}
