//! Admission control seen from the server: requests in flight stay under the cap, and fall
//! after 429s and when the server queues. The server holds every hit until the test releases
//! it, and the test checks the client only when it is still (every request it has not finished
//! is either held at the server or waiting for a slot), so nothing depends on timing.

use std::time::{Duration, Instant};

use genprompt_llm::ChatModel;
use genprompt_llm_http::HttpChatModel;
use genprompt_llm_http::testing::{Fault, FaultServer, key};

use crate::{batch, model};

const PATIENCE: Duration = Duration::from_secs(60);
const SETTLE: Duration = Duration::from_secs(20);

/// Waits until the server has let `passed` hits through its gate and every request of the
/// running calls that is not finished (`total` minus the replies and failures so far) is held at
/// the server or waiting for admission; returns how many are held.
fn settle(server: &FaultServer, model: &HttpChatModel, total: u64, passed: usize) -> usize {
    let started = Instant::now();
    loop {
        let stats = model.stats();
        let held = server.held();
        let still = (held + stats.waiting_for_admission) as u64 == total - stats.requests;
        // Nothing is between states: every slot taken has reached the server, and no waiting
        // request could take a free slot (a reply is counted before its slot is handed on).
        let quiet = held == stats.in_flight
            && (stats.waiting_for_admission == 0 || stats.in_flight >= stats.current_concurrency);
        if server.passed() == passed && still && quiet {
            return held;
        }
        if started.elapsed() > SETTLE {
            // Let the held requests finish, so the failing test ends instead of hanging.
            server.release_all();
            panic!("the client never settled: {} held, {stats:?}", server.held());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A model that never times out a held request, and whose concurrency answers 429s only: a
/// held request's latency is the test's pace (slow on a loaded machine), not the server's.
fn patient(server: &FaultServer, cap: usize) -> HttpChatModel {
    model(server, |c| {
        c.max_in_flight = cap;
        c.timeout = PATIENCE;
        c.latency_factor = None;
    })
}

#[test]
fn requests_in_flight_never_exceed_the_cap() {
    let server = FaultServer::start();
    server.hold();
    let model = patient(&server, 4);
    std::thread::scope(|s| {
        let call = s.spawn(|| model.chat(&batch(0..24)));
        // Release one reply at a time: the client always refills to exactly the cap.
        for done in 0..24 {
            let held = settle(&server, &model, 24, done);
            if held != (24 - done).min(4) {
                server.release_all(); // so that the failing test ends instead of waiting for the call
                panic!("after {done} replies {held} held, not {}", (24 - done).min(4));
            }
            server.release(1);
        }
        assert!(call.join().unwrap().iter().all(Result::is_ok));
    });
    assert_eq!(server.max_in_flight(), 4);
}

#[test]
fn concurrency_halves_after_429s_and_grows_back_by_one_per_run_of_successes() {
    let server = FaultServer::start();
    for i in 0..8 {
        server.script(&key(i), [Fault::RateLimited(None)]);
    }
    server.hold();
    let model = patient(&server, 8);
    std::thread::scope(|s| {
        let call = s.spawn(|| model.chat(&batch(0..8)));
        assert_eq!(settle(&server, &model, 8, 0), 8, "all eight are sent at once");
        // All eight are refused: one round of 429s halves the limit once, and only four retries go out.
        server.release(8);
        assert_eq!(settle(&server, &model, 8, 8), 4);
        assert_eq!(model.stats().current_concurrency, 4);
        // Four successes at limit 4 raise it to 5; the last four are too few to raise it again.
        server.release_all();
        assert!(call.join().unwrap().iter().all(Result::is_ok));
    });
    assert_eq!(model.stats().current_concurrency, 5);
    assert_eq!(model.stats().rate_limited, 8);
    let passed = server.passed();
    server.hold();
    std::thread::scope(|s| {
        let call = s.spawn(|| model.chat(&batch(8..16)));
        assert_eq!(settle(&server, &model, 16, passed), 5, "the next batch never sees the full cap");
        server.release_all();
        assert!(call.join().unwrap().iter().all(Result::is_ok));
    });
    // The run of successes carries over: one more makes five at 5 (-> 6), six more make 7.
    assert_eq!(model.stats().current_concurrency, 7);
}

#[test]
fn a_server_that_queues_instead_of_refusing_gets_fewer_requests() {
    let server = FaultServer::start();
    let model = model(&server, |c| {
        c.max_in_flight = 16;
        c.latency_factor = Some(3.0);
        c.timeout = PATIENCE;
    });
    // Warm-up: fast replies set the baseline. The test's own clock around the call bounds the
    // latency the client measured for each of them from above.
    let started = Instant::now();
    assert!(model.chat(&batch(0..6)).iter().all(Result::is_ok));
    let slowest = started.elapsed();
    // One reply ten times slower than the slowest warm-up reply (and well above the 100 ms under
    // which latency is ignored), same length: by construction a queueing signal, not jitter.
    let queued = (slowest * 10).max(Duration::from_millis(300));
    server.script(&key(6), [Fault::Slow(queued)]);
    assert!(model.chat(&batch(6..7)).iter().all(Result::is_ok));
    let stats = model.stats();
    assert_eq!(stats.current_concurrency, 8, "{stats:?}");
    assert_eq!(stats.rate_limited + stats.retries, 0, "no request failed: the signal is latency alone");
}
