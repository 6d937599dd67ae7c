//! Whether an endpoint of a fleet is answering. After a run of failures that say it may be gone
//! (refused or dropped connections, timeouts, 5xx) it is set aside while others carry the run, and
//! one request probes it again later, after a wait that doubles with every failed probe.
//! An endpoint alone is never set aside: its own retries are all there is.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures in a row that set an endpoint aside.
const FAILURES_TO_SET_ASIDE: u32 = 3;
const FIRST_PROBE_AFTER: Duration = Duration::from_secs(2);
const MAX_PROBE_AFTER: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct Health {
    state: Mutex<State>,
    /// Endpoints of the fleet now up, shared by all of them; `None` for an endpoint alone.
    fleet_up: Option<Arc<AtomicUsize>>,
}

struct State {
    failures_in_a_row: u32,
    /// Set aside until then (a probe may go after it).
    down_until: Option<Instant>,
    probe_after: Duration,
    probing: bool,
    set_aside: u64,
}

impl Default for State {
    fn default() -> State {
        State { failures_in_a_row: 0, down_until: None, probe_after: FIRST_PROBE_AFTER, probing: false, set_aside: 0 }
    }
}

/// What the router may do with an endpoint now.
pub(crate) enum Route {
    Up,
    /// Set aside; the probe was claimed by the caller, who must send it there.
    Probe,
    Down(Instant),
}

impl Health {
    pub(crate) fn in_fleet(fleet_up: Arc<AtomicUsize>) -> Health {
        Health { state: Mutex::default(), fleet_up: Some(fleet_up) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A reply came back: the endpoint is up.
    pub(crate) fn success(&self) {
        let mut state = self.state();
        state.failures_in_a_row = 0;
        if state.down_until.take().is_some() {
            *state = State { set_aside: state.set_aside, ..State::default() };
            if let Some(up) = &self.fleet_up {
                up.fetch_add(1, Ordering::SeqCst);
            }
            tracing::info!("an endpoint answers again and takes requests");
        }
    }

    /// An attempt failed in a way that says the endpoint may be gone; returns whether requests
    /// should now go elsewhere.
    pub(crate) fn failure(&self, now: Instant) -> bool {
        let Some(up) = &self.fleet_up else { return false };
        let mut state = self.state();
        if state.down_until.is_some() {
            if state.probing {
                state.probing = false;
                state.probe_after = (state.probe_after * 2).min(MAX_PROBE_AFTER);
                state.down_until = Some(now + state.probe_after);
            }
            return up.load(Ordering::SeqCst) > 0;
        }
        state.failures_in_a_row += 1;
        if state.failures_in_a_row < FAILURES_TO_SET_ASIDE {
            return false;
        }
        state.down_until = Some(now + state.probe_after);
        state.set_aside += 1;
        up.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!(probe_in_s = state.probe_after.as_secs(), "an endpoint stopped answering; set aside");
        up.load(Ordering::SeqCst) > 0
    }

    /// Whether a request about to be sent here should go elsewhere: set aside, not being probed,
    /// and another endpoint up.
    pub(crate) fn refuses(&self) -> bool {
        let Some(up) = &self.fleet_up else { return false };
        let state = self.state();
        state.down_until.is_some() && !state.probing && up.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn route(&self, now: Instant) -> Route {
        let mut state = self.state();
        match state.down_until {
            None => Route::Up,
            Some(until) if until <= now && !state.probing => {
                state.probing = true;
                Route::Probe
            }
            Some(until) => Route::Down(until.max(now + Duration::from_millis(50))),
        }
    }

    /// Times the endpoint was set aside.
    pub(crate) fn set_aside(&self) -> u64 {
        self.state().set_aside
    }
}
