//! Replies that depend on their batch-mates (the embedded engine) and backends that break the
//! one-result-per-request contract.

use std::sync::Mutex;

use genprompt_llm::{
    ChatMessage, ChatModel, ChatReply, ChatRequest, FinishReason, LlmError, ModelIdentity, OnReply, Sampling, Usage,
};

use crate::{CacheMode, ResponseCache, RunJournal, Scope, StoredChat};

/// Like the embedded engine: the reply to a prompt names every prompt of its call and the
/// engine settings, so a reply made in another batch or at other settings is visibly different.
struct BatchBound {
    identity: ModelIdentity,
    calls: Mutex<Vec<usize>>,
    /// Prompts starting with "fail" time out.
    failing: bool,
}

impl BatchBound {
    fn new(settings: &str) -> BatchBound {
        let identity = ModelIdentity {
            backend: "llama.cpp".into(),
            name: "batch-bound".into(),
            sha256: "abc".into(),
            batch_settings: Some(settings.into()),
        };
        BatchBound { identity, calls: Mutex::default(), failing: false }
    }

    /// The size of each call so far.
    fn calls(&self) -> Vec<usize> {
        self.calls.lock().unwrap().clone()
    }
}

fn prompt(request: &ChatRequest) -> &str {
    &request.messages.last().unwrap().content
}

impl ChatModel for BatchBound {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.calls.lock().unwrap().push(requests.len());
        let mates: Vec<&str> = requests.iter().map(prompt).collect();
        let settings = self.identity.batch_settings.as_deref().unwrap_or("no settings");
        requests
            .iter()
            .map(|request| {
                if self.failing && prompt(request).starts_with("fail") {
                    return Err(LlmError::Timeout("no reply".into()));
                }
                Ok(ChatReply {
                    text: format!("{} in [{}] at {settings}", prompt(request), mates.join(",")),
                    finish: FinishReason::Stop,
                    usage: Usage { prompt_tokens: 3, completion_tokens: 2 },
                })
            })
            .collect()
    }
}

fn request(prompt: &str) -> ChatRequest {
    let sampling = Sampling::new(1.0, 1.0, 32, 5);
    ChatRequest::new(vec![ChatMessage::user(prompt)], sampling)
}

fn batch(prompts: &[&str]) -> Vec<ChatRequest> {
    prompts.iter().map(|p| request(p)).collect()
}

fn texts(results: &[Result<ChatReply, LlmError>]) -> Vec<String> {
    results.iter().map(|r| r.as_ref().map_or_else(|e| format!("error: {e}"), |r| r.text.clone())).collect()
}

fn cached(model: BatchBound, cache: &std::path::Path, mode: CacheMode) -> StoredChat<BatchBound> {
    let scope = Scope::new(&model.identity, None);
    StoredChat::new(model, scope, None, Some(ResponseCache::open(cache).unwrap()), mode, false)
}

#[test]
fn a_reply_made_in_another_batch_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("responses.sqlite");
    // A preview asks in batches of 3, then the run asks the same first requests in a batch of 5.
    let preview = cached(BatchBound::new("threads=2"), &cache, CacheMode::Use);
    preview.chat(&batch(&["a", "b", "c"]));
    let run = cached(BatchBound::new("threads=2"), &cache, CacheMode::Use);
    let with_cache = texts(&run.chat(&batch(&["a", "b", "c", "d", "e"])));
    let no_cache = cached(BatchBound::new("threads=2"), &cache, CacheMode::Off);
    assert_eq!(with_cache, texts(&no_cache.chat(&batch(&["a", "b", "c", "d", "e"]))));
    assert_eq!(with_cache[0], "a in [a,b,c,d,e] at threads=2");
    assert_eq!(run.stats().cache_hits, 0);

    // The same batch again is a cache hit for every request, and costs no call.
    let again = cached(BatchBound::new("threads=2"), &cache, CacheMode::Use);
    assert_eq!(texts(&again.chat(&batch(&["a", "b", "c", "d", "e"]))), with_cache);
    assert_eq!((again.stats().cache_hits, again.inner().calls().len()), (5, 0));
}

#[test]
fn a_reply_made_at_other_engine_settings_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("responses.sqlite");
    let two = cached(BatchBound::new("threads=2"), &cache, CacheMode::Use);
    two.chat(&batch(&["a", "b"]));
    let one = cached(BatchBound::new("threads=1"), &cache, CacheMode::Use);
    let answered = texts(&one.chat(&batch(&["a", "b"])));
    assert_eq!(answered, ["a in [a,b] at threads=1", "b in [a,b] at threads=1"]);
    assert_eq!(one.stats().cache_hits, 0);
}

#[test]
fn a_failed_request_is_retried_in_its_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let journal = || Some(RunJournal::open(&path).unwrap());
    let model = BatchBound { failing: true, ..BatchBound::new("threads=1") };
    let scope = Scope::new(&model.identity, None);
    let first = StoredChat::new(model, scope.clone(), journal(), None, CacheMode::Off, false);
    let answered = texts(&first.chat(&batch(&["a", "fail b", "c"])));
    assert!(answered[1].starts_with("error: timed out"), "{answered:?}");
    drop(first);
    let retry = StoredChat::new(BatchBound::new("threads=1"), scope, journal(), None, CacheMode::Off, true);
    let retried = texts(&retry.chat(&batch(&["a", "fail b", "c"])));
    // The batch is sent whole, so the new reply is the one this batch gives; the others replay.
    assert_eq!(retry.inner().calls(), [3]);
    assert_eq!(retried[1], "fail b in [a,fail b,c] at threads=1");
    assert_eq!((retried[0].as_str(), retried[2].as_str()), (answered[0].as_str(), answered[2].as_str()));
    assert_eq!(retry.stats().replayed, 2);
}

/// Returns one result fewer than asked for (or one more), as a buggy backend might.
struct Miscounting {
    identity: ModelIdentity,
    extra: bool,
    streams: bool,
}

impl ChatModel for Miscounting {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        let reply = |r: &ChatRequest| {
            Ok(ChatReply { text: prompt(r).to_string(), finish: FinishReason::Stop, usage: Usage::default() })
        };
        let mut results: Vec<_> = requests.iter().map(reply).collect();
        if self.extra {
            results.push(reply(&requests[0]));
        } else {
            results.pop();
        }
        results
    }

    fn chat_each(&self, requests: &[ChatRequest], on_reply: &OnReply<'_>) -> Vec<Result<ChatReply, LlmError>> {
        let results = self.chat(requests);
        for (i, result) in results.iter().enumerate() {
            on_reply(i, result);
        }
        results
    }

    fn streams_replies(&self) -> bool {
        self.streams
    }
}

#[test]
fn a_backend_with_too_few_or_too_many_results_gives_errors_not_a_panic() {
    for (extra, streams, batch_settings) in
        [(false, false, None), (false, true, None), (true, false, None), (true, true, None), (false, false, Some("t"))]
    {
        let identity = ModelIdentity {
            backend: "x".into(),
            name: "m".into(),
            sha256: String::new(),
            batch_settings: batch_settings.map(String::from),
        };
        let scope = Scope::new(&identity, None);
        let chat = StoredChat::new(Miscounting { identity, extra, streams }, scope, None, None, CacheMode::Off, false);
        let got = texts(&chat.chat(&batch(&["a", "b", "c"])));
        let case = format!("extra {extra}, streams {streams}, {batch_settings:?}");
        assert_eq!(got.len(), 3, "{case}");
        assert_eq!(&got[..2], ["a", "b"], "{case}");
        if extra {
            assert_eq!(got[2], "c", "{case}");
        } else {
            assert!(got[2].contains("returned 2 results for 3 requests"), "{case}: {got:?}");
        }
    }
}

/// Submits `prompts` to a session of `chat` and returns the replies in hand-out order.
fn steady(chat: &StoredChat<BatchBound>, prompts: &[&str]) -> Vec<String> {
    let mut session = chat.session();
    for (id, prompt) in prompts.iter().enumerate() {
        session.submit(id as u64, request(prompt));
    }
    let mut replies = Vec::new();
    while let Some((_, result)) = session.next() {
        replies.push(texts(&[result]).remove(0));
    }
    replies
}

#[test]
fn a_steady_session_on_a_batch_dependent_backend_neither_reads_nor_writes_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("responses.sqlite");
    // A steady run asks for "a" beside "b" (one call of the batch adapter) ...
    let first = cached(BatchBound::new("threads=2"), &cache, CacheMode::Use);
    assert_eq!(steady(&first, &["a", "b"]), ["a in [a,b] at threads=2", "b in [a,b] at threads=2"]);
    assert_eq!(ResponseCache::open(&cache).unwrap().len().unwrap(), 0, "per-request keys are not stored");
    // ... so a later one asking for "a" beside "c" gets what it gets without a cache, not "a in [a,b]".
    let second = cached(BatchBound::new("threads=2"), &cache, CacheMode::Use);
    let with_cache = steady(&second, &["a", "c"]);
    let no_cache = cached(BatchBound::new("threads=2"), &cache, CacheMode::Off);
    assert_eq!(with_cache, steady(&no_cache, &["a", "c"]));
    assert_eq!(with_cache[0], "a in [a,c] at threads=2");
    assert_eq!((second.stats().cache_hits, second.stats().sent), (0, 2));

    // A backend whose replies depend on the request alone still shares its steady replies.
    let identity = ModelIdentity { batch_settings: None, ..BatchBound::new("any").identity };
    let plain = || {
        let model = BatchBound { identity: identity.clone(), ..BatchBound::new("any") };
        cached(model, &cache, CacheMode::Use)
    };
    let (one, two) = (plain(), plain());
    let first = steady(&one, &["a", "b"]);
    assert_eq!(steady(&two, &["a", "c"])[0], first[0]);
    assert_eq!(two.stats().cache_hits, 1);
}
