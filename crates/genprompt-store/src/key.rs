//! Content addresses of requests: what makes two requests "the same" for the cache and the journal.

use genprompt_llm::{ChatRequest, ModelIdentity};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Bumped whenever the key's contents change, so old entries are never mistaken for new ones.
const KEY_VERSION: u32 = 1;

/// Where requests go: part of every key, so one cache file can serve many backends safely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// e.g. "llama.cpp" or "openai-compatible".
    pub backend: String,
    /// The endpoint's base URL; empty for the embedded model.
    pub base_url: String,
    /// The model's name as the backend knows it.
    pub model: String,
    /// sha256 of the weights file where there is one (GGUF), else empty.
    pub model_sha256: String,
    /// The engine settings of a backend whose replies depend on their batch-mates (see
    /// `ModelIdentity::batch_settings`): its replies are keyed by their whole call.
    pub batch_settings: Option<String>,
}

impl Scope {
    pub fn new(identity: &ModelIdentity, base_url: Option<&str>) -> Scope {
        Scope {
            backend: identity.backend.clone(),
            base_url: base_url.unwrap_or_default().trim_end_matches('/').to_string(),
            model: identity.name.clone(),
            model_sha256: identity.sha256.clone(),
            batch_settings: identity.batch_settings.clone(),
        }
    }

    /// Whether a reply depends on the other requests of its call.
    pub fn batch_dependent(&self) -> bool {
        self.batch_settings.is_some()
    }

    /// The keys of one call's requests: [`RequestKey::of`] each where replies depend on their
    /// request alone, [`RequestKey::in_batch`] where they depend on the whole call.
    pub fn keys(&self, requests: &[ChatRequest]) -> Vec<RequestKey> {
        match self.batch_dependent() {
            true => RequestKey::in_batch(self, requests),
            false => requests.iter().map(|request| RequestKey::of(self, request)).collect(),
        }
    }
}

/// sha256 of a request in its scope. It covers the scope (backend kind, base URL, model name and
/// weights hash, engine settings), every message (role and content, in order), temperature, top_p,
/// min_p and the repetition penalty (when on), max_tokens, the stop strings, the seed and the JSON
/// schema. It does not cover the API key, timeouts, retry or rate-limit settings: they change how a
/// reply is obtained, not which reply is right. For a backend whose replies depend on their
/// batch-mates, [`RequestKey::in_batch`] also covers every other request of the call and the
/// request's place in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestKey(pub [u8; 32]);

impl RequestKey {
    pub fn of(scope: &Scope, request: &ChatRequest) -> RequestKey {
        let sampling = &request.sampling;
        let messages: Vec<[&str; 2]> = request.messages.iter().map(|m| [m.role.as_str(), m.content.as_str()]).collect();
        // Floats as their bit patterns: 0.7 must not depend on how a JSON writer rounds it.
        let mut canonical = json!({
            "key_version": KEY_VERSION,
            "backend": scope.backend,
            "base_url": scope.base_url,
            "model": scope.model,
            "model_sha256": scope.model_sha256,
            "messages": messages,
            "temperature_bits": sampling.temperature.to_bits(),
            "top_p_bits": sampling.top_p.to_bits(),
            "max_tokens": sampling.max_tokens,
            "stop": sampling.stop,
            "seed": sampling.seed,
            "json_schema": request.json_schema,
        });
        // Only batch-dependent scopes carry the field, so endpoint keys stay what they were.
        if let Some(settings) = &scope.batch_settings {
            canonical["batch_settings"] = json!(settings);
        }
        // Only when on, so that the keys of requests without them stay what they were.
        if sampling.has_extras() {
            canonical["min_p_bits"] = json!(sampling.min_p.to_bits());
            canonical["repeat_penalty_bits"] = json!(sampling.repeat_penalty.to_bits());
        }
        RequestKey(Sha256::digest(canonical.to_string().as_bytes()).into())
    }

    /// The keys of a call's requests for a backend whose replies depend on the whole call: each
    /// covers its own request, its index, and every request of the call, so a reply made in
    /// another batch (a preview's batches of 3, a run at another thread count) is never served.
    pub fn in_batch(scope: &Scope, requests: &[ChatRequest]) -> Vec<RequestKey> {
        let own: Vec<RequestKey> = requests.iter().map(|request| RequestKey::of(scope, request)).collect();
        let mut batch = Sha256::new();
        for key in &own {
            batch.update(key.0);
        }
        let batch = RequestKey(batch.finalize().into()).hex();
        own.iter()
            .enumerate()
            .map(|(index, key)| {
                let canonical =
                    json!({"key_version": KEY_VERSION, "batch": batch, "index": index, "request": key.hex()});
                RequestKey(Sha256::digest(canonical.to_string().as_bytes()).into())
            })
            .collect()
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}
