//! The steady schedule: every label at once, `window` requests always submitted, each reply used
//! as it arrives.
//!
//! The run is a deterministic function of the order in which replies are used: drafting happens
//! right after each use (never on a timer), so the same use order gives the same drafts, the same
//! requests and the same rows. Replies arrive in any order; a run journal records the order of use
//! (`genprompt-store`), which is what makes a resumed run exact. Per reply, the checks that need
//! only the reply (cleaning, entity tags, copies) and the embedding (one encoder call for every
//! reply that has arrived, across labels) come first; the checks against the label's state
//! (duplicates, near duplicates, the quota) then run in use order.

use std::collections::{HashMap, HashSet};

use genprompt_core::{LabelCounts, LabelId, TokenUsage};
use genprompt_embed::{Embeddings, Encoder};
use genprompt_llm::{ChatModel, ChatReply, ChatRequest, ChatSession, FinishReason, LlmError};

use super::{
    BatchReport, FailedRequest, FailureTally, GenerationOutcome, Offspring, RunConfig, RunObserver, build_request,
    check_duplicate, check_reply, count_rejection, is_near_duplicate, label_seed_rows,
};
use crate::{Draft, Method, MethodError, Rejection};

/// Replies taken from the session per round at most: one encoder call embeds them together.
const MAX_ROUND: usize = 512;

pub(super) struct Steady<'r> {
    pub task: &'r genprompt_core::Task,
    pub config: &'r RunConfig,
    pub seed_keys: &'r HashSet<String>,
    pub encoder: &'r dyn Encoder,
    pub observer: &'r dyn RunObserver,
    pub window: usize,
}

/// One label's state.
struct Lane<'m> {
    label: LabelId,
    method: Box<dyn Method + 'm>,
    counts: LabelCounts,
    seen: HashSet<String>,
    kept_embeddings: Embeddings,
    offspring: Vec<Offspring>,
    /// Number of the next draft (its "batch" in lineage and sampling seed).
    next_seq: usize,
    in_flight: usize,
    /// The method can draft no more.
    exhausted: bool,
}

/// A submitted request.
struct InFlight {
    lane: usize,
    seq: usize,
    draft: Draft,
    request: ChatRequest,
}

/// A reply after the checks that need nothing but itself.
enum Checked {
    Failed(LlmError),
    Rejected(ChatReply, Rejection),
    /// Text, duplicate key, row in the round's embeddings.
    Passed(ChatReply, String, String, usize),
}

impl Lane<'_> {
    fn wanted(&self) -> usize {
        self.counts.requested
    }

    /// Requests this label should have in flight now: enough to expect its missing rows at the
    /// share of replies it has kept so far, within its call cap. Integer arithmetic only, so the
    /// choice depends on nothing but the use order.
    fn deficit(&self, max_calls: usize) -> usize {
        if self.exhausted {
            return 0;
        }
        let kept = self.offspring.len();
        let missing = self.wanted().saturating_sub(kept);
        let used = self.counts.llm_calls;
        let expected = (missing * (used + 1)).div_ceil(kept + 1).min(missing * 20);
        let calls_left = max_calls.saturating_sub(self.counts.llm_calls);
        expected.min(calls_left).saturating_sub(self.in_flight)
    }
}

impl Steady<'_> {
    pub(super) fn run(
        &self,
        seed_rows: &[Vec<genprompt_core::SeedRow>],
        method: &dyn Method,
        chat: &dyn ChatModel,
    ) -> Result<GenerationOutcome, MethodError> {
        let wanted = self.config.n_per_label;
        let mut lanes = Vec::new();
        for label in self.task.label_ids() {
            let rows = label_seed_rows(seed_rows, label);
            let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
            let mut lane_method = method.fresh();
            lane_method.start_label(label, rows, super::check::encode_all(self.encoder, &texts)?)?;
            self.observer.label_started(&self.task.label(label).name, rows.len(), wanted);
            lanes.push(Lane {
                label,
                method: lane_method,
                counts: LabelCounts { seed_rows: rows.len(), requested: wanted, ..LabelCounts::default() },
                seen: HashSet::new(),
                kept_embeddings: Embeddings::new(self.encoder.dim()),
                offspring: Vec::new(),
                next_seq: 0,
                in_flight: 0,
                exhausted: false,
            });
        }
        let mut session = chat.session();
        let mut state = State { in_flight: HashMap::new(), next_id: 0, failures: FailureTally::default() };
        let mut tokens = TokenUsage::default();
        let mut stopping = false;
        loop {
            stopping = stopping || self.observer.should_stop();
            if !stopping {
                self.fill(&mut lanes, &mut state, session.as_mut());
            }
            let Some(first) = session.next() else { break };
            let mut round = vec![first];
            while round.len() < MAX_ROUND
                && let Some(more) = session.try_next()
            {
                round.push(more);
            }
            let (checked, embeddings) = self.check_round(&lanes, &state, round)?;
            for (id, checked) in checked {
                // Invariant: `check_round` returned only ids in flight, each once.
                let flight = state.in_flight.remove(&id).expect("checked results are in flight");
                let lane = &mut lanes[flight.lane];
                tokens.prompt += u64::from(checked.usage().prompt_tokens);
                tokens.completion += u64::from(checked.usage().completion_tokens);
                self.apply(lane, &mut state.failures, flight, checked, &embeddings)?;
                state.failures.check(self.config.max_failure_share)?;
                // The next draft sees the pool as this reply left it.
                stopping = stopping || self.observer.should_stop();
                if !stopping {
                    self.fill(&mut lanes, &mut state, session.as_mut());
                }
            }
        }
        if stopping {
            return Err(MethodError::Interrupted);
        }
        let mut outcome = GenerationOutcome { offspring: Vec::new(), counts: Vec::new(), tokens };
        for mut lane in lanes {
            lane.counts.kept = lane.offspring.len();
            lane.counts.batches = lane.counts.llm_calls;
            outcome.offspring.append(&mut lane.offspring);
            outcome.counts.push(lane.counts);
        }
        Ok(outcome)
    }

    /// Drafts and submits until `window` requests are out or no label needs more: each time for
    /// the label that lacks the most (ties to the first label).
    fn fill(&self, lanes: &mut [Lane<'_>], state: &mut State, session: &mut dyn ChatSession) {
        let max_calls = self.config.n_per_label * self.config.max_calls_per_row.max(1);
        while state.in_flight.len() < self.window {
            let best = lanes
                .iter()
                .enumerate()
                .map(|(idx, lane)| (lane.deficit(max_calls), idx))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let Some((_, idx)) = best.filter(|(deficit, _)| *deficit > 0) else { return };
            let lane = &mut lanes[idx];
            let seq = lane.next_seq;
            let Some(draft) = lane.method.next_draft(seq) else {
                lane.exhausted = true;
                continue;
            };
            lane.next_seq += 1;
            lane.in_flight += 1;
            let request = build_request(self.task, self.config, lane.label, &draft, seq, 0);
            let id = state.next_id;
            state.next_id += 1;
            session.submit(id, request.clone());
            state.in_flight.insert(id, InFlight { lane: idx, seq, draft, request });
        }
    }

    /// The checks that need only the reply, and one encoder call for every reply that passed.
    fn check_round(
        &self,
        lanes: &[Lane<'_>],
        state: &State,
        round: Vec<(u64, Result<ChatReply, LlmError>)>,
    ) -> Result<(Vec<(u64, Checked)>, Embeddings), MethodError> {
        let mut texts = Vec::new();
        let mut checked = Vec::with_capacity(round.len());
        for (id, result) in round {
            // A session is outside code: an id that is not in flight (never submitted, or
            // already answered) is a broken contract, reported rather than a panic below.
            let Some(flight) = state.in_flight.get(&id).filter(|_| !checked.iter().any(|(seen, _)| *seen == id)) else {
                return Err(MethodError::Contract(format!(
                    "the chat session returned a result for request {id}, which is not in flight"
                )));
            };
            let label = lanes[flight.lane].label;
            let entry = match result {
                Err(error) => Checked::Failed(error),
                Ok(reply) => {
                    match check_reply(self.task, label, self.config, self.seed_keys, &reply.text, &flight.draft) {
                        Err(rejection) => Checked::Rejected(reply, rejection),
                        Ok((text, key)) => {
                            texts.push(text.clone());
                            Checked::Passed(reply, text, key, texts.len() - 1)
                        }
                    }
                }
            };
            checked.push((id, entry));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok((checked, super::check::encode_all(self.encoder, &refs)?))
    }

    /// Uses one reply: the label's checks, then keep, reject or count it as surplus.
    fn apply(
        &self,
        lane: &mut Lane<'_>,
        failures: &mut FailureTally,
        flight: InFlight,
        checked: Checked,
        embeddings: &Embeddings,
    ) -> Result<(), MethodError> {
        let name = &self.task.label(lane.label).name;
        lane.in_flight -= 1;
        lane.counts.llm_calls += 1;
        failures.calls += 1;
        let usage = checked.usage();
        let kept_before = lane.offspring.len();
        let mut failed = false;
        match checked {
            Checked::Failed(error) => {
                let failure = FailedRequest { label: name, batch: flight.seq, request: 0, error: &error };
                self.observer.request_failed(&failure);
                failures.failed += 1;
                failures.last_error = error.to_string();
                count_rejection(&mut lane.counts, Rejection::LlmError);
                failed = true;
            }
            Checked::Rejected(reply, rejection) => {
                lane.counts.truncated += usize::from(reply.finish == FinishReason::Length);
                if lane.offspring.len() >= lane.wanted() {
                    lane.counts.rejected.surplus += 1;
                } else {
                    count_rejection(&mut lane.counts, rejection);
                }
            }
            Checked::Passed(reply, text, key, row) => {
                let truncated = reply.finish == FinishReason::Length;
                lane.counts.truncated += usize::from(truncated);
                let embedding = embeddings.row(row);
                let verdict = if lane.offspring.len() >= lane.wanted() {
                    Err(None)
                } else if let Err(rejection) = check_duplicate(self.config, key, &mut lane.seen) {
                    Err(Some(rejection))
                } else if !lane.method.screen(&Embeddings::from_flat(embeddings.dim(), embedding.to_vec())?)[0] {
                    Err(Some(Rejection::CuratedOut))
                } else if is_near_duplicate(self.config, embedding, &lane.kept_embeddings) {
                    Err(Some(Rejection::NearDuplicate))
                } else {
                    Ok(())
                };
                match verdict {
                    Err(None) => lane.counts.rejected.surplus += 1,
                    Err(Some(rejection)) => count_rejection(&mut lane.counts, rejection),
                    Ok(()) => {
                        let id = format!("gen:{name}:{}", lane.offspring.len());
                        let single = Embeddings::from_flat(embeddings.dim(), embedding.to_vec())?;
                        lane.method.kept(&[(id.clone(), text.clone())], &single)?;
                        lane.kept_embeddings.push(embedding)?;
                        let lineage = flight.draft.lineage.clone();
                        lane.offspring.push(Offspring { id, label: lane.label, text, lineage, truncated });
                    }
                }
            }
        }
        lane.method.draft_settled(flight.seq, failed);
        let kept = &lane.offspring[kept_before..];
        self.observer
            .batch_finished(&BatchReport {
                label: name,
                batch: flight.seq,
                n_requests: 1,
                n_kept: kept.len(),
                kept_so_far: lane.offspring.len(),
                wanted: lane.wanted(),
                tokens: TokenUsage {
                    prompt: u64::from(usage.prompt_tokens),
                    completion: u64::from(usage.completion_tokens),
                },
                requests: std::slice::from_ref(&flight.request),
                kept,
                kept_requests: &[0usize][..kept.len()],
            })
            .map_err(MethodError::Observer)
    }
}

struct State {
    in_flight: HashMap<u64, InFlight>,
    next_id: u64,
    failures: FailureTally,
}

impl Checked {
    fn usage(&self) -> genprompt_llm::Usage {
        match self {
            Checked::Failed(_) => genprompt_llm::Usage::default(),
            Checked::Rejected(reply, _) | Checked::Passed(reply, ..) => reply.usage,
        }
    }
}
