//! `/v1/embeddings` as a second sentence encoder: the same client, admission control, retries and
//! secret handling as chat, behind `genprompt_embed::Encoder`.

use std::fmt;
use std::sync::Arc;

use genprompt_embed::{EmbedError, Embeddings, Encoder, EncoderIdentity};
use serde::Deserialize;
use tokio::runtime::Runtime;

use crate::admission::Cost;
use crate::client::Client;
use crate::{HttpConfig, HttpError, HttpStats, connect, run_tasks};

/// Texts per request unless configured: small enough for llama.cpp's default batch, large
/// enough that a request's overhead is shared.
pub const DEFAULT_EMBED_BATCH: usize = 32;

/// An OpenAI-compatible embeddings endpoint as an [`Encoder`].
///
/// Texts are sent in batches of `batch_size`, the batches concurrently under the same limits as
/// chat requests. Rows are always L2-normalised here: OpenAI's vectors already are (normalising
/// again changes nothing beyond rounding), other servers' often are not.
pub struct HttpEncoder {
    identity: EncoderIdentity,
    dim: usize,
    batch_size: usize,
    client: Arc<Client>,
    runtime: Option<Runtime>,
}

impl fmt::Debug for HttpEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpEncoder").field("config", &self.client.config).field("dim", &self.dim).finish()
    }
}

impl HttpEncoder {
    /// Builds the client; with `dim = None` it asks the server for one vector to learn the
    /// dimension (so an unreachable endpoint fails here, not in the middle of a run).
    pub fn new(config: HttpConfig, batch_size: usize, dim: Option<usize>) -> Result<HttpEncoder, EmbedError> {
        let load = |err: HttpError| EmbedError::Load { path: config.base_url.clone(), message: err.to_string() };
        if batch_size == 0 || dim == Some(0) {
            return Err(load(HttpError::Config("batch size and dimension must be at least 1".to_string())));
        }
        let identity = EncoderIdentity { name: config.model.clone(), weights_sha256: String::new() };
        let (client, runtime) = connect(config.clone(), "embeddings").map_err(load)?;
        let mut encoder = HttpEncoder {
            identity,
            dim: dim.unwrap_or(0),
            batch_size,
            client: Arc::new(client),
            runtime: Some(runtime),
        };
        if dim.is_none() {
            let probe = encoder.request(vec![vec!["dimension probe".to_string()]]).pop();
            // Invariant: `request` returns one result per batch, and one batch was sent.
            let vectors = probe.expect("one batch, one result").map_err(load)?;
            encoder.dim = vectors.first().map_or(0, Vec::len);
            if encoder.dim == 0 {
                return Err(load(HttpError::InvalidResponse("the server sent an empty embedding".to_string())));
            }
        }
        Ok(encoder)
    }

    /// Fault and usage counters (requests are batches here; completion tokens stay zero).
    pub fn stats(&self) -> HttpStats {
        self.client.counters.snapshot(&self.client.admission)
    }

    /// Sends every batch concurrently; one result per batch, in order.
    fn request(&self, batches: Vec<Vec<String>>) -> Vec<Result<Vec<Vec<f32>>, HttpError>> {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        run_tasks(
            runtime,
            &self.client,
            batches,
            |client, texts| async move { embed(&client, texts).await },
            |e| e,
            |_, _| {},
        )
    }
}

impl Encoder for HttpEncoder {
    fn identity(&self) -> &EncoderIdentity {
        &self.identity
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        let batches: Vec<Vec<String>> =
            texts.chunks(self.batch_size).map(|chunk| chunk.iter().map(|t| t.to_string()).collect()).collect();
        let mut embeddings = Embeddings::new(self.dim);
        for result in self.request(batches) {
            for vector in result.map_err(|err| EmbedError::Encode(err.to_string()))? {
                if vector.len() != self.dim {
                    let why = format!("the server sent a vector of length {} instead of {}", vector.len(), self.dim);
                    return Err(EmbedError::Encode(why));
                }
                embeddings.push_normalised(&vector)?;
            }
        }
        Ok(embeddings)
    }
}

impl Drop for HttpEncoder {
    fn drop(&mut self) {
        // As for the chat model: never block, even inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[derive(Deserialize)]
struct List {
    data: Vec<Item>,
    usage: Option<ListUsage>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vector,
    index: Option<usize>,
}

/// One vector per text, or one per token: llama-cpp-python sends the latter for models without
/// a pooling layer (chat models such as SmolLM2); those are mean-pooled here.
#[derive(Deserialize)]
#[serde(untagged)]
enum Vector {
    Text(Vec<f32>),
    Tokens(Vec<Vec<f32>>),
}

impl Vector {
    fn pooled(self) -> Result<Vec<f32>, String> {
        let tokens = match self {
            Vector::Text(vector) => return Ok(vector),
            Vector::Tokens(tokens) => tokens,
        };
        let dim = tokens.first().map_or(0, Vec::len);
        if tokens.iter().any(|t| t.len() != dim) {
            return Err("token vectors of different lengths".to_string());
        }
        let mut mean = vec![0.0; dim];
        for token in &tokens {
            mean.iter_mut().zip(token).for_each(|(m, v)| *m += v / tokens.len() as f32);
        }
        Ok(mean)
    }
}

#[derive(Deserialize)]
struct ListUsage {
    prompt_tokens: Option<u32>,
}

/// One batch through admission and retries; the vectors come back in input order.
async fn embed(client: &Client, texts: Vec<String>) -> Result<Vec<Vec<f32>>, HttpError> {
    let body = serde_json::json!({"model": client.config.model, "input": texts});
    let body = serde_json::to_vec(&body).expect("strings always serialize");
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    let reserved = Cost { input: (chars / 4 + texts.len()) as f64, output: 0.0 };
    let n = texts.len();
    let (vectors, tokens) = client.send(|| body.clone(), |_| false, reserved, |body| parse(body, n), |_| 0).await?;
    client.on_embedded(tokens, reserved);
    Ok(vectors)
}

/// Reads a 2xx body: exactly `n` vectors, ordered by their `index` when the server gives one.
pub(crate) fn parse(body: &[u8], n: usize) -> Result<(Vec<Vec<f32>>, Option<u32>), String> {
    let list: List = serde_json::from_slice(body).map_err(|err| format!("not an embeddings list: {err}"))?;
    if list.data.len() != n {
        return Err(format!("{} vectors for {n} texts", list.data.len()));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; n];
    for (position, item) in list.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        match slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(item.embedding.pooled()?),
            _ => return Err(format!("vector index {index} is out of range or repeated")),
        }
    }
    let vectors = slots
        .into_iter()
        .map(|v| v.expect("invariant: n items with distinct indices below n fill all n slots"))
        .collect();
    Ok((vectors, list.usage.and_then(|u| u.prompt_tokens)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_orders_by_index_and_checks_the_count() {
        let body = br#"{"data":[{"index":1,"embedding":[0.0,1.0]},{"index":0,"embedding":[1.0,0.0]}],
            "usage":{"prompt_tokens":3}}"#;
        let (vectors, tokens) = super::parse(body, 2).unwrap();
        assert_eq!(vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(tokens, Some(3));
        assert!(super::parse(body, 3).unwrap_err().contains("2 vectors for 3"));
        let repeated = br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[2.0]}]}"#;
        assert!(super::parse(repeated, 2).is_err());
        let tokens = br#"{"data":[{"index":0,"embedding":[[1.0,2.0],[3.0,6.0]]}]}"#;
        assert_eq!(super::parse(tokens, 1).unwrap().0, vec![vec![2.0, 4.0]], "per-token vectors are averaged");
        let ragged = br#"{"data":[{"index":0,"embedding":[[1.0,2.0],[3.0]]}]}"#;
        assert!(super::parse(ragged, 1).is_err());
    }
}
