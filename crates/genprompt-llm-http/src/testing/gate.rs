//! Holding hits at the test server, so tests synchronise on what the client has in flight
//! instead of racing latencies.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::FaultServer;

impl FaultServer {
    /// Holds every hit from now on (its answer, scripted or not, is played only once released),
    /// so a test can look at what the client has in flight at a moment it chooses.
    pub fn hold(&self) {
        self.shared.script().gate = Some(Arc::new(Semaphore::new(0)));
    }

    /// Lets `n` held hits (or hits yet to come) through, oldest first.
    pub fn release(&self, n: usize) {
        if let Some(gate) = &self.shared.script().gate {
            gate.add_permits(n);
        }
    }

    /// Stops holding and lets every held hit through.
    pub fn release_all(&self) {
        if let Some(gate) = self.shared.script().gate.take() {
            gate.close();
        }
    }

    /// Hits that went through the gate so far: a test that released `n` waits for `n` here
    /// before it reads [`FaultServer::held`], as a released hit still counts as held until it
    /// has woken up.
    pub fn passed(&self) -> usize {
        self.shared.passed.load(Ordering::SeqCst)
    }

    /// Hits waiting at the gate right now.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Waits until `condition` holds, checking every millisecond; panics with `what` after
    /// `limit` (a safety net against a hung test, never part of what is tested).
    pub fn wait_until(&self, what: &str, limit: Duration, mut condition: impl FnMut(&FaultServer) -> bool) {
        let started = Instant::now();
        while !condition(self) {
            assert!(started.elapsed() < limit, "gave up waiting for {what} after {limit:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
