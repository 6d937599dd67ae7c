//! `ChatModel::session` over HTTP: every submitted request is a task on the model's runtime at
//! once, and results come back through a channel in completion order.

use genprompt_llm::{ChatReply, ChatRequest, ChatSession, Completed, LlmError};
use tracing::instrument::WithSubscriber;

use crate::{HttpChatModel, answer};

pub(crate) struct HttpSession<'a> {
    model: &'a HttpChatModel,
    sender: std::sync::mpsc::Sender<Completed>,
    receiver: std::sync::mpsc::Receiver<Completed>,
    pending: usize,
}

impl<'a> HttpSession<'a> {
    pub(crate) fn new(model: &'a HttpChatModel) -> HttpSession<'a> {
        let (sender, receiver) = std::sync::mpsc::channel();
        HttpSession { model, sender, receiver, pending: 0 }
    }
}

/// Sends a request's result, or, if its task ends without one (a panic), an error, so that the
/// session never waits for a result that cannot come.
struct Delivery {
    id: u64,
    sender: Option<std::sync::mpsc::Sender<Completed>>,
}

impl Delivery {
    fn send(mut self, result: Result<ChatReply, LlmError>) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send((self.id, result));
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send((self.id, Err(LlmError::Engine("a request task ended without a result".to_string()))));
        }
    }
}

impl ChatSession for HttpSession<'_> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        let fleet = self.model.fleet.clone();
        let delivery = Delivery { id, sender: Some(self.sender.clone()) };
        let task = async move { delivery.send(answer(&fleet, &request).await.map_err(LlmError::from)) };
        let runtime = self.model.runtime.as_ref().expect("the runtime lives until drop");
        runtime.spawn(task.with_current_subscriber());
        self.pending += 1;
    }

    fn next(&mut self) -> Option<Completed> {
        if self.pending == 0 {
            return None;
        }
        let completed = self.receiver.recv().ok()?;
        self.pending -= 1;
        Some(completed)
    }

    fn try_next(&mut self) -> Option<Completed> {
        let completed = self.receiver.try_recv().ok()?;
        self.pending -= 1;
        Some(completed)
    }

    fn pending(&self) -> usize {
        self.pending
    }
}
