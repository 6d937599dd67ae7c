//! `endpoint-check URL MODEL [json|embeddings]`: structured output (`chat_json`, `response_format: json_schema`) and
//! `/v1/embeddings` through our client against a server we did not write; prints what came back
//! and exits non-zero when no JSON reply was valid. Used by `bench/llama_cpp_server_check.sh`.

use std::time::Instant;

use genprompt_embed::Encoder;
use genprompt_llm::{ChatMessage, ChatRequest, Sampling};
use genprompt_llm_http::{HttpChatModel, HttpConfig, HttpEncoder};
use serde_json::json;

pub fn run(base_url: &str, model: &str, only: Option<&str>) {
    let config = HttpConfig::new(base_url, model).with_api_key_env(None).expect("key variable readable");
    if only != Some("embeddings") {
        check_json(config.clone());
    }
    if only != Some("json") {
        check_embeddings(config);
    }
}

fn check_json(config: HttpConfig) {
    let chat = HttpChatModel::new(config.clone()).expect("valid config");
    let schema = json!({
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["billing", "delivery", "technical"]},
            "message": {"type": "string"}
        },
        "required": ["label", "message"]
    });
    let requests: Vec<ChatRequest> = (0..3)
        .map(|i| {
            let messages = vec![
                ChatMessage::system("You write customer support messages as JSON."),
                ChatMessage::user("Write one short customer message about a late parcel, with its label."),
            ];
            ChatRequest::new(messages, Sampling::new(0.7, 0.95, 96, i))
        })
        .collect();
    let started = Instant::now();
    let results = chat.chat_json(&requests, &schema);
    let seconds = started.elapsed().as_secs_f64();
    let mut valid = 0;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(reply) => {
                valid += 1;
                println!("json {i}: {}", reply.value);
            }
            Err(err) => println!("json {i}: error: {err}"),
        }
    }
    println!("json_schema: {valid}/3 valid in {seconds:.1} s; stats {:?}", chat.stats());
    if valid == 0 {
        std::process::exit(1);
    }
}

fn check_embeddings(config: HttpConfig) {
    let started = Instant::now();
    match HttpEncoder::new(config, 8, None) {
        Ok(encoder) => {
            let texts = ["my parcel is late", "where is my package?", "I was charged twice"];
            match encoder.encode(&texts) {
                Ok(e) => println!(
                    "embeddings: dim {}, cosine(late, package) {:.3}, cosine(late, charged) {:.3}, {:.1} s",
                    e.dim(),
                    e.cosine(0, 1),
                    e.cosine(0, 2),
                    started.elapsed().as_secs_f64()
                ),
                Err(err) => {
                    println!("embeddings: error: {err}");
                    std::process::exit(1);
                }
            }
        }
        Err(err) => {
            println!("embeddings: unavailable: {err}");
            std::process::exit(1);
        }
    }
}
