//! What the user sees while work runs: progress bars on a terminal, plain lines otherwise.

// Lock convention: `lock().expect("progress lock")` below. Every critical section only updates a
// bar and counters and calls nothing that panics, so the lock is never poisoned.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use genprompt::{BatchProgress, Observer};
use indicatif::{ProgressBar, ProgressStyle};

/// Draws progress on stderr. Bars only when stderr is a terminal; plain lines otherwise, so logs
/// of CI runs and scripts stay readable.
pub struct Progress {
    bars: bool,
    state: Mutex<State>,
}

struct State {
    bar: Option<ProgressBar>,
    started: Instant,
    tokens: u64,
    rows: usize,
}

impl Progress {
    pub fn new(plain: bool) -> Progress {
        let bars = !plain && std::io::stderr().is_terminal();
        Progress { bars, state: Mutex::new(State { bar: None, started: Instant::now(), tokens: 0, rows: 0 }) }
    }

    /// A step of a longer job, on its own line.
    pub fn step(&self, message: &str) {
        self.clear();
        eprintln!("{message}");
    }

    /// Starts a counter of `total` items, e.g. rows to embed.
    pub fn start(&self, label: &str, total: u64) {
        let mut state = self.state.lock().expect("progress lock");
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
        state.started = Instant::now();
        if self.bars {
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})")
                    .expect("invariant: the template is a constant, parsed by every run that draws bars")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            state.bar = Some(bar);
        }
    }

    /// Moves the counter to `done` and shows `message` (rates, tokens).
    pub fn update(&self, done: u64, message: &str) {
        let state = self.state.lock().expect("progress lock");
        match &state.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(message.to_string());
            }
            None => eprintln!("  {done} {message}"),
        }
    }

    pub fn clear(&self) {
        if let Some(bar) = self.state.lock().expect("progress lock").bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Per-label generation progress, driven by the library's run observer.
impl Progress {
    pub fn label_started(&self, label: &str, n_seed_rows: usize, wanted: usize) {
        {
            let mut state = self.state.lock().expect("progress lock");
            state.tokens = 0;
            state.rows = 0;
        }
        if !self.bars {
            eprintln!("label {label}: {n_seed_rows} seed rows, generating {wanted}");
        }
        self.start(label, wanted as u64);
    }

    /// After a batch: rows/s, tokens/s and, on plain lines, an ETA for the label; `status` adds
    /// the run's cache, retry and spending figures.
    pub fn batch_finished(&self, report: &BatchProgress<'_>) {
        let message = {
            let mut state = self.state.lock().expect("progress lock");
            state.tokens += report.prompt_tokens + report.completion_tokens;
            state.rows += report.n_kept;
            let seconds = state.started.elapsed().as_secs_f64().max(1e-3);
            let rows_per_s = state.rows as f64 / seconds;
            let eta = match (self.bars, rows_per_s > 0.0) {
                (false, true) => format!(", eta {:.0}s", (report.wanted - report.kept_so_far) as f64 / rows_per_s),
                _ => String::new(),
            };
            format!(
                "batch {}: {}/{} kept; {:.2} rows/s, {:.0} tokens/s{eta}; {}",
                report.batch,
                report.n_kept,
                report.n_requests,
                rows_per_s,
                state.tokens as f64 / seconds,
                report.status,
            )
        };
        self.update(report.kept_so_far as u64, &message);
    }
}

/// The library reports progress through this; everything lands on stderr.
impl Observer for Progress {
    fn step(&self, message: &str) {
        Progress::step(self, message);
    }

    fn notice(&self, message: &str) {
        Progress::step(self, message);
    }

    fn label_started(&self, label: &str, n_seed_rows: usize, wanted: usize) {
        Progress::label_started(self, label, n_seed_rows, wanted);
    }

    fn batch_finished(&self, batch: &BatchProgress<'_>) {
        Progress::batch_finished(self, batch);
    }

    fn counter_started(&self, what: &str, total: u64) {
        self.start(what, total);
    }

    fn counter_updated(&self, done: u64, message: &str) {
        self.update(done, message);
    }

    fn cleared(&self) {
        self.clear();
    }
}
