//! Shared-prefix prefill and structured output on the real default GGUF model.

use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, LlmError, Sampling, schema};
use genprompt_llm_llama::{LlamaChatModel, LlamaOptions};
use serde_json::json;

fn model(share_prefix: bool) -> LlamaChatModel {
    let home = genprompt_models::Home::from_env().expect("a models folder");
    let dir = home
        .require(&genprompt_models::PIPELINE_TEST_LLM)
        .unwrap_or_else(|err| panic!("{err}: the embedded-model tests need the default models"));
    let path = dir.join(genprompt_models::PIPELINE_TEST_LLM.files[0].file_name);
    let options = LlamaOptions { threads: 1, n_ctx: 4096, n_parallel: 8, share_prefix };
    LlamaChatModel::load(&path, options).expect("the default model loads")
}

const INSTRUCTIONS: &str = "You write realistic synthetic training data for text classifiers. \
Every text must be a single customer message to an online shop, written in plain English, \
between one and three sentences long, without greetings, signatures or placeholders.";

fn request(topic: &str, seed: u64) -> ChatRequest {
    ChatRequest::new(
        vec![ChatMessage::system(INSTRUCTIONS), ChatMessage::user(format!("Write one message about {topic}."))],
        Sampling::new(0.9, 0.95, 24, seed),
    )
}

fn texts(replies: Vec<Result<genprompt_llm::ChatReply, LlmError>>) -> Vec<String> {
    replies.into_iter().map(|r| r.expect("the request succeeds").text).collect()
}

#[test]
fn a_shared_prefix_is_prefilled_once_and_replies_stay_reproducible() {
    let requests: Vec<ChatRequest> = ["a late parcel", "a double charge", "a broken app", "a wrong address"]
        .iter()
        .zip(1..)
        .map(|(t, s)| request(t, s))
        .collect();
    let shared = model(true);
    let first = shared.chat(&requests);
    let stats = shared.stats();
    let prompt_tokens: u64 = first.iter().map(|r| u64::from(r.as_ref().unwrap().usage.prompt_tokens)).sum();
    assert_eq!(stats.prompt_tokens, prompt_tokens, "usage still counts every prompt token");
    // The system message alone is over 40 tokens; three of the four sequences reuse it.
    assert!(stats.shared_tokens >= 3 * 40, "{stats:?}");
    assert!(stats.shared_tokens < prompt_tokens);
    let first = texts(first);
    assert_eq!(first, texts(shared.chat(&requests)), "same batch, same seeds: same replies");

    let unshared = model(false);
    let plain = texts(unshared.chat(&requests));
    let stats = unshared.stats();
    assert_eq!((stats.prompt_tokens, stats.shared_tokens), (prompt_tokens, 0));
    assert_eq!(plain, texts(unshared.chat(&requests)), "reproducible without sharing too");
    // Not asserted: `plain` and `first` differ in the last bits of llama.cpp's arithmetic (its
    // attention kernels pick their path by batch shape), so replies depend on how the batch was
    // prefilled; a run stays byte-reproducible because its batches are.
}

#[test]
fn structured_requests_fit_their_schema() {
    let model = model(true);
    let gene_list = schema::string_list("genes", 3, 6, 40);
    let requests: Vec<ChatRequest> = (0..8)
        .map(|seed| {
            let mut request = ChatRequest::new(
                vec![
                    ChatMessage::system("You are a helpful assistant."),
                    ChatMessage::user(
                        "Which attributes of a customer message matter for sorting it into billing, delivery \
or technical? Answer with a JSON object {\"genes\": [...]} of 3 to 6 short attribute names.",
                    ),
                ],
                Sampling::new(0.8, 0.95, 80, seed),
            );
            request.json_schema = Some(gene_list.clone());
            request
        })
        .collect();
    let replies = model.chat(&requests);
    for reply in &replies {
        let reply = reply.as_ref().expect("a structured reply that fits");
        let value = schema::parse(&reply.text, &gene_list).unwrap_or_else(|err| panic!("{err}: {}", reply.text));
        let genes = value["genes"].as_array().unwrap();
        assert!((3..=6).contains(&genes.len()), "{}", reply.text);
    }
    // Scalars, enums and nesting go through llama.cpp's grammar parser too.
    let mixed = json!({"type": "object", "properties": {
        "label": {"enum": ["billing", "delivery", "technical"]},
        "urgent": {"type": "boolean"},
        "score": {"type": "integer"},
        "notes": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 2},
    }, "required": ["label", "urgent", "score", "notes"]});
    let mut request = requests[0].clone();
    request.json_schema = Some(mixed.clone());
    let reply = model.chat(&[request.clone()]).remove(0).expect("a structured reply that fits");
    schema::parse(&reply.text, &mixed).unwrap_or_else(|err| panic!("{err}: {}", reply.text));

    // A pattern holds the model to an entity-tagged sentence (how relation tasks ask).
    let tagged = json!({"type": "object", "properties": {"text": {"type": "string",
        "pattern": "^[^<>]{0,40}<e>[^<>]{1,20}</e>[^<>]{1,40}<e>[^<>]{1,20}</e>[^<>]{0,40}$"}}, "required": ["text"]});
    let mut sentence = request.clone();
    sentence.json_schema = Some(tagged.clone());
    sentence.sampling.max_tokens = 160;
    sentence.messages[1] = ChatMessage::user(
        "Write one sentence about two companies, with each company name wrapped in <e></e> tags, as JSON {\"text\": ...}.",
    );
    let reply = model.chat(&[sentence]).remove(0).expect("a tagged sentence that fits");
    let value = schema::parse(&reply.text, &tagged).unwrap_or_else(|err| panic!("{err}: {}", reply.text));
    assert_eq!(value["text"].as_str().unwrap().matches("</e>").count(), 2, "{}", reply.text);

    // A schema the grammar cannot express fails that request alone.
    let mut odd = request;
    odd.json_schema = Some(json!({"anyOf": [{"type": "string"}]}));
    let replies = model.chat(&[odd, requests[1].clone()]);
    assert!(matches!(&replies[0], Err(LlmError::Rejected(m)) if m.contains("anyOf")), "{:?}", replies[0]);
    assert!(replies[1].is_ok());
}
