//! Integration tests against the in-process fault server: one test per fault, admission control
//! and structured output. Assertions are on what the server saw and on the stats, never on time.

mod admission;
mod embeddings;
mod faults;
mod fleet;
mod json;

use genprompt_llm::{ChatReply, ChatRequest, LlmError};
use genprompt_llm_http::testing::{FaultServer, fast_config, request};
use genprompt_llm_http::{HttpChatModel, HttpConfig};

fn model(server: &FaultServer, adjust: impl FnOnce(&mut HttpConfig)) -> HttpChatModel {
    let mut config = fast_config(&server.base_url());
    adjust(&mut config);
    HttpChatModel::new(config).expect("the test config is valid")
}

fn batch(range: std::ops::Range<usize>) -> Vec<ChatRequest> {
    range.map(request).collect()
}

/// The reply of entry `i`, or a panic that shows the error.
fn ok(results: &[Result<ChatReply, LlmError>], i: usize) -> &ChatReply {
    results[i].as_ref().unwrap_or_else(|err| panic!("request {i} failed: {err}"))
}

fn err(results: &[Result<ChatReply, LlmError>], i: usize) -> String {
    match &results[i] {
        Ok(reply) => panic!("request {i} succeeded with {:?}", reply.text),
        Err(err) => err.to_string(),
    }
}
