//! The steady schedule with a backend that answers in a scrambled order.

use std::sync::atomic::{AtomicUsize, Ordering};

use genprompt_llm::{ChatSession, Completed};

use super::*;
use crate::{Schedule, SimPrompt, ZeroShot};

/// Answers like `ScriptedChat`, but hands results back in an order drawn from `order_seed`, and
/// sometimes has nothing ready without waiting, so rounds have varying sizes.
struct Shuffled {
    inner: ScriptedChat,
    order_seed: u64,
    /// Most requests submitted and not yet answered at once.
    max_pending: AtomicUsize,
    answered: AtomicUsize,
}

impl Shuffled {
    fn new(script: Vec<Result<&'static str, ()>>, order_seed: u64) -> Shuffled {
        let inner = ScriptedChat::new(script);
        Shuffled { inner, order_seed, max_pending: AtomicUsize::new(0), answered: AtomicUsize::new(0) }
    }
}

struct ShuffledSession<'a> {
    model: &'a Shuffled,
    queue: Vec<(u64, ChatRequest)>,
    state: u64,
}

impl ChatModel for Shuffled {
    fn identity(&self) -> &ModelIdentity {
        self.inner.identity()
    }
    fn chat(&self, requests: &[ChatRequest]) -> Vec<Result<ChatReply, LlmError>> {
        self.inner.chat(requests)
    }
    fn session(&self) -> Box<dyn ChatSession + '_> {
        Box::new(ShuffledSession { model: self, queue: Vec::new(), state: self.order_seed })
    }
}

impl ShuffledSession<'_> {
    fn draw(&mut self) -> u64 {
        self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.state >> 33
    }
}

impl ChatSession for ShuffledSession<'_> {
    fn submit(&mut self, id: u64, request: ChatRequest) {
        self.queue.push((id, request));
        self.model.max_pending.fetch_max(self.queue.len(), Ordering::SeqCst);
    }
    fn next(&mut self) -> Option<Completed> {
        if self.queue.is_empty() {
            return None;
        }
        let at = self.draw() as usize % self.queue.len();
        let (id, request) = self.queue.swap_remove(at);
        self.model.answered.fetch_add(1, Ordering::SeqCst);
        Some((id, self.model.inner.chat(&[request]).pop().expect("one result")))
    }
    fn try_next(&mut self) -> Option<Completed> {
        if self.draw().is_multiple_of(3) { None } else { self.next() }
    }
    fn pending(&self) -> usize {
        self.queue.len()
    }
}

fn steady_config(n: usize, window: usize) -> RunConfig {
    let mut config = small_config();
    config.n_per_label = n;
    config.schedule = Schedule::Steady { window };
    config
}

fn run_steady(chat: &Shuffled, config: &RunConfig, method: &mut dyn Method) -> GenerationOutcome {
    let (task, seeds) = task();
    run_method(&task, &seeds, method, config, chat, &encoder(), &()).unwrap()
}

fn check_exact(outcome: &GenerationOutcome, n: usize) {
    let mut ids = HashSet::new();
    let mut texts = HashSet::new();
    for (label, counts) in outcome.counts.iter().enumerate() {
        let rows: Vec<&Offspring> = outcome.offspring.iter().filter(|o| o.label.0 == label).collect();
        assert_eq!((rows.len(), counts.kept), (n, n), "exactly n rows for label {label}: {counts:?}");
        assert_eq!(counts.llm_calls, counts.kept + counts.rejected.total(), "{counts:?}");
        for row in rows {
            assert!(ids.insert(row.id.clone()), "duplicate id {}", row.id);
            assert!(texts.insert(row.text.clone()), "duplicate text {}", row.text);
        }
    }
}

const MIXED: [Result<&str, ()>; 6] = [
    Ok("Here is a new message:\nMessage number {seed}"),
    Ok("I'm sorry, but I cannot do that."),
    Ok("Refund please, now"),
    Err(()),
    Ok("Message number {seed}"),
    Ok("Another message {seed}"),
];

#[test]
fn every_label_ends_with_exactly_n_rows_and_the_window_stays_full() {
    let (task, _) = task();
    for order_seed in [1, 2, 3] {
        let chat = Shuffled::new(MIXED.to_vec(), order_seed);
        let mut config = steady_config(12, 5);
        config.max_failure_share = 0.5;
        let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
        let outcome = run_steady(&chat, &config, &mut method);
        check_exact(&outcome, 12);
        assert_eq!(chat.max_pending.load(Ordering::SeqCst), 5, "the window is filled");
        let surplus: usize = outcome.counts.iter().map(|c| c.rejected.surplus).sum();
        assert!(surplus < 5, "no drafting for a full label: {:?}", outcome.counts);
        let rejected = &outcome.counts[0].rejected;
        assert!(rejected.refusal > 0 && rejected.llm_error > 0 && rejected.copies_parent > 0, "{rejected:?}");
        assert!(
            outcome.offspring.iter().any(|o| o.lineage.parents.iter().any(|p| p.starts_with("gen:"))),
            "offspring become parents"
        );

        let chat = Shuffled::new(MIXED.to_vec(), order_seed);
        let outcome = run_steady(&chat, &config, &mut SimPrompt::new(&task, 7));
        check_exact(&outcome, 12);
        let chat = Shuffled::new(vec![Ok("Zero shot text {seed}")], order_seed);
        let outcome = run_steady(&chat, &config, &mut ZeroShot::new(&task));
        check_exact(&outcome, 12);
    }
}

#[test]
fn the_same_use_order_gives_the_same_requests_and_rows() {
    let (task, _) = task();
    let config = steady_config(10, 4);
    let runs: Vec<(GenerationOutcome, Vec<ChatRequest>)> = (0..2)
        .map(|_| {
            let chat = Shuffled::new(vec![Ok("Generated message {seed}")], 11);
            let outcome = run_steady(&chat, &config, &mut Genetic::new(&task, GeneticConfig::paper(), 7));
            let calls = chat.inner.calls.lock().unwrap().clone();
            (outcome, calls)
        })
        .collect();
    assert_eq!(runs[0].0.offspring, runs[1].0.offspring);
    assert_eq!(runs[0].1, runs[1].1);
    check_exact(&runs[0].0, 10);
    let calls: usize = runs[0].0.counts.iter().map(|c| c.llm_calls).sum();
    assert!(calls < 20 + 4, "every reply is kept, so at most the window is drafted beyond the rows: {calls}");
}

#[test]
fn replies_after_a_label_is_full_are_counted_as_surplus() {
    let (task, _) = task();
    // Early refusals make the schedule expect few rows per request and ask for more; the later
    // replies are all good, so some arrive after the label is full.
    let mut script = vec![Ok("I'm sorry, but I cannot do that."); 6];
    script.extend(vec![Ok("Fine message {seed}"); 30]);
    let chat = Shuffled::new(script, 5);
    let mut config = steady_config(6, 16);
    config.max_calls_per_row = 10;
    let outcome = run_steady(&chat, &config, &mut SimPrompt::new(&task, 7));
    check_exact(&outcome, 6);
    let surplus: usize = outcome.counts.iter().map(|c| c.rejected.surplus).sum();
    assert!(surplus > 0, "{:?}", outcome.counts);
}

#[test]
fn steady_failures_stop_the_run_and_the_call_cap_holds() {
    let (task, seeds) = task();
    let chat = Shuffled::new(vec![Err(())], 3);
    let config = steady_config(4, 6);
    let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
    let err = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap_err();
    assert!(matches!(err, MethodError::TooManyFailures { calls: 10, failed: 10, .. }), "{err}");

    let mut config = steady_config(4, 6);
    config.max_failure_share = 1.0;
    let chat = Shuffled::new(vec![Err(())], 3);
    let outcome = run_steady(&chat, &config, &mut Genetic::new(&task, GeneticConfig::paper(), 7));
    assert!(outcome.offspring.is_empty());
    assert!(outcome.counts.iter().all(|c| c.llm_calls == 16 && c.rejected.llm_error == 16), "{:?}", outcome.counts);
}

/// Asks the run to stop after `after` used replies.
struct StopAfter {
    after: usize,
    seen: AtomicUsize,
}

impl RunObserver for StopAfter {
    fn batch_finished(&self, _: &BatchReport<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn should_stop(&self) -> bool {
        self.seen.load(Ordering::SeqCst) >= self.after
    }
}

#[test]
fn a_stop_ends_drafting_and_uses_what_is_in_flight() {
    let (task, seeds) = task();
    let chat = Shuffled::new(vec![Ok("Generated message {seed}")], 9);
    let config = steady_config(50, 8);
    let observer = StopAfter { after: 3, seen: AtomicUsize::new(0) };
    let mut method = SimPrompt::new(&task, 7);
    let err = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &observer).unwrap_err();
    assert!(matches!(err, MethodError::Interrupted), "{err}");
    let submitted = chat.inner.calls.lock().unwrap().len();
    assert_eq!(chat.answered.load(Ordering::SeqCst), submitted, "everything in flight was answered");
    assert_eq!(observer.seen.load(Ordering::SeqCst), submitted, "and used");
    assert!(submitted < 8 + 8, "drafting stopped: {submitted} requests");
}

#[test]
fn a_label_without_seed_rows_is_an_error_on_both_schedules() {
    let (task, mut seeds) = task();
    seeds.truncate(1);
    for schedule in [Schedule::Generational, Schedule::Steady { window: 4 }] {
        let mut config = small_config();
        config.schedule = schedule;
        let chat = Shuffled::new(vec![Ok("x {seed}")], 1);
        let mut method = Genetic::new(&task, GeneticConfig::paper(), 7);
        let err = run_method(&task, &seeds, &mut method, &config, &chat, &encoder(), &()).unwrap_err();
        assert!(err.to_string().contains("\"delivery\" has 0 seed row(s)"), "{err}");
    }
}
