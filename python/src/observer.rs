//! The facade's progress events as JSON objects for the Python callback (the event names are
//! documented in `genprompt/_progress.py`).

use genprompt::{BatchProgress, Observer};
use serde_json::json;

use crate::runner::Events;

pub struct Forward<'e, T>(pub &'e Events<T>);

impl<T: Send> Observer for Forward<'_, T> {
    fn step(&self, message: &str) {
        self.0.send(|| json!({"event": "step", "message": message}));
    }

    fn notice(&self, message: &str) {
        self.0.send(|| json!({"event": "notice", "message": message}));
    }

    fn label_started(&self, label: &str, n_seed_rows: usize, wanted: usize) {
        self.0.send(|| json!({"event": "label", "label": label, "seed_rows": n_seed_rows, "target": wanted}));
    }

    fn batch_finished(&self, batch: &BatchProgress<'_>) {
        self.0.send(|| {
            json!({
                "event": "rows",
                "label": batch.label,
                "batch": batch.batch,
                "requests": batch.n_requests,
                "kept": batch.n_kept,
                "done": batch.kept_so_far,
                "target": batch.wanted,
                "prompt_tokens": batch.prompt_tokens,
                "completion_tokens": batch.completion_tokens,
                "ids": batch.kept.iter().map(|offspring| offspring.id.as_str()).collect::<Vec<_>>(),
                "texts": batch.kept.iter().map(|offspring| offspring.text.as_str()).collect::<Vec<_>>(),
                "status": batch.status,
            })
        });
    }

    fn counter_started(&self, what: &str, total: u64) {
        self.0.send(|| json!({"event": "counter", "what": what, "total": total}));
    }

    fn counter_updated(&self, done: u64, message: &str) {
        self.0.send(|| json!({"event": "count", "done": done, "message": message}));
    }

    fn cleared(&self) {
        self.0.send(|| json!({"event": "cleared"}));
    }
}
