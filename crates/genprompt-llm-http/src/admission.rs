//! Admission control: how many requests may be in flight (AIMD), when sending is paused
//! (`Retry-After`), and the per-minute budgets (token buckets).
//!
//! The decisions are plain structs fed explicit instants, so they are tested without a clock;
//! [`Admission`] wraps them for async callers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::wire::LimitHint;

/// Replies shorter than this say nothing about queueing: scheduling jitter dominates them.
const LATENCY_SIGNAL_FLOOR: Duration = Duration::from_millis(100);
/// Replies seen before the latency signal is trusted.
const LATENCY_WARMUP: u32 = 4;
/// Generated tokens added to a reply's count when normalising latency, standing for the prompt.
const PROMPT_ALLOWANCE_TOKENS: f64 = 16.0;

/// Additive-increase, multiplicative-decrease concurrency limit.
#[derive(Debug)]
pub(crate) struct Aimd {
    cap: usize,
    limit: usize,
    successes: usize,
    /// Seconds per generated token of the fastest recent reply; drifts up slowly so a new,
    /// slower workload does not look like permanent congestion.
    baseline: Option<f64>,
    samples: u32,
    latency_factor: Option<f64>,
    last_decrease: Option<Instant>,
}

impl Aimd {
    pub(crate) fn new(cap: usize, latency_factor: Option<f64>) -> Aimd {
        Aimd { cap, limit: cap, successes: 0, baseline: None, samples: 0, latency_factor, last_decrease: None }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Halves the limit, once per round: replies to requests sent before the last cut describe
    /// the old load, so a burst of 429s from one round halves once, not to 1.
    pub(crate) fn on_congestion(&mut self, sent: Instant, now: Instant) -> bool {
        if self.last_decrease.is_some_and(|cut| sent < cut) {
            return false;
        }
        self.limit = (self.limit / 2).max(1);
        self.successes = 0;
        self.last_decrease = Some(now);
        true
    }

    /// Grows the limit by one after `limit` successes in a row, unless the reply was so slow
    /// that the server is probably queueing; then it halves. Returns whether it halved.
    pub(crate) fn on_success(&mut self, sent: Instant, now: Instant, completion_tokens: u32) -> bool {
        let latency = now.saturating_duration_since(sent);
        let per_token = latency.as_secs_f64() / (f64::from(completion_tokens) + PROMPT_ALLOWANCE_TOKENS);
        let baseline = match self.baseline {
            Some(b) if per_token < b => per_token,
            Some(b) => b + (per_token - b) / 64.0,
            None => per_token,
        };
        let old = self.baseline.replace(baseline).unwrap_or(per_token);
        self.samples = self.samples.saturating_add(1);
        let queued = self.latency_factor.is_some_and(|factor| {
            self.samples > LATENCY_WARMUP && latency >= LATENCY_SIGNAL_FLOOR && per_token > factor * old
        });
        if queued {
            return self.on_congestion(sent, now);
        }
        self.successes += 1;
        if self.successes >= self.limit {
            self.limit = (self.limit + 1).min(self.cap);
            self.successes = 0;
        }
        false
    }
}

/// A per-minute allowance that refills continuously; starts full.
#[derive(Debug)]
pub(crate) struct Bucket {
    per_minute: f64,
    level: f64,
    updated: Instant,
    not_before: Option<Instant>,
}

impl Bucket {
    pub(crate) fn new(per_minute: f64, now: Instant) -> Bucket {
        Bucket { per_minute, level: per_minute, updated: now, not_before: None }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.per_minute / 60.0).min(self.per_minute);
        self.updated = now;
    }

    /// How long until `amount` fits; an amount larger than the whole bucket waits for a full one.
    fn wait_for(&self, amount: f64, now: Instant) -> Duration {
        let need = amount.min(self.per_minute);
        let refill = if self.level >= need { 0.0 } else { (need - self.level) * 60.0 / self.per_minute };
        let paused = self.not_before.map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        Duration::from_secs_f64(refill).max(paused)
    }

    /// Adds back (or, negative, takes) tokens; debt is bounded by one bucket.
    fn adjust(&mut self, amount: f64) {
        self.level = (self.level + amount).clamp(-self.per_minute, self.per_minute);
    }

    /// Trusts the server when it reports less left than we think, and waits for its reset when
    /// it reports nothing left.
    fn observe(&mut self, hint: LimitHint, now: Instant) {
        self.refill(now);
        if let Some(remaining) = hint.remaining {
            self.level = self.level.min(remaining);
            if remaining < 1.0
                && let Some(reset) = hint.reset
            {
                self.not_before = Some(now + reset);
            }
        }
    }
}

/// Estimated cost of one attempt.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cost {
    pub input: f64,
    pub output: f64,
}

/// Requests, input-token and output-token budgets; each is optional.
#[derive(Debug)]
pub(crate) struct Budgets {
    pub requests: Option<Bucket>,
    pub input: Option<Bucket>,
    pub output: Option<Bucket>,
}

impl Budgets {
    /// Takes `cost` from every budget if all can pay now; else says how long to wait.
    pub(crate) fn try_take(&mut self, cost: Cost, now: Instant) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        for (bucket, amount) in self.with_amounts(cost) {
            bucket.refill(now);
            wait = wait.max(bucket.wait_for(amount, now));
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for (bucket, amount) in self.with_amounts(cost) {
            bucket.adjust(-amount);
        }
        Ok(())
    }

    /// Gives back what was reserved but not used (negative: charges what was underestimated).
    pub(crate) fn refund(&mut self, unused: Cost) {
        for (bucket, amount) in self.with_amounts(unused).into_iter().filter(|(_, a)| *a != 0.0) {
            bucket.adjust(amount);
        }
    }

    fn with_amounts(&mut self, cost: Cost) -> Vec<(&mut Bucket, f64)> {
        let mut out = Vec::with_capacity(3);
        out.extend(self.requests.as_mut().map(|b| (b, 1.0)));
        out.extend(self.input.as_mut().map(|b| (b, cost.input)));
        out.extend(self.output.as_mut().map(|b| (b, cost.output)));
        out
    }

    /// Applies `x-ratelimit-*` hints; a budget the user did not set is created from the
    /// server's limit. The `tokens` family steers the input budget, as OpenAI counts prompts
    /// (plus `max_tokens`) against it.
    pub(crate) fn observe(&mut self, requests: Option<LimitHint>, tokens: Option<LimitHint>, now: Instant) {
        for (slot, hint) in [(&mut self.requests, requests), (&mut self.input, tokens)] {
            let Some(hint) = hint else { continue };
            if slot.is_none()
                && let Some(limit) = hint.limit.filter(|l| *l >= 1.0)
            {
                *slot = Some(Bucket::new(limit, now));
            }
            if let Some(bucket) = slot {
                bucket.observe(hint, now);
            }
        }
    }
}

#[derive(Debug)]
struct Window {
    aimd: Aimd,
    in_flight: usize,
    paused_until: Option<Instant>,
}

/// The shared gate every attempt passes before it is sent.
pub(crate) struct Admission {
    window: Mutex<Window>,
    budgets: Mutex<Budgets>,
    freed: Notify,
    /// Attempts waiting for a slot or a pause to end.
    waiting: AtomicUsize,
}

/// Counts an attempt as waiting until dropped (admitted or cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A slot in flight; returned on drop.
pub(crate) struct Permit<'a>(&'a Admission);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.window().in_flight -= 1;
        self.0.freed.notify_one();
    }
}

impl Admission {
    pub(crate) fn new(aimd: Aimd, budgets: Budgets) -> Admission {
        let window = Window { aimd, in_flight: 0, paused_until: None };
        Admission {
            window: Mutex::new(window),
            budgets: Mutex::new(budgets),
            freed: Notify::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Attempts waiting for a slot under the limit (or for a pause to end) right now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().expect("admission lock is never poisoned: nothing panics while holding it")
    }

    fn budgets(&self) -> std::sync::MutexGuard<'_, Budgets> {
        self.budgets.lock().expect("budget lock is never poisoned: nothing panics while holding it")
    }

    pub(crate) fn limit(&self) -> usize {
        self.window().aimd.limit()
    }

    /// The limit on requests in flight and how many hold a slot, read together.
    pub(crate) fn load(&self) -> (usize, usize) {
        let window = self.window();
        (window.aimd.limit(), window.in_flight)
    }

    /// Waits for a slot under the current limit, past any pause, then for the budgets.
    pub(crate) async fn admit(&self, cost: Cost) -> Permit<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(&self.waiting);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let paused = {
                let mut window = self.window();
                let now = Instant::now();
                match window.paused_until.filter(|until| *until > now) {
                    Some(until) => Some(until),
                    None if window.in_flight < window.aimd.limit() => {
                        window.in_flight += 1;
                        break;
                    }
                    None => None,
                }
            };
            match paused {
                Some(until) => tokio::time::sleep_until(until.into()).await,
                None => freed.await,
            }
        }
        drop(waiting);
        let permit = Permit(self);
        loop {
            let taken = self.budgets().try_take(cost, Instant::now());
            match taken {
                Ok(()) => return permit,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Stops all sending until `until` (the server's `Retry-After`).
    pub(crate) fn pause_until(&self, until: Instant) {
        let mut window = self.window();
        window.paused_until = Some(window.paused_until.map_or(until, |old| old.max(until)));
    }

    pub(crate) fn congestion(&self, sent: Instant) -> bool {
        self.window().aimd.on_congestion(sent, Instant::now())
    }

    pub(crate) fn success(&self, sent: Instant, completion_tokens: u32) -> bool {
        let grew_or_cut = self.window().aimd.on_success(sent, Instant::now(), completion_tokens);
        self.freed.notify_one();
        grew_or_cut
    }

    pub(crate) fn refund(&self, unused: Cost) {
        self.budgets().refund(unused);
    }

    pub(crate) fn observe(&self, requests: Option<LimitHint>, tokens: Option<LimitHint>) {
        self.budgets().observe(requests, tokens, Instant::now());
    }
}

#[cfg(test)]
mod tests;
