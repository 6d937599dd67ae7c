//! The streaming session of [`StoredChat`]: what the journal or the cache knows is answered at
//! once, the rest goes to the backend's own session and is recorded as it comes back.
//!
//! The steady schedule uses replies in arrival order, so its state depends on that order. Each
//! result handed out is logged in the journal (`uses`); a resumed run gets the logged results in
//! the logged order first (holding back anything else that arrives meanwhile), which rebuilds the
//! interrupted run's state exactly, and only then results in arrival order. Replies that were
//! journaled but never used are answered from the journal (not paid twice) after the replay.
//!
//! A session's requests are keyed one by one: which batch the backend answers a request in is
//! decided by the backend's session, not here. For a backend whose replies depend on their
//! batch-mates (the embedded engine, answered through `BatchSession`), that key does not cover
//! everything that made the reply, so such a session neither reads nor writes the shared cache
//! (a reply made beside other requests, in another run, would break "same seed, same bytes");
//! it still uses the run's journal, which holds the replies this very run was given. What that
//! does not give back: a resumed steady run on such a backend rebuilds the interrupted run's
//! state exactly, but its remaining requests meet other batch-mates than they would have without
//! the interruption, so the rest of its rows may differ from an uninterrupted run's (the
//! generational schedule, which resends whole calls, has no such gap).

use std::collections::{HashMap, VecDeque};

use genprompt_llm::{ChatModel, ChatReply, ChatRequest, ChatSession, Completed, LlmError};

use crate::chat::Shared;
use crate::{RequestKey, StoredChat};

type Answer = Result<ChatReply, LlmError>;

pub(crate) struct StoredSession<'a, M: ChatModel> {
    chat: &'a StoredChat<M>,
    inner: Box<dyn ChatSession + 'a>,
    inner_pending: usize,
    /// Submitted and not yet handed out: key and request, by id.
    submitted: HashMap<u64, (RequestKey, ChatRequest)>,
    /// Submitted ids by key (a key is normally submitted once).
    by_key: HashMap<RequestKey, Vec<u64>>,
    /// Results ready to hand out, and the order they became ready in.
    ready: HashMap<u64, Answer>,
    arrived: VecDeque<u64>,
    /// The journal's order of use still to replay.
    replay: VecDeque<RequestKey>,
    /// Whether the shared cache may answer and store (not for a batch-dependent backend).
    shared: Shared,
}

impl<'a, M: ChatModel> StoredSession<'a, M> {
    pub(crate) fn new(chat: &'a StoredChat<M>) -> StoredSession<'a, M> {
        let replay = chat.with_journal(|journal| journal.uses()).transpose().unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot read the journal's order of use; the resumed run may differ");
            None
        });
        StoredSession {
            chat,
            inner: chat.inner().session(),
            inner_pending: 0,
            submitted: HashMap::new(),
            by_key: HashMap::new(),
            ready: HashMap::new(),
            arrived: VecDeque::new(),
            replay: replay.unwrap_or_default().into(),
            shared: if chat.batch_dependent() { Shared::Skip } else { Shared::Use },
        }
    }

    fn arrive(&mut self, id: u64, answer: Answer) {
        self.ready.insert(id, answer);
        self.arrived.push_back(id);
    }

    /// Records a result from the backend as soon as it is pulled from the backend's session.
    fn take_inner(&mut self, (id, result): Completed) {
        self.inner_pending = self.inner_pending.saturating_sub(1);
        let Some((key, request)) = self.submitted.get(&id) else {
            // A backend session that hands back an id it was never given (or one already handed
            // out) broke its contract; the result belongs to no request, so it is logged, not used.
            tracing::error!(id, "the backend's session returned a result for no pending request; ignored");
            return;
        };
        let answer = self.chat.record(key, request, result, self.shared);
        self.arrive(id, answer);
    }

    /// The next result that may be handed out now: the next one in the replay order, or, once
    /// the replay is done, the earliest arrival.
    fn deliverable(&mut self) -> Option<(u64, bool)> {
        if let Some(key) = self.replay.front() {
            let id = self.by_key.get(key)?.iter().copied().find(|id| self.ready.contains_key(id))?;
            self.replay.pop_front();
            return Some((id, true));
        }
        while let Some(id) = self.arrived.pop_front() {
            if self.ready.contains_key(&id) {
                return Some((id, false));
            }
        }
        None
    }

    fn hand_out(&mut self, id: u64, replayed: bool) -> Completed {
        // Invariant: `deliverable` returns only ids in `ready`, and an id enters `ready` only after
        // `submitted` (in `submit` or `take_inner`); both entries leave together, right here.
        let answer = self.ready.remove(&id).expect("deliverable results are ready");
        let (key, _) = self.submitted.remove(&id).expect("ready results are submitted and handed out once");
        if let Some(ids) = self.by_key.get_mut(&key) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_key.remove(&key);
            }
        }
        if !replayed && let Some(Err(err)) = self.chat.with_journal(|journal| journal.record_use(&key)) {
            tracing::error!(error = %err, "cannot record the order of use; a resumed run may differ");
        }
        (id, answer)
    }
}

impl<M: ChatModel> ChatSession for StoredSession<'_, M> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        let key = self.chat.key(&request);
        let known = self.chat.lookup(&key, &request, self.shared).unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot read the response store; asking the backend");
            None
        });
        self.chat.count(1, u64::from(known.is_none()));
        self.by_key.entry(key).or_default().push(id);
        match known {
            Some(answer) => {
                self.submitted.insert(id, (key, request));
                self.arrive(id, answer);
            }
            None => {
                self.inner.submit(id, request.clone());
                self.inner_pending += 1;
                self.submitted.insert(id, (key, request));
            }
        }
    }

    fn next(&mut self) -> Option<Completed> {
        loop {
            if let Some((id, replayed)) = self.deliverable() {
                return Some(self.hand_out(id, replayed));
            }
            if self.inner_pending > 0 {
                match self.inner.next() {
                    Some(completed) => self.take_inner(completed),
                    None => self.inner_pending = 0,
                }
                continue;
            }
            if self.ready.is_empty() {
                return None;
            }
            // The next logged use was never asked for: this run took another path (a changed
            // task or code). Go on in arrival order; the row journal reports the divergence.
            tracing::warn!(
                left = self.replay.len(),
                "the resumed run no longer follows the journal's order of use; continuing in arrival order"
            );
            self.replay.clear();
        }
    }

    fn try_next(&mut self) -> Option<Completed> {
        while self.inner_pending > 0
            && let Some(completed) = self.inner.try_next()
        {
            self.take_inner(completed);
        }
        let (id, replayed) = self.deliverable()?;
        Some(self.hand_out(id, replayed))
    }

    fn pending(&self) -> usize {
        self.inner_pending + self.ready.len()
    }
}
