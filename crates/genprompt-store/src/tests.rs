use std::collections::BTreeMap;
use std::sync::Mutex;

use genprompt_llm::{
    ChatMessage, ChatModel, ChatReply, ChatRequest, FinishReason, LlmError, ModelIdentity, Sampling, Usage,
};

use crate::{
    CacheMode, JournalRow, RequestKey, ResponseCache, RunJournal, Scope, SettingsCheck, StoreError, StoredChat,
};

/// Answers `reply N to <prompt>` (N counts calls) and fails prompts starting with "fail".
struct Counting {
    identity: ModelIdentity,
    calls: Mutex<usize>,
}

impl Counting {
    fn new() -> Counting {
        Counting::starting_at(0)
    }

    fn starting_at(calls: usize) -> Counting {
        let identity = ModelIdentity {
            backend: "test".into(),
            name: "counting".into(),
            sha256: "abc".into(),
            batch_settings: None,
        };
        Counting { identity, calls: Mutex::new(calls) }
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

impl ChatModel for Counting {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        requests
            .iter()
            .map(|request| {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                let prompt = &request.messages.last().unwrap().content;
                if prompt.starts_with("fail") {
                    return Err(LlmError::Timeout("no reply within 1s".into()));
                }
                Ok(ChatReply {
                    text: format!("reply {calls} to {prompt}"),
                    finish: FinishReason::Stop,
                    usage: Usage { prompt_tokens: 10, completion_tokens: 5 },
                })
            })
            .collect()
    }
}

fn request(prompt: &str) -> ChatRequest {
    let sampling = Sampling::new(0.7, 0.9, 64, 7);
    ChatRequest::new(vec![ChatMessage::system("sys"), ChatMessage::user(prompt)], sampling)
}

fn scope() -> Scope {
    Scope::new(&Counting::new().identity, Some("http://127.0.0.1:8080/v1/"))
}

fn texts(results: &[Result<ChatReply, LlmError>]) -> Vec<String> {
    results.iter().map(|r| r.as_ref().map_or_else(|e| format!("error: {e}"), |r| r.text.clone())).collect()
}

#[test]
fn every_covered_field_changes_the_key() {
    let base = request("hello");
    let key = |r: &ChatRequest| RequestKey::of(&scope(), r);
    assert_eq!(key(&base), key(&base.clone()));
    let mut variants = Vec::new();
    let mut r = base.clone();
    r.messages[0].content = "other system".into();
    variants.push(r);
    let mut r = base.clone();
    r.messages[1].role = genprompt_llm::Role::Assistant;
    variants.push(r);
    let mut r = base.clone();
    r.sampling.temperature = 0.70001;
    variants.push(r);
    let mut r = base.clone();
    r.sampling.top_p = 1.0;
    variants.push(r);
    let mut r = base.clone();
    r.sampling.min_p = 0.05;
    variants.push(r);
    let mut r = base.clone();
    r.sampling.repeat_penalty = 1.05;
    variants.push(r);
    let mut r = base.clone();
    r.sampling.max_tokens = 65;
    variants.push(r);
    let mut r = base.clone();
    r.sampling.stop = vec!["\n".into()];
    variants.push(r);
    let mut r = base.clone();
    r.sampling.seed = 8;
    variants.push(r);
    let mut r = base.clone();
    r.json_schema = Some(serde_json::json!({"type": "object"}));
    variants.push(r);
    for variant in &variants {
        assert_ne!(key(&base), key(variant), "{variant:?}");
    }
    let mut scopes = vec![scope(), scope(), scope(), scope()];
    scopes[0].backend = "llama.cpp".into();
    scopes[1].base_url = "http://127.0.0.1:9090/v1".into();
    scopes[2].model = "other".into();
    scopes[3].model_sha256 = "def".into();
    for other in &scopes {
        assert_ne!(RequestKey::of(&scope(), &base), RequestKey::of(other, &base), "{other:?}");
    }
    // A trailing slash on the base URL is the same endpoint.
    let without_slash = Scope::new(&Counting::new().identity, Some("http://127.0.0.1:8080/v1"));
    assert_eq!(RequestKey::of(&scope(), &base), RequestKey::of(&without_slash, &base));
}

#[test]
fn a_cache_hit_costs_no_call_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache/responses.sqlite");
    let requests = [request("a"), request("b")];
    let first = StoredChat::new(
        Counting::new(),
        scope(),
        None,
        Some(ResponseCache::open(&path).unwrap()),
        CacheMode::Use,
        false,
    );
    let answered = texts(&first.chat(&requests));
    assert_eq!(answered, ["reply 1 to a", "reply 2 to b"]);
    assert_eq!(first.stats().paid_completion_tokens, 10);

    let second = StoredChat::new(
        Counting::new(),
        scope(),
        None,
        Some(ResponseCache::open(&path).unwrap()),
        CacheMode::Use,
        false,
    );
    assert_eq!(texts(&second.chat(&requests)), answered);
    assert_eq!(second.inner().calls(), 0);
    let stats = second.stats();
    assert_eq!((stats.cache_hits, stats.sent, stats.paid_prompt_tokens), (2, 0, 0));

    // Refresh asks again and overwrites; Off neither reads nor writes.
    let refresh = StoredChat::new(
        Counting::starting_at(10),
        scope(),
        None,
        Some(ResponseCache::open(&path).unwrap()),
        CacheMode::Refresh,
        false,
    );
    assert_eq!(texts(&refresh.chat(&requests[..1])), ["reply 11 to a"]);
    let off = StoredChat::new(
        Counting::new(),
        scope(),
        None,
        Some(ResponseCache::open(&path).unwrap()),
        CacheMode::Off,
        false,
    );
    assert_eq!(texts(&off.chat(&[request("a"), request("c")])), ["reply 1 to a", "reply 2 to c"]);
    let cache = ResponseCache::open(&path).unwrap();
    assert_eq!(cache.get(&RequestKey::of(&scope(), &request("a"))).unwrap().unwrap().text, "reply 11 to a");
    assert!(cache.get(&RequestKey::of(&scope(), &request("c"))).unwrap().is_none());
    assert_eq!(cache.len().unwrap(), 2);
}

#[test]
fn the_journal_replays_replies_and_failures_until_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let requests = [request("a"), request("fail b"), request("c")];
    let first =
        StoredChat::new(Counting::new(), scope(), Some(RunJournal::open(&path).unwrap()), None, CacheMode::Off, false);
    let seen = Mutex::new(Vec::new());
    let answered = texts(&first.chat_each(&requests, &|i, _| seen.lock().unwrap().push(i)));
    assert_eq!(answered[0], "reply 1 to a");
    assert!(answered[1].starts_with("error: timed out"), "{}", answered[1]);
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
    assert_eq!(first.stats().failed, 1);
    drop(first);

    let resumed =
        StoredChat::new(Counting::new(), scope(), Some(RunJournal::open(&path).unwrap()), None, CacheMode::Off, false);
    let replayed = texts(&resumed.chat(&requests));
    assert_eq!(resumed.inner().calls(), 0, "nothing is sent twice");
    assert_eq!(replayed[0], answered[0]);
    assert_eq!(replayed[2], answered[2]);
    assert!(replayed[1].contains("--retry-failed"), "{}", replayed[1]);
    assert_eq!((resumed.stats().replayed, resumed.stats().replayed_failures), (2, 1));

    let retry =
        StoredChat::new(Counting::new(), scope(), Some(RunJournal::open(&path).unwrap()), None, CacheMode::Off, true);
    let again = texts(&retry.chat(&[request("fail b")]));
    assert_eq!(retry.inner().calls(), 1, "only the failed request is sent again");
    assert!(again[0].starts_with("error: timed out"));
}

#[test]
fn rows_are_committed_once_and_a_divergent_replay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let journal = RunJournal::open(&dir.path().join("run.sqlite")).unwrap();
    let row = |id: &str, text: &str| JournalRow {
        id: id.into(),
        label: "sports".into(),
        text: text.into(),
        lineage: "{}".into(),
        truncated: false,
        request: RequestKey::of(&scope(), &request(text)),
    };
    journal.commit_rows(&[row("gen:sports:0", "one"), row("gen:sports:1", "two")]).unwrap();
    journal.commit_rows(&[row("gen:sports:1", "two"), row("gen:sports:2", "three")]).unwrap();
    let ids: Vec<String> = journal.rows().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["gen:sports:0", "gen:sports:1", "gen:sports:2"]);
    let err = journal.commit_rows(&[row("gen:sports:3", "four"), row("gen:sports:2", "changed")]).unwrap_err();
    assert!(matches!(err, StoreError::Diverged { ref id } if id == "gen:sports:2"), "{err}");
    assert_eq!(journal.rows().unwrap().len(), 3, "a refused batch commits nothing");
}

#[test]
fn settings_decide_between_new_resume_and_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let settings: BTreeMap<String, String> =
        [("method", "genetic"), ("n", "8"), ("seed", "1")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(RunJournal::open(&path).unwrap().check_settings(&settings).unwrap(), SettingsCheck::New);
    let journal = RunJournal::open(&path).unwrap();
    assert_eq!(journal.check_settings(&settings).unwrap(), SettingsCheck::Resume { replies: 0, failures: 0, rows: 0 });
    let mut other = settings.clone();
    other.insert("n".into(), "9".into());
    other.remove("seed");
    other.insert("model".into(), "x".into());
    assert_eq!(
        journal.check_settings(&other).unwrap(),
        SettingsCheck::Different(vec!["model".into(), "n".into(), "seed".into()])
    );
}

#[test]
fn a_newer_store_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("responses.sqlite");
    drop(ResponseCache::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = ResponseCache::open(&path).err().unwrap();
    assert!(err.to_string().contains("newer genprompt"), "{err}");
}

#[test]
fn opening_a_journal_to_read_it_commits_nothing() {
    // A commit by a reader would make a run's read-then-write transaction fail with
    // SQLITE_BUSY_SNAPSHOT (seen when a test polled a live run's journal).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let run = RunJournal::open(&path).unwrap();
    let watcher = rusqlite::Connection::open(&path).unwrap();
    let version =
        |c: &rusqlite::Connection| c.pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0)).unwrap();
    let before = version(&watcher);
    let reader = RunJournal::open(&path).unwrap();
    assert_eq!(reader.reply_count().unwrap(), 0);
    assert_eq!(version(&watcher), before, "opening the journal again wrote to it");
    // The check itself can fail: a commit by another connection does change the version.
    run.check_settings(&[("seed".to_string(), "1".to_string())].into_iter().collect()).unwrap();
    assert_ne!(version(&watcher), before);
}
