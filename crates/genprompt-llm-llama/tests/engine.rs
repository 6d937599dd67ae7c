//! Runs the real default GGUF model (fetched by `genprompt models fetch`).

use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, Sampling};
use genprompt_llm_llama::{LlamaChatModel, LlamaOptions};

fn model() -> LlamaChatModel {
    model_with(true)
}

fn model_with(share_prefix: bool) -> LlamaChatModel {
    let home = genprompt_models::Home::from_env().expect("a models folder");
    let dir = home
        .require(&genprompt_models::PIPELINE_TEST_LLM)
        .unwrap_or_else(|err| panic!("{err}: the embedded-model tests need the default models"));
    let path = dir.join(genprompt_models::PIPELINE_TEST_LLM.files[0].file_name);
    let options = LlamaOptions { threads: 1, n_ctx: 2048, n_parallel: 4, share_prefix };
    LlamaChatModel::load(&path, options).expect("the default model loads")
}

fn request(prompt: &str, seed: u64, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("You are a helpful assistant."), ChatMessage::user(prompt)],
        sampling: Sampling::new(0.8, 0.95, max_tokens, seed),
        json_schema: None,
    }
}

#[test]
fn batches_answer_every_request_reproducibly_and_report_limits() {
    let model = model();
    assert_eq!(model.identity().backend, "llama.cpp");
    assert_eq!(model.identity().sha256, genprompt_models::PIPELINE_TEST_LLM.files[0].sha256);

    let requests = vec![
        request("Write one short SMS message that is spam.", 1, 24),
        request("Write a one-sentence news headline about sports.", 2, 24),
        request("Name three colours.", 3, 4),
    ];
    let first = model.chat(&requests);
    let second = model.chat(&requests);
    assert_eq!(first.len(), 3);
    for (a, b) in first.iter().zip(&second) {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        assert_eq!(a.text, b.text, "same seed and batch give the same text");
        assert!(a.usage.prompt_tokens > 10, "the chat template wraps the prompt");
        assert!(a.usage.completion_tokens >= 1 && a.usage.completion_tokens <= 24);
    }
    let short = first[2].as_ref().unwrap();
    assert_eq!(short.usage.completion_tokens, 4);
    assert_eq!(short.finish, FinishReason::Length);
    assert!(first.iter().any(|r| !r.as_ref().unwrap().text.trim().is_empty()));

    // More requests than parallel sequences: split into groups, still one answer each.
    let many: Vec<ChatRequest> = (0..6).map(|seed| request("Say hello.", seed, 8)).collect();
    let replies = model.chat(&many);
    assert_eq!(replies.len(), 6);
    assert!(replies.iter().all(Result::is_ok));

    // A stop string cuts the text before it.
    let mut stopped = request("Count from 1 to 20, separated by commas.", 5, 48);
    stopped.sampling.temperature = 0.0;
    stopped.sampling.stop = vec!["5".to_string()];
    let reply = model.chat(&[stopped]).remove(0).unwrap();
    assert!(!reply.text.contains('5'), "{:?}", reply.text);
    assert_eq!(reply.finish, FinishReason::Stop);

    // A prompt that cannot fit fails alone, with a clear error.
    let huge = request(&"word ".repeat(3000), 1, 16);
    let replies = model.chat(&[huge, request("Say hi.", 1, 4)]);
    assert!(matches!(replies[0], Err(LlmError::ContextOverflow { .. })), "{:?}", replies[0]);
    assert!(replies[1].is_ok());
}

#[test]
fn a_missing_file_is_a_load_error_naming_it() {
    let options = LlamaOptions { threads: 1, n_ctx: 512, n_parallel: 1, share_prefix: true };
    let err = LlamaChatModel::load(std::path::Path::new("/nonexistent/model.gguf"), options).err().unwrap();
    assert_eq!(err.to_string(), "cannot load model /nonexistent/model.gguf: no such file");
}

#[test]
fn min_p_and_the_repetition_penalty_reach_the_sampler() {
    let model = model();
    let prompt = "Write a short sentence about the sea.";
    let mut greedy = request(prompt, 11, 24);
    greedy.sampling.temperature = 0.0;
    // min_p = 1 keeps only the most likely token: sampling at temperature 1 becomes greedy.
    let mut only_top = request(prompt, 11, 24);
    only_top.sampling.temperature = 1.0;
    only_top.sampling.top_p = 1.0;
    only_top.sampling.min_p = 1.0;
    // One request per call: a reply depends on its batch-mates.
    let greedy_text = model.chat(&[greedy]).remove(0).unwrap().text;
    let top_text = model.chat(&[only_top]).remove(0).unwrap().text;
    assert_eq!(greedy_text, top_text);
    // A strong repetition penalty changes a greedy reply long enough to repeat words (the
    // penalty looks at generated tokens only), and it repeats fewer of them.
    let mut repeat = request("Write a long poem about the sea and the waves.", 3, 64);
    repeat.sampling.temperature = 0.0;
    let mut penalised = repeat.clone();
    penalised.sampling.repeat_penalty = 3.0;
    let plain = model.chat(&[repeat]).remove(0).unwrap().text;
    let penalised = model.chat(&[penalised]).remove(0).unwrap().text;
    assert_ne!(plain, penalised);
    let repeats = |text: &str| {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        words.len() - words.iter().collect::<std::collections::HashSet<_>>().len()
    };
    assert!(repeats(&plain) > repeats(&penalised), "{plain:?} vs {penalised:?}");
}
