//! The streaming shape of a backend: submit requests one by one, receive each result as it
//! completes, tagged with the id it was submitted under.

use std::collections::VecDeque;

use crate::{ChatModel, ChatReply, ChatRequest, LlmError};

/// A finished request: the id it was submitted with and its result.
pub type Completed = (u64, Result<ChatReply, LlmError>);

/// Requests in, results out in completion order. A failed request does not fail the others.
pub trait ChatSession: Send {
    /// Queues `request`; its result comes back from `next` under `id`.
    fn submit(&mut self, id: u64, request: ChatRequest);

    /// The next finished request, waiting for one if some are still being answered; `None` when
    /// every submitted request has been returned.
    fn next(&mut self) -> Option<Completed>;

    /// A finished request if one is ready now, without waiting.
    fn try_next(&mut self) -> Option<Completed>;

    /// Submitted and not yet returned.
    fn pending(&self) -> usize;
}

/// The adapter for backends that answer whole batches (the embedded engine): requests wait in a
/// queue until a result is asked for and none is ready; then the queue is answered by one `chat`
/// call, so which requests share a batch depends only on the order of calls, never on timing.
pub struct BatchSession<'a, M: ?Sized> {
    model: &'a M,
    queued: Vec<(u64, ChatRequest)>,
    ready: VecDeque<Completed>,
}

impl<'a, M: ChatModel + ?Sized> BatchSession<'a, M> {
    pub fn new(model: &'a M) -> BatchSession<'a, M> {
        BatchSession { model, queued: Vec::new(), ready: VecDeque::new() }
    }
}

impl<M: ChatModel + ?Sized> ChatSession for BatchSession<'_, M> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        self.queued.push((id, request));
    }

    fn next(&mut self) -> Option<Completed> {
        if self.ready.is_empty() && !self.queued.is_empty() {
            let (ids, requests): (Vec<u64>, Vec<ChatRequest>) = std::mem::take(&mut self.queued).into_iter().unzip();
            self.ready.extend(ids.into_iter().zip(self.model.chat(&requests)));
        }
        self.ready.pop_front()
    }

    fn try_next(&mut self) -> Option<Completed> {
        self.ready.pop_front()
    }

    fn pending(&self) -> usize {
        self.queued.len() + self.ready.len()
    }
}
