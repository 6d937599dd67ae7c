//! Structured output: ask for a JSON schema, check the reply, retry a bounded number of times.

use genprompt_llm::schema::parse;
use genprompt_llm::{ChatRequest, FinishReason};
use serde_json::Value;

use crate::fleet::Fleet;
use crate::{HttpError, JsonReply};

pub(crate) async fn answer(fleet: &Fleet, request: &ChatRequest, schema: &Value) -> Result<JsonReply, HttpError> {
    let client = fleet.first();
    let tries = client.config.json_retries.saturating_add(1);
    let mut last = String::new();
    for attempt in 0..tries {
        let seed = request.sampling.seed.wrapping_add(u64::from(attempt));
        let reply = fleet.answer(request, seed, Some(schema)).await?;
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
