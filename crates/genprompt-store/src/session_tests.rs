//! `StoredChat`'s session: results recorded as they arrive, the order of use logged, and a resumed
//! session replaying that order before anything else.

use std::sync::Mutex;

use genprompt_llm::{
    ChatMessage, ChatModel, ChatReply, ChatRequest, ChatSession, Completed, FinishReason, LlmError, ModelIdentity,
    Sampling, Usage,
};

use crate::{CacheMode, RunJournal, Scope, StoredChat};

/// Answers the latest submitted request first (so arrival order is the reverse of submission);
/// prompts starting with "fail" fail. Remembers every prompt it was sent.
struct Lifo {
    identity: ModelIdentity,
    sent: Mutex<Vec<String>>,
}

struct LifoSession<'a>(&'a Lifo, Vec<(u64, ChatRequest)>);

impl Lifo {
    fn new() -> Lifo {
        let identity =
            ModelIdentity { backend: "test".into(), name: "lifo".into(), sha256: String::new(), batch_settings: None };
        Lifo { identity, sent: Mutex::new(Vec::new()) }
    }

    fn answer(&self, request: &ChatRequest) -> Result<ChatReply, LlmError> {
        let prompt = request.messages.last().unwrap().content.clone();
        self.sent.lock().unwrap().push(prompt.clone());
        if prompt.starts_with("fail") {
            return Err(LlmError::Timeout("no reply".into()));
        }
        Ok(ChatReply { text: format!("reply to {prompt}"), finish: FinishReason::Stop, usage: Usage::default() })
    }
}

impl ChatModel for Lifo {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }
    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        requests.iter().map(|r| self.answer(r)).collect()
    }
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(LifoSession(self, Vec::new()))
    }
}

impl ChatSession for LifoSession<'_> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        self.1.push((id, request));
    }
    fn next(&mut self) -> Option<Completed> {
        let (id, request) = self.1.pop()?;
        Some((id, self.0.answer(&request)))
    }
    fn try_next(&mut self) -> Option<Completed> {
        self.next()
    }
    fn pending(&self) -> usize {
        self.1.len()
    }
}

fn request(prompt: &str) -> ChatRequest {
    let sampling = Sampling::new(1.0, 1.0, 16, 3);
    ChatRequest::new(vec![ChatMessage::user(prompt)], sampling)
}

fn stored(model: Lifo, journal: &std::path::Path) -> StoredChat<Lifo> {
    let scope = Scope::new(model.identity(), None);
    let journal = RunJournal::open(journal).unwrap();
    StoredChat::new(model, scope, Some(journal), None, CacheMode::Off, false)
}

/// Submits `prompts` as ids 0.. and takes `take` results; returns the prompts in hand-out order.
fn drive(chat: &StoredChat<Lifo>, prompts: &[&str], take: usize) -> Vec<String> {
    let mut session = chat.session();
    for (id, prompt) in prompts.iter().enumerate() {
        session.submit(id as u64, request(prompt));
    }
    (0..take).map(|_| prompts[session.next().expect("a result").0 as usize].to_string()).collect()
}

#[test]
fn a_resumed_session_replays_the_order_of_use_then_pays_only_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let prompts = ["a", "b", "fail c", "d", "e"];
    // First run: submits a..e, the backend answers e first; three results are used, then the
    // process dies (the session is dropped with two requests unanswered).
    let first = stored(Lifo::new(), &path);
    assert_eq!(drive(&first, &prompts, 3), ["e", "d", "fail c"]);
    assert_eq!(first.inner().sent.lock().unwrap().len(), 3);
    drop(first);

    // The resumed run submits the same requests; a backend that would answer in another order
    // does not matter: the used results come back in their logged order, from the journal.
    let second = stored(Lifo::new(), &path);
    let order = drive(&second, &["a", "b", "fail c", "d", "e"], 5);
    assert_eq!(&order[..3], ["e", "d", "fail c"]);
    assert_eq!(*second.inner().sent.lock().unwrap(), ["b", "a"], "only what was never answered is sent");
    let stats = second.stats();
    assert_eq!((stats.replayed, stats.replayed_failures, stats.sent), (2, 1, 2));
    drop(second);

    // A third run finds all five used, in the order the second run used them.
    let third = stored(Lifo::new(), &path);
    assert_eq!(drive(&third, &prompts, 5), order);
    assert!(third.inner().sent.lock().unwrap().is_empty());
    let uses = third.with_journal(|j| j.uses().unwrap().len()).unwrap();
    assert_eq!(uses, 5, "replayed uses are not logged again");
}

#[test]
fn a_journaled_reply_that_was_never_used_is_not_paid_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let first = stored(Lifo::new(), &path);
    assert_eq!(drive(&first, &["a", "b"], 1), ["b"]);
    drop(first);
    // The resumed run sends "a" and receives its reply, but must use "b" first, which it has not
    // asked for yet: the reply is recorded and held back; then the process dies.
    let second = stored(Lifo::new(), &path);
    {
        let mut session = second.session();
        session.submit(0, request("a"));
        assert!(session.try_next().is_none(), "held back for the replay");
    }
    assert_eq!(*second.inner().sent.lock().unwrap(), ["a"]);
    drop(second);
    let third = stored(Lifo::new(), &path);
    assert_eq!(drive(&third, &["a", "b"], 2), ["b", "a"]);
    assert!(third.inner().sent.lock().unwrap().is_empty(), "nothing is paid twice");
}

#[test]
fn a_replay_that_no_longer_matches_goes_on_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.sqlite");
    let first = stored(Lifo::new(), &path);
    assert_eq!(drive(&first, &["p", "q"], 2), ["q", "p"]);
    drop(first);
    // Another run in the same journal asks for something else: the logged "q" never comes.
    let second = stored(Lifo::new(), &path);
    let order = drive(&second, &["p", "r"], 2);
    assert_eq!(order.len(), 2);
    let mut session = second.session();
    assert!(session.next().is_none(), "nothing pending");
}

/// A backend session that labels every result with an id it was never given.
struct Stray(Lifo);

struct StraySession<'a>(LifoSession<'a>);

impl ChatModel for Stray {
    fn identity(&self) -> &ModelIdentity {
        &self.0.identity
    }
    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.0.chat(requests)
    }
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(StraySession(LifoSession(&self.0, Vec::new())))
    }
}

impl ChatSession for StraySession<'_> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        self.0.submit(id, request);
    }
    fn next(&mut self) -> Option<Completed> {
        self.0.next().map(|(id, result)| (id + 100, result))
    }
    fn try_next(&mut self) -> Option<Completed> {
        self.next()
    }
    fn pending(&self) -> usize {
        self.0.pending()
    }
}

#[test]
fn a_backend_result_for_an_unknown_id_is_ignored_not_a_panic() {
    let model = Stray(Lifo::new());
    let scope = Scope::new(model.identity(), None);
    let chat = StoredChat::new(model, scope, None, None, CacheMode::Off, false);
    let mut session = chat.session();
    session.submit(0, request("a"));
    assert!(session.next().is_none(), "the stray result belongs to no request");
    assert_eq!(chat.inner().0.sent.lock().unwrap().len(), 1);
}
