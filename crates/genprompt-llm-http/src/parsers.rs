//! The parsers of what an endpoint sends back, as plain functions for the fuzzer in `bench/`
//! (feature `testing`); the client uses the same code through `wire.rs` and `embeddings.rs`.

use std::time::{Duration, SystemTime};

use genprompt_llm::ChatReply;
use reqwest::header::HeaderMap;

/// A 2xx chat completion body: the reply, or why it is unusable.
pub fn chat_body(body: &[u8]) -> Result<ChatReply, String> {
    crate::wire::parse_reply(body).map(|(reply, _)| reply)
}

/// An error body: the message shown to the user and the machine-readable code, if any.
pub fn error_body(body: &[u8]) -> (String, Option<String>) {
    (crate::wire::error_message(body), crate::wire::error_code(body))
}

/// A 2xx `/v1/embeddings` body for `n` texts: the vectors in input order and the prompt tokens.
pub fn embeddings_body(body: &[u8], n: usize) -> Result<(Vec<Vec<f32>>, Option<u32>), String> {
    crate::embeddings::parse(body, n)
}

/// `Retry-After` / `retry-after-ms`, as seen at `now`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    crate::wire::retry_after(headers, now)
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`: for each family, the limit, what
/// remains and when it resets, if the server sent any of them.
pub type LimitHint = (Option<f64>, Option<f64>, Option<Duration>);

pub fn rate_limits(headers: &HeaderMap) -> [Option<LimitHint>; 2] {
    ["requests", "tokens"]
        .map(|kind| crate::wire::limit_hint(headers, kind).map(|hint| (hint.limit, hint.remaining, hint.reset)))
}
