//! The one way into the core for a long call: the work runs on a worker thread while the calling
//! thread, detached from the interpreter, waits on a channel in short slices. Between slices it
//! hands progress events to the Python callback and calls `check_signals`, so Ctrl-C is seen;
//! a `KeyboardInterrupt` (or any exception from the callback) cancels the run, waits for its
//! clean stop (the journal keeps what was done, so calling again resumes) and then propagates.
//! A second Ctrl-C during that wait propagates at once and leaves the stop to the worker.
//! The worker never touches Python objects; a panic in it becomes `genprompt.Error`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::json_to_py;
use crate::error::{Failure, panic_message};

/// How long the calling thread waits before it looks for signals again.
const SLICE: Duration = Duration::from_millis(100);

enum Message<T> {
    /// A progress event and the worker's wait: dropping the sender lets it go on.
    Event(Value, Sender<()>),
    Done(Result<T, Failure>),
}

/// Where the worker sends progress events (JSON objects, see `genprompt/_progress.py`); without
/// a callback it has no sender and events are not even built.
pub struct Events<T> {
    sender: Option<Sender<Message<T>>>,
}

impl<T> Events<T> {
    /// Hands `event` to the callback and waits until it returned, so that a callback raising on
    /// a batch stops the run right after that batch, and the callback never lags behind the run.
    pub fn send(&self, event: impl FnOnce() -> Value) {
        let Some(sender) = &self.sender else { return };
        let (done, wait) = mpsc::channel();
        if sender.send(Message::Event(event(), done)).is_ok() {
            // Returns when the calling thread drops `done`, or is gone (an abandoned call).
            let _ = wait.recv();
        }
    }
}

/// How a stop reaches the work: through its cancellation token, whose clean stop is waited for,
/// or not at all (the work is atomic, e.g. a model fetch into a staging folder): the call then
/// returns at once and the work finishes in the background.
pub enum Stop {
    Token(Box<dyn Fn()>),
    Abandon,
}

/// Runs `job` on a worker thread; see the module documentation.
pub fn run<T, F>(py: Python<'_>, progress: Option<&Bound<'_, PyAny>>, stop: Stop, job: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce(Events<T>) -> Result<T, Failure> + Send + 'static,
{
    let (sender, mut receiver) = mpsc::channel::<Message<T>>();
    let events = Events { sender: progress.map(|_| sender.clone()) };
    std::thread::Builder::new()
        .name("genprompt-call".to_string())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| job(events)))
                .unwrap_or_else(|panic| Err(Failure::Bug(panic_message(panic.as_ref()))));
            let _ = sender.send(Message::Done(outcome));
        })
        .map_err(|err| Failure::Run(format!("cannot start a worker thread: {err}")).into_py_err(py))?;

    let mut stopped_by: Option<PyErr> = None;
    let request_stop = |err: PyErr, stopped_by: &mut Option<PyErr>| {
        if stopped_by.is_none() {
            if let Stop::Token(cancel) = &stop {
                cancel();
            }
            *stopped_by = Some(err);
        }
    };
    let outcome = loop {
        let (received, returned) = py.detach(move || (receiver.recv_timeout(SLICE), receiver));
        receiver = returned;
        match received {
            Ok(Message::Done(outcome)) => break outcome,
            Ok(Message::Event(event, done)) => {
                if let (Some(callback), None) = (progress, &stopped_by) {
                    let called = json_to_py(py, &event).and_then(|event| callback.call1((event,)));
                    if let Err(err) = called {
                        request_stop(err, &mut stopped_by);
                    }
                }
                drop(done);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                break Err(Failure::Bug("the worker thread ended without a result".to_string()));
            }
        }
        if let Err(err) = py.check_signals() {
            if stopped_by.is_some() {
                // A second Ctrl-C while the run stops: quit at once, as the CLI does. The stop
                // finishes in the background; the journal is crash-safe either way.
                return Err(err);
            }
            request_stop(err, &mut stopped_by);
        }
        if stopped_by.is_some() && matches!(stop, Stop::Abandon) {
            // The worker's sends to the dropped receiver fail quietly.
            return Err(stopped_by.take().expect("set just above"));
        }
    };
    if let Some(err) = stopped_by {
        return Err(err);
    }
    outcome.map_err(|failure| failure.into_py_err(py))
}
