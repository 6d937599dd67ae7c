//! Admission control seen from the server: requests in flight stay under the cap, and fall
//! after 429s and when the server queues.

use std::time::Duration;

use genprompt_llm::ChatModel;
use genprompt_llm_http::testing::{Fault, FaultServer, key};

use crate::{batch, model};

#[test]
fn requests_in_flight_never_exceed_the_cap() {
    let server = FaultServer::start();
    server.set_latency(Duration::from_millis(50));
    let model = model(&server, |c| c.max_in_flight = 4);
    let results = model.chat(&batch(0..24));
    assert!(results.iter().all(Result::is_ok));
    let most = server.max_in_flight();
    assert!((2..=4).contains(&most), "requests are sent concurrently, at most 4 at once: saw {most}");
}

#[test]
fn concurrency_halves_after_429s_and_grows_back_slowly() {
    let server = FaultServer::start();
    server.set_latency(Duration::from_millis(30));
    for i in 0..8 {
        server.script(&key(i), [Fault::RateLimited(None)]);
    }
    let model = model(&server, |c| c.max_in_flight = 8);
    // The first round is refused: the limit halves (to 4, or lower if a request sent after the
    // cut is refused too), then grows by one after each run of `limit` successes.
    assert!(model.chat(&batch(0..8)).iter().all(Result::is_ok));
    let limit = model.stats().current_concurrency;
    assert!((2..=5).contains(&limit), "{limit}");
    server.reset_max_in_flight();
    assert!(model.chat(&batch(8..16)).iter().all(Result::is_ok));
    let most = server.max_in_flight();
    assert!(most < 8, "after the 429s the server never sees the full cap again in the next batch: saw {most}");
    assert!(model.stats().current_concurrency <= 7);
}

#[test]
fn a_server_that_queues_instead_of_refusing_gets_fewer_requests() {
    let server = FaultServer::start();
    // Two workers, 80 ms each: with 16 in flight, the queue makes later replies many times
    // slower than the first ones, as vLLM does when it is saturated.
    server.set_parallel(2);
    server.set_latency(Duration::from_millis(80));
    let model = model(&server, |c| {
        c.max_in_flight = 16;
        c.latency_factor = Some(3.0);
        c.timeout = Duration::from_secs(10);
    });
    let results = model.chat(&batch(0..32));
    assert!(results.iter().all(Result::is_ok));
    let stats = model.stats();
    assert!(stats.current_concurrency < 16, "{stats:?}");
    assert_eq!(stats.rate_limited + stats.retries, 0, "no request failed: the signal is latency alone");
    let hits = server.hits();
    let late = hits[hits.len() - 8..].iter().map(|hit| hit.in_flight).max().unwrap();
    assert!(late < 16, "the last requests met a shorter queue: {late}");
}
