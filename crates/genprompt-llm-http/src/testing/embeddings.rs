//! `/v1/embeddings` of the test server: deterministic, unnormalised vectors, same faults as chat.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, answer};

/// Length of the vectors `/v1/embeddings` answers unless
/// [`super::FaultServer::set_embedding_dim`] says.
pub const EMBEDDING_DIM: usize = 8;

/// The vector the server answers for `text`: deterministic, not normalised, never all zero.
pub fn embedding(text: &str, dim: usize) -> Vec<f32> {
    (0..dim)
        .map(|j| {
            // FNV-1a over the text and the coordinate.
            let hash = text
                .bytes()
                .chain((j as u32).to_le_bytes())
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
            3.0 * ((hash % 2001) as f32 / 1000.0 - 1.0) + if j == 0 { 5.0 } else { 0.0 }
        })
        .collect()
}

pub(super) async fn embeddings(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = match &body["input"] {
        Value::Array(inputs) => inputs.first().and_then(Value::as_str),
        input => input.as_str(),
    };
    let key = key.unwrap_or_default().to_string();
    let dim = shared.script().embedding_dim.unwrap_or(EMBEDDING_DIM);
    answer(shared, headers, body, key, true, move |request: &Value, _: &str, _: &str| embedding_list(request, dim))
        .await
}

/// An embeddings list as OpenAI sends it, one [`embedding`] per input.
fn embedding_list(request: &Value, dim: usize) -> Response {
    let inputs: Vec<&str> = match &request["input"] {
        Value::Array(inputs) => inputs.iter().filter_map(Value::as_str).collect(),
        input => input.as_str().into_iter().collect(),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": embedding(text, dim)}))
        .collect();
    let tokens: usize = inputs.iter().map(|text| text.len() / 4).sum();
    axum::Json(json!({
        "object": "list", "data": data, "model": request["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}
