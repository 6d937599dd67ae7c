//! Several endpoints serving the same model (vLLM or SGLang replicas, several providers' keys):
//! each keeps its own admission control (AIMD, `Retry-After`, budgets); a request goes to the
//! endpoint with the most free capacity, counting requests already routed there; an endpoint
//! that stops answering is set aside (see `health.rs`) and its requests go elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use genprompt_llm::ChatRequest;
use serde_json::Value;

use crate::client::{ChatResult, Client};
use crate::health::Route;
use crate::{HttpError, HttpStats};

pub(crate) struct Fleet {
    pub endpoints: Vec<Arc<Client>>,
    /// Requests routed to each endpoint and not finished there.
    assigned: Vec<AtomicUsize>,
}

/// One endpoint's share of the work, for manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointStats {
    pub base_url: String,
    pub stats: HttpStats,
    /// Times it stopped answering and was set aside.
    pub set_aside: u64,
}

/// Releases a routed request's place on its endpoint.
struct Routed<'a>(&'a AtomicUsize);

impl Drop for Routed<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Fleet {
    pub(crate) fn new(endpoints: Vec<Client>) -> Fleet {
        let assigned = endpoints.iter().map(|_| AtomicUsize::new(0)).collect();
        Fleet { endpoints: endpoints.into_iter().map(Arc::new).collect(), assigned }
    }

    pub(crate) fn first(&self) -> &Client {
        &self.endpoints[0]
    }

    /// Answers on the endpoint with the most free capacity, moving on when one is set aside.
    pub(crate) async fn answer(&self, request: &ChatRequest, seed: u64, schema: Option<&Value>) -> ChatResult {
        if self.endpoints.len() == 1 {
            return self.endpoints[0].answer(request, seed, schema).await;
        }
        let mut moves = 0;
        loop {
            let idx = self.pick().await;
            let _routed = Routed(&self.assigned[idx]);
            match self.endpoints[idx].answer(request, seed, schema).await {
                Err(HttpError::EndpointDown) if moves < 4 * self.endpoints.len() => moves += 1,
                other => return other,
            }
        }
    }

    /// The endpoint for the next request: a due probe first, else the up endpoint whose limit
    /// exceeds its routed requests the most (ties to the first); waits while all are set aside.
    async fn pick(&self) -> usize {
        loop {
            let now = Instant::now();
            let mut best: Option<(isize, usize)> = None;
            let mut wake: Option<Instant> = None;
            for (idx, endpoint) in self.endpoints.iter().enumerate() {
                match endpoint.health.route(now) {
                    Route::Probe => {
                        self.assigned[idx].fetch_add(1, Ordering::SeqCst);
                        return idx;
                    }
                    Route::Up => {
                        let free =
                            endpoint.admission.limit() as isize - self.assigned[idx].load(Ordering::SeqCst) as isize;
                        if best.is_none_or(|(most, _)| free > most) {
                            best = Some((free, idx));
                        }
                    }
                    Route::Down(until) => wake = Some(wake.map_or(until, |w| w.min(until))),
                }
            }
            if let Some((_, idx)) = best {
                self.assigned[idx].fetch_add(1, Ordering::SeqCst);
                return idx;
            }
            tokio::time::sleep_until(wake.unwrap_or(now).into()).await;
        }
    }

    pub(crate) fn stats(&self) -> Vec<EndpointStats> {
        self.endpoints
            .iter()
            .map(|client| EndpointStats {
                base_url: client.config.base_url.clone(),
                stats: client.counters.snapshot(&client.admission),
                set_aside: client.health.set_aside(),
            })
            .collect()
    }
}
