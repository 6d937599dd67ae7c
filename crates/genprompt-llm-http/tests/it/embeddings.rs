//! `HttpEncoder` against the fault server: batching, order, normalisation, retries, and the key.

use genprompt_embed::Encoder;
use genprompt_llm_http::testing::{EMBEDDING_DIM, Fault, FaultServer, embedding, fast_config};
use genprompt_llm_http::{HttpConfig, HttpEncoder, Secret};

const KEY: &str = "sk-embed-3c1f9a7d2e";

fn encoder(server: &FaultServer, batch: usize, adjust: impl FnOnce(&mut HttpConfig)) -> HttpEncoder {
    let mut config = fast_config(&server.base_url());
    adjust(&mut config);
    HttpEncoder::new(config, batch, Some(EMBEDDING_DIM)).expect("the test config is valid")
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text number {i}")).collect()
}

#[test]
fn texts_are_batched_and_rows_come_back_normalised_in_order() {
    let server = FaultServer::start();
    let encoder = encoder(&server, 4, |_| {});
    let texts = texts(10);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder.encode(&refs).unwrap();
    assert_eq!((embeddings.len(), embeddings.dim()), (10, EMBEDDING_DIM));
    for (i, text) in texts.iter().enumerate() {
        let raw = embedding(text, EMBEDDING_DIM);
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(norm > 1.5, "the server's vectors are not normalised, so the test checks ours");
        for (got, want) in embeddings.row(i).iter().zip(&raw) {
            assert!((got - want / norm).abs() < 1e-5, "row {i}");
        }
    }
    let mut sizes: Vec<usize> = server.hits().iter().map(|hit| hit.body["input"].as_array().unwrap().len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [2, 4, 4]);
    let body = &server.hits_for("text number 4")[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["input"], serde_json::json!(["text number 4", "text number 5", "text number 6", "text number 7"]));
    assert_eq!((encoder.stats().requests, encoder.stats().failed), (3, 0));
    assert!(encoder.encode(&[]).unwrap().is_empty());
}

#[test]
fn the_dimension_comes_from_the_first_reply_when_not_configured() {
    let server = FaultServer::start();
    server.set_embedding_dim(5);
    let encoder = HttpEncoder::new(fast_config(&server.base_url()), 8, None).unwrap();
    assert_eq!(encoder.dim(), 5);
    assert_eq!(server.hits().len(), 1, "one probe request");
    assert_eq!(encoder.encode(&["a", "b"]).unwrap().dim(), 5);
    server.set_embedding_dim(6);
    let err = encoder.encode(&["c"]).unwrap_err().to_string();
    assert!(err.contains("length 6 instead of 5"), "{err}");
}

#[test]
fn server_errors_are_retried_and_bad_requests_fail_fast() {
    let server = FaultServer::start();
    server.script("text number 0", [Fault::status(503), Fault::status(500)]);
    server.script("text number 2", [Fault::EmptyChoices]);
    let encoder = encoder(&server, 2, |_| {});
    let texts = texts(4);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder.encode(&refs).unwrap();
    assert_eq!(embeddings.len(), 4);
    assert_eq!(server.hits_for("text number 0").len(), 3);
    assert_eq!(server.hits_for("text number 2").len(), 2, "a body without `data` is retried");
    let stats = encoder.stats();
    assert_eq!((stats.server_errors, stats.invalid_responses, stats.retries), (2, 1, 3), "{stats:?}");

    server.script("bad", [Fault::Status(400, "input too long".to_string())]);
    let err = encoder.encode(&["bad"]).unwrap_err().to_string();
    assert!(err.contains("HTTP 400") && err.contains("input too long"), "{err}");
    assert_eq!(server.hits_for("bad").len(), 1);
}

#[test]
fn the_key_is_sent_in_the_header_only() {
    let server = FaultServer::start();
    server.script("who", [Fault::Unauthorized]);
    let encoder = encoder(&server, 4, |config| config.api_key = Some(Secret::new(KEY)));
    assert_eq!(encoder.encode(&["hello"]).unwrap().len(), 1);
    let err = encoder.encode(&["who"]).unwrap_err().to_string();
    assert!(err.contains("Incorrect API key provided: ***"), "{err}");
    for hit in server.hits() {
        assert_eq!(hit.authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    }
    let shown = format!("{err} {encoder:?} {:?}", encoder.stats());
    assert!(!shown.contains(KEY), "{shown}");
}
